"""Parquet results: written atomically and stamped with version, config checksums and git revision."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from oncofactor import __version__
from oncofactor.result_files import RunStamp, config_checksum, write_parquet

RUN = RunStamp(run_config_sha256="0" * 64, git_revision="abc123")


def test_parquet_carries_version_and_config_checksum(tmp_path):
    table = pd.DataFrame({"sample_id": ["a", "b"], "value": [1.0, 2.0]})
    write_parquet(table, tmp_path / "out" / "t.parquet", {"b": 1, "a": [2]}, RUN)
    metadata = pq.read_schema(tmp_path / "out" / "t.parquet").metadata
    assert metadata[b"oncofactor_version"].decode() == __version__
    assert metadata[b"config_sha256"].decode() == config_checksum({"a": [2], "b": 1})
    assert metadata[b"run_config_sha256"] == b"0" * 64 and metadata[b"git_revision"] == b"abc123"
    assert pd.read_parquet(tmp_path / "out" / "t.parquet").equals(table)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["t.parquet"]


def test_failed_write_leaves_nothing(tmp_path):
    table = pd.DataFrame({"mixed": [1, "text"]})  # pyarrow refuses mixed object columns
    with pytest.raises(Exception):
        write_parquet(table, tmp_path / "t.parquet", {}, RUN)
    assert list(tmp_path.iterdir()) == []


def test_checksum_depends_on_content():
    assert config_checksum({"a": 1}) != config_checksum({"a": 2})
