"""Validation of a cohort's inputs before any work starts.

Every check runs and every problem is collected, each naming the file, the line (counting the header
as line 1) and the column, so a user fixes a sample sheet in one pass. Errors stop the run; warnings
(clinical patients with no data) are reported and the run goes on.
"""

from __future__ import annotations

import csv
import gzip
import logging
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from oncofactor.clinical import response_levels
from oncofactor.genes import build_gene_map, classify_features, cohort_species, detect_species, gene_identifiers, gene_lookup, read_annotation
from oncofactor.sample_formats import FORMATS_BY_MODALITY, cellranger_matrix, check_format, detect_format
from oncofactor.sample_readers import (
    READ_ERRORS,
    SampleReadError,
    cell_metadata,
    count_table_layout,
    counts_problem,
    patient_cells,
    read_sample_features,
)
from oncofactor.genesets import read_gmt
from oncofactor.notices import FORECAST, WARNING, Notice, notices_table
from oncofactor.result_files import RunStamp, write_parquet
from oncofactor.schemas import load_schema, row_problems
from oncofactor.user_tables import TableReadError, overlong_rows, read_table_as_text, table_separator

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
TRUE_WORDS = {"1", "true", "yes", "dead", "deceased", "event"}
FALSE_WORDS = {"0", "false", "no", "alive", "censored"}
# A matrix with thousands of bad cells is one mistake (wrong file or orientation): list the first
# few and count the rest instead of printing them all.
MAX_CELL_PROBLEMS_PER_TABLE = 20


@dataclass(frozen=True)
class Problem:
    """One finding. `line` counts the header as line 1 (None for a whole-file problem).

    Parquet files have no lines: they are shown as data rows, the first data row being row 1.
    """

    level: str  # "error" or "warning"
    file: str
    message: str
    line: int | None = None
    column: str | None = None
    sample: str | None = None  # the sample a warning is about, when it is about one
    forecast: bool = False  # a warning that a later step will leave the sample out

    def location(self) -> str:
        where = self.file
        if self.line is not None and self.file.lower().endswith(".parquet"):
            where += f", row {self.line - 1}" if self.line > 1 else ", column names"
        elif self.line is not None:
            where += f", line {self.line}"
        if self.column is not None:
            where += f", column '{self.column}'"
        return where

    def __str__(self) -> str:
        return f"{self.level.upper()}: {self.location()}: {self.message}"


