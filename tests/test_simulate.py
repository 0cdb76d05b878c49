"""The simulator: real formats that real readers open, determinism, and truth that shows in the data."""

from __future__ import annotations

import filecmp
import json
import os

import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from conftest import SMALL, TRUTH
from scipy.stats import spearmanr

from oncofactor.config import load_config
from oncofactor.simulate import (
    CELL_TYPES,
    EXAMPLE_BIOLOGY,
    MITOCHONDRIAL,
    SimulationParams,
    simulate_cohort,
)
from oncofactor.validation import validate_inputs


def sheet(cohort) -> pd.DataFrame:
    return pd.read_csv(cohort / "samples.tsv", sep="\t")


def patient_factors(cohort) -> pd.DataFrame:
    return pd.read_parquet(cohort / "truth" / "factors.parquet").pivot(index="patient_id", columns="factor", values="value")


def test_scrna_is_a_cell_ranger_v3_h5_scanpy_reads(small_cohort):
    rows = sheet(small_cohort).query("modality == 'scrna'")
    assert len(rows) > 0
    cells = pd.read_parquet(small_cohort / "truth" / "cells.parquet")
    for row in rows.itertuples():
        adata = sc.read_10x_h5(small_cohort / row.path)
        assert adata.n_vars == SMALL.genes
        assert 0.75 * SMALL.cells_per_sample <= adata.n_obs <= 1.3 * SMALL.cells_per_sample
        assert set(adata.var["feature_types"]) == {"Gene Expression"} and set(adata.var["genome"]) == {"GRCh38"}
        assert adata.var["gene_ids"].str.match(r"^ENSG\d{11}$").all()
        assert set(MITOCHONDRIAL) <= set(adata.var_names)
        assert np.array_equal(adata.X.data, np.round(adata.X.data)) and adata.X.data.min() > 0
        truth = cells[cells["sample_id"] == row.sample_id]
        assert list(truth["barcode"]) == list(adata.obs_names)


def test_low_quality_cells_have_few_counts_and_many_mitochondrial_reads(truth_cohort):
    cells = pd.read_parquet(truth_cohort / "truth" / "cells.parquet")
    fractions, quality = [], []
    for row in sheet(truth_cohort).query("modality == 'scrna'").itertuples():
        adata = sc.read_10x_h5(truth_cohort / row.path)
        mito = np.asarray(adata[:, MITOCHONDRIAL].X.sum(axis=1)).ravel() / np.asarray(adata.X.sum(axis=1)).ravel()
        fractions.append(mito)
        quality.append(cells.loc[cells["sample_id"] == row.sample_id, "low_quality"].to_numpy())
    mito, low = np.concatenate(fractions), np.concatenate(quality)
    assert 0.01 < low.mean() < 0.1
    assert np.median(mito[~low]) < 0.1 < 0.3 < np.median(mito[low])


def test_visium_outs_match_space_ranger_layout(small_cohort):
    rows = sheet(small_cohort).query("modality == 'spatial'")
    assert len(rows) > 0
    for row in rows.itertuples():
        outs = small_cohort / row.path
        positions = pd.read_csv(outs / "spatial" / "tissue_positions.csv")
        assert list(positions.columns) == [
            "barcode", "in_tissue", "array_row", "array_col", "pxl_row_in_fullres", "pxl_col_in_fullres",
        ]
        assert set(positions["in_tissue"]) == {0, 1}, "spots both on and off the tissue"
        assert ((positions["array_row"] + positions["array_col"]) % 2 == 0).all(), "Visium hexagonal grid"
        adata = sc.read_10x_h5(outs / "filtered_feature_bc_matrix.h5")
        assert list(adata.obs_names) == list(positions.loc[positions["in_tissue"] == 1, "barcode"])
        scalefactors = json.loads((outs / "spatial" / "scalefactors_json.json").read_text())
        assert {"spot_diameter_fullres", "tissue_hires_scalef", "tissue_lowres_scalef"} <= set(scalefactors)


@pytest.mark.filterwarnings("ignore:Use `squidpy.read.visium`:FutureWarning")
def test_scanpy_read_visium_opens_the_simulated_section(small_cohort):
    outs = small_cohort / sheet(small_cohort).query("modality == 'spatial'")["path"].iloc[0]
    adata = sc.read_visium(outs, count_file="filtered_feature_bc_matrix.h5")
    [library] = adata.uns["spatial"]
    assert adata.obsm["spatial"].shape == (adata.n_obs, 2)
    assert adata.uns["spatial"][library]["images"]["hires"].ndim == 3


