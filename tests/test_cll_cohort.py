"""The CLL cohort (tests/cll_cohort: patient-level tables from ../shared/data, no sample sheet) from
the tables to the report, with the README's run command."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import REPO, run_committed_cohort

pytestmark = [pytest.mark.shared_data, pytest.mark.workflow]
COHORT = REPO / "tests" / "cll_cohort"


@pytest.fixture(scope="module")
def cll_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cll_cohort")
    return workdir, run_committed_cohort(COHORT, workdir)


def test_runs_to_the_report_without_a_sample_sheet(cll_run):
    workdir, console = cll_run
    page = (workdir / "results/report/oncofactor_report.html").read_text()
    assert "No sample sheet" in page
    assert pd.read_parquet(workdir / "results/harmonized/qc.parquet").empty
    # 65 of the clinical table's 265 patients have neither drug response nor mutations: one line
    # when the run starts, and the same line in the summary at its end.
    lines = [line for line in console.splitlines() if "no data in the sample sheet" in line]
    assert len(lines) == 2
    assert all("65 patients 'H001', 'H002', 'H003', 'H009', 'H025' and 60 more have no data" in line for line in lines)


def test_a_factor_separates_the_patients_by_ighv(cll_run):
    workdir, _ = cll_run
    associations = pd.read_parquet(workdir / "results/clinical/associations.parquet")
    ighv = associations.query("covariate == 'IGHV'").sort_values("p_value").iloc[0]
    assert ighv["q_value"] < 1e-6 and abs(ighv["effect"]) > 0.5
    top = pd.read_parquet(workdir / "results/mofa/top_features.parquet")
    assert top.query("factor == @ighv.factor and view == 'mutations' and rank == 1")["feature"].item() == "IGHV"


def test_trisomy_12_has_a_factor_and_survival_is_adjusted_for_ighv(cll_run):
    """The MOFA papers' second CLL factor follows trisomy 12; the IGHV factor's survival hazard is
    reported beside its hazard adjusted for IGHV, which carries it (IGHV predicts survival)."""
    workdir, _ = cll_run
    top = pd.read_parquet(workdir / "results/mofa/top_features.parquet")
    support = pd.read_parquet(workdir / "results/mofa/factor_support.parquet").set_index("factor")
    trisomy = top.query("view == 'mutations' and feature == 'trisomy12' and rank <= 2")["factor"]
    assert any(support.loc[f, "supported"] for f in trisomy), "a supported factor has trisomy 12 among its top mutations"
    associations = pd.read_parquet(workdir / "results/clinical/associations.parquet")
    ighv_factor = associations.query("covariate == 'IGHV'").sort_values("p_value")["factor"].iloc[0]
    survival = associations.query("factor == @ighv_factor and covariate == 'survival'").set_index("test")
    assert {"cox", "cox_adjusted"} <= set(survival.index)
    assert survival.loc["cox_adjusted", "p_value"] > survival.loc["cox", "p_value"], "IGHV carries part of the factor's hazard"
