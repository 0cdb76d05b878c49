"""Patient-level views for MOFA: the multicellular factor analysis layout (MOFAcell, Ramirez Flores
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
STANDARD_BLOOD_VOLUME_ML = 7.5


def view_modality(name: str) -> str | None:
    """The sample modality a view is built from: scrna for rna:<cell type> and rna_composition,
    spatial for spatial and spatial_pattern, ctc_scrna for ctc_rna; None for the rest (the CTC
    enumeration view, extra views)."""
    if name == "ctc_rna":
        return "ctc_scrna"
    return {"rna": "scrna", "spatial": "spatial"}.get(name.split(VIEW_SEPARATOR)[0].split("_")[0])


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
    return ad.AnnData(X=table.to_numpy(dtype=np.float32), obs=pd.DataFrame(index=table.index.astype(str)), var=var)


def ctc_per_standard_volume(ctc: pd.DataFrame) -> pd.DataFrame:
    """The enumeration table with ctc_per_7_5ml and clusters_per_7_5ml (counts scaled to 7.5 mL)."""
    table = ctc.copy()
    scale = STANDARD_BLOOD_VOLUME_ML / table["blood_volume_ml"].astype(float)
    table["ctc_per_7_5ml"] = table["ctc_count"].astype(float) * scale
    table["clusters_per_7_5ml"] = table["ctc_cluster_count"].astype(float) * scale
    return table


def ctc_view(ctc: pd.DataFrame) -> ad.AnnData | None:
    """ctc: per patient, log1p(CTCs per 7.5 mL) and log1p(clusters per 7.5 mL) at each timepoint, and
    the change of log burden from the first timepoint (in table order) to each later one."""
    if ctc.empty:
        return None
    table = ctc_per_standard_volume(ctc)
    order = list(dict.fromkeys(table["timepoint"]))
    burden = np.log1p(table.pivot(index="patient_id", columns="timepoint", values="ctc_per_7_5ml"))[order]
    clusters = np.log1p(table.pivot(index="patient_id", columns="timepoint", values="clusters_per_7_5ml"))[order]
    features = {f"burden_{t}": burden[t] for t in order}
    features |= {f"clusters_{t}": clusters[t] for t in order if clusters[t].notna().any()}
    features |= {f"change_{t}_vs_{order[0]}": burden[t] - burden[order[0]] for t in order[1:]}
    frame = pd.DataFrame(features)
    var = pd.DataFrame(index=[f"ctc{VIEW_SEPARATOR}{c}" for c in frame.columns])
    return ad.AnnData(X=frame.to_numpy(dtype=np.float32), obs=pd.DataFrame(index=frame.index.astype(str)), var=var)


def extra_view(view: dict) -> ad.AnnData:
    """A config extra view as patients x features (numbers; empty cells missing)."""
    from oncofactor.tables import read_table_as_text

    table = read_table_as_text(view["path"])
    if view["orientation"] == "samples_by_features":
        table = table.set_index(view["id_column"] or table.columns[0])
    else:
        table = table.set_index(table.columns[0]).T
    values = table.apply(lambda column: pd.to_numeric(column.str.strip(), errors="raise"))
    var = pd.DataFrame(index=[f"{view['name']}{VIEW_SEPARATOR}{c}" for c in values.columns])
    obs = pd.DataFrame(index=pd.Index([str(i).strip() for i in values.index]))
    adata = ad.AnnData(X=values.to_numpy(dtype=np.float32), obs=obs, var=var)
    adata.uns["likelihood"] = view["likelihood"]
    return adata


VIEW_COLUMNS = ["sample", "group", "view", "feature", "value"]


def build_views(
    pseudobulks: ad.AnnData,
    patterns: pd.DataFrame,
    ctc: pd.DataFrame | None,
    clinical: pd.DataFrame,
    samples: pd.DataFrame,
    config: dict,
):
    """All patient-level views as one MuData: patients as observations (the union over views, a
    patient missing from a view is missing there), clinical covariates, `group`, and per modality the
    technical batches of the patient's samples (`batch_scrna`, ...) in obs.

    Each view's uns['likelihood'] says how MOFA should model it (gaussian unless an extra view says
    otherwise).
    """
    import mudata

    mudata.set_options(pull_on_update=False)
    settings = config["views"]
    views = count_views(pseudobulks, settings)
    for name, view in (
        ("rna_composition", composition_view(pseudobulks)),
        ("spatial_pattern", spatial_pattern_view(patterns, settings["spatial_pattern_genes"])),
        ("ctc", ctc_view(ctc) if ctc is not None else None),
    ):
        if view is not None and view.n_obs >= settings["min_patients"]:
            views[name] = view
        elif view is not None:
            logger.warning("view %s dropped: %d patients (need %d)", name, view.n_obs, settings["min_patients"])
    for extra in config["extra_views"]:
        views[extra["name"]] = extra_view(extra)
    if not views:
        raise ValueError("no view has enough patients and features; see the warnings above and the views settings")
    for view in views.values():
        view.uns.setdefault("likelihood", "gaussian")
    modality_order = ("rna", "spatial", "ctc")
    order = sorted(views, key=lambda name: next((i for i, m in enumerate(modality_order) if name.startswith(m)), len(modality_order)))
    mdata = mudata.MuData({name: views[name] for name in order})
    mdata = mdata[sorted(mdata.obs_names)].copy()
    covariates = clinical.set_index("patient_id").reindex(mdata.obs_names)
    for column in covariates.columns:
        mdata.obs[column] = covariates[column].to_numpy()
    for modality, group in samples.dropna(subset=["batch"]).groupby("modality"):
        batches = group.groupby("patient_id")["batch"].agg(lambda b: ",".join(sorted(set(b))))
        mdata.obs[f"batch_{modality}"] = batches.reindex(mdata.obs_names).to_numpy()
    group_column = settings["group_column"]
    mdata.obs["group"] = covariates[group_column].astype(str).to_numpy() if group_column else "all"
    for column in mdata.obs.columns[mdata.obs.dtypes == object]:  # as mudata would on writing, without its log lines
        mdata.obs[column] = mdata.obs[column].astype("category")
    return mdata


def views_long(mdata) -> pd.DataFrame:
    """The views as one tidy table (sample, group, view, feature, value), missing values left out;
    features without their view prefix. Ordered by view, feature, then sample as in the MuData."""
    parts = []
    for name, view in mdata.mod.items():
        values = view.X.toarray() if sp.issparse(view.X) else np.asarray(view.X)
        features = [f[len(name) + 1 :] if f.startswith(name + VIEW_SEPARATOR) else f for f in view.var_names]
        frame = pd.DataFrame(values, index=view.obs_names, columns=features)
        frame = frame.rename_axis(index="sample", columns="feature").T.stack().rename("value").reset_index()
        frame.insert(0, "view", name)
        frame["group"] = mdata.obs.loc[frame["sample"], "group"].to_numpy()
        parts.append(frame.dropna(subset=["value"]))
    table = pd.concat(parts, ignore_index=True)
    table["value"] = table["value"].astype(float)
    return table[VIEW_COLUMNS]


def coverage(samples: pd.DataFrame, pseudobulks: ad.AnnData, ctc: pd.DataFrame | None, mdata) -> pd.DataFrame:
    """Per patient and modality: present, samples, observations kept after QC (cells, spots, CTCs or
    blood draws) and the views the patient is in."""
    patients = sorted(set(samples["patient_id"]) | set(mdata.obs_names) | (set(ctc["patient_id"]) if ctc is not None else set()))
    kept = pseudobulks.obs.assign(modality=pseudobulks.obs["view"].map(view_modality))
    observations = kept.groupby(["patient_id", "modality"])["n_cells"].sum()
    n_samples = samples.groupby(["patient_id", "modality"]).size()
    rows = []
    for patient in patients:
        for modality in ("scrna", "spatial", "ctc_scrna"):
            count = int(n_samples.get((patient, modality), 0))
            rows.append((patient, modality, count > 0, count, int(observations.get((patient, modality), 0))))
        draws = int((ctc["patient_id"] == patient).sum()) if ctc is not None else 0
        rows.append((patient, "ctc_enumeration", draws > 0, 0, draws))
    table = pd.DataFrame(rows, columns=["patient_id", "modality", "present", "n_samples", "n_observations"])
    in_views = {p: ",".join(name for name, view in mdata.mod.items() if p in view.obs_names) for p in patients}
    table["views"] = table["patient_id"].map(in_views)
    return table
