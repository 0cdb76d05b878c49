"""A first sample sheet and config from a folder of a cohort's files (`oncofactor init --scan`).

The scan recognises, under one folder: Cell Ranger outputs (an `outs/` folder, the run folder above
it, a filtered HDF5 file or a MEX folder), Space Ranger outputs (a folder with `spatial/`), AnnData
(`.h5ad`, `.zarr`; spatial when `obsm` holds `spatial`), and text tables (CSV/TSV, optionally
gzipped), which it sorts by their content: a CTC enumeration table (patient, timepoint, ctc_count),
a clinical table (one row per patient, with columns that are not numbers), an extra view (one row,
or one column, per patient, numbers only), a single-CTC count table (genes x cells) and a table of
its cells (the count table's cell IDs first). GMT files become feature sets.

Patients come from a regular expression the user gives, matched against each file's path below the
folder (its `patient` group, else its first group, else the whole match). What the scan cannot tell
(timepoints without a pattern, batches, a clinical column it does not recognise) is left empty for
the user, and every file it did not use is listed with the reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from oncofactor.sample_formats import CELLRANGER_MATRICES, TEXT_TABLE_SUFFIXES, cellranger_matrix, detect_format, visium_outs, visium_positions

SHEET_COLUMNS = ["sample_id", "patient_id", "modality", "path", "format", "timepoint", "batch", "cell_metadata"]
TABLE_ROWS = 200  # rows of a text table read to tell what it is
RESPONSE_NAMES = re.compile(r"response|outcome|recist|best_?response", re.IGNORECASE)
TIME_NAMES = re.compile(r"^(os|pfs|dfs|survival|follow_?up)[_ ]?(months?|days?|years?|time)?$|_(months?|days?|time)$", re.IGNORECASE)
EVENT_NAMES = re.compile(r"^(death|dead|died|event|status|os_?event|os_?status|vital_?status)$", re.IGNORECASE)
UNIT_NAMES = re.compile(r"(months?|days?|years?)", re.IGNORECASE)
# Cell Ranger's filtered matrices at the top of an outs/ folder (the patterns without a wildcard).
TOP_MATRICES = tuple(name for name in CELLRANGER_MATRICES if "*" not in name)


@dataclass
class Scan:
    """What a folder holds: the sample sheet's rows, the tables for the config, and the files left
    unused with why (path, reason)."""

    samples: list[dict] = field(default_factory=list)
    clinical: Path | None = None
    clinical_columns: dict[str, str | None] = field(default_factory=dict)
    enumeration: Path | None = None
    extra_views: list[dict] = field(default_factory=list)
    gmt: list[Path] = field(default_factory=list)
    cell_class_column: str | None = None
    patient_column: str | None = None
    unused: list[tuple[str, str]] = field(default_factory=list)


def patient_of(relative: str, pattern: re.Pattern) -> str | None:
    """The patient ID in a path below the scanned folder (see the module docstring), or None."""
    match = pattern.search(relative)
    if not match:
        return None
    if "patient" in pattern.groupindex:
        return match.group("patient")
    return match.group(1) if pattern.groups else match.group(0)


def _is_patient(value: str, pattern: re.Pattern) -> bool:
    """Whether a table value or column name is itself a patient ID by the pattern."""
    return patient_of(str(value), pattern) == str(value)


def _units(folder: Path) -> tuple[list[tuple[Path, str, str]], list[Path]]:
    """(path, modality, format) of each sample file or folder under `folder`, and the text tables
    and GMT files; a recognised folder is not looked into further."""
    units, tables = [], []

    def visit(path: Path):
        if path.is_dir():
            if path.name.endswith(".zarr"):
                units.append((path, _anndata_modality(path), "zarr"))
                return
            if visium_positions(visium_outs(path)) is not None:
                units.append((visium_outs(path), "spatial", "visium"))
                return
            matrix = cellranger_matrix(path)
            if matrix is not None and (path.name == "outs" or (path / "outs").is_dir() or _has_matrix_file(path)):
                units.append((matrix, "scrna", "10x_h5" if matrix.is_file() else "10x_mtx"))
                return
            if detect_format(path) == "10x_mtx":
                units.append((path, "scrna", "10x_mtx"))
                return
            for child in sorted(path.iterdir()):
                if not child.name.startswith("."):
                    visit(child)
            return
        fmt = detect_format(path)
        if fmt == "h5ad":
            units.append((path, _anndata_modality(path), "h5ad"))
        elif fmt == "10x_h5":
            units.append((path, "scrna", "10x_h5"))
        elif path.name.lower().endswith(TEXT_TABLE_SUFFIXES) or path.suffix.lower() == ".gmt":
            tables.append(path)

    visit(folder)
    return units, tables


def _has_matrix_file(path: Path) -> bool:
    return any((path / name).exists() for name in TOP_MATRICES)


def _anndata_modality(path: Path) -> str:
    """spatial when the AnnData holds obsm['spatial'], else scrna."""
    if path.is_dir():
        return "spatial" if (path / "obsm" / "spatial").exists() else "scrna"
    try:
        with h5py.File(path, "r") as handle:
            return "spatial" if "obsm" in handle and "spatial" in handle["obsm"] else "scrna"
    except OSError:
        return "scrna"


def _read_head(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path, sep=None, engine="python", nrows=TABLE_ROWS, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return None


def _numeric(frame: pd.DataFrame) -> bool:
    values = frame.replace({"": np.nan, "NA": np.nan, "NaN": np.nan, "nan": np.nan})
    return bool(len(values.columns)) and values.apply(pd.to_numeric, errors="coerce").notna().sum().sum() == values.notna().sum().sum()


def _stem(path: Path) -> str:
    """The file's name without its table or data suffixes (`x.csv.gz` -> `x`)."""
    name = path.name
    for suffix in (".gz", ".csv", ".tsv", ".txt", ".h5ad", ".h5", ".zarr"):
        name = name.removesuffix(suffix)
    return name