def test_ctc_single_cell_tables_hold_ctcs_and_blood_controls(truth_cohort):
    rows = sheet(truth_cohort).query("modality == 'ctc_scrna'")
    assert len(rows) > 0
    for row in rows.itertuples():
        table = pd.read_csv(truth_cohort / row.path)
        assert list(table.columns[:2]) == ["cell_id", "cell_class"]
        assert {"CTC", "WBC"} == set(table["cell_class"])
        counts = table.iloc[:, 2:].to_numpy()
        assert counts.min() >= 0
    fractional = (counts % 1 != 0).mean()
    assert fractional > 0, "expected counts (RSEM) are sometimes fractional"


def test_ctc_counts_are_mostly_zero_with_a_long_tail(truth_cohort):
    ctc = pd.read_csv(truth_cohort / "ctc_enumeration.tsv", sep="\t")
    assert (ctc["ctc_count"] == 0).mean() > 0.5
    assert ctc["ctc_count"].max() >= 10 * max(1, ctc["ctc_count"].median())
    assert set(ctc.groupby("patient_id").size()) <= {2, 3}


def test_patients_miss_whole_modalities(truth_cohort):
    by_patient = sheet(truth_cohort).groupby("patient_id")["modality"].apply(set)
    assert len(by_patient) == TRUTH.patients
    assert any("scrna" not in m for m in by_patient) and any("spatial" not in m for m in by_patient)
    assert all(m & {"scrna", "spatial"} for m in by_patient)


def test_truth_tables(truth_cohort):
    factors = pd.read_parquet(truth_cohort / "truth" / "factors.parquet")
    assert list(factors.columns) == ["patient_id", "factor", "value", "name"]
    assert len(factors) == TRUTH.patients * len(EXAMPLE_BIOLOGY.factors)
    effects = pd.read_parquet(truth_cohort / "truth" / "effects.parquet")
    assert set(effects["factor"]) == set(EXAMPLE_BIOLOGY.factors)
    assert {"expression", "proportion", "spatial_domain", "ctc_burden", "ctc_expression", "response", "survival", "mutation"} == set(effects["target"])
    genes = sc.read_10x_h5(truth_cohort / sheet(truth_cohort).query("modality == 'scrna'")["path"].iloc[0]).var_names
    expression = effects[effects["target"] == "expression"]
    assert set(expression["feature"]) <= set(genes)
    assert set(expression["cell_type"]) <= set(CELL_TYPES)
    assert not effects.query("factor == 'Factor3' and target in ['response', 'survival']").shape[0]


def test_factors_show_in_every_modality(truth_cohort):
    """Spearman correlation across patients between each true factor and the data it should move."""
    z = patient_factors(truth_cohort)
    cells = pd.read_parquet(truth_cohort / "truth" / "cells.parquet")
    cells["patient_id"] = cells["sample_id"].str.split("_").str[0]
    t_share = cells.groupby("patient_id")["cell_type"].apply(lambda s: (s == "T_cell").mean())
    assert spearmanr(z.loc[t_share.index, "Factor1"], t_share).statistic > 0.6

    spots = pd.read_parquet(truth_cohort / "truth" / "spots.parquet")
    spots["patient_id"] = spots["sample_id"].str.split("_").str[0]
    stroma = spots.groupby("patient_id")["domain"].apply(lambda s: (s == "stroma").mean())
    assert spearmanr(z.loc[stroma.index, "Factor3"], stroma).statistic > 0.4

    ctc = pd.read_csv(truth_cohort / "ctc_enumeration.tsv", sep="\t")
    burden = np.log1p(ctc["ctc_count"] * 7.5 / ctc["blood_volume_ml"].fillna(7.5)).groupby(ctc["patient_id"]).mean()
    assert spearmanr(z.loc[burden.index, "Factor2"], burden).statistic > 0.4

    program = []
    for row in sheet(truth_cohort).query("modality == 'scrna'").itertuples():
        adata = sc.read_10x_h5(truth_cohort / row.path)
        labels = cells.loc[cells["sample_id"] == row.sample_id, "cell_type"].to_numpy()
        sc.pp.normalize_total(adata, target_sum=1e4)
        sc.pp.log1p(adata)
        tumour = adata[labels == "tumour_epithelial", ["MKI67", "TOP2A", "VIM"]]
        program.append((row.patient_id, float(tumour.X.mean())))
    program = pd.DataFrame(program, columns=["patient_id", "score"]).set_index("patient_id")["score"]
    assert spearmanr(z.loc[program.index, "Factor2"], program).statistic > 0.7


def test_same_seed_same_bytes(tmp_path):
    params = SimulationParams(patients=4, seed=11, cells_per_sample=30, spots_per_section=30, genes=200)
    folders = []
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        cwd = os.getcwd()
        os.chdir(tmp_path / name)
        try:
            simulate_cohort(params, "cohort")
        finally:
            os.chdir(cwd)
        folders.append(tmp_path / name / "cohort")
    files = sorted(p.relative_to(folders[0]) for p in folders[0].rglob("*") if p.is_file())
    assert len(files) > 10
    assert files == sorted(p.relative_to(folders[1]) for p in folders[1].rglob("*") if p.is_file())
    _, mismatch, errors = filecmp.cmpfiles(folders[0], folders[1], [str(f) for f in files], shallow=False)
    assert mismatch == [] and errors == []

    other = simulate_cohort(SimulationParams(patients=4, seed=12, cells_per_sample=30, spots_per_section=30, genes=200), tmp_path / "other")
    assert not filecmp.cmp(folders[0] / "clinical.tsv", other / "clinical.tsv", shallow=False)


