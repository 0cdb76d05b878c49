"""Harmonizing one sample: read, rename genes, QC (with doublets), normalize, label cells.

`harmonize_sample` is what the per-sample job runs; `cohort_gene_map` is the small cohort-level step
before it that collects the symbol <-> Ensembl pairs of every sample and of the configured gene
annotations. A sample the rest of the run cannot use (another species than the cohort's, no gene in
the cohort's namespace, too few observations passing QC) is kept as an empty result whose
`dropped` says why, with a notice for the run summary; it never fails the run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Mapping

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from oncofactor.celltypes import UNASSIGNED, annotate
from oncofactor.doublets import detect_doublets
from oncofactor.genes import build_gene_map, classify_features, detect_species, harmonize_genes, read_annotation
from oncofactor.notices import LEFT_OUT, WARNING, Notice
from oncofactor.qc import failed_rules, integer_counts, log_normalize, qc_failures, qc_metrics
from oncofactor.sample_readers import READ_ERRORS, SampleReadError, read_sample, read_sample_features
from oncofactor.validated_sheet import text_value

QC_COLUMNS = [
    "sample_id", "barcode", "modality", "total_counts", "n_genes_by_counts", "pct_counts_mt",
    "doublet_score", "predicted_doublet", "removed_by", "cell_type", "passed_qc",
]
GENE_REPORT_COLUMNS = ["sample_id", "original_id", "harmonized_id", "action"]
OBSERVATIONS = {"scrna": "cells", "spatial": "spots", "ctc_scrna": "cells"}
logger = logging.getLogger(__name__)


def cohort_gene_map(samples: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Symbol <-> Ensembl pairs named by the cohort's samples and its gene annotations
    (genes.annotation); see genes.build_gene_map."""
    tables = {}
    # Samples aligned to one reference list the same features: classify each list once.
    by_feature_list: dict[tuple, pd.DataFrame] = {}
    for sample in samples.to_dict("records"):
        try:
            features = read_sample_features(sample, config)
        except (SampleReadError, *READ_ERRORS) as error:
            if config["on_sample_error"] == "stop":
                raise
            # Validation forecast the sample as left out; its job drops it with the reason.
            logger.warning("sample %s: features not read (%s: %s); the sample will be left out", sample["sample_id"], type(error).__name__, error)
            continue
        key = (tuple(features["gene_id"]), tuple(features["gene_symbol"]))
        if key not in by_feature_list:
            by_feature_list[key] = classify_features(features)[0]
        tables[sample["sample_id"]] = by_feature_list[key]
    for path in config["genes"]["annotation"]:
        tables[f"annotation {path}"] = read_annotation(path)
    return build_gene_map(tables)


@dataclass
class HarmonizedSample:
    """One sample after harmonization.

    adata: observations that passed QC; X log-normalized (log1p of counts per 10,000), raw counts in
    layers['counts'] (int32; float32 only where some are not whole numbers); obs with sample, patient,
    modality, batch, timepoint, QC metrics, cell_type and cell_type_source; uns['oncofactor'] with
    species, notes and `dropped` (why the sample is not used downstream, '' when it is). qc: every observation read (QC_COLUMNS; removed_by names the QC rules
    an observation failed). genes: one row per input feature (GENE_REPORT_COLUMNS). notices: what the
    run summary and the report say about the sample.
    """

    adata: ad.AnnData
    qc: pd.DataFrame
    genes: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    @property
    def dropped(self) -> str:
        return self.adata.uns["oncofactor"]["dropped"]

    def summary(self) -> str:
        """What QC did to the sample, for its log: observations read and kept, how many each QC rule
        removed (an observation can fail several), the cell types of those kept, and why the sample
        is left out when it is."""
        rules = self.qc.loc[self.qc["removed_by"] != "", "removed_by"].str.split(",").explode().value_counts()
        line = f"{self.adata.n_obs} of {len(self.qc)} observations passed QC"
        if len(rules):
            line += "; removed by " + ", ".join(f"{rule} {count}" for rule, count in sorted(rules.items()))
        types = self.adata.obs["cell_type"].astype(str).value_counts().drop("", errors="ignore") if "cell_type" in self.adata.obs else []
        if len(types):  # spots have no cell type
            line += "; cell types: " + ", ".join(f"{name} {count}" for name, count in types.items())
        return line + (f"; left out: {self.dropped}" if self.dropped else "")


