"""The `oncofactor` command line: help for every option, exit status, nothing written on bad input."""

from __future__ import annotations

import argparse
import subprocess

import pytest
from conftest import BIN

from oncofactor.cli import build_parser


def run(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "oncofactor"), *map(str, args)], capture_output=True, text=True, cwd=cwd)


def subcommands() -> dict[str, argparse.ArgumentParser]:
    [action] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


@pytest.mark.parametrize("name", ["simulate", "validate", "score-recovery", "project"])
def test_help_explains_every_option(name):
    parser = subcommands()[name]
    result = run(name, "--help")
    assert result.returncode == 0
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    assert options
    for action in options:
        assert action.help and len(action.help) > 10, f"{action.option_strings} has no help"
        assert action.option_strings[-1] in result.stdout


def test_top_level_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    assert "simulate" in result.stdout and "validate" in result.stdout


def test_simulate_then_validate(tmp_path):
    result = run("simulate", "--patients", 5, "--cells-per-sample", 30, "--spots-per-section", 30, "--genes", 200, "--out", "cohort", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result = run("validate", "--config", "cohort/config.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: 5 patients")


def test_validate_reports_errors_and_writes_nothing(cohort, tmp_path):
    cohort.set_cell("samples.tsv", 0, "modality", "bulk")
    cohort.set_cell("samples.tsv", 1, "sample_id", "bad id")
    sheet = cohort.path("samples.tsv")
    workdir = tmp_path / "run"
    workdir.mkdir()
    result = run("validate", "--config", cohort.write_config(), cwd=workdir)
    assert result.returncode == 1
    assert f"ERROR: {sheet}, line 2, column 'modality': 'bulk' must be one of" in result.stderr
    assert f"ERROR: {sheet}, line 3, column 'sample_id': 'bad id'" in result.stderr
    assert "2 error(s), 0 warning(s)" in result.stderr
    assert list(workdir.iterdir()) == []


def test_validate_overrides_clinical_and_ctc_tables(small_cohort, tmp_path):
    clinical = tmp_path / "clinical.tsv"
    clinical.write_text((small_cohort / "clinical.tsv").read_text().replace("\tfemale\t", "\tF\t").replace("P001\t", "P001\tnot-a-number-", 1))
    ctc = tmp_path / "ctc.tsv"
    ctc.write_text("patient_id\ttimepoint\tctc_count\nP001\tT0\t-4\n")
    result = run("validate", "--config", small_cohort / "config.yaml", "--clinical", clinical, "--ctc", ctc, cwd=small_cohort.parent)
    assert result.returncode == 1
    assert f"{clinical}, line 2, column 'age': 'not-a-number-" in result.stderr
    assert f"{ctc}, line 2, column 'ctc_count': -4 must be a whole number from 0" in result.stderr


def test_validate_bad_config(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("samples: 3\n")
    result = run("validate", "--config", config)
    assert result.returncode == 1
    assert "key 'samples': 3 is not of type 'string'" in result.stderr
    assert "key '(top level)': 'clinical' is a required property" in result.stderr


def test_simulate_a_hard_cohort(tmp_path):
    result = run("simulate", "--biology", "hard", "--patients", 5, "--cells-per-sample", 30, "--spots-per-section", 30, "--genes", 200,
                 "--out", "cohort", cwd=tmp_path)
    assert result.returncode == 2 and "genes must be at least 212" in result.stderr, "the hard biology names more genes"
    result = run("simulate", "--biology", "hard", "--patients", 5, "--cells-per-sample", 30, "--spots-per-section", 30, "--genes", 300,
                 "--out", "cohort", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--biology hard" in (tmp_path / "cohort/config.yaml").read_text()
    assert (run("validate", "--config", "cohort/config.yaml", cwd=tmp_path)).returncode == 0


def test_simulate_refuses_bad_arguments(tmp_path):
    result = run("simulate", "--patients", 1, "--out", tmp_path / "x")
    assert result.returncode == 2
    assert "--patients: must be at least 4" in result.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("")
    result = run("simulate", "--out", tmp_path / "full")
    assert result.returncode == 2 and "not an empty folder" in result.stderr


def test_run_help_says_what_it_adds():
    result = run("run", "--help")
    assert result.returncode == 0
    assert "lock left by a killed run" in result.stdout and "valid YAML" in result.stdout


def test_a_stale_lock_is_removed_only_when_no_snakemake_works_in_the_folder(tmp_path):
    import shutil
    import time

    from oncofactor.run_workflow import remove_stale_lock

    assert remove_stale_lock(tmp_path) == ""
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("results/a.parquet\n")
    # A live process called snakemake working in the folder (a copy of `sleep` under that name).
    fake = tmp_path / "bin" / "snakemake"
    fake.parent.mkdir()
    shutil.copy(shutil.which("sleep"), fake)
    process = subprocess.Popen([str(fake), "30"], cwd=tmp_path)
    try:
        time.sleep(0.2)
        assert f"Snakemake process {process.pid} works in" in remove_stale_lock(tmp_path)
        assert (locks / "0.input.lock").exists()
    finally:
        process.kill()
        process.wait()
    assert "removed the lock a stopped run left" in remove_stale_lock(tmp_path)
    assert not list(locks.glob("*.lock"))
