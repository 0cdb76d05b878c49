"""A cell-level view of technical batches for QC: PCA and its Harmony-corrected version.

Harmony (harmonypy, called directly: scanpy 1.11's wrapper transposes harmonypy 2's output) is for
looking at batches, not for the factor model: MOFA sees patient-level views, with the batch passed on
as a covariate or group.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from oncofactor.notices import WARNING, Notice


def subsample(adata: ad.AnnData, n: int, seed: int) -> ad.AnnData:
    """At most n cells of a sample, the same ones for the same sample, seed and n."""
    if adata.n_obs <= n:
        return adata
    keep = np.sort(np.random.default_rng(seed).choice(adata.n_obs, size=n, replace=False))
    return adata[keep]


def same_batch_fraction(embedding: np.ndarray, batches: np.ndarray, k: int = 15) -> float:
    """Mean fraction of each cell's k nearest neighbours that share its batch (lower = better mixed)."""
    k = min(k, len(batches) - 1)
    _, neighbours = NearestNeighbors(n_neighbors=k + 1).fit(embedding).kneighbors(embedding)
    return float((batches[neighbours[:, 1:]] == batches[:, None]).mean())


def shared_gene_samples(adatas: list[ad.AnnData], min_genes: int) -> tuple[list[ad.AnnData], list[Notice]]:
    """The samples whose genes an embedding can share: all of them when they share at least
    `min_genes`, else the set left after leaving out the samples measuring the fewest genes, one at a
    time, each named in a notice (a targeted panel or a chromosome subset beside whole transcriptomes)."""
    kept, notices = [a for a in adatas if a.n_obs], []
    while len(kept) > 1:
        shared = set(kept[0].var_names).intersection(*(set(a.var_names) for a in kept[1:]))
        if len(shared) >= min_genes:
            return kept, notices
        smallest = min(kept, key=lambda a: (a.n_vars, str(a.obs["sample_id"].iloc[0])))
        kept.remove(smallest)
        notices.append(Notice(
            "batch_embedding", "sample", str(smallest.obs["sample_id"].iloc[0]), WARNING,
            f"not in the batch QC embedding: the scRNA samples shared {len(shared)} genes with it, fewer than "
            f"batch.min_shared_genes = {min_genes} (it measures {smallest.n_vars})",
            "expected for a targeted panel; the embedding is only a QC view",
        ))
    return kept, notices


def batch_embedding(adatas: list[ad.AnnData], settings: dict) -> tuple[pd.DataFrame, dict, list[Notice]]:
    """PCA of up to settings['cells_per_sample'] cells per sample on the genes they share, and
    Harmony on the `batch` column.

    adatas: harmonized samples (X log-normalized, obs with sample_id, batch, cell_type).
    Returns one row per cell (sample_id, barcode, batch, cell_type, pc_1.., harmony_1..), the mean
    same-batch fraction of nearest neighbours before and after correction (empty when the embedding
    cannot be made), and notices: samples left out of it, or the embedding skipped and why.
    """
    import harmonypy
    import scanpy as sc

    parts, notices = shared_gene_samples(
        [subsample(a, settings["cells_per_sample"], settings["seed"]) for a in adatas], settings["min_shared_genes"]
    )
    batches = {str(a.obs["batch"].iloc[0]) for a in parts}
    empty = pd.DataFrame(columns=["sample_id", "barcode", "batch", "cell_type"])
    if len(batches) < 2:
        notices.append(Notice(
            "batch_embedding", "batch_embedding", "scRNA batches", WARNING,
            f"no batch QC embedding: the scRNA samples it could use come from {len(batches)} batch(es)",
            "nothing to do unless batches were expected",
        ))
        return empty, {}, notices
    cells = ad.concat(parts, join="inner", index_unique=None)
    cells.obs_names_make_unique()
    n_genes = min(settings["n_top_genes"], cells.n_vars)
    sc.pp.highly_variable_genes(cells, n_top_genes=n_genes, flavor="seurat")
    n_pcs = min(settings["n_pcs"], cells.n_obs - 1, int(cells.var["highly_variable"].sum()) - 1)
    sc.pp.pca(cells, n_comps=n_pcs, mask_var="highly_variable", random_state=settings["seed"])
    pcs = cells.obsm["X_pca"]
    meta = pd.DataFrame({"batch": cells.obs["batch"].astype(str).to_numpy()})
    corrected = np.asarray(harmonypy.run_harmony(pcs, meta, ["batch"], random_state=settings["seed"], verbose=False).Z_corr)
    table = pd.DataFrame(
        {
            "sample_id": cells.obs["sample_id"].astype(str).to_numpy(),
            "barcode": [str(b) for b in cells.obs_names],
            "batch": meta["batch"].to_numpy(),
            "cell_type": cells.obs["cell_type"].astype(str).to_numpy(),
        }
    )
    for i in range(pcs.shape[1]):
        table[f"pc_{i + 1}"] = pcs[:, i]
    for i in range(corrected.shape[1]):
        table[f"harmony_{i + 1}"] = corrected[:, i]
    batches = meta["batch"].to_numpy()
    mixing = {"same_batch_fraction_pca": same_batch_fraction(pcs, batches), "same_batch_fraction_harmony": same_batch_fraction(corrected, batches)}
    return table, mixing, notices
