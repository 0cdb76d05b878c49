"""Cell-type labels from markers (checked against the simulator's truth) and from the user."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from oncofactor.celltypes import UNASSIGNED, annotate, assign_by_markers
from oncofactor.config import check_config
from oncofactor.qc import log_normalize, qc_failures, qc_metrics
from oncofactor.sample_readers import read_10x_h5

MARKERS = check_config({"samples": "s.tsv", "clinical": {"path": "c.tsv"}})


def test_markers_recover_the_simulated_cell_types(small_cohort):
    settings = MARKERS["cell_types"]
    sheet = pd.read_csv(small_cohort / "samples.tsv", sep="\t").query("modality == 'scrna'")
    truth = pd.read_parquet(small_cohort / "truth" / "cells.parquet").set_index(["sample_id", "barcode"])["cell_type"]
    correct = assigned = total = 0
    for row in sheet.itertuples():
        adata = read_10x_h5(small_cohort / row.path)
        adata = adata[~qc_failures(qc_metrics(adata), MARKERS["qc"]["scrna"]).any(axis=1).to_numpy()].copy()
        adata.X = log_normalize(adata.X)
        annotate(adata, settings)
        labels = adata.obs["cell_type"].to_numpy()
        expected = truth.loc[row.sample_id].loc[adata.obs_names].to_numpy()
        correct += (labels == expected).sum()
        assigned += (labels != UNASSIGNED).sum()
        total += len(labels)
        assert set(adata.obs["cell_type_source"]) == {"markers"}
    assert assigned / total > 0.9
    assert correct / assigned > 0.95


def test_user_labels_win_where_given():
    adata = ad.AnnData(sp.csr_matrix(np.array([[5.0, 0.0], [0.0, 5.0], [0.0, 0.0]])), var=pd.DataFrame({"gene_symbol": ["EPCAM", "CD3E"]}, index=["EPCAM", "CD3E"]))
    adata.obs_names = ["c1", "c2", "c3"]
    settings = {"markers": {"tumour": ["EPCAM"], "T": ["CD3E"], "B": ["MS4A1"]}, "min_score": 0.2, "min_margin": 0.05}
    annotate(adata, settings, user_labels=pd.Series({"c2": "CD8_T"}))
    assert adata.obs["cell_type"].tolist() == ["tumour", "CD8_T", UNASSIGNED]
    assert adata.obs["cell_type_source"].tolist() == ["markers", "user", "markers"]


def test_close_scores_stay_unassigned():
    scores = pd.DataFrame({"a": [0.9, 0.5, 0.1], "b": [0.1, 0.48, 0.05]})
    assert assign_by_markers(scores, min_score=0.2, min_margin=0.05).tolist() == ["a", UNASSIGNED, UNASSIGNED]