def _labels_for(sample: Mapping, adata: ad.AnnData, settings: dict) -> pd.Series | None:
    labels = None
    if settings["label_column"] and settings["label_column"] in adata.obs:
        labels = adata.obs[settings["label_column"]].dropna().astype(str)
    if settings["labels"]:
        table = pd.read_csv(settings["labels"], sep=None, engine="python", dtype=str)
        mine = table[table["sample_id"] == sample["sample_id"]].set_index("barcode")["cell_type"]
        labels = mine if labels is None else mine.combine_first(labels)
    return labels


def _label_cells(kept: ad.AnnData, raw: ad.AnnData, sample: Mapping, config: dict, notices: list[Notice]) -> None:
    """obs cell_type and cell_type_source of the passing observations, by modality; notices when
    the labels leave the sample out of its views (none for a sample without passing observations)."""
    modality, sample_id = sample["modality"], sample["sample_id"]
    any_cells = kept.n_obs > 0
    if modality == "scrna":
        settings = config["cell_types"]
        annotate(kept, settings, _labels_for(sample, raw, settings))
        measured = {gene for genes in settings["markers"].values() for gene in genes} & set(kept.var["gene_symbol"].dropna().astype(str))
        if any_cells and (kept.obs["cell_type"] == UNASSIGNED).all():
            why = "none of the marker genes is measured" if not measured else f"only {len(measured)} marker gene(s) measured"
            notices.append(Notice(
                "harmonize", "sample", sample_id, WARNING,
                f"all {kept.n_obs} cells are '{UNASSIGNED}' ({why}), so the sample adds to no rna:<cell type> view",
                "give labels (cell_types.labels or cell_types.label_column), markers the panel measures (cell_types.markers), "
                f"or take '{UNASSIGNED}' out of views.exclude_cell_types to pool its cells",
            ))
    elif modality == "ctc_scrna":
        class_column = config["ctc"]["cell_class_column"]
        if class_column in kept.obs:
            kept.obs["cell_type"] = kept.obs[class_column].astype(str).str.strip().to_numpy()
            kept.obs["cell_type_source"] = "cell_metadata" if text_value(sample, "cell_metadata") else "count_table"
            if any_cells and (kept.obs["cell_type"].str.upper() != "CTC").all():
                classes = ", ".join(sorted(kept.obs["cell_type"].unique())[:5])
                notices.append(Notice(
                    "harmonize", "sample", sample_id, WARNING,
                    f"no passing cell is labelled CTC in '{class_column}' (classes: {classes}), so the sample adds nothing to the ctc_rna view",
                    "check ctc.cell_class_column and the cell metadata",
                ))
        else:
            kept.obs["cell_type"] = "CTC"
            kept.obs["cell_type_source"] = "sample_sheet"
            if any_cells:
                notices.append(Notice(
                    "harmonize", "sample", sample_id, WARNING,
                    f"no cell class given (no '{class_column}' column, ctc.cell_class_column, and no cell_metadata): "
                    f"all {kept.n_obs} cells are taken as CTCs",
                    "give a cell_metadata table with the class of each cell when the table holds blood cells too",
                ))
    else:
        kept.obs["cell_type"] = ""
        kept.obs["cell_type_source"] = ""


RULE_SETTINGS = {  # the config key that sets each QC rule
    "counts_below_floor": "min_counts", "genes_below_floor": "min_genes", "mito_above_max": "max_pct_mito",
    "counts_outlier": "n_mads", "genes_outlier": "n_mads", "mito_outlier": "n_mads_mito", "doublet": "doublets",
}


def _qc_reason(n_kept: int, n_total: int, modality: str, settings: dict, removed_by: pd.Series) -> tuple[str, str]:
    """Why a sample has too few passing observations, and which settings would keep more."""
    unit = OBSERVATIONS[modality]
    rules = removed_by[removed_by != ""].str.split(",").explode().value_counts()
    breakdown = ", ".join(f"{rule} {n}" for rule, n in rules.items())
    reason = f"{n_kept} of {n_total} {unit} passed QC, fewer than qc.{modality}.min_cells = {settings['min_cells']}"
    keys = ", ".join(dict.fromkeys(f"qc.{modality}.{RULE_SETTINGS[rule]}" for rule in rules.index))
    fix = f"check the library; if it is usable, relax {keys}" if keys else f"lower qc.{modality}.min_cells"
    return reason + (f" (failed: {breakdown})" if breakdown else ""), fix


