"""Patient-level views: per-sample sums, the views MOFA integrates, and the truth showing in them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from conftest import views_in_process
from scipy.stats import spearmanr

from oncofactor.config import check_config
from oncofactor.ctc_burden import ctc_per_standard_volume, ctc_view
from oncofactor.pseudobulk import count_views, sample_pseudobulk
from oncofactor.spatial_pattern import section_pattern
from oncofactor.views import VIEW_COLUMNS, build_views, coverage, views_long


@pytest.fixture(scope="module")
def built(truth_cohort):
    # A few patients have CTC single-cell data, each with a handful of CTCs.
    config, inputs, harmonized, pseudobulks, mdata = views_in_process(truth_cohort, {"min_ctcs": 1, "min_patients": 2})
    return {"config": config, "samples": inputs.samples, "clinical": inputs.clinical, "harmonized": harmonized, "pseudobulks": pseudobulks,
            "ctc": inputs.ctc, "mdata": mdata}


def truth(cohort) -> pd.DataFrame:
    return pd.read_parquet(cohort / "truth" / "factors.parquet").pivot(index="patient_id", columns="factor", values="value")


def test_pseudobulk_sums_each_cell_types_counts(built):
    sample_id, adata = next((k, a) for k, a in built["harmonized"].items() if k.endswith("_scrna"))
    profiles = sample_pseudobulk(adata, ["unassigned"])
    for name in profiles.obs_names:
        cell_type = profiles.obs.loc[name, "cell_type"]
        cells = adata[adata.obs["cell_type"] == cell_type]
        assert profiles.obs.loc[name, "n_cells"] == cells.n_obs
        assert np.allclose(profiles[name].X.toarray().ravel(), np.asarray(cells.layers["counts"].sum(axis=0)).ravel())
    assert set(profiles.obs["view"]) == {f"rna:{t}" for t in adata.obs["cell_type"].unique() if t != "unassigned"}


def test_ctc_pseudobulk_leaves_out_blood_controls(built):
    adata = next(a for k, a in built["harmonized"].items() if "_ctc_" in k)
    profiles = sample_pseudobulk(adata, [])
    assert list(profiles.obs["view"]) == ["ctc_rna"]
    assert profiles.obs["n_cells"].iloc[0] == (adata.obs["cell_type"] == "CTC").sum() < adata.n_obs


def test_dropped_sample_has_no_profiles(built):
    adata = next(iter(built["harmonized"].values())).copy()
    adata.uns["oncofactor"] = {**adata.uns["oncofactor"], "dropped": "too few cells"}
    assert sample_pseudobulk(adata, []).n_obs == 0


def test_views_hold_one_view_per_cell_type_and_every_modality(built):
    mdata = built["mdata"]
    names = list(mdata.mod)
    assert {"rna:tumour_epithelial", "rna:T_cell", "rna:fibroblast", "rna_composition", "spatial", "spatial_pattern", "ctc", "ctc_rna", "mutations"} <= set(names)
    assert names.index("rna:T_cell") < names.index("spatial") < names.index("ctc")
    assert list(mdata.obs_names) == sorted(mdata.obs_names)
    assert {"response", "os_months", "death", "age", "group", "batch_scrna", "batch_spatial"} <= set(mdata.obs.columns)
    scrna = built["samples"].query("modality == 'scrna'").set_index("patient_id")["batch"]
    assert (mdata.obs.loc[scrna.index, "batch_scrna"] == scrna).all()
    shares = mdata.obsm["batch_scrna"].loc[scrna.index]
    assert (shares.idxmax(axis=1) == scrna).all() and np.allclose(shares.sum(axis=1), 1.0)
    assert mdata.mod["mutations"].uns["likelihood"] == "bernoulli"
    scrna_patients = set(built["samples"].query("modality == 'scrna'")["patient_id"])
    assert set(mdata.mod["rna:tumour_epithelial"].obs_names) <= scrna_patients
    assert len(set(mdata.obs_names) - scrna_patients) > 0, "patients without scRNA are kept, missing from rna views"


def view_values(mdata, view: str, feature: str) -> pd.Series:
    data = mdata.mod[view][:, f"{view}:{feature}"]
    values = data.X.toarray().ravel() if sp.issparse(data.X) else np.asarray(data.X).ravel()
    return pd.Series(values, index=data.obs_names).dropna()


def test_truth_shows_in_the_views(built, truth_cohort):
    """Genes and features the simulator drives by a factor vary with that factor across patients."""
    z, mdata = truth(truth_cohort), built["mdata"]
    effects = pd.read_parquet(truth_cohort / "truth" / "effects.parquet")
    for factor, cell_type in [("Factor1", "T_cell"), ("Factor2", "tumour_epithelial"), ("Factor3", "fibroblast")]:
        view = f"rna:{cell_type}"
        driven = effects.query("factor == @factor and target == 'expression' and cell_type == @cell_type and effect > 0")["feature"]
        present = [g for g in driven if f"{view}:{g}" in mdata.mod[view].var_names]
        assert len(present) >= 5, f"{view} kept only {present} of the genes {factor} drives"
        correlations = [spearmanr(z.loc[v.index, factor], v).statistic for v in (view_values(mdata, view, g) for g in present)]
        assert np.median(correlations) > 0.5, f"{factor} in {view}: median rho {np.median(correlations):.2f}"

    def rho(view, feature, factor):
        values = view_values(mdata, view, feature)
        return spearmanr(z.loc[values.index, factor], values).statistic

    assert rho("rna_composition", "T_cell", "Factor1") > 0.6
    assert rho("ctc", "burden_T0", "Factor2") > 0.3
    assert rho("mutations", "TP53", "Factor2") > 0.2


def view_obs(pseudobulks) -> pd.DataFrame:
    return pd.concat([p.obs for p in pseudobulks])


def test_patients_with_too_few_cells_are_missing_not_zero(built):
    pseudobulks = built["pseudobulks"]
    settings = {**built["config"]["views"], "min_cells": 1}
    totals = view_obs(pseudobulks).query("view == 'rna:T_cell'").groupby("patient_id")["n_cells"].sum()
    cutoff = int(totals.median())
    loose = count_views(pseudobulks, settings)[0]["rna:T_cell"]
    strict, genes, _ = count_views(pseudobulks, {**settings, "min_cells": cutoff})
    assert strict["rna:T_cell"].n_obs < loose.n_obs
    assert set(strict["rna:T_cell"].obs_names) <= set(totals[totals >= cutoff].index)
    unused = genes.query("view == 'rna:T_cell' and not used")
    assert set(unused["patient_id"]) == set(totals[totals < cutoff].index)
    assert unused["reason"].str.contains("fewer than").all()
    views, _, notices = count_views(pseudobulks, {**settings, "min_patients": 29})
    assert "rna:T_cell" not in views
    [notice] = [n for n in notices if n.subject == "rna:T_cell"]
    assert notice.outcome == "left out" and "views.min_patients = 29" in notice.reason


def test_views_long_matches_the_mudata(built):
    mdata, table = built["mdata"], views_long(built["mdata"])
    assert list(table.columns) == VIEW_COLUMNS
    assert table["value"].notna().all() and set(table["group"]) == {"all"}
    row = table[(table["view"] == "ctc") & (table["feature"] == "burden_T0")].iloc[0]
    assert np.isclose(mdata.mod["ctc"][row["sample"], "ctc:burden_T0"].X.item(), row["value"])
    assert set(table["view"]) == set(mdata.mod)


def test_coverage(built):
    table = coverage(built["samples"], built["pseudobulks"], built["ctc"], built["mdata"])
    scrna = table[table["modality"] == "scrna"].set_index("patient_id")
    assert (scrna["present"] == (scrna["n_samples"] > 0)).all()
    assert (scrna.loc[scrna["present"], "n_observations"] > 0).all()
    missing = scrna.index[~scrna["present"]]
    assert len(missing) > 0 and all("rna:" not in v for v in scrna.loc[missing, "views"])


def test_ctc_burden_is_per_7_5_ml():
    draws = pd.DataFrame({"patient_id": ["a", "a", "b"], "timepoint": ["T0", "T1", "T0"], "ctc_count": [10, 0, 3], "blood_volume_ml": [10.0, 7.5, 7.5], "ctc_cluster_count": [2, 0, 0]})
    scaled = ctc_per_standard_volume(draws)
    assert scaled["ctc_per_7_5ml"].tolist() == [7.5, 0.0, 3.0]
    view = ctc_view(draws)
    assert list(view.var_names) == ["ctc:burden_T0", "ctc:burden_T1", "ctc:clusters_T0", "ctc:clusters_T1", "ctc:change_T1_vs_T0"]
    a = view["a"].X.ravel()
    assert np.allclose(a, [np.log1p(7.5), 0, np.log1p(1.5), 0, -np.log1p(7.5)])
    assert np.isnan(view["b"].X.ravel()[1])


def test_group_column(built):
    config = check_config({**built["config"], "views": {**built["config"]["views"], "group_column": "sex"}})
    clinical = built["mdata"].obs[["sex"]].reset_index(names="patient_id")
    no_patterns = pd.DataFrame(columns=["patient_id", "gene", "morans_i"])
    mdata, _, _ = build_views(built["pseudobulks"], no_patterns, built["ctc"], clinical, built["samples"], config)
    assert set(mdata.obs["group"]) == {"female", "male"}


def test_each_view_knows_its_modality(built):
    modalities = {name: view.uns["modality"] for name, view in built["mdata"].mod.items()}
    assert {modalities[v] for v in modalities if v.startswith("rna")} == {"scrna"}
    assert (modalities["spatial"], modalities["spatial_pattern"], modalities["ctc_rna"]) == ("spatial", "spatial", "ctc_scrna")
    assert (modalities["ctc"], modalities["mutations"]) == ("ctc_enumeration", "extra")


def _sklearn_spot_graph(coordinates, n_neighbors):
    from sklearn.neighbors import kneighbors_graph

    graph = kneighbors_graph(coordinates, n_neighbors=n_neighbors, include_self=False)
    return sp.csr_matrix(((graph + graph.T) > 0).astype(np.float64))


def _visium_pixels(side: int) -> np.ndarray:
    """Spot centres of a Visium-like hexagonal lattice in full-resolution pixels, rounded as Space Ranger writes them."""
    rows, cols = np.divmod(np.arange(side * side), side)
    array_col = 2 * cols + (rows % 2)
    return np.column_stack([np.round(600 + array_col * 80.0), np.round(600 + rows * 138.6)])


@pytest.mark.parametrize(
    "coordinates",
    [
        np.random.default_rng(1).uniform(0, 10, (500, 2)),
        _visium_pixels(40),
        np.vstack([_visium_pixels(12), _visium_pixels(12)[:30]]),  # spots sharing coordinates
    ],
    ids=["random", "visium_lattice", "duplicated_spots"],
)
def test_spot_graph_links_each_spot_to_its_nearest(coordinates):
    from scipy.spatial.distance import cdist

    from oncofactor.spatial_pattern import spot_graph

    graph = spot_graph(coordinates, 6)
    distances = cdist(coordinates, coordinates)
    np.fill_diagonal(distances, np.inf)
    sixth_nearest = np.sort(distances, axis=1)[:, 5]
    # Before symmetrizing, each spot chose 6 others, none farther than its sixth nearest; symmetrizing
    # only adds the spots that chose it.
    chosen_by = graph.multiply(distances <= sixth_nearest[:, None] + 1e-9)
    assert graph.diagonal().sum() == 0 and (graph != graph.T).nnz == 0
    assert (np.asarray(chosen_by.sum(axis=1)).ravel() >= 6).all()
    theirs = _sklearn_spot_graph(coordinates, 6)
    unique_distances = all(np.sum(np.isclose(row, row[5])) == 1 for row in np.sort(distances, axis=1)[:, :7])
    if unique_distances:  # without ties at the sixth distance the graph is scikit-learn's exactly
        assert (graph != theirs).nnz == 0
    else:  # equidistant spots may be chosen in another order
        assert abs(graph.nnz - theirs.nnz) <= 0.05 * theirs.nnz


def test_morans_i_equals_scanpys():
    import scanpy as sc

    from oncofactor.spatial_pattern import morans_i

    rng = np.random.default_rng(0)
    coordinates = rng.uniform(0, 10, (400, 2))
    graph = _sklearn_spot_graph(coordinates, 6)
    smooth = np.sin(coordinates[:, 0])[None, :] + rng.normal(0, 0.3, (3, 400))
    values = np.vstack([smooth, rng.normal(0, 1, (50, 400))])
    ours = morans_i(graph, values, block=7)
    assert ours == pytest.approx(np.asarray(sc.metrics.morans_i(graph, vals=values)), abs=1e-10)
    assert morans_i(graph, sp.csr_matrix(values), block=7) == pytest.approx(ours, abs=1e-12)
    assert (ours[:3] > 0.5).all() and np.abs(ours[3:]).max() < 0.2


def test_filter_by_expression_keeps_decouplers_genes_on_complete_data(built):
    """The NaN-aware filterByExpr equals decoupler's filter_by_expr when every patient measured every gene."""
    import anndata as ad
    import decoupler as dc

    from oncofactor.pseudobulk import filter_by_expression

    rng = np.random.default_rng(0)
    detected = rng.random((30, 400)) < rng.uniform(0.3, 1.0, 400)  # genes detected in 30-100% of patients
    counts = rng.negative_binomial(2, 0.05, size=(30, 400)).astype(float) * detected
    settings = built["config"]["views"]["filter_by_expr"]
    library = counts.sum(axis=1)
    ours = filter_by_expression(counts, library, np.repeat(library[:, None], counts.shape[1], axis=1), settings)
    reference = dc.pp.filter_by_expr(ad.AnnData(counts), inplace=False, **settings)
    assert 50 < ours.sum() < 390, "the test data keep some genes and drop others"
    assert set(np.flatnonzero(ours).astype(str)) == set(reference)


