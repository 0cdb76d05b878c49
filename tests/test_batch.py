"""The batch QC embedding: Harmony mixes the simulator's two sequencing runs."""

from __future__ import annotations

import anndata as ad
import numpy as np

from oncofactor.batch import batch_embedding, same_batch_fraction, subsample
from oncofactor.harmonize import cohort_gene_map, harmonize_sample
from oncofactor.validation import validate_inputs
from oncofactor.config import load_config


def test_harmony_mixes_simulated_batches(truth_cohort):
    config = load_config(truth_cohort / "config.yaml")
    samples = validate_inputs(config).samples.query("modality == 'scrna'")
    gene_map = cohort_gene_map(samples, config)
    adatas = [harmonize_sample(s, config, gene_map).adata for s in samples.head(12).to_dict("records")]
    assert len({a.obs["batch"].iloc[0] for a in adatas}) == 2
    settings = {**config["batch"], "cells_per_sample": 100, "n_pcs": 10}
    table, mixing = batch_embedding(adatas, settings)
    assert len(table) == sum(min(a.n_obs, 100) for a in adatas)
    assert {"pc_10", "harmony_10"} <= set(table.columns)
    assert mixing["same_batch_fraction_pca"] > 0.9, "the simulated batch effect separates runs"
    assert mixing["same_batch_fraction_harmony"] < mixing["same_batch_fraction_pca"] - 0.2
    again, _ = batch_embedding(adatas, settings)
    assert again.equals(table), "seeded: the same embedding every time"


def test_subsample_is_deterministic():
    adata = ad.AnnData(np.zeros((50, 2)))
    first, second = subsample(adata, 10, 0), subsample(adata, 10, 0)
    assert list(first.obs_names) == list(second.obs_names) and first.n_obs == 10
    assert subsample(adata, 100, 0).n_obs == 50


def test_same_batch_fraction():
    points = np.array([[0.0], [0.1], [0.2], [10.0], [10.1], [10.2]])
    assert same_batch_fraction(points, np.array(list("aaabbb")), k=2) == 1.0
    assert same_batch_fraction(points, np.array(list("ababab")), k=2) < 0.5
