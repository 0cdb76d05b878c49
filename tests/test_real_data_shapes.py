"""Shapes of real data that once broke the pipeline, written by the simulator (oncofactor.simulate.QUIRKS)
and carried through validation, harmonization and the views in this process, so the suite catches
them without ../shared."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from oncofactor.config import check_config, load_config
from oncofactor.genes import cohort_species
from oncofactor.harmonize import cohort_gene_map, harmonize_sample
from oncofactor.notices import LEFT_OUT, WARNING
from oncofactor.pseudobulk import sample_pseudobulk
from oncofactor.sample_readers import SampleReadError, read_sample
from oncofactor.spatial_pattern import section_pattern
from oncofactor.validation import validate_inputs
from oncofactor.views import build_views


@pytest.fixture(scope="module")
def chain(quirky_cohort):
    config = load_config(quirky_cohort / "config.yaml")
    # Scrublet on these 250-cell samples, to measure it (by default it runs from 1,000 cells on).
    config["qc"]["scrna"]["doublets"]["min_cells"] = 100
    inputs = validate_inputs(config)
    gene_map = cohort_gene_map(inputs.samples, config)
    species, _ = cohort_species(inputs.samples.set_index("sample_id")["species"])
    results = {s["sample_id"]: harmonize_sample(s, config, gene_map, cohort_species=species) for s in inputs.samples.to_dict("records")}
    pseudobulks = [sample_pseudobulk(r.adata, config["views"]["exclude_cell_types"]) for r in results.values()]
    patterns = pd.concat([section_pattern(r.adata) for r in results.values()])
    mdata, view_genes, notices = build_views(pseudobulks, patterns, inputs.ctc, inputs.clinical, inputs.samples, config)
    cells = pd.read_parquet(quirky_cohort / "truth" / "cells.parquet")
    spots = pd.read_parquet(quirky_cohort / "truth" / "spots.parquet")
    quirks = pd.concat([cells[["sample_id", "quirk"]], spots[["sample_id", "quirk"]]]).drop_duplicates().query("quirk != ''")
    return {
        "config": config, "inputs": inputs, "gene_map": gene_map, "results": results, "mdata": mdata,
        "view_genes": view_genes, "notices": notices, "cells": cells, "by_quirk": dict(zip(quirks["quirk"], quirks["sample_id"])),
    }


def test_every_quirk_is_written_and_validates(chain):
    assert set(chain["by_quirk"]) == {
        "legacy_chemistry", "targeted_panel", "gene_subset", "low_depth", "failed_sample", "placeholder_ids", "ensembl_only", "visium_v1",
    }
    assert chain["inputs"].errors == []
    samples = chain["inputs"].samples.set_index("sample_id")
    assert samples.loc[chain["by_quirk"]["legacy_chemistry"], "format"] == "10x_mtx"
    # Cell Ranger outs/: the sheet names the run folder, validation finds its filtered matrix.
    outs = samples[(samples["modality"] == "scrna") & (samples["format"] == "10x_h5")]
    assert len(outs) > 5 and outs["path"].str.endswith("outs/filtered_feature_bc_matrix.h5").all()


def test_a_targeted_panel_leaves_the_other_samples_genes_alone(chain):
    """A 300-gene panel beside whole transcriptomes: each view keeps the genes its other samples
    measure, and the panel's patient is missing (NaN, not zero) for the genes it did not measure."""
    sample = chain["by_quirk"]["targeted_panel"]
    patient = sample.split("_")[0]
    panel = set(chain["results"][sample].adata.var_names)
    assert len(panel) == 300
    view = chain["mdata"].mod["rna:tumour_epithelial"]
    genes = pd.Index([name.split(":", 2)[-1] for name in view.var_names])
    assert len(genes.difference(panel)) > 100, "the view is not cut to the panel's genes"
    values = pd.DataFrame(np.asarray(view.X), index=view.obs_names, columns=genes)
    unmeasured = genes.difference(panel)
    assert values.loc[patient, unmeasured].isna().all()
    assert values.loc[patient, genes.intersection(panel)].notna().all()
    others = values.drop(index=patient)
    assert others[unmeasured].notna().mean().mean() > 0.9
    row = chain["view_genes"].query("view == 'rna:tumour_epithelial' and sample_id == @sample").iloc[0]
    assert row["n_genes_measured"] == 300 and row["view_gene_coverage"] < 0.5 and 0.2 < row["library_coverage"] < 0.8
    [notice] = [n for n in chain["notices"] if n.subject == sample]
    assert notice.outcome == WARNING and "rna:tumour_epithelial" in notice.reason


