"""Harmonizing one sample: read, rename genes, QC, normalize, label cells.

`harmonize_sample` is what the per-sample job runs; `cohort_gene_map` is the small cohort-level step
before it that collects the symbol <-> Ensembl pairs of every sample and checks the species.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import anndata as ad
import numpy as np
import pandas as pd

from oncofactor.celltypes import annotate
from oncofactor.sample_formats import visium_outs
from oncofactor.genes import build_gene_map, detect_species, feature_table, harmonize_genes
from oncofactor.qc import log_normalize, passes_qc, qc_metrics
from oncofactor.user_tables import read_table_as_text
from oncofactor.sample_readers import (
    read_10x_h5,
    read_10x_h5_features,
    read_10x_mtx,
    read_count_table,
    read_h5ad,
    read_visium,
    read_zarr,
)

QC_COLUMNS = ["sample_id", "barcode", "modality", "n_counts", "n_genes", "pct_mito", "cell_type", "passed_qc"]
GENE_REPORT_COLUMNS = ["sample_id", "original_id", "harmonized_id", "action"]
logger = logging.getLogger(__name__)


class CohortError(Exception):
    """The cohort as a whole cannot be harmonized (mixed species, a modality with no sample left)."""


def _genome(sample: Mapping, config: dict) -> str | None:
    value = sample.get("genome")
    return value if isinstance(value, str) and value else config["scrna"]["genome"]


def read_sample(sample: Mapping, config: dict) -> ad.AnnData:
    """Raw counts of one sample-sheet row (a row of results/inputs/samples.parquet)."""
    path, file_format = sample["path"], sample["format"]
    if file_format == "10x_h5":
        return read_10x_h5(path, genome=_genome(sample, config))
    if file_format == "10x_mtx":
        return read_10x_mtx(path)
    if file_format == "h5ad":
        return read_h5ad(path)
    if file_format == "zarr":
        return read_zarr(path)
    if file_format == "visium":
        return read_visium(path)
    if file_format == "csv":
        ctc = config["ctc"]
        metadata_path = sample.get("cell_metadata")
        metadata = None
        if isinstance(metadata_path, str) and metadata_path:
            metadata = read_table_as_text(metadata_path)
            metadata = metadata.set_index(metadata.columns[0])
        return read_count_table(
            path, orientation=ctc["count_orientation"], class_column=ctc["cell_class_column"], metadata=metadata
        )
    raise ValueError(f"unknown format {file_format!r}")


def read_sample_features(sample: Mapping, config: dict) -> pd.DataFrame:
    """A sample's features (gene_id, gene_symbol), from the feature table alone where the format allows."""
    path, file_format = Path(sample["path"]), sample["format"]
    if file_format == "10x_h5":
        return read_10x_h5_features(path, genome=_genome(sample, config))
    if file_format == "visium" and (visium_outs(path) / "filtered_feature_bc_matrix.h5").exists():
        return read_10x_h5_features(visium_outs(path) / "filtered_feature_bc_matrix.h5")
    return read_sample(sample, config).var[["gene_id", "gene_symbol"]]