def harmonize_sample(
    sample: Mapping, config: dict, gene_map: pd.DataFrame, raw: ad.AnnData | None = None, cohort_species: str | None = None
) -> HarmonizedSample:
    """Read one sample and harmonize it (genes, QC, doublets, normalization, cell types); see
    HarmonizedSample.

    raw: the sample as `read_sample` returns it, when the caller has read it already (to time the read).
    cohort_species: the species of the cohort (genes.cohort_species); a sample of another one is left
    out unless genes.allow_mixed_species.
    A file that cannot be read as counts (SampleReadError) is raised with on_sample_error: stop; with
    drop the sample is left out, with no observation and the error as its reason.
    """
    if raw is None:
        raw, error = read_or_leave_out(sample, config)
        if raw is None:
            return unreadable_sample(sample, config, gene_map, error)
    return _harmonize(sample, config, gene_map, raw, cohort_species, left_out="")


def read_or_leave_out(sample: Mapping, config: dict) -> tuple[ad.AnnData | None, str]:
    """The sample's counts (`read_sample`) and ''; or, when its file cannot be read as counts, None
    and why with on_sample_error: drop (SampleReadError raised with stop)."""
    try:
        return read_sample(sample, config), ""
    except SampleReadError as error:
        if config["on_sample_error"] == "stop":
            raise
        return None, str(error)


def unreadable_sample(sample: Mapping, config: dict, gene_map: pd.DataFrame, error: str) -> HarmonizedSample:
    """A sample left out (on_sample_error: drop) because its file cannot be read as counts: the
    outputs of a sample with no observation, `error` as the reason."""
    empty = ad.AnnData(X=sp.csr_matrix((0, 0), dtype=np.float32))
    for column in ("gene_id", "gene_symbol"):
        empty.var[column] = pd.Series([], dtype=object)
    return _harmonize(sample, config, gene_map, empty, None, left_out=f"its file cannot be read as counts: {error}")


def _harmonize(sample: Mapping, config: dict, gene_map: pd.DataFrame, raw: ad.AnnData, cohort_species: str | None, left_out: str) -> HarmonizedSample:
    modality, sample_id = sample["modality"], sample["sample_id"]
    notes = list(raw.uns.get("oncofactor_notes", []))
    notices: list[Notice] = []
    features, feature_notes = classify_features(raw.var)
    notes += feature_notes
    species = detect_species(features)
    namespace = config["genes"]["namespace"]
    adata, genes = harmonize_genes(raw, namespace, gene_map, features)
    genes.insert(0, "sample_id", sample_id)
    dropped_genes = int(genes["action"].astype(str).str.startswith("dropped").sum())
    if dropped_genes:
        notes.append(f"{dropped_genes} of {len(genes)} features dropped: no {namespace} identifier known")

    dropped, fix = "", ""
    if left_out:
        dropped, fix = left_out, "fix or replace the file (see the reason), or remove the sample from the sample sheet"
    elif cohort_species not in (None, "unknown") and species not in ("unknown", cohort_species) and not config["genes"]["allow_mixed_species"]:
        dropped = f"its genes are {species}, the cohort's {cohort_species}"
        fix = "remove it from the sample sheet, or set genes.allow_mixed_species: true to integrate it without shared genes"
    elif adata.n_vars == 0:
        dropped = f"none of its {len(genes)} features has a gene {namespace} that the cohort knows"
        other = "ensembl" if namespace == "symbol" else "symbol"
        fix = f"give a gene annotation with both names (genes.annotation), or set genes.namespace: {other}"
    elif dropped_genes:
        notices.append(Notice(
            "harmonize", "genes", sample_id, WARNING,
            f"{dropped_genes} of {len(genes)} features have no gene {namespace} the cohort knows and are left out",
            "give a gene annotation with both names (genes.annotation)",
        ))

    # A sample left out for its genes has none left: its QC metrics are those of the file's features.
    metrics = qc_metrics(adata if adata.n_vars else raw)
    settings = config["qc"][modality]
    failures = qc_failures(metrics, settings)
    doublet_scores = pd.Series(np.nan, index=metrics.index)
    predicted = pd.Series(False, index=metrics.index)
    if modality == "scrna" and not dropped:
        candidates = ~failures.any(axis=1)
        calls = detect_doublets(adata[candidates.to_numpy()], settings["doublets"])
        notes.append(calls.note)
        if calls.rejected:
            notices.append(Notice(
                "harmonize", "cells", sample_id, WARNING, f"doublets kept: {calls.note.split('; ', 1)[-1]}",
                "check the sample's doublet scores in the QC table; without cell-type structure Scrublet cannot tell doublets",
            ))
        doublet_scores[candidates] = calls.scores
        predicted[candidates] = calls.predicted
    failures["doublet"] = predicted.to_numpy()
    # A sample left out before QC (species, genes) has none of its observations used, whatever the rules say.
    removed_by = pd.Series("sample_left_out", index=metrics.index, dtype=object) if dropped else failed_rules(failures)
    passed = (removed_by == "").to_numpy()
    adata.obs = adata.obs.drop(columns=metrics.columns, errors="ignore").join(metrics)  # an input h5ad may carry scanpy's QC columns already
    for column in ("sample_id", "patient_id", "modality", "batch", "timepoint"):
        value = sample.get(column)
        adata.obs[column] = value if isinstance(value, str) else ""
    # Subset first, then normalize only the kept observations; counts and X are separate matrices.
    kept = adata[passed].copy()
    normalized = log_normalize(kept.X)
    kept.layers["counts"] = integer_counts(kept.X)  # as Cell Ranger and scanpy users keep them
    kept.X = normalized
    kept.obs["doublet_score"] = doublet_scores[passed].to_numpy()
    _label_cells(kept, raw, sample, config, notices)

    if not dropped and kept.n_obs < settings["min_cells"]:
        dropped, fix = _qc_reason(kept.n_obs, adata.n_obs, modality, settings, removed_by)
    if dropped:
        logger.warning("sample %s left out: %s", sample_id, dropped)
        notices.append(Notice("harmonize", "sample", sample_id, LEFT_OUT, dropped, fix))
    kept.uns["oncofactor"] = {
        "sample_id": sample_id, "patient_id": str(sample["patient_id"]), "modality": modality, "species": species,
        "notes": np.array(notes, dtype=str), "dropped": dropped,
    }
    for column in kept.obs.columns[kept.obs.dtypes == object]:  # as anndata would on writing, without its log lines
        kept.obs[column] = kept.obs[column].astype("category")
    kept.uns.pop("oncofactor_notes", None)

    qc = metrics.reset_index(names="barcode")
    qc.insert(0, "sample_id", sample_id)
    qc.insert(2, "modality", modality)
    qc["doublet_score"] = doublet_scores.to_numpy()
    qc["predicted_doublet"] = predicted.to_numpy()
    qc["removed_by"] = removed_by.to_numpy()
    qc["cell_type"] = kept.obs["cell_type"].astype(object).reindex(qc["barcode"]).to_numpy()
    qc["passed_qc"] = passed
    qc["cell_type"] = qc["cell_type"].where(qc["passed_qc"], None)
    for note in notes:
        logger.info("sample %s: %s", sample_id, note)
    return HarmonizedSample(kept, qc[QC_COLUMNS], genes[GENE_REPORT_COLUMNS], notes, notices)


