"""Reading user tables (TSV, CSV, Parquet) as text, so that validation can name bad values."""

from __future__ import annotations

import csv
import gzip
import warnings
import zlib
from pathlib import Path

import pandas as pd

TEXT_SUFFIXES = {".tsv": "\t", ".txt": "\t", ".tab": "\t", ".csv": ","}

# Empty cells and the usual spellings of "not available" count as missing; nothing else does,
# so that e.g. a patient called "NA1" or a value "None" is kept as written.
MISSING_VALUES = ["", "NA", "N/A", "NaN", "nan", "null", "NULL"]


class TableReadError(Exception):
    """A table could not be read; the message says which file and why."""


def table_separator(path: str | Path) -> str | None:
    """Column separator of a text table from its suffix (ignoring .gz); None for Parquet."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if not suffixes:
        raise TableReadError(f"{path}: cannot tell the table format; name it .tsv, .csv, .txt or .parquet")
    if suffixes[-1] == ".parquet":
        return None
    if suffixes[-1] in TEXT_SUFFIXES:
        return TEXT_SUFFIXES[suffixes[-1]]
    raise TableReadError(
        f"{path}: unknown table suffix '{suffixes[-1]}'; use .tsv, .csv, .txt (optionally .gz) or .parquet"
    )


def read_table_as_text(path: str | Path) -> pd.DataFrame:
    """Read a table with every cell as a string (missing cells as NaN), columns as in the file.

    The index holds each row's line number in the file (the header is line 1; blank lines are
    skipped but counted), so problems can point at the line a user sees in an editor. For Parquet the
    index is the row number + 1 the same way. Parquet columns are converted to strings too, so every
    table is checked the same way. Raises TableReadError naming the file when it is missing, empty
    or malformed.
    """
    path = Path(path)
    if not path.exists():
        raise TableReadError(f"{path}: file not found")
    if path.is_dir():
        raise TableReadError(f"{path}: is a folder, expected a table file")
    separator = table_separator(path)
    try:
        if separator is None:
            frame = pd.read_parquet(path)
            frame = frame.astype("string").astype(object).where(frame.notna())
        else:
            with warnings.catch_warnings():
                # Rows with more fields than the header are reported by `overlong_rows`.
                warnings.simplefilter("ignore", pd.errors.ParserWarning)
                frame = pd.read_csv(
                    path,
                    sep=separator,
                    dtype=str,
                    keep_default_na=False,
                    na_values=MISSING_VALUES,
                    skip_blank_lines=False,
                    index_col=False,
                )
    except pd.errors.EmptyDataError:
        raise TableReadError(f"{path}: file is empty; it needs a header line and at least one row") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError, EOFError, zlib.error) as error:
        raise TableReadError(f"{path}: cannot be read as a table ({error})") from None
    frame.index = pd.RangeIndex(2, len(frame) + 2)
    return frame.dropna(how="all")


def overlong_rows(path: str | Path) -> list[tuple[int, int, int]]:
    """(line, fields, header fields) for each line of a text table with more non-empty fields than
    its header has columns. Empty trailing fields (a stray separator at the end) are harmless."""
    path = Path(path)
    separator = table_separator(path)
    if separator is None:
        return []
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    found = []
    with opener(path, "rt", newline="") as handle:
        reader = csv.reader(handle, delimiter=separator)
        header = len(next(reader, []))
        for fields in reader:
            if len(fields) > header and any(field.strip() for field in fields[header:]):
                found.append((reader.line_num, len(fields), header))
    return found
