"""Cell-type labels: from the user when given, otherwise from marker gene sets.

Marker scoring: each marker's log-normalized expression is divided by its 99th percentile in the
sample (at least 1, so a marker that is nowhere expressed stays near 0), and a cell type's score is
the mean over its markers found in the data. A cell takes the best-scoring type when that score
reaches `min_score` and beats the runner-up by `min_margin`; otherwise it is 'unassigned'.
This is scanpy's score_genes idea without its random control genes (which make scores depend on the
seed) and without scanpy's 3 s import in each per-sample job.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

UNASSIGNED = "unassigned"


def marker_scores(lognorm: sp.spmatrix, var: pd.DataFrame, markers: dict[str, list[str]]) -> pd.DataFrame:
    """Cells x cell types scores (0 to about 1); cell types with no marker in the data are left out."""
    symbols = pd.Index(var["gene_symbol"].astype(str) if "gene_symbol" in var else var.index.astype(str))
    columns = {cell_type: symbols.get_indexer_for([g for g in genes if g in symbols]) for cell_type, genes in markers.items()}
    marker_columns = np.unique(np.concatenate([np.zeros(0, dtype=int), *columns.values()]))
    # One dense cells x markers block: a few dozen columns, taken from CSR without converting the
    # whole matrix to CSC (which took longer than the scoring itself).
    expression = sp.csr_matrix(lognorm)[:, marker_columns].toarray()
    # A sample with no cell (all failed QC) has no percentile to scale by.
    scaled = expression / np.maximum(np.percentile(expression, 99, axis=0), 1.0) if expression.size else expression
    scores = {
        cell_type: scaled[:, np.searchsorted(marker_columns, found)].mean(axis=1)
        for cell_type, found in columns.items()
        if len(found)
    }
    return pd.DataFrame(scores, index=pd.RangeIndex(lognorm.shape[0]))


def assign_by_markers(scores: pd.DataFrame, min_score: float, min_margin: float) -> np.ndarray:
    """Best-scoring cell type per cell, or 'unassigned' below `min_score` or within `min_margin`."""
    if scores.shape[1] == 0:
        return np.full(len(scores), UNASSIGNED, dtype=object)
    values = scores.to_numpy()
    order = np.argsort(-values, axis=1)
    best = values[np.arange(len(values)), order[:, 0]]
    second = values[np.arange(len(values)), order[:, 1]] if values.shape[1] > 1 else np.zeros(len(values))
    labels = scores.columns.to_numpy(dtype=object)[order[:, 0]]
    return np.where((best >= min_score) & (best - second >= min_margin), labels, UNASSIGNED)


def annotate(adata: ad.AnnData, settings: dict, user_labels: pd.Series | None = None) -> None:
    """Set obs['cell_type'] and obs['cell_type_source'] ('user' or 'markers') in place.

    adata.X must be log-normalized. `user_labels` (barcode -> label) wins where given; cells it does
    not name are scored by markers. settings: markers (type -> symbols), min_score, min_margin.
    """
    scores = marker_scores(adata.X, adata.var, settings["markers"])
    labels = pd.Series(assign_by_markers(scores, settings["min_score"], settings["min_margin"]), index=adata.obs_names)
    source = pd.Series("markers", index=adata.obs_names)
    if user_labels is not None:
        given = user_labels.reindex(adata.obs_names).dropna()
        labels[given.index] = given.astype(str)
        source[given.index] = "user"
    adata.obs["cell_type"] = labels.astype(str).to_numpy()
    adata.obs["cell_type_source"] = source.to_numpy()