def lost_modalities(samples: pd.DataFrame, dropped: Mapping[str, str]) -> list[Notice]:
    """A notice for each modality whose samples were all left out (the run goes on without it)."""
    notices = []
    for modality, group in samples.groupby("modality"):
        if all(dropped.get(sample_id) for sample_id in group["sample_id"]):
            notices.append(Notice(
                "harmonize", "modality", modality, LEFT_OUT,
                f"every {modality} sample ({len(group)}) was left out, so the run has no {modality} view",
                "see the samples' reasons above",
            ))
    return notices


# A sample whose passing cells hold less than this share of its modality's median UMIs per cell is
# named: in a simulated cohort, a sample at a tenth of the depth made a MOFA factor of its own
# (robust z 12, 28-48% of the rna views' variance).
LOW_DEPTH_SHARE = 0.25


def low_depth_samples(qc: pd.DataFrame) -> list[Notice]:
    """A warning for each sample whose median counts per passing observation are below
    LOW_DEPTH_SHARE of the median over its modality's samples (qc: the cohort's QC table)."""
    passing = qc[qc["passed_qc"].astype(bool)]
    if passing.empty:
        return []
    medians = passing.groupby(["modality", "sample_id"], observed=True)["total_counts"].median()
    notices = []
    for modality, per_sample in medians.groupby(level="modality", observed=True):
        if len(per_sample) < 3:
            continue
        typical = per_sample.median()
        for (_, sample_id), value in per_sample[per_sample < LOW_DEPTH_SHARE * typical].items():
            notices.append(Notice(
                "harmonize", "sample", sample_id, WARNING,
                f"median {value:,.0f} counts per passing {OBSERVATIONS[modality][:-1]}, {value / typical:.2f} of the "
                f"{modality} samples' median ({typical:,.0f}); its profiles are noisier than the others' and can make a factor of their own",
                "check the sample's sequencing depth; look for a factor carried by this patient alone",
            ))
    return notices
