"""What a run was made from: input checksums, package versions and the run record (the git revision is
stamped into every result file: oncofactor.result_files)."""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

import pandas as pd

from oncofactor.config import named_tables


def input_files(config: dict, sample_paths: list[str]) -> list[str]:
    """Every input file of a run: the tables the config names, each sample's file or every file under
    its folder (MEX, Space Ranger outs), the GMT files and gene annotations. Sorted, without repeats."""
    named = named_tables(config) + list(config["feature_sets"]["gmt"]) + list(config["genes"]["annotation"])
    files = {str(Path(path)) for path in named}
    for path in sample_paths:
        path = Path(path)
        files |= {str(p) for p in path.rglob("*") if p.is_file()} if path.is_dir() else {str(path)}
    return sorted(files)


def checksums(paths: list[str]) -> pd.DataFrame:
    """path, bytes, sha256 of each file, in the given order."""
    rows = []
    for path in paths:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        rows.append((path, Path(path).stat().st_size, digest.hexdigest()))
    return pd.DataFrame(rows, columns=["path", "bytes", "sha256"])


def package_versions() -> pd.DataFrame:
    """name, version of every installed Python distribution, sorted by lower-case name."""
    versions = {dist.metadata["Name"]: dist.version for dist in metadata.distributions() if dist.metadata["Name"]}
    return pd.DataFrame(sorted(versions.items(), key=lambda item: item[0].lower()), columns=["name", "version"])


def write_run_record(path: str | Path, command: list[str], started: str, finished: str | None = None) -> None:
    """results/provenance/run.yaml: the Snakemake command line, start and (once the run succeeded)
    end time, in UTC ISO 8601. Written via a temporary file and a rename."""
    import yaml

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"command": " ".join(command), "started": started, "finished": finished or "still running, or failed"}
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(yaml.safe_dump(record, sort_keys=False))
    temporary.replace(path)
