"""The validated sample sheet, handed from Snakemake's main process to the jobs it spawns.

Every cluster job parses the workflow again. Validating the inputs there too (reading the sheet,
checking each sample's files, importing the readers) made each of N jobs pay for N samples, so the
main process validates once, writes the sheet it validated here, and names the file in the
environment variable below, which Snakemake passes to its jobs (the Snakefile's `envvars:`). The
file is named by its content: runs of the same sheet share it, and a job never reads another
sheet's table.

Light on purpose (pandas and the standard library only): a job imports this and nothing that reads
sample files.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Mapping

import pandas as pd

VALIDATED_SHEET_VARIABLE = "ONCOFACTOR_VALIDATED_SHEET"


def text_value(sample: Mapping, key: str) -> str | None:
    """A sample-sheet cell's text, or None when it is empty (NaN or '')."""
    value = sample.get(key)
    return value if isinstance(value, str) and value else None


def write_validated_sheet(samples: pd.DataFrame, folder: str | Path) -> Path:
    """Write the validated sample table (one row per sample, the sheet's columns with paths
    resolved) to `folder`/samples-<sha256 of its Parquet bytes>.parquet and return its absolute
    path. Written to a temporary name and renamed, so a job never reads a half-written file."""
    buffer = io.BytesIO()
    samples.reset_index(drop=True).to_parquet(buffer, index=False)
    data = buffer.getvalue()
    folder = Path(folder).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"samples-{hashlib.sha256(data).hexdigest()[:16]}.parquet"
    if not path.exists():
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_bytes(data)
        partial.replace(path)
    return path


def read_validated_sheet(environment: dict | os._Environ = os.environ) -> pd.DataFrame:
    """The sample table the main process validated, from the file named in `environment`.

    Raises RuntimeError when the variable is unset or names no file: a job started by anything but
    this workflow's main process, which it cannot run without the validated inputs."""
    path = environment.get(VALIDATED_SHEET_VARIABLE)
    if not path or not Path(path).is_file():
        raise RuntimeError(
            f"{VALIDATED_SHEET_VARIABLE} is {'unset' if not path else f'{path!r}, which does not exist'}: a job "
            "must be started by the workflow's main Snakemake process, which validates the inputs and writes "
            "that file; run snakemake again from the workflow's directory")
    return pd.read_parquet(path)
