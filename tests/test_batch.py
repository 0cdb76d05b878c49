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
    table, mixing, notices = batch_embedding(adatas, settings)
    assert notices == []
    assert len(table) == sum(min(a.n_obs, 100) for a in adatas)
    assert {"pc_10", "harmony_10"} <= set(table.columns)
    assert mixing["same_batch_fraction_pca"] > 0.9, "the simulated batch effect separates runs"
    assert mixing["same_batch_fraction_harmony"] < mixing["same_batch_fraction_pca"] - 0.2
    again, _, _ = batch_embedding(adatas, settings)
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


def test_samples_sharing_few_genes_are_left_out_of_the_embedding_not_a_crash(truth_cohort):
    """scRNA samples that share almost no genes (a panel beside whole transcriptomes) once made the
    PCA fail with n_components=0; the sample with the fewest genes is left out of this QC view, named."""
    config = load_config(truth_cohort / "config.yaml")
    samples = validate_inputs(config).samples.query("modality == 'scrna'")
    gene_map = cohort_gene_map(samples, config)
    adatas = [harmonize_sample(s, config, gene_map).adata for s in samples.head(6).to_dict("records")]
    adatas[0] = adatas[0][:, adatas[0].var_names[-2:]].copy()  # two genes the others also measure, little else
    settings = {**config["batch"], "cells_per_sample": 50, "n_pcs": 5}
    table, mixing, notices = batch_embedding(adatas, settings)
    [notice] = notices
    left_out = adatas[0].obs["sample_id"].iloc[0]
    assert (notice.kind, notice.subject) == ("sample", left_out) and "shared 2 genes" in notice.reason
    assert left_out not in set(table["sample_id"]) and len(set(table["sample_id"])) == 5 and mixing

    one_batch = [a for a in adatas[1:] if a.obs["batch"].iloc[0] == adatas[1].obs["batch"].iloc[0]]
    table, mixing, notices = batch_embedding(one_batch, settings)
    assert table.empty and mixing == {} and "from 1 batch(es)" in notices[-1].reason
