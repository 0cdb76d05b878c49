"""Pseudobulk count views for MOFA: the multicellular factor analysis layout (MOFAcell, Ramirez Flores
et al., eLife 2023), where each cell type is its own view.

Per sample (in that sample's job) the raw counts are summed per cell type (`sample_pseudobulk`), so
no job ever holds the cohort's cells. The cohort step (`count_views`) adds up each patient's samples,
filters profiles and genes as edgeR's filterByExpr does, normalizes to log1p CPM and keeps the most
variable genes, view by view.

Samples do not all measure the same genes (targeted panels, chromosome subsets, older references).
A view's genes are those its own samples measure; a gene a patient's samples did not measure is
missing (NaN) for that patient, never zero, and never removes the gene from the other patients.
Library sizes are put on one scale across panels before CPM (`effective_library_sizes`).
"""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from oncofactor.notices import LEFT_OUT, WARNING, Notice

logger = logging.getLogger(__name__)
VIEW_SEPARATOR = ":"
VIEW_GENE_COLUMNS = [
    "view", "sample_id", "patient_id", "n_cells", "n_genes_measured", "n_view_genes", "n_view_genes_measured",
    "view_gene_coverage", "library_coverage", "used", "reason",
]


def sample_pseudobulk(adata: ad.AnnData, exclude_cell_types: list[str]) -> ad.AnnData:
    """Raw counts of one harmonized sample summed per view: 'rna:<cell type>' for scRNA cells,
    'spatial' for Visium spots, 'ctc_rna' for cells labelled CTC, in any case (white-blood-cell
    controls left out).

    Returns profiles x the sample's genes (float32 sums of layers['counts']) with obs sample_id,
    patient_id, modality, view, cell_type and n_cells; no profiles for a sample left out at
    harmonization.
    """
    info = adata.uns["oncofactor"]
    modality = info["modality"]
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
            "patient_id": info["patient_id"],
            "modality": modality,
            "view": names,
            "cell_type": [name.split(VIEW_SEPARATOR, 1)[-1] for name in names],
            "n_cells": np.asarray(indicator.sum(axis=1)).ravel().astype(int),
        },
        index=[f"{info['sample_id']}{VIEW_SEPARATOR}{name}" for name in names],
    )
    return ad.AnnData(X=sp.csr_matrix(sums, dtype=np.float32), obs=obs, var=pd.DataFrame(index=adata.var_names))


def effective_library_sizes(counts: np.ndarray, fit: np.ndarray | None = None, iterations: int = 100) -> np.ndarray:
    """Each profile's library size over all of its view's genes, when profiles measure different genes.

    counts: profiles x genes, NaN where a profile's sample did not measure the gene; fit: the profiles
    (boolean mask) whose counts estimate the genes' shares, default all. The counts a profile measured
    are fitted as depth x gene share, c_pg ~ Poisson(s_p m_g), over the measured entries only,
    alternating the maximum-likelihood updates of s and m (a rank-one Poisson fit with missing
    values); the library size is s_p times the sum of all genes' shares: what the profile's total would
    have been had it measured every gene. A profile that measured every gene keeps its own total; a
    240-gene panel beside whole transcriptomes gets its total divided by the share of expression its
    genes carry, so a gene's CPM means the same in both. Overlapping panels with no profile measuring
    everything are put on one scale too. NaN for a profile without counts on genes the fit saw.
    """
    measured = ~np.isnan(counts)
    values = np.where(measured, counts, 0.0)
    totals = values.sum(axis=1)
    fit = np.ones(len(counts), dtype=bool) if fit is None else fit & (totals > 0)
    if measured.all() or not fit.any():
        return np.where(totals > 0, totals, np.nan)
    depth = totals.astype(float)
    for _ in range(iterations):
        share = values[fit].sum(axis=0) / np.maximum((measured[fit] * depth[fit][:, None]).sum(axis=0), 1e-300)
        share = share / share.sum()
        covered = (measured * share).sum(axis=1)
        updated = np.divide(totals, covered, out=np.full(len(counts), np.nan), where=covered > 0)
        converged = np.allclose(updated[fit], depth[fit], rtol=1e-10)
        depth = updated
        if converged:
            break
    return np.where(depth > 0, depth, np.nan)