def _sample_id(path: Path, folder: Path) -> str:
    """The sample's name: a Cell Ranger or Space Ranger run folder's name (not `outs`, not the
    matrix file's standard name), else the file's name without its suffixes."""
    while path.name in ("outs", *TOP_MATRICES) and path.parent != folder.parent:
        path = path.parent
    return re.sub(r"[^A-Za-z0-9._-]+", "_", _stem(path)).strip("._-") or "sample"


def scan_folder(folder: str | Path, patient_pattern: str, timepoint_pattern: str | None = None) -> Scan:
    """Sort the files under `folder` into a sample sheet and config tables (see the module
    docstring). `patient_pattern` and `timepoint_pattern` are regular expressions."""
    folder = Path(folder).resolve()
    pattern = re.compile(patient_pattern)
    timepoints = re.compile(timepoint_pattern) if timepoint_pattern else None
    units, tables = _units(folder)
    scan = Scan()

    def add(path: Path, modality: str, fmt: str, patient: str | None = None, cell_metadata: Path | None = None, prefix: str = ""):
        relative = str(path.relative_to(folder))
        patient = patient or patient_of(relative, pattern)
        timepoint = patient_of(relative, timepoints) if timepoints else None
        scan.samples.append({"sample_id": prefix + _sample_id(path, folder), "patient_id": patient or "", "modality": modality,
                             "path": str(path), "format": fmt, "timepoint": timepoint or "", "batch": "",
                             "cell_metadata": str(cell_metadata) if cell_metadata else ""})

    for path, modality, fmt in units:
        add(path, modality, fmt)

    count_tables: dict[Path, pd.DataFrame] = {}
    heads, others = {}, {}
    for path in tables:
        if path.suffix.lower() == ".gmt":
            scan.gmt.append(path)
            continue
        head = _read_head(path)
        if head is None or head.shape[1] < 2:
            scan.unused.append((str(path), "not a table with two or more columns"))
            continue
        heads[path] = head
    for path, head in heads.items():
        columns = [c.lower() for c in head.columns]
        first = head.iloc[:, 0]
        patients_in_rows = len(first) > 0 and np.mean([_is_patient(v, pattern) for v in first]) >= 0.5
        patients_in_columns = np.mean([_is_patient(c, pattern) for c in head.columns[1:]]) >= 0.5
        if {"patient_id", "timepoint", "ctc_count"} <= set(columns):
            if scan.enumeration is None:
                scan.enumeration = path
            else:
                scan.unused.append((str(path), f"a second CTC enumeration table; {scan.enumeration} is the one in the config"))
        elif patients_in_rows and not _numeric(head.iloc[:, 1:]):
            if scan.clinical is None:
                scan.clinical = path
                scan.clinical_columns = _clinical_columns(head)
            else:
                scan.unused.append((str(path), f"a second patient table with text columns; {scan.clinical} is the clinical table"))
        elif patients_in_rows or patients_in_columns:
            values = head.iloc[:, 1:].replace("", np.nan).apply(pd.to_numeric, errors="coerce")
            binary = bool(values.notna().any().any()) and bool(values.stack().isin([0, 1]).all())
            scan.extra_views.append({"name": _sample_id(path, folder), "path": str(path),
                                     "orientation": "samples_by_features" if patients_in_rows else "features_by_samples",
                                     "likelihood": "bernoulli" if binary else "gaussian"})
        elif _numeric(head.iloc[:, 1:]):
            count_tables[path] = head
        else:
            others[path] = head
    metadata = {}
    for path, head in others.items():
        if {"sample_id", "patient_id", "modality", "path"} <= set(head.columns):
            scan.unused.append((str(path), "a sample sheet already: the scan writes a new one"))
            continue
        ids = set(head.iloc[:, 0])
        # Cell IDs often repeat across a cohort's tables (CTC01, ...): a table named after the count
        # table ("<counts>_cells.csv") is its own, else the one sharing the most IDs.
        scores = {table: (_stem(path).startswith(_stem(table)), len(ids & set(counts.columns[1:]))) for table, counts in count_tables.items()
                  if table not in metadata}
        owner = max((table for table, score in scores.items() if score[1]), key=lambda table: scores[table], default=None)
        if owner is None:
            scan.unused.append((str(path), "not recognised: no patient IDs, no counts, and no cell IDs of a count table"))
            continue
        metadata[owner] = path
        classes = [c for c in head.columns[1:] if head[c].str.upper().eq("CTC").any()]
        scan.cell_class_column = scan.cell_class_column or (classes[0] if classes else None)
        patient_columns = [c for c in head.columns[1:] if head[c].map(lambda v: _is_patient(v, pattern)).all()]
        if patient_columns and head[patient_columns[0]].nunique() > 1:
            scan.patient_column = patient_columns[0]
    for path, counts in count_tables.items():
        meta = metadata.get(path)
        if meta is not None and scan.patient_column:
            table = pd.read_csv(meta, sep=None, engine="python", dtype=str, usecols=[scan.patient_column])
            for patient in sorted(table[scan.patient_column].unique()):
                add(path, "ctc_scrna", "csv", patient=patient, cell_metadata=meta, prefix=f"{patient}_")
        else:
            add(path, "ctc_scrna", "csv", cell_metadata=meta)
    _unique_sample_ids(scan.samples)
    return scan