def test_panel_library_sizes_put_cpm_on_the_whole_transcriptome_scale(chain):
    """A gene's CPM in the panel patient is in line with the other patients', although its library
    counts only 300 genes: the effective library size divides by the panel's share of expression."""
    sample = chain["by_quirk"]["targeted_panel"]
    patient = sample.split("_")[0]
    view = chain["mdata"].mod["rna:tumour_epithelial"]
    values = pd.DataFrame(np.asarray(view.X), index=view.obs_names, columns=view.var_names)
    measured = values.columns[values.loc[patient].notna()]
    offset = (values.loc[patient, measured] - values.drop(index=patient)[measured].median()).median()
    assert abs(offset) < 0.3, f"panel patient's log CPM sits {offset:.2f} from the others'"


def test_a_chromosome_subset_without_markers_is_named(chain):
    sample = chain["by_quirk"]["gene_subset"]
    result = chain["results"][sample]
    assert result.dropped == "" and (result.adata.obs["cell_type"] == "unassigned").all()
    [notice] = [n for n in result.notices if n.kind == "sample"]
    assert "none of the marker genes is measured" in notice.reason


def test_low_depth_and_legacy_samples_keep_their_cells(chain):
    for quirk in ("low_depth", "legacy_chemistry"):
        result = chain["results"][chain["by_quirk"][quirk]]
        assert result.dropped == "", quirk
        good = chain["cells"].query("sample_id == @result.qc.sample_id.iloc[0] and not low_quality and not doublet")["barcode"]
        kept = result.qc.set_index("barcode").loc[good, "passed_qc"].mean()
        assert kept > 0.85, f"{quirk}: {kept:.0%} of the good cells pass the default, adaptive QC"


def test_a_low_depth_sample_is_named(chain):
    from oncofactor.harmonize import low_depth_samples

    qc = pd.concat([r.qc for r in chain["results"].values()], ignore_index=True)
    named = {n.subject: n for n in low_depth_samples(qc)}
    assert set(named) == {chain["by_quirk"]["low_depth"]}
    assert "of the scrna samples' median" in named[chain["by_quirk"]["low_depth"]].reason


def test_a_failed_sample_is_left_out_with_its_reason(chain):
    result = chain["results"][chain["by_quirk"]["failed_sample"]]
    assert result.adata.n_obs == 0 and result.qc["removed_by"].str.contains("mito_above_max").all()
    [notice] = result.notices
    assert notice.outcome == LEFT_OUT and "qc.scrna.max_pct_mito" in notice.fix


def test_placeholder_ids_are_not_identifiers(chain, quirky_cohort):
    sample = chain["by_quirk"]["placeholder_ids"]
    row = chain["inputs"].samples.set_index("sample_id", drop=False).loc[sample].to_dict()
    assert any("'ENSGXXXXXXXXXXX' is given to 1000 features: a placeholder, not an identifier; 1000 of them" in w.message for w in chain["inputs"].warnings)
    ensembl = check_config({**chain["config"], "genes": {**chain["config"]["genes"], "namespace": "ensembl"}})
    result = harmonize_sample(row, ensembl, chain["gene_map"])
    # Once, every gene was summed into one feature; now the symbols find their IDs in the other samples.
    assert result.adata.n_vars == 1000 and set(result.genes["action"]) == {"mapped"}
    assert result.adata.var_names.str.match(r"^ENSG9\d{10}$").all()


def test_ensembl_only_names_are_mapped_to_symbols(chain):
    result = chain["results"][chain["by_quirk"]["ensembl_only"]]
    assert set(result.genes["action"]) == {"mapped"} and result.adata.n_vars == 1000
    assert "EPCAM" in result.adata.var_names and result.dropped == ""


def test_a_space_ranger_1_section_is_read(chain):
    result = chain["results"][chain["by_quirk"]["visium_v1"]]
    assert result.dropped == "" and result.adata.obsm["spatial"].shape == (result.adata.n_obs, 2)
    assert "spatial" in chain["mdata"].mod and result.adata.uns["oncofactor"]["patient_id"] in chain["mdata"].mod["spatial"].obs_names


