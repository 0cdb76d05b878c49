"""Writing results: Parquet files written atomically, stamped with the pipeline version and config."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from oncofactor import __version__


def config_checksum(config: dict) -> str:
    """SHA-256 of the config as canonical JSON (sorted keys), so equal configs give equal checksums."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def write_parquet(table: pd.DataFrame, path: str | Path, config: dict) -> None:
    """Write `table` (without its index) to `path` via a temporary file and a rename.

    The file's key-value metadata carries `oncofactor_version` and `config_sha256`, so a result can
    be traced to the code and settings that made it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    metadata = dict(arrow.schema.metadata or {})
    metadata[b"oncofactor_version"] = __version__.encode()
    metadata[b"config_sha256"] = config_checksum(config).encode()
    arrow = arrow.replace_schema_metadata(metadata)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        pq.write_table(arrow, temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