def _clinical_columns(head: pd.DataFrame) -> dict[str, str | None]:
    """The clinical config keys the column names tell (None where none fits)."""
    columns = list(head.columns[1:])

    def find(names):
        return next((c for c in columns if names.search(c)), None)

    time = find(TIME_NAMES)
    unit = UNIT_NAMES.search(time) if time else None
    chosen = {"id_column": head.columns[0], "response": find(RESPONSE_NAMES), "survival_time": time, "survival_event": find(EVENT_NAMES),
              "survival_time_unit": unit.group(1).lower().rstrip("s") + "s" if unit else None}
    rest = [c for c in columns if c not in chosen.values()]
    numbers = [c for c in rest if _numeric(head[[c]])]
    chosen["numeric"] = numbers
    chosen["categorical"] = [c for c in rest if c not in numbers]
    return chosen


def _unique_sample_ids(samples: list[dict]) -> None:
    """Sample IDs that clash get their patient ID, then a running number, in front."""
    seen: dict[str, int] = {}
    for row in samples:
        seen[row["sample_id"]] = seen.get(row["sample_id"], 0) + 1
    for row in samples:
        if seen[row["sample_id"]] > 1 and row["patient_id"] and not row["sample_id"].startswith(row["patient_id"]):
            row["sample_id"] = f"{row['patient_id']}_{row['sample_id']}"
    counts: dict[str, int] = {}
    for row in samples:
        counts[row["sample_id"]] = counts.get(row["sample_id"], 0) + 1
        if counts[row["sample_id"]] > 1:
            row["sample_id"] = f"{row['sample_id']}_{counts[row['sample_id']]}"