def test_ctc_metadata_with_another_class_column(chain, quirky_cohort):
    """The metadata marks classes in Cell_type: with the config saying so, CTCs and blood cells are
    told apart; with the default cell_class column, validation refuses, naming the columns there are."""
    ctc = [r for r in chain["results"].values() if r.adata.uns["oncofactor"]["modality"] == "ctc_scrna" and r.adata.n_obs]
    assert ctc and all(set(r.adata.obs["cell_type"]) == {"CTC", "WBC"} for r in ctc)
    assert all(set(r.adata.obs["cell_type_source"]) == {"cell_metadata"} for r in ctc)
    default = check_config({**chain["config"], "ctc": {**chain["config"]["ctc"], "cell_class_column": "cell_class"}})
    errors = validate_inputs(default).errors
    assert errors and all("has no column 'cell_class' (ctc.cell_class_column)" in e.message and "Cell_type" in e.message for e in errors)
    row = chain["inputs"].samples.query("modality == 'ctc_scrna'").iloc[0].to_dict()
    with pytest.raises(SampleReadError, match="no column 'cell_class'"):
        read_sample(row, default)


def test_doublet_calls_on_simulated_doublets(tmp_path):
    """At the default settings (Scrublet from 1,000 cells) on samples of about 1,200 cells with 5%
    simulated doublets (two cells of different types): the scores rank doublets above singlets and
    most calls are right. Measured on other seeds at 1,500 cells: AUROC 0.95, recall 0.54, precision
    0.91; at 300 cells recall fell to 0.23, hence the default."""
    from oncofactor.simulate import SimulationParams, simulate_cohort

    cohort = simulate_cohort(SimulationParams(patients=4, seed=8, cells_per_sample=1200, spots_per_section=20, quirks=("doublets",)), tmp_path / "c")
    config = load_config(cohort / "config.yaml")
    samples = validate_inputs(config).samples.query("modality == 'scrna'")
    gene_map = cohort_gene_map(samples, config)
    truth = pd.read_parquet(cohort / "truth" / "cells.parquet").set_index(["sample_id", "barcode"])["doublet"]
    qc = pd.concat([harmonize_sample(s, config, gene_map).qc for s in samples.to_dict("records")], ignore_index=True)
    scored = qc.dropna(subset=["doublet_score"])
    doublet = truth.loc[list(zip(scored["sample_id"], scored["barcode"]))].to_numpy(dtype=bool)
    called = scored["predicted_doublet"].to_numpy()
    assert doublet.sum() > 100 and roc_auc_score(doublet, scored["doublet_score"]) > 0.85
    assert called.sum() > 20 and doublet[called].mean() > 0.7 and called[doublet].mean() > 0.3
    assert (qc.loc[qc["predicted_doublet"], "removed_by"].str.contains("doublet")).all()


def test_doublet_calls_without_cell_type_structure_are_not_applied(chain):
    """In a sample measuring no marker gene (the chromosome subset) Scrublet's threshold has no dip to
    find: it called 14-17% of the cells for 5% true doublets, 1 in 20 right. Such calls are not applied."""
    subset = chain["results"][chain["by_quirk"]["gene_subset"]]
    assert subset.qc["doublet_score"].notna().any() and not subset.qc["predicted_doublet"].any()
    assert any(n.kind == "cells" and n.reason.startswith("doublets kept: not applied") for n in subset.notices)


def test_doublet_detection_runs_on_large_samples(tmp_path):
    """Samples of thousands of cells take scanpy's other neighbour search, which once failed with
    scipy 1.17 ('csr_array' object has no attribute 'getnnz')."""
    from oncofactor.doublets import detect_doublets
    from oncofactor.sample_readers import read_10x_h5
    from oncofactor.simulate import SimulationParams, simulate_cohort

    cohort = simulate_cohort(SimulationParams(patients=4, seed=9, cells_per_sample=5000, spots_per_section=20, quirks=()), tmp_path / "c")
    sheet = pd.read_csv(cohort / "samples.tsv", sep="\t").query("modality == 'scrna'")
    counts = read_10x_h5(cohort / sheet["path"].iloc[0])
    assert counts.n_obs > 3500
    calls = detect_doublets(counts, {"enabled": True, "min_cells": 1000, "expected_rate": 0.06, "seed": 0})
    assert calls.ran and not calls.rejected and np.isfinite(calls.scores).all()
    assert calls.predicted.mean() < 0.01, "a sample without doublets keeps nearly every cell"
