"""Per-sample harmonization on simulated and real samples, and the cohort-level checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncofactor.config import check_config, load_config
from oncofactor.harmonize import QC_COLUMNS, cohort_gene_map, harmonize_sample, lost_modalities
from oncofactor.notices import LEFT_OUT
from oncofactor.validation import validate_inputs


@pytest.fixture(scope="module")
def validated(small_cohort):
    config = load_config(small_cohort / "config.yaml")  # the simulator wrote absolute paths
    samples = validate_inputs(config).samples
    return config, samples, cohort_gene_map(samples, config)


def first(samples, modality) -> dict:
    return samples[samples["modality"] == modality].iloc[0].to_dict()


def test_scrna_sample(validated, small_cohort):
    config, samples, gene_map = validated
    sample = first(samples, "scrna")
    result = harmonize_sample(sample, config, gene_map)
    adata = result.adata
    truth = pd.read_parquet(small_cohort / "truth" / "cells.parquet").query("sample_id == @sample['sample_id']")
    assert list(result.qc.columns) == QC_COLUMNS
    assert list(result.qc["barcode"]) == list(truth["barcode"])
    assert not result.qc.loc[truth["low_quality"].to_numpy(), "passed_qc"].any()
    assert adata.n_obs == result.qc["passed_qc"].sum()
    assert adata.layers["counts"].dtype == np.int32
    counts = adata.layers["counts"].toarray()
    assert counts.min() >= 0
    totals = np.expm1(adata.X.toarray()).sum(axis=1)
    assert np.allclose(totals, 1e4, rtol=1e-3), "X is log1p of counts per 10,000"
    assert set(adata.obs["cell_type_source"]) == {"markers"}
    assert (adata.obs["patient_id"] == sample["patient_id"]).all()
    assert adata.uns["oncofactor"]["species"] == "human" and result.dropped == ""
    assert set(result.genes["action"]) == {"kept"} and len(result.genes) == adata.n_vars
    counts = adata.obs["cell_type"].astype(str).value_counts()
    assert result.summary().startswith(f"{adata.n_obs} of {len(result.qc)} observations passed QC")
    assert f"cell types: {counts.index[0]} {counts.iloc[0]}" in result.summary()


def test_spatial_and_ctc_samples(validated):
    config, samples, gene_map = validated
    spatial = harmonize_sample(first(samples, "spatial"), config, gene_map)
    assert spatial.adata.obsm["spatial"].shape == (spatial.adata.n_obs, 2)
    assert "cell types" not in spatial.summary()
    assert set(spatial.qc["cell_type"].dropna()) == {""}
    ctc = harmonize_sample(first(samples, "ctc_scrna"), config, gene_map)
    assert set(ctc.adata.obs["cell_type"]) == {"CTC", "WBC"}
    assert set(ctc.adata.obs["cell_type_source"]) == {"count_table"}
    assert any("rounded to the nearest integer" in note for note in ctc.notes)
    assert ctc.adata.layers["counts"].dtype == np.int32 and spatial.adata.layers["counts"].dtype == np.int32
    assert "; cell types: " in ctc.summary() and "CTC " in ctc.summary()


def test_sample_with_too_few_cells_is_dropped_with_a_reason(validated):
    config, samples, gene_map = validated
    strict = {**config, "qc": {**config["qc"], "scrna": {**config["qc"]["scrna"], "min_cells": 10_000}}}
    result = harmonize_sample(first(samples, "scrna"), strict, gene_map)
    assert "fewer than qc.scrna.min_cells = 10000" in result.dropped


def test_a_sample_whose_every_cell_fails_qc_is_left_out_not_a_crash(validated):
    """A marker gene is measured but no cell passes QC: cell typing once raised IndexError."""
    config, samples, gene_map = validated
    strict = {**config, "qc": {**config["qc"], "scrna": {**config["qc"]["scrna"], "min_counts": 10**9}}}
    result = harmonize_sample(first(samples, "scrna"), strict, gene_map)
    assert result.adata.n_obs == 0 and not result.qc["passed_qc"].any()
    assert result.dropped.startswith(f"0 of {len(result.qc)} cells passed QC") and "counts_below_floor" in result.dropped
    assert result.qc["removed_by"].str.split(",").map(lambda rules: "counts_below_floor" in rules).all()
    n = len(result.qc)
    assert result.summary().startswith(f"0 of {n} observations passed QC; removed by ") and f"counts_below_floor {n}" in result.summary()
    assert result.summary().endswith(f"; left out: {result.dropped}")
    [notice] = result.notices
    assert (notice.kind, notice.subject, notice.outcome) == ("sample", result.adata.uns["oncofactor"]["sample_id"], LEFT_OUT)
    assert notice.fix.startswith("check the library; if it is usable, relax qc.scrna.min_counts")


def test_a_modality_that_loses_every_sample_is_a_notice(validated):
    _, samples, _ = validated
    dropped = {s: ("too few cells" if m == "spatial" else "") for s, m in zip(samples["sample_id"], samples["modality"])}
    [notice] = lost_modalities(samples, dropped)
    assert (notice.kind, notice.subject, notice.outcome) == ("modality", "spatial", LEFT_OUT)
    assert lost_modalities(samples, {s: "" for s in samples["sample_id"]}) == []


def test_user_labels_table(validated, tmp_path):
    config, samples, gene_map = validated
    sample = first(samples, "scrna")
    probe = harmonize_sample(sample, config, gene_map)
    barcode = probe.adata.obs_names[0]
    (tmp_path / "labels.tsv").write_text(f"sample_id\tbarcode\tcell_type\n{sample['sample_id']}\t{barcode}\tCD8_exhausted\n")
    labelled = {**config, "cell_types": {**config["cell_types"], "labels": str(tmp_path / "labels.tsv")}}
    result = harmonize_sample(sample, labelled, gene_map)
    assert result.adata.obs.loc[barcode, "cell_type"] == "CD8_exhausted"
    assert result.adata.obs.loc[barcode, "cell_type_source"] == "user"
    assert (result.adata.obs["cell_type_source"] == "markers").sum() == result.adata.n_obs - 1


def test_a_sample_of_another_species_is_left_out_unless_allowed(validated, shared_data):
    config, _, gene_map = validated
    mouse = {"sample_id": "mouse_section", "patient_id": "P001", "modality": "spatial", "path": str(shared_data / "Perik-Zavodskii_CoexpressDeconvolve"), "format": "visium"}
    result = harmonize_sample(mouse, config, gene_map, cohort_species="human")
    assert result.dropped == "its genes are mouse, the cohort's human" and result.adata.n_obs == 0
    assert set(result.qc["removed_by"]) == {"sample_left_out"} and result.qc["total_counts"].median() == 226
    assert "genes.allow_mixed_species" in result.notices[-1].fix
    allowed = {**config, "genes": {**config["genes"], "allow_mixed_species": True}}
    assert harmonize_sample(mouse, allowed, gene_map, cohort_species="human").dropped == ""


def test_real_samples_harmonize(shared_data):
    scanpy = shared_data / "scverse_scanpy/tests/_data"
    rows = [
        ("v3_h5", "scrna", scanpy / "10x_data/3.0.0/filtered_feature_bc_matrix.h5", "10x_h5"),
        ("v3_mex", "scrna", scanpy / "10x_data/3.0.0/filtered_feature_bc_matrix", "10x_mtx"),
        ("heart", "spatial", scanpy / "visium_data/1.0.0", "visium"),
        ("polaris", "ctc_scrna", shared_data / "krishan57gupta_iCTC/converted/raw_test_data__Clearcell_Polaris_sample_test.csv.gz", "csv"),
    ]
    samples = pd.DataFrame([{"sample_id": s, "patient_id": "p1", "modality": m, "path": str(p), "format": f} for s, m, p, f in rows])
    config = check_config({"samples": "s.tsv", "clinical": {"path": "c.tsv"}})  # the default, adaptive QC
    gene_map = cohort_gene_map(samples, config)
    results = {row["sample_id"]: harmonize_sample(row, config, gene_map) for row in samples.to_dict("records")}
    h5, mex = results["v3_h5"].adata, results["v3_mex"].adata
    assert h5.n_obs > 0.9 * len(results["v3_h5"].qc), "low-depth chr21 cells (median 29 UMIs) keep their cells"
    assert list(h5.obs_names) == list(mex.obs_names)
    assert (h5.layers["counts"] != mex.layers["counts"]).nnz == 0
    assert set(results["polaris"].adata.obs["cell_type"]) == {"CTC"}
    assert all(r.adata.uns["oncofactor"]["species"] == "human" for r in results.values())
    # The heart section names its genes by Ensembl ID in both columns: IDs, not symbols. No other
    # sample names these chr1 genes both ways, so under the symbol namespace it has no gene.
    heart = results["heart"]
    assert set(heart.genes["action"]) == {"dropped_unmapped"} and heart.adata.n_obs == 0
    assert heart.dropped == "none of its 100 features has a gene symbol that the cohort knows"
    assert set(heart.qc["removed_by"]) == {"sample_left_out"} and heart.qc["total_counts"].median() == 9, "QC of the file's own features"
    assert "genes.annotation" in heart.notices[-1].fix
    ensembl = check_config({"samples": "s.tsv", "clinical": {"path": "c.tsv"}, "genes": {"namespace": "ensembl"}})
    heart = harmonize_sample(samples.iloc[2].to_dict(), ensembl, gene_map)
    assert heart.dropped == "" and heart.adata.n_vars == 100 and heart.adata.var_names[0].startswith("ENSG")
    assert heart.adata.obsm["spatial"].shape == (heart.adata.n_obs, 2) and heart.adata.n_obs == 100


def test_real_ctc_table_with_blood_cells_separated_by_cell_metadata(shared_data, tmp_path):
    """iCTC's Polaris table holds 15 CTCs and 500 blood cells; the cell names say which is which."""
    path = shared_data / "krishan57gupta_iCTC/converted/raw_test_data__Clearcell_Polaris_blood_test.csv.gz"
    cells = pd.read_csv(path, nrows=0).columns[1:]
    metadata = pd.DataFrame({"cell": cells, "cell_class": np.where(cells.str.startswith("Ctc_"), "CTC", "WBC")})
    metadata.to_csv(tmp_path / "cells.csv", index=False)
    sample = {"sample_id": "polaris", "patient_id": "p1", "modality": "ctc_scrna", "path": str(path), "format": "csv", "cell_metadata": str(tmp_path / "cells.csv")}
    config = check_config({"samples": "s.tsv", "clinical": {"path": "c.tsv"}, "qc": {"ctc_scrna": {"mode": "fixed", "min_counts": 0, "min_genes": 0}}})
    result = harmonize_sample(sample, config, cohort_gene_map(pd.DataFrame([sample]), config))
    assert result.adata.obs["cell_type"].value_counts().to_dict() == {"WBC": 500, "CTC": 15}
    assert set(result.adata.obs["cell_type_source"]) == {"cell_metadata"}
    from oncofactor.pseudobulk import sample_pseudobulk

    profile = sample_pseudobulk(result.adata, [])
    assert profile.obs["n_cells"].tolist() == [15]


def test_cell_metadata_must_name_every_cell(shared_data, tmp_path):
    from oncofactor.sample_readers import SampleReadError

    path = shared_data / "krishan57gupta_iCTC/converted/raw_test_data__Clearcell_Polaris_sample_test.csv.gz"
    (tmp_path / "cells.csv").write_text("cell,cell_class\nsomeone_else,CTC\n")
    sample = {"sample_id": "s", "patient_id": "p1", "modality": "ctc_scrna", "path": str(path), "format": "csv", "cell_metadata": str(tmp_path / "cells.csv")}
    config = check_config({"samples": "s.tsv", "clinical": {"path": "c.tsv"}})
    with pytest.raises(SampleReadError, match="15 cells are not in the cell metadata table"):
        harmonize_sample(sample, config, pd.DataFrame(columns=["gene_id", "gene_symbol", "n_samples"]))
