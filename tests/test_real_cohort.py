"""A cohort of real public files (tests/real_cohort, pointing into ../shared/data) from the raw files to
the report, with the README's run command: what it keeps, what it leaves out, and why."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import REPO, run_committed_cohort

pytestmark = [pytest.mark.shared_data, pytest.mark.workflow]
COHORT = REPO / "tests" / "real_cohort"


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("real_cohort")
    return workdir, run_committed_cohort(COHORT, workdir)


LEFT_OUT = {
    "P1_heart_visium_v1": "none of its 100 features has a gene symbol that the cohort knows",
    "P4_pbmc_v2_h5": "0 of 12 cells passed QC",
    "P5_pbmc_v2_mex": "0 of 12 cells passed QC",
    "P7_two_genomes_h5": "0 of 12 cells passed QC",
    "P9_mouse_zarr": "its genes are mouse, the cohort's human",
    "P9_mouse_cytassist": "its genes are mouse, the cohort's human",
}


def test_samples_left_out_are_named_with_their_reasons(real_run):
    workdir, console = real_run
    notices = pd.read_parquet(workdir / "results/notices.parquet")
    samples = notices[(notices["kind"] == "sample") & (notices["outcome"] == "left out")].set_index("subject")
    assert set(samples.index) == set(LEFT_OUT)
    for sample, reason in LEFT_OUT.items():
        assert samples.loc[sample, "reason"].startswith(reason), samples.loc[sample, "reason"]
        assert samples.loc[sample, "fix"]
        assert f"sample {sample} left out (harmonize): {reason}" in console, f"{sample} is not in the end-of-run summary"
    spatial = notices.query("kind == 'modality'")
    assert spatial["subject"].tolist() == ["spatial"]
    # Seven samples and modalities, and the factors six patients do not support (checked below).
    unsupported = notices.query("kind == 'factor' and outcome == 'left out'")
    assert f"{7 + len(unsupported)} item(s) left out of the run" in console
    # Kept: the chr21 10x cells at their real depth (median 29 UMIs), and every patient's CTCs.
    qc = pd.read_parquet(workdir / "results/harmonized/qc.parquet").groupby("sample_id")["passed_qc"].mean()
    assert qc["P1_pbmc_v3_h5"] > 0.95 and qc["P3_pbmc_v3_mex"] > 0.95
    warned = notices[notices["outcome"] == "warning"].set_index("subject")
    assert "none of the marker genes is measured" in warned.loc["P1_pbmc_v3_h5", "reason"]
    assert "all 15 cells are taken as CTCs" in warned.loc["P7_polaris_ctc"].query("kind == 'sample'")["reason"].iloc[0]


def test_one_table_of_six_patients_ctcs_is_split_by_patient(real_run):
    workdir, _ = real_run
    qc = pd.read_parquet(workdir / "results/harmonized/qc.parquet")
    poonia = qc[qc["sample_id"].str.endswith("_poonia_ctc")].groupby("sample_id").size()
    # Poonia et al.'s metadata: 11, 10, 12, 32, 4 and 3 CTCs of patients P1, P3, P4, P5, P7 and P9.
    assert poonia.to_dict() == {
        "P1_poonia_ctc": 11, "P3_poonia_ctc": 10, "P4_poonia_ctc": 12, "P5_poonia_ctc": 32, "P7_poonia_ctc": 4, "P9_poonia_ctc": 3,
    }
    assert set(qc.loc[qc["sample_id"].str.endswith("_ctc") & qc["passed_qc"], "cell_type"]) == {"CTC"}


def test_a_small_ctc_panel_does_not_cut_the_view(real_run):
    """iCTC's 2,545-gene Polaris panel beside Poonia's 23,732 genes: the CTC view's genes come from
    all its samples; for the Polaris patient the genes the panel lacks are missing, not zero."""
    import mudata

    workdir, _ = real_run
    genes = pd.read_parquet(workdir / "results/integration/view_genes.parquet").set_index("sample_id")
    assert genes.loc["P7_polaris_ctc", "n_genes_measured"] == 2545 and genes.loc["P1_poonia_ctc", "n_genes_measured"] == 23732
    view = mudata.read_h5mu(workdir / "results/integration/views.h5mu").mod["ctc_rna"]
    assert view.n_obs == 6 and view.n_vars == 1000
    polaris = genes.loc["P7_polaris_ctc", "n_view_genes_measured"]
    assert polaris < 300, "most of the view's 1,000 genes are outside the Polaris panel"
    # Patient P7 has Poonia CTCs as well, so its profile covers every gene; no value is zero-filled.
    assert pd.DataFrame(view.X).notna().all().all()
    notices = pd.read_parquet(workdir / "results/notices.parquet")
    [panel] = notices.query("kind == 'genes' and subject == 'P7_polaris_ctc'")["reason"]
    assert f"ctc_rna {polaris} of 1000" in panel


def test_factors_are_trained_on_what_is_left(real_run):
    workdir, _ = real_run
    factors = pd.read_parquet(workdir / "results/mofa/factors.parquet")
    assert factors["sample"].nunique() == 6 and factors["factor"].nunique() >= 2
    variance = pd.read_parquet(workdir / "results/mofa/variance_explained.parquet")
    assert set(variance["view"]) == {"ctc_rna"}
    notices = pd.read_parquet(workdir / "results/notices.parquet")
    assert "5 factors trained: mofa.factors = 10, but 6 patients" in notices.query("kind == 'factors'")["reason"].iloc[0]
    # Six patients support few factors; the others are named with the check they fail, and only the
    # supported ones are related to the clinic.
    support = pd.read_parquet(workdir / "results/mofa/factor_support.parquet")
    assert support["supported"].any() and not support["supported"].all()
    named = set(notices.query("kind == 'factor'")["subject"])
    assert named == set(support.loc[~support["supported"], "factor"])
    associations = pd.read_parquet(workdir / "results/clinical/associations.parquet")
    assert set(associations["factor"]) == set(support.loc[support["supported"], "factor"])
    page = (workdir / "results/report/oncofactor_report.html").read_text()
    assert "Left out of this run" in page and all(sample in page for sample in LEFT_OUT)