def test_a_patient_is_the_same_in_a_larger_cohort(tmp_path):
    small = simulate_cohort(SimulationParams(patients=4, seed=2, genes=200, cells_per_sample=30, spots_per_section=30), tmp_path / "a")
    large = simulate_cohort(SimulationParams(patients=6, seed=2, genes=200, cells_per_sample=30, spots_per_section=30), tmp_path / "b")
    first = patient_factors(small)
    assert np.allclose(first, patient_factors(large).loc[first.index])


def test_simulated_cohort_validates(small_cohort):
    config = load_config(small_cohort / "config.yaml")
    assert validate_inputs(config).problems == []


def test_refuses_to_write_into_a_folder_with_files(tmp_path):
    (tmp_path / "cohort").mkdir()
    (tmp_path / "cohort" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        simulate_cohort(SMALL, tmp_path / "cohort")
    assert [p.name for p in (tmp_path / "cohort").iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["cohort"], "no staging folder left behind"


@pytest.mark.parametrize(("field", "value"), [("patients", 2), ("genes", 50), ("cells_per_sample", 5), ("seed", -1)])
def test_rejects_sizes_it_cannot_simulate(field, value):
    with pytest.raises(ValueError, match=field):
        SimulationParams(**{field: value})


@pytest.fixture(scope="module")
def hard_cohort(tmp_path_factory):
    params = SimulationParams(patients=40, seed=21, cells_per_sample=60, spots_per_section=80, genes=400, quirks=(), biology="hard")
    return simulate_cohort(params, tmp_path_factory.mktemp("hard") / "cohort")


def programme_score(adata, genes) -> float:
    """Mean log1p CPM of `genes` over a sample's cells or spots."""
    counts = adata.X.toarray()
    cpm = np.log1p(counts / counts.sum(axis=1, keepdims=True) * 1e6)
    return float(cpm[:, adata.var_names.get_indexer(genes)].mean())


def test_hard_biology_has_factors_of_one_modality(hard_cohort):
    """Factor4 (interferon response) moves scRNA only, Factor5 (hypoxia) Visium sections only."""
    factors = patient_factors(hard_cohort)
    assert list(factors.columns) == ["Factor1", "Factor2", "Factor3", "Factor4", "Factor5"]
    effects = pd.read_parquet(hard_cohort / "truth" / "effects.parquet")
    targets = effects.groupby("factor")["target"].agg(set)
    assert "scrna_expression" in targets["Factor4"] and "spatial_expression" in targets["Factor5"]
    genes = {f: effects.loc[(effects["factor"] == f) & effects["target"].str.endswith("expression") & (effects["effect"] > 0), "feature"].unique()[:12]
             for f in ("Factor4", "Factor5")}
    rows = sheet(hard_cohort)
    r = {}
    for modality, reader in [("scrna", sc.read_10x_h5), ("spatial", lambda p: sc.read_10x_h5(p / "filtered_feature_bc_matrix.h5"))]:
        part = rows[rows["modality"] == modality]
        data = {row.patient_id: reader(hard_cohort / row.path) for row in part.itertuples()}
        for factor in ("Factor4", "Factor5"):
            scores = pd.Series({p: programme_score(a, genes[factor]) for p, a in data.items()})
            r[modality, factor] = spearmanr(scores, factors.loc[scores.index, factor])[0]
    assert r["scrna", "Factor4"] > 0.5 and abs(r["spatial", "Factor4"]) < 0.4, r
    assert r["spatial", "Factor5"] > 0.5 and abs(r["scrna", "Factor5"]) < 0.4, r


def test_hard_biology_is_harder(hard_cohort):
    """Visium library sizes spread as in a real CytAssist section (CV 1.7), and scRNA batches
    follow Factor1 in part."""
    rows = sheet(hard_cohort)
    section = rows[rows["modality"] == "spatial"].iloc[0]
    spots = sc.read_10x_h5(hard_cohort / section.path / "filtered_feature_bc_matrix.h5")
    library = np.asarray(spots.X.sum(axis=1)).ravel()
    assert 1.0 < library.std() / library.mean() < 2.6
    scrna = rows[rows["modality"] == "scrna"].set_index("patient_id")["batch"]
    factor1 = patient_factors(hard_cohort).loc[scrna.index, "Factor1"]
    assert factor1[scrna == "run2"].mean() - factor1[scrna == "run1"].mean() > 0.3
