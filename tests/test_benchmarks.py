"""The benchmark harness reads what a real run leaves behind (benchmark TSVs, per-sample timing lines)."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from conftest import REPO

spec = importlib.util.spec_from_file_location("benchmark_run", REPO / "benchmarks/run.py")
harness = importlib.util.module_from_spec(spec)
spec.loader.exec_module(harness)


@pytest.mark.workflow
def test_every_job_of_a_run_has_a_benchmark(example_run):
    jobs = harness.benchmark_tables(example_run)
    samples = pd.read_parquet(example_run / "results/inputs/samples.parquet")
    stages = jobs["stage"].value_counts()
    assert stages["harmonize_sample"] == len(samples)
    assert stages["mofa_restart"] == 5
    for stage in ("validated_inputs", "views", "mofa_model", "clinical_associations", "html_report", "provenance"):
        assert stages[stage] == 1, stage
    assert (jobs["s"] > 0).all() and (jobs["max_rss_mb"] > 0).all()

    steps = harness.in_step_times(example_run)
    assert set(steps["sample_id"]) == set(samples["sample_id"])
    qc = pd.read_parquet(example_run / "results/harmonized/qc.parquet")
    assert steps["observations"].sum() == len(qc)
    assert (steps["job_read_s"] > 0).all() and (steps["harmonize_s"] > 0).all()