def filter_by_expression(counts: np.ndarray, library: np.ndarray, library_per_gene: np.ndarray, settings: dict) -> np.ndarray:
    """edgeR's filterByExpr (as decoupler's filter_by_expr) for genes measured by different patients.

    counts: patients x genes summed counts, NaN where the patient's samples did not measure the gene;
    library: patients' library sizes; library_per_gene: patients x genes, the library of the samples
    that measured each gene. Per gene, over the patients that measured it: the number with CPM >=
    min_count / median library * 1e6 must reach the minimum sample size (the patients that measured
    it, or large_n + (n - large_n) * min_prop when more than large_n did), and the counts must add up
    to min_total_count. Written here because decoupler's function takes one library size for every
    sample and no missing values; on complete data it keeps the same genes (tested).
    """
    measured = ~np.isnan(counts)
    n = measured.sum(axis=0).astype(float)
    minimum = np.where(n > settings["large_n"], settings["large_n"] + (n - settings["large_n"]) * settings["min_prop"], n)
    cutoff = settings["min_count"] / np.nanmedian(library) * 1e6
    with np.errstate(invalid="ignore", divide="ignore"):
        cpm = np.where(measured, counts / library_per_gene * 1e6, 0.0)
    sample_size = ((cpm >= cutoff) & measured).sum(axis=0)
    total = np.where(measured, counts, 0.0).sum(axis=0)
    return (n > 0) & (sample_size >= minimum - 1e-14) & (total >= settings["min_total_count"] - 1e-14)


def highly_variable(log_cpm: np.ndarray, n_top: int, n_bins: int = 20) -> np.ndarray:
    """The n_top most variable genes by scanpy's 'seurat' flavour (dispersion of expm1 values,
    normalized within 20 bins of mean expression), over the patients that measured each gene.

    Written here because scanpy's highly_variable_genes does not accept missing values; on complete
    data it selects the same genes (tested). Returns a boolean mask over genes.
    """
    values = np.expm1(log_cpm.astype(np.float64))
    mean = np.nanmean(values, axis=0)
    variance = np.nanvar(values, axis=0, ddof=1)
    mean[mean == 0] = 1e-12
    dispersion = variance / mean
    dispersion[dispersion == 0] = np.nan
    table = pd.DataFrame({"means": np.log1p(mean), "dispersions": np.log(dispersion)})
    table["mean_bin"] = pd.cut(table["means"], bins=n_bins)
    grouped = table.groupby("mean_bin", observed=True)["dispersions"]
    bin_mean, bin_std = grouped.mean(), grouped.std(ddof=1)
    # As scanpy: a bin with one gene has no spread; that gene's normalized dispersion is 1.
    single = bin_std.isnull()
    bin_std[single], bin_mean[single] = bin_mean[single], 0
    table["normalized"] = (table["dispersions"].to_numpy() - bin_mean.reindex(table["mean_bin"]).to_numpy()) / bin_std.reindex(
        table["mean_bin"]
    ).to_numpy()
    normalized = table["normalized"].to_numpy()
    finite = np.sort(normalized[~np.isnan(normalized)])[::-1]
    if finite.size == 0:
        return np.zeros(len(table), dtype=bool)
    return np.nan_to_num(normalized, nan=-np.inf) >= finite[min(n_top, finite.size) - 1]


def _view_profiles(pseudobulks: list[ad.AnnData], view: str) -> tuple[pd.DataFrame, pd.Index, np.ndarray]:
    """One view's sample profiles: their obs, the union of the genes their samples measured (sorted),
    and profiles x genes counts with NaN where a sample did not measure a gene."""
    parts = [(p.obs[p.obs["view"] == view], p) for p in pseudobulks if (p.obs["view"] == view).any()]
    genes = pd.Index(sorted(set().union(*(set(p.var_names) for _, p in parts))))
    counts = np.full((sum(len(obs) for obs, _ in parts), len(genes)), np.nan)
    row = 0
    for obs, profile in parts:
        columns = genes.get_indexer(profile.var_names)
        block = profile[obs.index].X
        counts[row:row + len(obs), columns] = block.toarray() if sp.issparse(block) else block
        row += len(obs)
    return pd.concat([obs for obs, _ in parts]), genes, counts