def cohort_gene_map(samples: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Symbol <-> Ensembl pairs named by the cohort's samples (see genes.build_gene_map).

    Raises CohortError when samples of different species are mixed and the config does not allow it.
    """
    tables, species = {}, {}
    # Samples aligned to one reference list the same features: clean and classify each list once.
    by_feature_list: dict[tuple, tuple[pd.DataFrame, str]] = {}
    for sample in samples.to_dict("records"):
        features = read_sample_features(sample, config)
        key = (tuple(features["gene_id"]), tuple(features["gene_symbol"]))
        if key not in by_feature_list:
            table = feature_table(features)
            by_feature_list[key] = table, detect_species(table)
        tables[sample["sample_id"]], species[sample["sample_id"]] = by_feature_list[key]
    found = pd.Series(species, dtype=object)
    known = found[found != "unknown"]
    if known.nunique() > 1 and not config["genes"]["allow_mixed_species"]:
        listing = "; ".join(f"{name}: {', '.join(ids)}" for name, ids in known.groupby(known).groups.items())
        raise CohortError(
            f"samples come from different species ({listing}); remove the foreign samples, or set "
            "genes.allow_mixed_species: true to integrate them without shared genes"
        )
    for sample_id, name in found.items():
        logger.info("sample %s: species %s", sample_id, name)
    return build_gene_map(tables)


@dataclass
class HarmonizedSample:
    """One sample after harmonization.

    adata: observations that passed QC; X log-normalized (log1p of counts per 10,000), raw counts in
    layers['counts']; obs with sample, patient, modality, batch, timepoint, QC metrics, cell_type and
    cell_type_source; uns['oncofactor'] with species, notes and `dropped` (why the sample is not used
    downstream, '' when it is). qc: every observation read (QC_COLUMNS). genes: one row per input
    feature (GENE_REPORT_COLUMNS).
    """

    adata: ad.AnnData
    qc: pd.DataFrame
    genes: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def dropped(self) -> str:
        return self.adata.uns["oncofactor"]["dropped"]


def _labels_for(sample: Mapping, adata: ad.AnnData, settings: dict) -> pd.Series | None:
    labels = None
    if settings["label_column"] and settings["label_column"] in adata.obs:
        labels = adata.obs[settings["label_column"]].dropna().astype(str)
    if settings["labels"]:
        table = pd.read_csv(settings["labels"], sep=None, engine="python", dtype=str)
        mine = table[table["sample_id"] == sample["sample_id"]].set_index("barcode")["cell_type"]
        labels = mine if labels is None else mine.combine_first(labels)
    return labels


def harmonize_sample(sample: Mapping, config: dict, gene_map: pd.DataFrame, raw: ad.AnnData | None = None) -> HarmonizedSample:
    """Read one sample and harmonize it (genes, QC, normalization, cell types); see HarmonizedSample.

    raw: the sample as `read_sample` returns it, when the caller has read it already (to time the read).
    """
    modality, sample_id = sample["modality"], sample["sample_id"]
    raw = read_sample(sample, config) if raw is None else raw
    notes = list(raw.uns.get("oncofactor_notes", []))
    species = detect_species(feature_table(raw.var))
    adata, genes = harmonize_genes(raw, config["genes"]["namespace"], gene_map)
    genes.insert(0, "sample_id", sample_id)
    dropped_genes = genes["action"].str.startswith("dropped").sum()
    if dropped_genes:
        notes.append(f"{dropped_genes} of {len(genes)} features dropped: no {config['genes']['namespace']} identifier known")

    metrics = qc_metrics(adata)
    settings = config["qc"][modality]
    passed = passes_qc(metrics, settings)
    adata.obs = adata.obs.join(metrics)
    for column in ("sample_id", "patient_id", "modality", "batch", "timepoint"):
        value = sample.get(column)
        adata.obs[column] = value if isinstance(value, str) else ""
    # Subset first, then normalize only the kept observations; counts and X are separate matrices.
    kept = adata[passed].copy()
    kept.layers["counts"] = kept.X
    kept.X = log_normalize(kept.X)

    if modality == "scrna":
        annotate(kept, config["cell_types"], _labels_for(sample, raw, config["cell_types"]))
    elif modality == "ctc_scrna":
        class_column = config["ctc"]["cell_class_column"]
        has_class = class_column in kept.obs
        kept.obs["cell_type"] = kept.obs[class_column].astype(str) if has_class else "CTC"
        from_metadata = isinstance(sample.get("cell_metadata"), str) and bool(sample.get("cell_metadata"))
        kept.obs["cell_type_source"] = ("cell_metadata" if from_metadata else "count_table") if has_class else "sample_sheet"
    else:
        kept.obs["cell_type"] = ""
        kept.obs["cell_type_source"] = ""

    dropped = ""
    if kept.n_obs < settings["min_cells"]:
        dropped = f"{kept.n_obs} of {adata.n_obs} observations passed QC, fewer than qc.{modality}.min_cells = {settings['min_cells']}"
        logger.warning("sample %s dropped: %s", sample_id, dropped)
    kept.uns["oncofactor"] = {"sample_id": sample_id, "species": species, "notes": np.array(notes, dtype=str), "dropped": dropped}
    for column in kept.obs.columns[kept.obs.dtypes == object]:  # as anndata would on writing, without its log lines
        kept.obs[column] = kept.obs[column].astype("category")
    kept.uns.pop("oncofactor_notes", None)

    qc = metrics.reset_index(names="barcode")
    qc.insert(0, "sample_id", sample_id)
    qc.insert(2, "modality", modality)
    qc["cell_type"] = kept.obs["cell_type"].reindex(qc["barcode"]).to_numpy()
    qc["passed_qc"] = passed
    qc["cell_type"] = qc["cell_type"].where(qc["passed_qc"], None)
    for note in notes:
        logger.info("sample %s: %s", sample_id, note)
    return HarmonizedSample(kept, qc[QC_COLUMNS], genes[GENE_REPORT_COLUMNS], notes)


def check_modalities_kept(samples: pd.DataFrame, dropped: Mapping[str, str]) -> None:
    """Raise CohortError naming each modality whose samples were all dropped after QC."""
    lost = []
    for modality, group in samples.groupby("modality"):
        if all(dropped.get(sample_id) for sample_id in group["sample_id"]):
            reasons = "; ".join(f"{s}: {dropped[s]}" for s in group["sample_id"])
            lost.append(f"every {modality} sample was dropped after QC ({reasons})")
    if lost:
        raise CohortError("; ".join(lost) + ". Lower the qc thresholds in the config or check the inputs.")

