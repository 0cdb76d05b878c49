"""QC metrics, thresholds (fixed and MAD) and normalization, checked against scanpy."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp

from oncofactor.qc import failed_rules, integer_counts, log_normalize, qc_failures, qc_metrics
from oncofactor.sample_readers import read_10x_h5

FIXED = {"mode": "fixed", "min_counts": 500, "min_genes": 100, "max_pct_mito": 20, "n_mads": 5, "n_mads_mito": 3}


def simulated_scrna(cohort) -> tuple[ad.AnnData, pd.DataFrame]:
    sheet = pd.read_csv(cohort / "samples.tsv", sep="\t").query("modality == 'scrna'")
    adatas = [read_10x_h5(cohort / p) for p in sheet["path"]]
    truth = pd.read_parquet(cohort / "truth" / "cells.parquet").query("sample_id in @sheet.sample_id")
    return ad.concat(adatas, merge="first"), truth


def test_metrics_match_scanpy(small_cohort):
    adata, _ = simulated_scrna(small_cohort)
    ours = qc_metrics(adata)
    reference = adata.copy()
    reference.var_names = reference.var["gene_symbol"].to_numpy()
    reference.var["mt"] = reference.var_names.str.startswith("MT-")
    sc.pp.calculate_qc_metrics(reference, qc_vars=["mt"], inplace=True, percent_top=None)
    assert np.allclose(ours["total_counts"], reference.obs["total_counts"])
    assert np.array_equal(ours["n_genes_by_counts"], reference.obs["n_genes_by_counts"])
    assert np.allclose(ours["pct_counts_mt"], reference.obs["pct_counts_mt"], atol=1e-4)


def test_thresholds_remove_the_damaged_cells(small_cohort):
    adata, truth = simulated_scrna(small_cohort)
    metrics = qc_metrics(adata)
    for settings in (FIXED, {**FIXED, "mode": "mad", "n_mads": 5}):  # the book's 5 MADs
        keep = passes(metrics, settings)
        damaged = truth["low_quality"].to_numpy()
        assert damaged.any()
        assert not keep[damaged].any(), f"{settings['mode']}: damaged cells pass"
        assert keep[~damaged].mean() > 0.9, f"{settings['mode']}: too many good cells lost"


def passes(metrics, settings) -> np.ndarray:
    return ~qc_failures(metrics, settings).to_numpy().any(axis=1)


def test_mad_mode_adapts_to_the_sample():
    metrics = pd.DataFrame({"total_counts": [1000.0] * 50 + [600.0], "n_genes_by_counts": [300] * 50 + [290], "pct_counts_mt": [5.0] * 50 + [6.0]})
    metrics.loc[:49, "total_counts"] += np.arange(50) * 10
    assert passes(metrics, FIXED).all()
    assert not passes(metrics, {**FIXED, "mode": "mad", "n_mads": 3})[-1]


def test_mad_outliers_use_the_books_unscaled_mad_on_both_sides():
    """As the scverse best-practices book's is_outlier: |x - median| > n * scipy's median_abs_deviation
    (unscaled) for log1p counts and genes; the mitochondrial share only counts when high."""
    from scipy.stats import median_abs_deviation

    rng = np.random.default_rng(3)
    counts = np.exp(rng.normal(np.log(2500), 0.45, 500))
    counts[:5], counts[5:10] = 20, 60000
    mito = rng.beta(6, 94, 500) * 100
    mito[10:15], mito[15:20] = 60, 0.01
    metrics = pd.DataFrame({"total_counts": counts, "n_genes_by_counts": np.sqrt(counts) * 8, "pct_counts_mt": mito})
    settings = {**FIXED, "mode": "mad", "min_counts": 0, "min_genes": 0, "max_pct_mito": 100}
    failures = qc_failures(metrics, settings)
    log = np.log1p(counts)
    expected = np.abs(log - np.median(log)) > 5 * median_abs_deviation(log)
    assert np.array_equal(failures["counts_outlier"].to_numpy(), expected) and expected[:10].all()
    assert failures["mito_outlier"].iloc[10:15].all() and not failures["mito_outlier"].iloc[15:20].any()
    rules = failed_rules(failures)
    assert rules.iloc[0] == "counts_outlier,genes_outlier" and (rules.iloc[20:] == "").mean() > 0.9


def test_normalization_matches_scanpy():
    counts = sp.random(40, 30, density=0.3, random_state=0, format="csr", dtype=np.float32)
    counts.data = np.ceil(counts.data * 20)
    reference = ad.AnnData(counts.copy())
    sc.pp.normalize_total(reference, target_sum=1e4)
    sc.pp.log1p(reference)
    assert np.allclose(log_normalize(counts).toarray(), reference.X.toarray(), atol=1e-5)


def test_whole_counts_are_stored_as_integers_and_others_are_left_as_they_are():
    counts = sp.csr_matrix(np.array([[0, 3, 1], [2, 0, 70000]], dtype=np.float32))
    stored = integer_counts(counts)
    assert stored.dtype == np.int32 and stored.toarray().tolist() == [[0, 3, 1], [2, 0, 70000]]
    assert np.shares_memory(stored.indices, counts.indices), "only the values are copied"
    fractional = sp.csr_matrix(np.array([[0, 2.5], [1, 0]], dtype=np.float32))
    assert integer_counts(fractional).dtype == np.float32 and integer_counts(fractional)[0, 1] == 2.5
    too_large = sp.csr_matrix(np.array([[3e9]]))
    assert integer_counts(too_large).dtype == np.float32
    assert integer_counts(sp.csr_matrix((2, 2), dtype=np.float32)).dtype == np.int32
