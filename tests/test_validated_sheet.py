"""The validated sample sheet that the main Snakemake process hands to its cluster jobs."""

from __future__ import annotations

import shutil
import subprocess

import pandas as pd
import pytest

from conftest import BIN, REPO
from oncofactor.validated_sheet import VALIDATED_SHEET_VARIABLE, read_validated_sheet, write_validated_sheet


def sheet(*sample_ids: str) -> pd.DataFrame:
    return pd.DataFrame({"sample_id": list(sample_ids), "modality": "scrna", "path": [f"/data/{s}.h5" for s in sample_ids],
                         "cell_metadata": [None] * len(sample_ids)})


def test_the_sheet_is_read_back_as_written_from_a_file_named_by_its_content(tmp_path):
    path = write_validated_sheet(sheet("P001_scrna", "P002_scrna"), tmp_path / "handover")
    assert path.is_absolute() and path.name.startswith("samples-")
    pd.testing.assert_frame_equal(read_validated_sheet({VALIDATED_SHEET_VARIABLE: str(path)}), sheet("P001_scrna", "P002_scrna"))
    assert write_validated_sheet(sheet("P001_scrna", "P002_scrna"), tmp_path / "handover") == path
    other = write_validated_sheet(sheet("P001_scrna"), tmp_path / "handover")
    assert other != path and path.exists(), "another sheet gets its own file and leaves the first one alone"
    assert sorted(p.name for p in (tmp_path / "handover").iterdir()) == sorted([path.name, other.name]), "no partial file is left"


def test_a_job_without_the_main_process_sheet_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(RuntimeError, match=f"{VALIDATED_SHEET_VARIABLE} is unset: a job must be started by the workflow's main"):
        read_validated_sheet({})
    with pytest.raises(RuntimeError, match="which does not exist"):
        read_validated_sheet({VALIDATED_SHEET_VARIABLE: str(tmp_path / "gone.parquet")})


@pytest.mark.workflow
def test_a_cluster_job_parses_the_workflow_without_touching_the_sample_files(small_cohort, tmp_path):
    """The main process validates every sample once; a job started as the SLURM executor starts it
    (`--mode remote --target-jobs`) reads the sheet the main process wrote, so it still parses with
    every sample file gone, and without that sheet it stops with one line."""
    copy = shutil.copytree(small_cohort, tmp_path / "cohort")
    config = copy / "config.yaml"
    config.write_text(config.read_text().replace(str(small_cohort), str(copy)))
    snakemake = [str(BIN / "python"), "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--configfile", str(config)]
    main = subprocess.run([*snakemake, "--cores", "1", "-n"], capture_output=True, text=True, cwd=tmp_path)
    assert main.returncode == 0, main.stderr[-3000:]
    [handed_over] = (tmp_path / ".snakemake/oncofactor").glob("samples-*.parquet")
    samples = pd.read_parquet(handed_over)
    assert len(samples) == len(pd.read_csv(copy / "samples.tsv", sep="\t")), "one row per sheet sample"

    for folder in ("scrna", "spatial", "ctc_scrna"):
        shutil.rmtree(copy / folder)
    first = samples["sample_id"].iloc[0]
    job = [*snakemake, "--target-jobs", f"harmonize_sample:sample={first}", "--allowed-rules", "harmonize_sample",
           "--mode", "remote", "--cores", "1", "-n"]
    environment = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path)}
    parsed = subprocess.run(job, capture_output=True, text=True, cwd=tmp_path, env={**environment, VALIDATED_SHEET_VARIABLE: str(handed_over)})
    assert parsed.returncode == 0, parsed.stderr[-3000:]
    assert "harmonize_sample" in parsed.stdout + parsed.stderr

    refused = subprocess.run(job, capture_output=True, text=True, cwd=tmp_path, env=environment)
    assert refused.returncode != 0
    assert f"{VALIDATED_SHEET_VARIABLE} is unset: a job must be started" in refused.stdout + refused.stderr
