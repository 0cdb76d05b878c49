"""Pseudobulk count views for MOFA: the multicellular factor analysis layout (MOFAcell, Ramirez Flores
et al., eLife 2023), where each cell type is its own view.

Per sample (in that sample's job) the raw counts are summed per cell type (`sample_pseudobulk`), so
no job ever holds the cohort's cells. The cohort step then hands these sums to
`liana.multi.adata_to_views`, which adds up a patient's samples (decoupler pseudobulk), filters
profiles and genes (edgeR's filterByExpr) and builds one view per cell type.
"""

from __future__ import annotations

import logging
import warnings

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

logger = logging.getLogger(__name__)
VIEW_SEPARATOR = ":"


def sample_pseudobulk(adata: ad.AnnData, exclude_cell_types: list[str]) -> ad.AnnData:
    """Raw counts of one harmonized sample summed per view: 'rna:<cell type>' for scRNA cells,
    'spatial' for Visium spots, 'ctc_rna' for cells labelled CTC, in any case (white-blood-cell
    controls left out).

    Returns profiles x genes (float32 sums of layers['counts']) with obs sample_id, patient_id, view,
    cell_type and n_cells; no profiles for a sample dropped at QC.
    """
    info = adata.uns["oncofactor"]
    modality = str(adata.obs["modality"].iloc[0]) if adata.n_obs else ""
    if info["dropped"] or adata.n_obs == 0:
        groups = pd.Series([], dtype=object)
    elif modality == "scrna":
        cell_types = adata.obs["cell_type"].astype(str)
        groups = ("rna" + VIEW_SEPARATOR + cell_types).where(~cell_types.isin(exclude_cell_types))
    elif modality == "spatial":
        groups = pd.Series("spatial", index=adata.obs_names)
    else:
        is_ctc = adata.obs["cell_type"].astype(str).str.upper() == "CTC"
        groups = pd.Series("ctc_rna", index=adata.obs_names).where(is_ctc)
    groups = groups.dropna()
    names = pd.Index(sorted(groups.unique()))
    rows = adata.obs_names.get_indexer(groups.index)
    indicator = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (names.get_indexer(groups.to_numpy()), rows)), shape=(len(names), adata.n_obs)
    )
    sums = indicator @ sp.csr_matrix(adata.layers["counts"]) if adata.n_obs else sp.csr_matrix((0, adata.n_vars), dtype=np.float32)
    obs = pd.DataFrame(
        {
            "sample_id": info["sample_id"],
            "patient_id": str(adata.obs["patient_id"].iloc[0]) if adata.n_obs else "",
            "view": names,
            "cell_type": [name.split(VIEW_SEPARATOR, 1)[-1] for name in names],
            "n_cells": np.asarray(indicator.sum(axis=1)).ravel().astype(int),
        },
        index=[f"{info['sample_id']}{VIEW_SEPARATOR}{name}" for name in names],
    )
    return ad.AnnData(X=sp.csr_matrix(sums, dtype=np.float32), obs=obs, var=pd.DataFrame(index=adata.var_names))


def _log_cpm(view: ad.AnnData) -> None:
    counts = np.asarray(view.X.toarray() if sp.issparse(view.X) else view.X, dtype=np.float64)
    view.layers["counts"] = counts.astype(np.float32)
    totals = counts.sum(axis=1, keepdims=True)
    view.X = np.log1p(counts / np.where(totals > 0, totals, 1) * 1e6).astype(np.float32)


def count_views(pseudobulks: ad.AnnData, settings: dict) -> dict[str, ad.AnnData]:
    """Patient x gene views (log1p CPM of summed counts, top variable genes) from per-sample sums.

    A patient's profile in a view is missing (not zero) when the patient has fewer than
    settings['min_cells'] cells of that kind (settings['min_ctcs'] for ctc_rna) or fewer than
    settings['min_counts'] counts. Views with
    fewer than min_patients patients or min_features genes left are dropped with a warning.
    """
    import liana
    import scanpy as sc

    profiles = pseudobulks[pseudobulks.obs["n_cells"] > 0].copy()
    if profiles.n_obs == 0:
        return {}
    cells = profiles.obs.groupby(["patient_id", "view"], observed=True)["n_cells"].transform("sum")
    needed = np.where(profiles.obs["view"] == "ctc_rna", settings["min_ctcs"], settings["min_cells"])
    profiles = profiles[(cells >= needed).to_numpy()].copy()
    if profiles.n_obs == 0:
        return {}
    expression = settings["filter_by_expr"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        mdata = liana.multi.adata_to_views(
            profiles,
            groupby="view",
            sample_key="patient_id",
            view_sep=VIEW_SEPARATOR,
            psbulk_kwargs={"mode": "sum", "skip_checks": True},
            filter_samples_kwargs={"min_cells": 1, "min_counts": settings["min_counts"]},
            filter_by_expr_kwargs=dict(expression),
        )
    views = {}
    for name in sorted(mdata.mod):
        view = mdata.mod[name].copy()
        if view.n_obs < settings["min_patients"] or view.n_vars < settings["min_features"]:
            logger.warning(
                "view %s dropped: %d patients and %d genes left after filtering (need %d and %d)",
                name, view.n_obs, view.n_vars, settings["min_patients"], settings["min_features"],
            )
            continue
        _log_cpm(view)
        if view.n_vars > settings["n_top_genes"]:
            sc.pp.highly_variable_genes(view, n_top_genes=settings["n_top_genes"], flavor="seurat")
            view = view[:, view.var["highly_variable"].to_numpy()].copy()
        views[name] = view
    return views


def composition_view(pseudobulks: ad.AnnData) -> ad.AnnData | None:
    """rna_composition: centred log-ratio of cell-type counts per patient (counts + 0.5)."""
    rna = pseudobulks.obs[pseudobulks.obs["view"].str.startswith("rna" + VIEW_SEPARATOR)]
    if rna.empty:
        return None
    counts = rna.pivot_table(index="patient_id", columns="cell_type", values="n_cells", aggfunc="sum", fill_value=0)
    logs = np.log(counts.to_numpy(dtype=float) + 0.5)
    clr = logs - logs.mean(axis=1, keepdims=True)
    var = pd.DataFrame(index=[f"rna_composition{VIEW_SEPARATOR}{c}" for c in counts.columns])
    return ad.AnnData(X=clr.astype(np.float32), obs=pd.DataFrame(index=counts.index.astype(str)), var=var)