class InputValidationError(Exception):
    """The inputs have errors; the message lists every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.level == "error"]
        lines = "\n".join(str(p) for p in problems)
        super().__init__(f"{len(errors)} error(s) in the inputs; nothing was run.\n{lines}")


@dataclass
class ValidatedInputs:
    """Typed input tables and the problems found while reading them.

    samples: one row per sample (sample_id, patient_id, modality, path resolved against the sample
    sheet's folder, format with `auto` resolved, timepoint, batch, then any further columns).
    clinical: one row per patient, `patient_id` first; numeric and survival columns as float,
    survival_event as 0/1 float (NaN when missing), the rest as text.
    ctc: one row per blood draw with blood_volume_ml filled in from the config default.
    views: per extra view name, the patients it holds. patients_with_data: the clinical table's
    patients with a sample, a CTC draw or a row of an extra view.
    """

    samples: pd.DataFrame | None = None
    clinical: pd.DataFrame | None = None
    ctc: pd.DataFrame | None = None
    view_patients: dict[str, list[str]] = field(default_factory=dict)
    patients_with_data: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]

    def raise_for_errors(self) -> None:
        if self.errors:
            raise InputValidationError(self.problems)


class _Collector:
    def __init__(self):
        self.problems: list[Problem] = []

    def error(self, file, message, line=None, column=None):
        self.problems.append(Problem("error", str(file), message, line, column))

    def warning(self, file, message, line=None, column=None, sample=None, forecast=False):
        self.problems.append(Problem("warning", str(file), message, line, column, sample, forecast))


def _read(path: Path, found: _Collector) -> pd.DataFrame | None:
    """The table as text, indexed by line number; None (with the problem recorded) if unusable.

    Repeated column names and rows with more fields than the header are errors here, as pandas would
    otherwise rename the repeats and drop the extra fields without a word.
    """
    try:
        header = _raw_header(path) if path.is_file() else []
        overlong = overlong_rows(path) if path.is_file() else []
        if not overlong:
            table = read_table_as_text(path)
    except TableReadError as error:
        found.error(path, str(error).split(": ", 1)[1])
        return None
    except (OSError, UnicodeDecodeError, EOFError, zlib.error, csv.Error) as error:
        found.error(path, f"cannot be read as a table ({error})")
        return None
    for line, fields, expected in overlong:
        found.error(path, f"has {fields} fields but the header has {expected}; remove the extra separator or value", line=line)
    repeated = sorted({name for name in header if header.count(name) > 1 and name})
    for name in repeated:
        found.error(path, f"column '{name}' appears {header.count(name)} times in the header; names must be unique", line=1)
    if overlong or repeated:
        return None
    if table.empty:
        found.error(path, "has a header but no rows")
        return None
    return table


def _raw_header(path: Path) -> list[str]:
    """Column names as written (pandas renames repeated names, which hides duplicates)."""
    separator = table_separator(path)
    if separator is None:
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", newline="") as handle:
        return next(csv.reader(handle, delimiter=separator), [])


def _check_rows(table: pd.DataFrame, schema_name: str, path: Path, found: _Collector, rename=None):
    """Check each row against a row schema; return the rows as parsed dicts (None for bad rows)."""
    schema = load_schema(schema_name)
    columns = list(table.columns)
    shown = {v: k for k, v in (rename or {}).items()}
    parsed = []
    for line, values in zip(table.index, table.itertuples(index=False, name=None)):
        row = dict(zip(columns, values))
        if rename:
            row = {rename.get(k, k): v for k, v in row.items()}
        filled, problems = row_problems(row, schema)
        for column, message in problems:
            found.error(path, message, line, shown.get(column, column))
        parsed.append(None if problems else filled)
    return parsed


def _missing_columns(table: pd.DataFrame, required: list[str], path: Path, found: _Collector, what: str) -> bool:
    missing = [column for column in required if column not in table.columns]
    if missing:
        found.error(
            path,
            f"{what} lacks column(s) {', '.join(missing)}; the header has: {', '.join(map(str, table.columns))}",
            line=1,
        )
    return bool(missing)


def _duplicates(values: pd.Series, path: Path, found: _Collector, column: str, what: str, ignore_case: bool = False) -> None:
    """Report repeated values (index = line numbers). With ignore_case, values that differ only in
    letter case count as repeats: they name the same file on case-insensitive file systems."""
    first_seen: dict[str, tuple[int, str]] = {}
    for line, value in values.items():
        if not isinstance(value, str):
            continue
        value = value.strip()
        key = value.lower() if ignore_case else value
        if key not in first_seen:
            first_seen[key] = (line, value)
            continue
        first_line, first_value = first_seen[key]
        if first_value == value:
            message = f"{what} '{value}' appears again (first on line {first_line}); {what}s must be unique"
        else:
            message = (
                f"{what} '{value}' differs from '{first_value}' (line {first_line}) only in letter case; "
                "they would name the same files on case-insensitive file systems"
            )
        found.error(path, message, line, column)


# --- clinical table -----------------------------------------------------------------------------


def _parse_event(value) -> float:
    if not isinstance(value, str):
        return np.nan
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return 1.0
    if word in FALSE_WORDS:
        return 0.0
    try:
        number = float(word)
    except ValueError:
        return -1.0
    return number if number in (0.0, 1.0) else -1.0


def _numeric_column(table, column, path, found, minimum=None) -> pd.Series:
    numbers = pd.to_numeric(table[column].str.strip(), errors="coerce").astype(float)
    for line in table.index[(table[column].notna() & ~np.isfinite(numbers)).to_numpy()]:
        found.error(path, f"{table.at[line, column]!r} is not a number", line, column)
    if minimum is not None:
        for line in table.index[(numbers < minimum).to_numpy()]:
            found.error(path, f"{numbers[line]:g} is negative; it must be >= {minimum}", line, column)
    return numbers.where(np.isfinite(numbers))


def _validate_clinical(path: Path, settings: dict, found: _Collector) -> pd.DataFrame | None:
    table = _read(path, found)
    if table is None:
        return None
    id_column = settings["id_column"]
    if _missing_columns(table, [id_column], path, found, "clinical table (clinical.id_column)"):
        return None
    if id_column != "patient_id" and "patient_id" in table.columns:
        found.error(
            path,
            f"has a column 'patient_id' besides the ID column '{id_column}' (clinical.id_column); "
            "rename one of them, or set clinical.id_column: patient_id",
            line=1,
        )
        return None
    _check_rows(table[[id_column]], "clinical", path, found, rename={id_column: "patient_id"})
    _duplicates(table[id_column], path, found, id_column, "patient ID")

    roles = {
        "clinical.response": [settings["response"]],
        "clinical.survival_time": [settings["survival_time"]],
        "clinical.survival_event": [settings["survival_event"]],
        "clinical.categorical": settings["categorical"],
        "clinical.numeric": settings["numeric"],
    }
    for key, columns in roles.items():
        for column in columns:
            if column is not None and column not in table.columns:
                found.error(
                    path,
                    f"config key {key} names column '{column}', which the clinical table lacks; "
                    f"the header has: {', '.join(map(str, table.columns))}",
                    line=1,
                )

    typed = table.apply(lambda column: column.str.strip())
    for column in settings["numeric"]:
        if column in table.columns:
            typed[column] = _numeric_column(table, column, path, found)
    time_column = settings["survival_time"]
    if time_column in table.columns:
        typed[time_column] = _numeric_column(table, time_column, path, found, minimum=0)
    event_column = settings["survival_event"]
    if event_column in table.columns:
        events = table[event_column].map(_parse_event)
        for line in table.index[(events == -1.0).to_numpy()]:
            found.error(
                path,
                f"{table.at[line, event_column]!r} is not a survival event; use 1/0, true/false or yes/no",
                line,
                event_column,
            )
        typed[event_column] = events.where(events >= 0)
    if settings["survival_time"] and settings["survival_event"]:
        both = typed[[c for c in (time_column, event_column) if c in typed.columns]]
        if both.shape[1] == 2 and both.notna().all(axis=1).sum() == 0:
            found.error(path, f"no patient has both '{time_column}' and '{event_column}'; survival cannot be tested")
    typed = typed.rename(columns={id_column: "patient_id"})
    ordered = ["patient_id"] + [c for c in typed.columns if c != "patient_id"]
    return typed[ordered]  # still indexed by line number; validate_inputs resets it


# --- sample sheet -------------------------------------------------------------------------------

SAMPLE_COLUMNS = ["sample_id", "patient_id", "modality", "path", "format", "timepoint", "batch", "genome", "cell_metadata", "species"]


def _resolve(path_text: str, base: Path) -> Path:
    path = Path(path_text).expanduser()
    return path if path.is_absolute() else base / path


def _validate_samples(path: Path, config: dict, found: _Collector, content: bool) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Return the typed sample table and the table as read (None where it could not be read)."""
    table = _read(path, found)
    if table is None:
        return None, None
    required = load_schema("samples")["required"]
    if _missing_columns(table, required, path, found, "sample sheet"):
        return None, table
    rows = _check_rows(table, "samples", path, found)
    _duplicates(table["sample_id"], path, found, "sample_id", "sample ID", ignore_case=True)

    base = path.parent
    records = []
    for line, row in zip(table.index, rows):
        if row is None:
            continue
        location = _resolve(row["path"], base)
        if not location.exists():
            found.error(path, f"'{row['path']}' does not exist (looked for {location})", line, "path")
            continue
        file_format = row["format"]
        matrix = cellranger_matrix(location) if row["modality"] == "scrna" and location.is_dir() else None
        if matrix is not None and file_format in ("auto", "10x_h5", "10x_mtx"):
            # A Cell Ranger outs/ folder (or the run folder above it) stands for its filtered matrix.
            location, file_format = matrix, "10x_mtx" if matrix.is_dir() else "10x_h5"
        if file_format == "auto":
            file_format = detect_format(location)
            if file_format is None:
                found.error(
                    path,
                    f"cannot tell the format of '{row['path']}'; set the format column "
                    f"({', '.join(FORMATS_BY_MODALITY[row['modality']])})",
                    line,
                    "format",
                )
                continue
        allowed = FORMATS_BY_MODALITY[row["modality"]]
        if file_format not in allowed:
            found.error(
                path,
                f"format '{file_format}' does not fit modality '{row['modality']}'; use one of {', '.join(allowed)}",
                line,
                "format",
            )
            continue
        format_problems = check_format(location, file_format, row["modality"])
        for problem in format_problems:
            _sample_fault(found, config, path, f"'{row['path']}' ({file_format}) {problem}", line, row["sample_id"])
        record = {**row, "path": str(location), "format": file_format, "line": line}
        if "cell_metadata" in row:
            record["cell_metadata"] = _check_cell_metadata(row, base, path, line, config["ctc"], found)
        record["readable"] = not format_problems and ("cell_metadata" not in row or record["cell_metadata"] is not None)
        records.append(record)
    if content:
        _check_sample_contents(records, config, path, found)
    samples = pd.DataFrame.from_records(records).drop(columns=["line", "readable", "features"], errors="ignore")
    extra = [c for c in samples.columns if c not in SAMPLE_COLUMNS]
    return samples.reindex(columns=SAMPLE_COLUMNS + extra), table


def _check_sample_contents(records: list[dict], config: dict, path: Path, found: _Collector) -> None:
    """What a light read of each sample's file can tell, for every sample at once: whether its values
    are counts, its features and species, whether its cells' classes can be told, and whether its
    genes can be named in the cohort's namespace. Sets each record's `species` and `features`."""
    by_file: dict[tuple, tuple] = {}  # one table may stand for several samples (one per patient)
    for record in records:
        record["species"], record["features"] = "unknown", None
        if not record["readable"]:
            continue
        key = (record["path"], record["format"], record.get("genome"), record.get("cell_metadata"))
        if key not in by_file:
            try:
                problem = counts_problem(record, config)
                features, notes = classify_features(read_sample_features(record, config))
                by_file[key] = (problem, features, detect_species(features), notes)
            except SampleReadError as error:
                by_file[key] = (_without_path(str(error), record["path"]), None, "unknown", [])
            except READ_ERRORS as error:
                by_file[key] = (f"cannot be read ({type(error).__name__}: {error})", None, "unknown", [])
        problem, features, species, notes = by_file[key]
        if problem:
            _sample_fault(found, config, path, f"'{record['path']}': {problem}", record["line"], record["sample_id"])
            continue
        record["species"], record["features"] = species, features
        for note in notes:
            found.warning(path, f"'{record['path']}': {note}", record["line"], "path", record["sample_id"])
        _check_patient_cells(record, config, path, found)
    _check_species(records, config, path, found)
    _check_gene_names(records, config, path, found)


def _sample_fault(found: _Collector, config: dict, path: Path, message: str, line: int, sample_id: str) -> None:
    """A sample whose file cannot be read as counts: an error with on_sample_error: stop, else a
    warning that the sample will be left out (its job finds the same fault and drops it)."""
    if config["on_sample_error"] == "stop":
        found.error(path, f"{message} (or set on_sample_error: drop to leave the sample out)", line, "path")
    else:
        found.warning(path, f"{message}; the sample will be left out (on_sample_error: drop)", line, "path", sample_id, forecast=True)


def _check_patient_cells(record: dict, config: dict, path: Path, found: _Collector) -> None:
    """With ctc.patient_column, a table or cell metadata that names cells' patients must hold cells of
    the sample's patient (the check the job makes, on the table's text columns only)."""
    ctc = config["ctc"]
    if record["modality"] != "ctc_scrna" or record["format"] != "csv" or not ctc["patient_column"]:
        return
    _, obs = count_table_layout(record["path"], ctc["count_orientation"], ctc["cell_class_column"], cell_metadata(record))
    try:
        patient_cells(obs, record, ctc["patient_column"])
    except SampleReadError as error:
        found.error(path, _without_path(str(error), record["path"]), record["line"], "patient_id")


def _without_path(message: str, path) -> str:
    """A reader's message without the path it starts with (the problem's location says it)."""
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def _check_species(records: list[dict], config: dict, path: Path, found: _Collector) -> None:
    """Samples of another species than most of the cohort's are left out (a warning), unless
    genes.allow_mixed_species; when no species is the most common, that is an error."""
    if config["genes"]["allow_mixed_species"]:
        return
    species = pd.Series({r["sample_id"]: r["species"] for r in records if r["features"] is not None}, dtype=object)
    cohort, tie = cohort_species(species)
    if tie:
        found.error(path, f"cannot tell the cohort's species: {tie}; remove the foreign samples, or set genes.allow_mixed_species: true")
        return
    same = int((species == cohort).sum())
    for record in records:
        if record["features"] is not None and record["species"] not in ("unknown", cohort):
            found.warning(
                path,
                f"sample '{record['sample_id']}' has {record['species']} genes while {same} of {len(species)} samples are "
                f"{cohort}: it will be left out; remove it, or set genes.allow_mixed_species: true",
                record["line"], "path", record["sample_id"], forecast=True,
            )


def _check_gene_names(records: list[dict], config: dict, path: Path, found: _Collector) -> None:
    """Every sample's features are named in the cohort's namespace through its own names, the other
    samples' and the gene annotations: a warning for a sample that would lose all or most of them."""
    namespace = config["genes"]["namespace"]
    tables = {r["sample_id"]: r["features"] for r in records if r["features"] is not None}
    for annotation in config["genes"]["annotation"]:
        try:
            tables[f"annotation {annotation}"] = read_annotation(annotation)
        except ValueError as error:
            found.error(annotation, _without_path(str(error), annotation) + "; fix genes.annotation in the config")
    lookup = gene_lookup(build_gene_map(tables))
    fix = "give a gene annotation with both names (genes.annotation)"
    for record in records:
        if record["features"] is None or record["features"].empty:
            continue
        named = gene_identifiers(record["features"], namespace, lookup)["harmonized_id"].notna()
        if not named.any():
            found.warning(
                path, f"sample '{record['sample_id']}': none of its {len(named)} features has a gene {namespace} that the "
                f"cohort knows, so it will be left out; {fix}, or set genes.namespace: {'ensembl' if namespace == 'symbol' else 'symbol'}",
                record["line"], "path", record["sample_id"], forecast=True,
            )
        elif named.mean() < 0.5:
            found.warning(
                path, f"sample '{record['sample_id']}': only {int(named.sum())} of its {len(named)} features have a gene "
                f"{namespace} that the cohort knows; the others will be left out; {fix}",
                record["line"], "path", record["sample_id"],
            )


def _check_cell_metadata(row: dict, base: Path, path: Path, line: int, ctc: dict, found: _Collector) -> str | None:
    """Resolve and check a sample's cell metadata table, which must mark each cell's class in
    ctc.cell_class_column; return its path (None when unusable)."""
    if row["modality"] != "ctc_scrna":
        found.error(path, "cell_metadata is only read for ctc_scrna samples; leave it empty here", line, "cell_metadata")
        return None
    location = _resolve(row["cell_metadata"], base)
    try:
        table = read_table_as_text(location)
    except TableReadError as error:
        found.error(path, f"cell metadata {error}", line, "cell_metadata")
        return None
    if table.shape[1] < 2:
        found.error(path, f"cell metadata {location} needs a cell ID column and at least one more column", line, "cell_metadata")
        return None
    if ctc["cell_class_column"] not in table.columns:
        found.error(
            path,
            f"cell metadata {location} has no column '{ctc['cell_class_column']}' (ctc.cell_class_column) to tell CTCs "
            f"from blood cells; the columns are: {', '.join(map(str, table.columns))}; set ctc.cell_class_column",
            line, "cell_metadata",
        )
        return None
    return str(location)


# --- CTC enumeration ----------------------------------------------------------------------------

CTC_COLUMNS = ["patient_id", "timepoint", "ctc_count", "blood_volume_ml", "ctc_cluster_count", "platform"]


def _validate_ctc(path: Path, default_volume: float, found: _Collector):
    """Return the typed CTC table and the table as read (None where it could not be read)."""
    table = _read(path, found)
    if table is None:
        return None, None
    if _missing_columns(table, load_schema("ctc_enumeration")["required"], path, found, "CTC enumeration table"):
        return None, table
    rows = _check_rows(table, "ctc_enumeration", path, found)
    keys = table["patient_id"].str.strip() + " at timepoint " + table["timepoint"].str.strip()
    _duplicates(keys, path, found, "timepoint", "blood draw of patient")
    records = [row for row in rows if row is not None]
    ctc = pd.DataFrame.from_records(records).reindex(columns=CTC_COLUMNS)
    ctc["blood_volume_ml"] = ctc["blood_volume_ml"].astype(float).fillna(default_volume)
    ctc["ctc_count"] = ctc["ctc_count"].astype("Int64")
    ctc["ctc_cluster_count"] = ctc["ctc_cluster_count"].astype("Int64")
    return ctc, table


# --- extra views --------------------------------------------------------------------------------


def _validate_view(view: dict, clinical_ids: set[str] | None, clinical_path: Path, found: _Collector) -> list[str]:
    """Check one extra view table; return the patient IDs it holds.

    With `clinical_ids`, patients absent from the clinical table are errors at their line and column.
    """
    path = Path(view["path"])
    table = _read(path, found)
    if table is None:
        return []
    if view["orientation"] == "samples_by_features":
        id_column = view["id_column"] or table.columns[0]
        if _missing_columns(table, [id_column], path, found, f"extra view '{view['name']}' (id_column)"):
            return []
        _duplicates(table[id_column], path, found, id_column, "patient ID")
        id_places = [(v.strip(), line, id_column) for line, v in table[id_column].items() if isinstance(v, str)]
        values = table.drop(columns=[id_column])
    else:
        feature_column = table.columns[0]
        _duplicates(table[feature_column], path, found, feature_column, "feature")
        id_places = [(str(name).strip(), 1, str(name)) for name in table.columns[1:]]
        values = table.drop(columns=[feature_column])

    for patient, line, column in id_places:
        if not SAFE_ID.match(patient):
            found.error(
                path,
                f"patient ID {patient!r} must start with a letter or digit and hold only letters, digits, '.', '_' or '-'",
                line,
                column,
            )
        elif clinical_ids is not None and patient not in clinical_ids:
            found.error(
                path,
                f"patient '{patient}' of extra view '{view['name']}' is not in the clinical table {clinical_path}; "
                "add a row for it there or correct the ID",
                line,
                column,
            )

    numbers = values.apply(lambda column: pd.to_numeric(column.str.strip(), errors="coerce"))
    checks = [(values.notna() & ~np.isfinite(numbers), "is not a number")]
    if view["likelihood"] == "bernoulli":
        checks.append((numbers.notna() & np.isfinite(numbers) & ~numbers.isin([0, 1]), "is not 0 or 1 (likelihood bernoulli)"))
    elif view["likelihood"] == "poisson":
        bad = numbers.notna() & np.isfinite(numbers) & ((numbers < 0) | (numbers % 1 != 0))
        checks.append((bad, "is not a whole number >= 0 (likelihood poisson)"))
    for mask, message in checks:
        rows, columns = np.nonzero(mask.to_numpy())
        for row, col in list(zip(rows, columns))[:MAX_CELL_PROBLEMS_PER_TABLE]:
            found.error(path, f"{values.iat[row, col]!r} {message}", int(values.index[row]), str(values.columns[col]))
        if len(rows) > MAX_CELL_PROBLEMS_PER_TABLE:
            found.error(path, f"... and {len(rows) - MAX_CELL_PROBLEMS_PER_TABLE} more values like these: {message}")
    return [patient for patient, _, _ in id_places if patient]


# --- cohort -------------------------------------------------------------------------------------


def _unknown_patients(raw: pd.DataFrame | None, clinical_ids: set[str], path, clinical_path, found) -> set[str]:
    """Report patients of a table that the clinical table lacks; return the table's patients."""
    if raw is None or "patient_id" not in raw.columns:
        return set()
    patients = raw["patient_id"].str.strip()
    for line, patient in patients.items():
        if isinstance(patient, str) and patient and patient not in clinical_ids:
            found.error(
                path,
                f"patient '{patient}' is not in the clinical table {clinical_path}; add a row for it there or correct the ID",
                line,
                "patient_id",
            )
    return set(patients.dropna())


def validate_inputs(
    config: dict,
    samples: str | Path | None = None,
    clinical: str | Path | None = None,
    ctc: str | Path | None = None,
    content: bool = True,
) -> ValidatedInputs:
    """Check every input table a (checked, defaults-filled) config names, and the files they name.

    `samples`, `clinical` and `ctc` replace the sample sheet, clinical table and CTC enumeration
    table the config names. content=False skips the light reads of each sample's file (features,
    first values, species), for a process that needs only the sample table (a cluster job). Never
    raises for bad input: problems are returned in the result.
    """
    found = _Collector()
    samples_source = samples or config["samples"]
    clinical_path = Path(clinical or config["clinical"]["path"])
    ctc_source = ctc or config["ctc"]["enumeration"]

    result = ValidatedInputs()
    clinical_table = _validate_clinical(clinical_path, config["clinical"], found)
    clinical_ids = set(clinical_table["patient_id"].dropna()) if clinical_table is not None else None
    raw_samples = None
    if samples_source:
        result.samples, raw_samples = _validate_samples(Path(samples_source), config, found, content)
    raw_ctc = None
    if ctc_source:
        result.ctc, raw_ctc = _validate_ctc(Path(ctc_source), config["ctc"]["default_blood_volume_ml"], found)
    for view in config["extra_views"]:
        result.view_patients[view["name"]] = _validate_view(view, clinical_ids, clinical_path, found)
    for gmt in config["feature_sets"]["gmt"]:
        for problem in read_gmt(gmt)[1]:
            found.error(problem.path, problem.message, problem.line)
    response = config["clinical"]["response"]
    if clinical_table is not None and response in clinical_table.columns:
        try:
            response_levels(clinical_table[response].replace("", np.nan), config["outcome"]["response_positive"])
        except ValueError as error:
            found.error(clinical_path, f"column '{response}' (clinical.response): {error}")

    if clinical_table is not None:
        with_data = _unknown_patients(raw_samples, clinical_ids, samples_source, clinical_path, found)
        if ctc_source:
            with_data |= _unknown_patients(raw_ctc, clinical_ids, ctc_source, clinical_path, found)
        for patients in result.view_patients.values():
            with_data |= set(patients)
        without_data = [
            (line, patient) for line, patient in clinical_table["patient_id"].items()
            if isinstance(patient, str) and patient not in with_data
        ]
        if without_data:
            # One problem, one line: a clinical table covering a larger study than the data
            # (CLL: 65 of 265 patients) would otherwise fill the console with identical warnings.
            first_line = without_data[0][0]
            shown = ", ".join(f"'{patient}'" for _, patient in without_data[:5])
            more = f" and {len(without_data) - 5} more" if len(without_data) > 5 else ""
            found.warning(
                clinical_path,
                f"{'patient' if len(without_data) == 1 else f'{len(without_data)} patients'} {shown}{more} "
                f"{'has' if len(without_data) == 1 else 'have'} no data in the sample sheet, CTC table or extra views",
                first_line,
                config["clinical"]["id_column"],
            )
        result.patients_with_data = sorted(with_data & clinical_ids)
        result.clinical = clinical_table.reset_index(drop=True)
    result.problems = found.problems
    return result


def factor_count_warning(config: dict, result: ValidatedInputs) -> str:
    """Why MOFA cannot train mofa.factors factors on these patients ('' when it can). mofapy2 starts
    from a PCA of the patients, which has fewer components than patients; the MOFA jobs then train
    fewer (oncofactor.mofa.trainable_factors) and record it. Not part of `validate_inputs`: the
    validation job must not depend on the MOFA settings, or changing them would rerun everything."""
    patients, requested = len(result.patients_with_data), config["mofa"]["factors"]
    if not 0 < patients <= requested:
        return ""
    allowed = max(1, patients - 1)
    return (f"mofa.factors = {requested}, but {patients} patients have data, which allow at most {allowed}: MOFA will "
            f"train {allowed} (the refits on subsets of patients fewer); set mofa.factors to at most {allowed} to say so in the config")


def write_validated_inputs(config: dict, outputs, run: RunStamp) -> ValidatedInputs:
    """Validate the inputs and write them as Parquet to outputs.samples, .clinical and .ctc, and the
    warnings as notices to outputs.notices.

    Raises InputValidationError when there are errors. A table the config does not name (no sample
    sheet, no CTC enumeration) is written with its columns and no rows.
    """
    result = validate_inputs(config)
    result.raise_for_errors()
    logger = logging.getLogger(__name__)
    for problem in result.warnings:
        logger.warning(str(problem))
    samples = result.samples if result.samples is not None else pd.DataFrame(columns=SAMPLE_COLUMNS)
    ctc = result.ctc if result.ctc is not None else pd.DataFrame(columns=CTC_COLUMNS)
    write_parquet(samples, outputs.samples, config, run)
    write_parquet(result.clinical, outputs.clinical, config, run)
    write_parquet(ctc, outputs.ctc, config, run)
    notices = [
        Notice("validate", FORECAST if w.forecast else "sample", w.sample, WARNING, f"{w.location()}: {w.message}") if w.sample else
        Notice("validate", "input", w.location(), WARNING, w.message)
        for w in result.warnings
    ]
    write_parquet(notices_table(notices), outputs.notices, config, run)
    logger.info(
        "wrote %d samples, %d patients, %d CTC blood draws", len(samples), len(result.clinical), len(ctc)
    )
    return result