def count_views(pseudobulks: list[ad.AnnData], settings: dict) -> tuple[dict[str, ad.AnnData], pd.DataFrame, list[Notice]]:
    """Patient x gene views (log1p CPM of summed counts, top variable genes) from per-sample sums.

    pseudobulks: `sample_pseudobulk` of each sample (each over its own genes). A patient's profile in
    a view is missing when the patient has fewer than settings['min_cells'] cells of that kind
    (settings['min_ctcs'] for ctc_rna) or fewer than settings['min_counts'] counts. A gene is kept
    when filterByExpr keeps it over the patients whose samples measured it and at least min_patients
    of them did; values of the others are NaN. Views with fewer than min_patients patients or
    min_features genes left are dropped with a notice.

    Returns the views (uns['modality'] the samples' modality), the view gene table (VIEW_GENE_COLUMNS,
    per view and sample: genes measured, kept, coverage, whether the sample was used and why not) and
    notices (views left out; samples measuring under settings['min_gene_coverage'] of their view's genes).
    """
    names = sorted(set().union(*(set(p.obs["view"]) for p in pseudobulks))) if pseudobulks else []
    views, rows, notices = {}, [], []
    for name in names:
        obs, genes, counts = _view_profiles(pseudobulks, name)
        obs = obs.assign(n_genes_measured=(~np.isnan(counts)).sum(axis=1), reason="")
        needed = settings["min_ctcs"] if name == "ctc_rna" else settings["min_cells"]
        patient_cells = obs.groupby("patient_id")["n_cells"].transform("sum")
        obs.loc[(patient_cells < needed).to_numpy(), "reason"] = f"patient has fewer than {needed} cells of this kind (views.min_{'ctcs' if name == 'ctc_rna' else 'cells'})"
        library = effective_library_sizes(counts, fit=(obs["reason"] == "").to_numpy())
        obs["library_coverage"] = np.where(np.isnan(counts), 0.0, counts).sum(axis=1) / library
        obs.loc[np.isnan(library) & (obs["reason"] == "").to_numpy(), "reason"] = "no counts on the genes of this view's other profiles"
        patients = sorted(obs.loc[obs["reason"] == "", "patient_id"].unique())
        by_patient = pd.Index(patients).get_indexer(obs["patient_id"])
        use = (by_patient >= 0) & (obs["reason"] == "").to_numpy()
        measured = ~np.isnan(counts)
        summed = np.zeros((len(patients), len(genes)))
        library_per_gene = np.zeros((len(patients), len(genes)))
        any_measured = np.zeros((len(patients), len(genes)), dtype=bool)
        np.add.at(summed, by_patient[use], np.where(measured[use], counts[use], 0.0))
        np.add.at(library_per_gene, by_patient[use], np.where(measured[use], library[use][:, None], 0.0))
        np.logical_or.at(any_measured, by_patient[use], measured[use])
        patient_counts = np.where(any_measured, summed, np.nan)
        patient_library = np.zeros(len(patients))
        np.add.at(patient_library, by_patient[use], library[use])
        enough = summed.sum(axis=1) >= settings["min_counts"]
        low = set(np.array(patients)[~enough])
        obs.loc[obs["patient_id"].isin(low).to_numpy() & (obs["reason"] == "").to_numpy(), "reason"] = (
            f"patient has fewer than {settings['min_counts']:g} counts in this view (views.min_counts)"
        )
        patients = [p for p, ok in zip(patients, enough) if ok]
        patient_counts, library_per_gene, patient_library = patient_counts[enough], library_per_gene[enough], patient_library[enough]

        keep = np.zeros(len(genes), dtype=bool)
        if patients:
            keep = filter_by_expression(patient_counts, patient_library, library_per_gene, settings["filter_by_expr"])
            keep &= (~np.isnan(patient_counts)).sum(axis=0) >= settings["min_patients"]
        with np.errstate(invalid="ignore", divide="ignore"):
            log_cpm = np.log1p(patient_counts[:, keep] / library_per_gene[:, keep] * 1e6)
        selected = genes[keep]
        if keep.sum() > settings["n_top_genes"]:
            variable = highly_variable(log_cpm, settings["n_top_genes"])
            log_cpm, selected = log_cpm[:, variable], selected[variable]
        kept_view = len(patients) >= settings["min_patients"] and len(selected) >= settings["min_features"]
        if not kept_view:
            notices.append(Notice(
                "views", "view", name, LEFT_OUT,
                f"{len(patients)} patients and {len(selected)} genes left after filtering (needs views.min_patients = "
                f"{settings['min_patients']} and views.min_features = {settings['min_features']})",
                "lower views.min_patients, views.min_features or the filter_by_expr settings, or add samples",
            ))
            obs.loc[obs["reason"] == "", "reason"] = "view left out"
        else:
            view_counts = patient_counts[:, keep][:, genes[keep].get_indexer(selected)]
            view = ad.AnnData(
                X=log_cpm.astype(np.float32),
                obs=pd.DataFrame(index=pd.Index(patients, name=None)),
                var=pd.DataFrame(index=pd.Index([f"{name}{VIEW_SEPARATOR}{gene}" for gene in selected])),
                layers={"counts": view_counts.astype(np.float32)},
            )
            view.uns["modality"] = str(obs["modality"].iloc[0])
            views[name] = view
        chosen = genes.get_indexer(selected)
        for position, (index, sample) in enumerate(obs.iterrows()):
            n_measured = int(measured[position, chosen].sum()) if len(chosen) else 0
            coverage = n_measured / len(selected) if len(selected) else np.nan
            rows.append((
                name, sample["sample_id"], sample["patient_id"], int(sample["n_cells"]), int(sample["n_genes_measured"]),
                len(selected), n_measured, coverage, float(sample["library_coverage"]), kept_view and sample["reason"] == "",
                sample["reason"],
            ))
    table = pd.DataFrame(rows, columns=VIEW_GENE_COLUMNS)
    low = table[table["used"] & (table["view_gene_coverage"] < settings["min_gene_coverage"])]
    for sample_id, part in low.groupby("sample_id", sort=True):
        listing = ", ".join(f"{r.view} {r.n_view_genes_measured} of {r.n_view_genes}" for r in part.itertuples())
        notices.append(Notice(
            "views", "genes", sample_id, WARNING,
            f"measures under {100 * settings['min_gene_coverage']:.0f}% of the genes of {len(part)} view(s) ({listing}); "
            f"for patient {part['patient_id'].iloc[0]} the others are missing there",
            "expected for a targeted panel; otherwise check the sample's file and gene identifiers",
        ))
    return views, table, notices


def composition_view(pseudobulks: list[ad.AnnData]) -> ad.AnnData | None:
    """rna_composition: centred log-ratio of cell-type counts per patient (counts + 0.5)."""
    obs = pd.concat([p.obs for p in pseudobulks]) if pseudobulks else pd.DataFrame(columns=["view"])
    rna = obs[obs["view"].astype(str).str.startswith("rna" + VIEW_SEPARATOR)]
    if rna.empty:
        return None
    counts = rna.pivot_table(index="patient_id", columns="cell_type", values="n_cells", aggfunc="sum", fill_value=0)
    logs = np.log(counts.to_numpy(dtype=float) + 0.5)
    clr = logs - logs.mean(axis=1, keepdims=True)
    var = pd.DataFrame(index=[f"rna_composition{VIEW_SEPARATOR}{c}" for c in counts.columns])
    view = ad.AnnData(X=clr.astype(np.float32), obs=pd.DataFrame(index=counts.index.astype(str)), var=var)
    view.uns["modality"] = "scrna"
    return view