FILL_IN = "FILL_IN"


def sample_sheet(scan: Scan) -> pd.DataFrame:
    return pd.DataFrame(scan.samples, columns=SHEET_COLUMNS)


def config_text(scan: Scan, sheet_path: Path) -> str:
    """A config for the scanned cohort, as YAML with comments; keys the scan could not fill say so."""
    def quote(value):
        return "null" if value is None else json.dumps(str(value))  # a JSON string is a YAML string, any characters quoted

    clinical = scan.clinical_columns
    lines = ["# Written by oncofactor init --scan; check it, fill in what is marked, then run",
             "# `oncofactor validate --config <this file>`. workflow/schemas/config.schema.yaml documents every key.",
             f"samples: {quote(sheet_path)}", "", "clinical:"]
    if scan.clinical is None:
        lines += [f"  path: {FILL_IN}  # no clinical table found: one row per patient (ID, response, survival, covariates)"]
    else:
        lines += [f"  path: {quote(scan.clinical)}", f"  id_column: {quote(clinical['id_column'])}"]
        for key, about in [("response", "the response column"), ("survival_time", "the survival or follow-up time column"),
                           ("survival_event", "the event column (1 = event)"), ("survival_time_unit", "months, days or years")]:
            lines.append(f"  {key}: {quote(clinical[key])}" + ("" if clinical[key] else f"  # not recognised: name {about}, or leave null"))
        lines += [f"  categorical: [{', '.join(quote(c) for c in clinical['categorical'])}]",
                  f"  numeric: [{', '.join(quote(c) for c in clinical['numeric'])}]"]
    lines += ["", "ctc:", f"  enumeration: {quote(scan.enumeration)}"]
    if any(row["modality"] == "ctc_scrna" for row in scan.samples):
        lines.append(f"  cell_class_column: {quote(scan.cell_class_column or FILL_IN)}" +
                     ("" if scan.cell_class_column else "  # the column that marks CTCs (value CTC) in the cell tables"))
        if scan.patient_column:
            lines.append(f"  patient_column: {quote(scan.patient_column)}")
    lines += ["", "extra_views:" + (" []" if not scan.extra_views else "")]
    for view in scan.extra_views:
        lines += [f"  - name: {quote(view['name'])}", f"    path: {quote(view['path'])}", f"    orientation: {view['orientation']}",
                  f"    likelihood: {view['likelihood']}"]
    lines += ["", "feature_sets:", f"  gmt: [{', '.join(quote(p) for p in scan.gmt)}]", ""]
    return "\n".join(lines)