def test_highly_variable_selects_scanpys_genes_on_complete_data():
    """The NaN-aware selection equals scanpy's highly_variable_genes(flavor='seurat') without missing values."""
    import anndata as ad
    import scanpy as sc

    from oncofactor.pseudobulk import highly_variable

    rng = np.random.default_rng(1)
    counts = rng.negative_binomial(rng.uniform(0.5, 5, 600), 0.1, size=(40, 600)).astype(float)
    log_cpm = np.log1p(counts / counts.sum(axis=1, keepdims=True) * 1e6).astype(np.float32)
    reference = ad.AnnData(log_cpm.copy())
    sc.pp.highly_variable_genes(reference, n_top_genes=150, flavor="seurat")
    ours = highly_variable(log_cpm, 150)
    assert ours.sum() == 150
    assert np.array_equal(ours, reference.var["highly_variable"].to_numpy())
    # With a patient's values missing for some genes, those genes are still ranked on the others.
    log_cpm[0, :200] = np.nan
    assert highly_variable(log_cpm, 150).sum() == 150


def test_library_sizes_across_gene_panels():
    """Profiles at known depths that measure different genes (a 240-gene panel, a middle block, and
    overlapping panels of which none measures every gene) get their true depths back."""
    from oncofactor.pseudobulk import effective_library_sizes

    rng = np.random.default_rng(7)
    share = rng.dirichlet(np.full(2000, 0.5))
    depth = np.array([1e5, 2e5, 5e4, 1e5, 1e5])
    counts = rng.poisson(depth[:, None] * share).astype(float)
    assert np.array_equal(effective_library_sizes(counts), counts.sum(axis=1)), "complete profiles keep their totals"
    panels = counts.copy()
    panels[3, 240:] = np.nan
    panels[4, :700] = panels[4, 1300:] = np.nan
    assert np.allclose(effective_library_sizes(panels), depth, rtol=0.02)
    overlapping = np.full_like(counts, np.nan)
    for row, (start, stop) in enumerate([(0, 600), (400, 1000), (800, 1400), (200, 1400), (1000, 2000)]):
        overlapping[row, start:stop] = counts[row, start:stop]
    assert np.allclose(effective_library_sizes(overlapping), depth, rtol=0.02)
    without_counts = np.ones((2, 10))
    without_counts[0] = 0.0
    without_counts[0, 5:] = np.nan
    assert np.isnan(effective_library_sizes(without_counts)[0]) and effective_library_sizes(without_counts)[1] == 10


