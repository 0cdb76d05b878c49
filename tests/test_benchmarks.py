"""The benchmark harness reads what a real run leaves behind (benchmark TSVs, per-sample timing lines)."""

from __future__ import annotations

import argparse
import importlib.util
import sys

import pandas as pd
import pytest
import yaml
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

    floor = harness.read_floor(example_run, str(REPO / "config/config.yaml"))
    assert set(floor["sample_id"]) == set(samples["sample_id"]) and (floor["read_s"] > 0).all()
    steps = harness.harmonize_steps(example_run, jobs, floor)
    assert len(steps) == len(samples) and steps[["read_s", "s", "fixed_s"]].notna().all().all()
    assert (steps["s"] > steps["in_step_s"]).all()  # a job's benchmark includes its in-step time
    table = harness.by_modality(steps)
    assert table["samples"].to_dict() == samples["modality"].value_counts().to_dict()


def test_timed_counts_the_command_s_own_cpu_not_its_children_s(tmp_path):
    burn = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.6:\n    pass\n"
    parent = burn + f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {burn!r}], check=True)\n"
    wall, own_cpu = harness.timed([sys.executable, "-c", parent], tmp_path, tmp_path / "log")
    assert wall >= 1.2  # both burned their 0.6 s of CPU, one after the other
    assert 0.55 <= own_cpu < 1.15  # the parent's 0.6 s (and its start-up), not the child's


statistics_spec = importlib.util.spec_from_file_location("benchmark_statistics", REPO / "benchmarks/statistics.py")
statistics = importlib.util.module_from_spec(statistics_spec)
statistics_spec.loader.exec_module(statistics)


@pytest.mark.workflow
def test_the_statistics_harness_scores_a_run_against_its_truth(example_run):
    """benchmarks/statistics.py reads a finished run and its cohort's truth. The example cohort's
    factors following true Factor1 and Factor3 are supported (tests/test_report.py); the same
    prediction procedure on the true factors beats chance (0.61 measured on this cohort)."""
    cohort = example_run / "resources/example_cohort"
    row = statistics.measure(cohort, cohort / "config.yaml", example_run / "results", 30, 1)
    assert row["recovered_Factor1"] and row["recovered_Factor3"]
    assert 0.55 < row["oracle_auroc"] <= 1 and 0 <= row["auroc"] <= 1
    assert row["control_tests"] > 0 and 0 <= row["control_hits"] <= row["control_tests"]
    assert row["supported"] <= row["factors"] and row["spurious_supported"] + row["partial_supported"] <= row["supported"]
    # The example's programmes are strong: the mean of each one's genes in some view follows its factor closely.
    assert all(row[f"ceiling_Factor{k}"] > 0.9 for k in (1, 2, 3)), row
    text = statistics.summary(pd.DataFrame([row]))
    assert "runs: 1 of 1 finished" in text and "control gene sets at q < 0.05" in text and "ceiling from its programme genes" in text
    assert "follow a true factor only partly" in text


def test_a_statistics_run_with_a_changed_setting_gets_its_own_config(tmp_path):
    """`--set views.n_top_genes=500` runs the same cohort with that one value changed, in a folder of its own."""
    original = tmp_path / "config.yaml"
    original.write_text("samples: /data/samples.tsv\nviews:\n  min_cells: 10\n")
    keys, value = statistics.setting("views.n_top_genes=500")
    new_keys, new_value = statistics.setting("mofa.convergence=fast")
    written = statistics.changed_config(original, [(keys, value), (new_keys, new_value)], tmp_path / "changed.yaml")
    assert yaml.safe_load(written.read_text()) == {
        "samples": "/data/samples.tsv", "views": {"min_cells": 10, "n_top_genes": 500}, "mofa": {"convergence": "fast"}}
    assert "min_cells: 10" in original.read_text() and "n_top_genes" not in original.read_text()
    with pytest.raises(argparse.ArgumentTypeError, match="expected section.key=value"):
        statistics.setting("views.n_top_genes")
