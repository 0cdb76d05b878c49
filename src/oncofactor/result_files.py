"""Writing results: Parquet files written atomically, stamped with the pipeline version, the rule's
settings, the run's config and the git revision."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from oncofactor import __version__


def config_checksum(config: dict) -> str:
    """SHA-256 of the config as canonical JSON (sorted keys), so equal configs give equal checksums."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def git_revision(folder: str | Path) -> str:
    """The commit checked out in `folder` ('+ local changes' when the tracked files differ from it),
    or 'not a git checkout'."""
    def git(*args):
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True).stdout.strip()

    try:
        revision = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"{revision} + local changes" if changed else revision


@dataclass(frozen=True)
class RunStamp:
    """What every result file of one run carries: the checksum of the run's whole config (equal in
    every file the run writes) and the git revision of the workflow that wrote it."""

    run_config_sha256: str
    git_revision: str


def run_stamp(snakemake) -> RunStamp:
    """The stamp of the job's run, from inside a Snakemake script: the checksum of
    `snakemake.config` (the whole config, as every job of the run receives it) and the revision of
    the checkout holding the script (`workflow/scripts/` two levels below the repository root).

    Neither is a rule parameter, so a new commit or a change to another rule's settings reruns
    nothing; a file keeps the stamp of the run that wrote it."""
    return RunStamp(config_checksum(snakemake.config), git_revision(Path(snakemake.scriptdir).parents[1]))


def write_parquet(table: pd.DataFrame, path: str | Path, settings: dict, run: RunStamp) -> None:
    """Write `table` (without its index) to `path` via a temporary file and a rename.

    The file's key-value metadata carries `oncofactor_version`, `config_sha256` (the settings the
    rule was given, which rerun it when they change), `run_config_sha256` and `git_revision` (see
    RunStamp), so a result can be traced to the code and settings that made it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    metadata = dict(arrow.schema.metadata or {})
    metadata[b"oncofactor_version"] = __version__.encode()
    metadata[b"config_sha256"] = config_checksum(settings).encode()
    metadata[b"run_config_sha256"] = run.run_config_sha256.encode()
    metadata[b"git_revision"] = run.git_revision.encode()
    arrow = arrow.replace_schema_metadata(metadata)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        pq.write_table(arrow, temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
