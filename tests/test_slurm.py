"""The small cohort on a real single-node SLURM cluster (tests/system/slurm_cluster.sh) through the
SLURM profile: jobs go through SLURM, a failing job is retried, and the results equal a local run.

It runs the shared `small_run` configuration (SMALL_MOFA) rather than the example cohort's: every rule
still goes through SLURM, with 7 MOFA fits where the example config has 40."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import BIN, REPO, SMALL_MOFA

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]
HARNESS = REPO / "tests/system/slurm_cluster.sh"


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running cluster; yields the environment whose PATH reaches its clients. Stopped afterwards."""
    folder = tmp_path_factory.mktemp("slurm")
    started = subprocess.run([str(HARNESS), "start", str(folder)], capture_output=True, text=True)
    try:
        assert started.returncode == 0, started.stderr + started.stdout
        yield folder, {**os.environ, "PATH": f"{folder / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    finally:
        subprocess.run([str(HARNESS), "stop", str(folder)], check=True)


def jobs_in_completion_log(folder: Path) -> list[dict[str, str]]:
    lines = (folder / "log/jobcomp.log").read_text().splitlines()
    return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in lines]


def parquet_files(workdir: Path) -> list[Path]:
    return sorted(p.relative_to(workdir) for p in (workdir / "results").rglob("*.parquet") if "provenance" not in p.parts)


def test_a_cohort_on_slurm_equals_the_local_run(slurm, small_run, tmp_path):
    folder, environment = slurm
    workdir = tmp_path / "slurm_run"
    workdir.mkdir()
    command = [
        str(BIN / "snakemake"), "--snakefile", str(REPO / "tests/slurm/Snakefile"), "--configfile", str(small_run.config),
        "--profile", str(REPO / "workflow/profiles/slurm"), "--slurm-init-seconds-before-status-checks", "2", "--slurm-keep-successful-logs",
        "all", "results/retry_check/done.txt",
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=workdir, env=environment, timeout=1500)
    assert result.returncode == 0, result.stderr[-6000:]

    jobs = jobs_in_completion_log(folder)
    completed = [job for job in jobs if job.get("JobState") == "COMPLETED"]
    assert {job["WorkDir"] for job in jobs} == {str(workdir)}
    submitted = {path.name for path in (workdir / ".snakemake/slurm_logs").iterdir()}
    assert {"rule_harmonize_sample", "rule_mofa_restart", "rule_views", "rule_mofa_model", "rule_response_prediction"} <= submitted
    assert not submitted & {f"rule_{name}" for name in ("validated_inputs", "clinical_associations", "html_report")}, "local rules stay local"
    mofa_restarts = len(list((workdir / ".snakemake/slurm_logs/rule_mofa_restart").rglob("*.log")))
    assert mofa_restarts == SMALL_MOFA["restarts"] and len(completed) >= mofa_restarts + 4

    # The retry check's first attempt failed in SLURM (its only job with 200 MB), the second completed.
    retried = [job["JobState"] for job in jobs if "mem=200M" in job["Tres"]]
    assert retried == ["FAILED", "COMPLETED"]
    assert "Error in rule fails_on_first_attempt" in result.stderr
    assert (workdir / "logs/retry_check.log").read_text() == "attempt 2\n"
    assert (workdir / "results/retry_check/done.txt").exists()

    local = small_run.workdir
    assert parquet_files(workdir) == parquet_files(local)
    for path in parquet_files(workdir):
        pd.testing.assert_frame_equal(pd.read_parquet(workdir / path), pd.read_parquet(local / path), obj=str(path))
    run = (workdir / "results/provenance/run.yaml").read_text()
    assert "--profile" in run and "finished: '20" in run
