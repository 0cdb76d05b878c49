"""Spatial autocorrelation of genes on a Visium section (Moran's I), per section and per patient."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from oncofactor.pseudobulk import VIEW_SEPARATOR


def morans_i(graph: sp.spmatrix, values: np.ndarray | sp.spmatrix, block: int = 1000) -> np.ndarray:
    """Moran's I per row of `values` (genes x spots) over the spot graph `graph` (spots x spots
    weights): N / W * z'Az / z'z with z the row's deviations from its mean.

    Written here rather than calling scanpy.metrics.morans_i: the values are the same (tested), but a
    section's job no longer imports scanpy and compiles numba, about 2 s of a 2.4 s job at 300 spots.
    `values` may be sparse (CSR); genes are made dense `block` at a time, so memory stays at block x spots.
    """
    graph = sp.csr_matrix(graph, dtype=np.float64)
    scores = np.empty(values.shape[0])
    for start in range(0, values.shape[0], block):
        rows = values[start:start + block]
        z = rows.toarray().astype(np.float64) if sp.issparse(rows) else np.asarray(rows, dtype=np.float64)
        z = z - z.mean(axis=1, keepdims=True)
        numerator = np.einsum("gn,ng->g", z, graph @ z.T)
        with np.errstate(invalid="ignore", divide="ignore"):
            scores[start:start + block] = graph.shape[0] / graph.sum() * numerator / np.einsum("gn,gn->g", z, z)
    return scores


def spot_graph(coordinates: np.ndarray, n_neighbors: int) -> sp.csr_matrix:
    """Spots x spots symmetric kNN connectivity (1.0 where either spot is among the other's
    `n_neighbors` nearest, itself excluded) from spots x 2 coordinates.

    The same graph as scikit-learn's kneighbors_graph(include_self=False) made symmetric (tested), from
    scipy's k-d tree: importing sklearn.neighbors took 0.6-0.75 s of every spatial job here, more
    than Moran's I itself at 1,000 genes.
    """
    from scipy.spatial import cKDTree  # only spatial sections need it; 0.1 s to import

    n_spots = len(coordinates)
    _, nearest = cKDTree(coordinates).query(coordinates, k=n_neighbors + 1)
    # Each row keeps its first n_neighbors entries other than itself (itself is usually first, but a
    # spot sharing its coordinates with another may come second).
    other = nearest != np.arange(n_spots)[:, None]
    keep = other & (np.cumsum(other, axis=1) <= n_neighbors)
    graph = sp.csr_matrix(
        (np.ones(n_spots * n_neighbors), (np.repeat(np.arange(n_spots), n_neighbors), nearest[keep])), shape=(n_spots, n_spots)
    )
    return ((graph + graph.T) > 0).astype(np.float64)


def spatial_autocorrelation(adata: ad.AnnData, n_neighbors: int = 6, min_spots: int = 10) -> pd.DataFrame:
    """Moran's I (`morans_i`) of each gene over one section's spots on a symmetric kNN spot graph.

    Genes detected in fewer than `min_spots` spots are left out. Returns gene, morans_i.
    """
    if adata.n_obs <= n_neighbors:
        return pd.DataFrame({"gene": pd.Series([], dtype=str), "morans_i": pd.Series([], dtype=float)})
    graph = spot_graph(np.asarray(adata.obsm["spatial"], dtype=np.float64), n_neighbors)
    counts = sp.csr_matrix(adata.layers["counts"])
    detected = np.bincount(counts.indices[counts.data > 0], minlength=adata.n_vars) >= min_spots  # spots per gene
    values = sp.csc_matrix(adata.X)[:, detected].T  # genes x spots, CSR
    return pd.DataFrame({"gene": adata.var_names[detected].astype(str), "morans_i": morans_i(graph, values)})


PATTERN_COLUMNS = ["sample_id", "patient_id", "gene", "morans_i"]


def section_pattern(adata: ad.AnnData) -> pd.DataFrame:
    """Moran's I of a harmonized sample's genes (PATTERN_COLUMNS): for a spatial section with spots
    and not dropped at QC; a table without rows for any other sample."""
    info = adata.uns["oncofactor"]
    if "spatial" not in adata.obsm or info["dropped"] or adata.n_obs == 0:
        return pd.DataFrame({column: pd.Series([], dtype=float if column == "morans_i" else str) for column in PATTERN_COLUMNS})
    table = spatial_autocorrelation(adata)
    table.insert(0, "patient_id", str(adata.obs["patient_id"].iloc[0]))
    table.insert(0, "sample_id", info["sample_id"])
    return table


def spatial_pattern_view(patterns: pd.DataFrame, n_genes: int) -> ad.AnnData | None:
    """spatial_pattern: patients x genes Moran's I (mean over a patient's sections) of the n_genes
    genes most autocorrelated on average. `patterns`: patient_id, gene, morans_i."""
    if patterns.empty:
        return None
    table = patterns.pivot_table(index="patient_id", columns="gene", values="morans_i", aggfunc="mean")
    top = table.mean(axis=0).sort_values(ascending=False).index[:n_genes]
    table = table[sorted(top)]
    var = pd.DataFrame(index=[f"spatial_pattern{VIEW_SEPARATOR}{g}" for g in table.columns])
    view = ad.AnnData(X=table.to_numpy(dtype=np.float32), obs=pd.DataFrame(index=table.index.astype(str)), var=var)
    view.uns["modality"] = "spatial"
    return view