def test_batches_as_mofa_groups(built):
    """mofa.batch_correction: groups makes each patient's scRNA batch its MOFA group (patients without
    scRNA join the largest); a batch of too few patients to centre on is refused, by name."""
    config = {**built["config"], "mofa": {**built["config"]["mofa"], "batch_correction": "groups"}}
    patterns = pd.concat([section_pattern(a) for a in built["harmonized"].values()])
    mdata, *_ = build_views(built["pseudobulks"], patterns, built["ctc"], built["clinical"], built["samples"], config)
    scrna = built["samples"].query("modality == 'scrna'").groupby("patient_id")["batch"].agg(lambda b: "+".join(sorted(set(b))))
    groups = mdata.obs["group"].astype(str)
    assert (groups[scrna.index] == scrna).all()
    assert set(groups.drop(index=scrna.index)) <= {scrna.value_counts().index[0]}
    assert mdata.obsm["batch_scrna"].loc[scrna.index].max(axis=1).eq(1.0).all()

    samples = built["samples"].copy()
    moved = samples.index[samples["modality"] == "scrna"][:2]
    samples.loc[moved, "batch"] = "run9"
    with pytest.raises(ValueError, match=r"group\(s\) 'run9' \(2\) have fewer than 5 patients"):
        build_views(built["pseudobulks"], patterns, built["ctc"], built["clinical"], samples, config)
