"""The corpus of broken inputs (tests/data_faults.py): each refused with one line naming the file and
what is wrong, before any work where validation's light read can tell, else by the sample's job;
with on_sample_error: drop the sample is left out with that reason instead."""

from __future__ import annotations

import subprocess

import pandas as pd
import pytest

from conftest import BIN, FINISHED_JOB, REPO, EditableCohort, finished_jobs
from data_faults import FAULTS, ODDITIES, Fault, Variant
from oncofactor.cli import main
from oncofactor.harmonize import cohort_gene_map, harmonize_sample
from oncofactor.notices import LEFT_OUT
from oncofactor.sample_readers import SampleReadError
from oncofactor.validation import validate_inputs

DATA_FAULTS = [f for f in FAULTS if f.name.split("_")[0] in ("h5", "mex", "h5ad", "visium", "ctc")]


def broken(fault: Fault, small_cohort, folder) -> tuple[EditableCohort, Variant]:
    cohort = EditableCohort(small_cohort, folder)
    variant = Variant(cohort)
    fault.apply(variant)
    variant.save()
    return cohort, variant


def test_the_corpus_is_large_enough():
    assert len(FAULTS) >= 40
    assert len({f.name for f in FAULTS}) == len(FAULTS)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_a_broken_input_is_named_in_one_line(fault, small_cohort, tmp_path, capsys):
    cohort, _ = broken(fault, small_cohort, tmp_path)
    config_path = cohort.write_config()
    status = main(["validate", "--config", str(config_path)])
    console = capsys.readouterr()
    text = console.out + console.err
    assert "Traceback" not in text
    if not fault.light:
        assert status == 0, text  # the light read cannot see it: the job's full read must (below)
        return
    assert status == 1, text
    lines = [line for line in text.splitlines() if fault.token in line]
    assert len(lines) == 1, text
    # The line names the file at fault (a table with its line and column), or the config file above it.
    assert str(tmp_path) in lines[0] or (lines[0].lstrip().startswith("- key") and str(config_path) in text), text


def _job_read(cohort: EditableCohort, policy: str):
    config = cohort.config
    config["on_sample_error"] = policy
    inputs = validate_inputs(config)
    assert not inputs.errors, inputs.errors
    samples = inputs.samples.set_index("sample_id", drop=False)
    return config, samples, cohort_gene_map(inputs.samples, config)


@pytest.mark.parametrize("fault", [f for f in FAULTS if not f.light], ids=lambda f: f.name)
def test_a_fault_past_the_light_read_stops_the_samples_job(fault, small_cohort, tmp_path):
    cohort, variant = broken(fault, small_cohort, tmp_path)
    config, samples, gene_map = _job_read(cohort, "stop")
    sample_id = _changed_sample(variant, tmp_path)
    with pytest.raises(SampleReadError, match=fault.token) as error:
        harmonize_sample(samples.loc[sample_id].to_dict(), config, gene_map)
    assert str(variant.source(sample_id)) in str(error.value)


def _changed_sample(variant: Variant, folder) -> str:
    return variant.sheet.loc[variant.sheet["path"].str.startswith(str(folder)), "sample_id"].item()


@pytest.mark.parametrize("fault", DATA_FAULTS, ids=lambda f: f.name)
def test_with_drop_a_broken_sample_is_left_out_with_its_reason(fault, small_cohort, tmp_path):
    cohort, variant = broken(fault, small_cohort, tmp_path)
    config = cohort.config
    config["on_sample_error"] = "drop"
    inputs = validate_inputs(config)
    assert not inputs.errors, inputs.errors
    sample_id = _changed_sample(variant, tmp_path)
    if fault.light:
        warning = [w for w in inputs.warnings if w.sample == sample_id]
        assert len(warning) == 1 and fault.token in warning[0].message and "will be left out" in warning[0].message
    gene_map = cohort_gene_map(inputs.samples, config)
    result = harmonize_sample(inputs.samples.set_index("sample_id", drop=False).loc[sample_id].to_dict(), config, gene_map)
    assert result.adata.n_obs == 0 and result.qc.empty
    left_out = [n for n in result.notices if n.outcome == LEFT_OUT and n.kind == "sample"]
    assert len(left_out) == 1 and left_out[0].subject == sample_id and fault.token in left_out[0].reason


def snakemake(*args, cwd) -> subprocess.CompletedProcess:
    command = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--cores", "2", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd)


LATE = next(f for f in FAULTS if f.name == "h5_negative_count_late")


@pytest.mark.workflow
def test_a_failing_job_ends_the_run_with_its_own_message(small_cohort, tmp_path):
    (tmp_path / "cohort").mkdir()
    cohort, variant = broken(LATE, small_cohort, tmp_path / "cohort")
    workdir = tmp_path / "run"
    workdir.mkdir()
    result = snakemake("results/harmonized/qc.parquet", "--keep-going", "--configfile", cohort.write_config(), cwd=workdir)
    assert result.returncode != 0
    console = result.stdout + result.stderr
    assert "Traceback" not in console
    lines = console.splitlines()
    # After every job has run (Snakemake's own last lines, its log's path and elapsed time, follow).
    summary = next(i for i, line in enumerate(lines) if line.endswith("1 job(s) failed:"))
    assert summary > max(i for i, line in enumerate(lines) if FINISHED_JOB.match(line)) and summary > len(lines) - 8, console[-3000:]
    # The failure is on the console once as it happens, and once in the summary.
    assert sum("harmonize_sample (sample=P002_scrna)" in line for line in lines) == 2, console[-3000:]
    failed = lines[summary + 1]
    assert "harmonize_sample (sample=P002_scrna)" in failed and "negative values" in failed and str(variant.source("P002_scrna")) in failed
    assert "logs/harmonized/P002_scrna.log" in failed
    assert "Traceback" in (workdir / "logs/harmonized/P002_scrna.log").read_text()
    # No partial output of the failed job; the other samples' jobs finished and are kept for a rerun.
    assert not list((workdir / "results/harmonized").glob("P002_scrna*"))
    assert (workdir / "results/harmonized/P003_scrna.h5ad").exists()

    # The same cohort with on_sample_error: drop runs on without the sample, and says why.
    cohort.raw_config["on_sample_error"] = "drop"
    result = snakemake("results/integration/views.h5mu", "--configfile", cohort.write_config(), cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    # Only the failed job runs again: the policy changes nothing for a readable file.
    rerun = [job[4] for job in finished_jobs(result.stdout + result.stderr) if job[3] == "harmonize_sample"]
    assert rerun == ["P002_scrna"], result.stderr[-3000:]
    notices = pd.read_parquet(workdir / "results/harmonized/notices.parquet")
    row = notices[(notices["subject"] == "P002_scrna") & (notices["outcome"] == LEFT_OUT)]
    assert len(row) == 1 and "negative values" in row["reason"].item()
    assert not list((workdir / "logs").rglob("*.error"))

    # A fault validation can see is forecast there and left out by the job, as the report shows.
    next(f for f in FAULTS if f.name == "ctc_negative_counts").apply(variant)
    variant.save()
    result = snakemake("results/integration/views.h5mu", "--configfile", cohort.write_config(), cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "P001_ctc_T0.csv': negative values" in result.stderr and "the sample will be left out (on_sample_error: drop)" in result.stderr
    notices = pd.read_parquet(workdir / "results/harmonized/notices.parquet")
    assert set(notices.loc[notices["outcome"] == LEFT_OUT, "subject"]) >= {"P002_scrna", "P001_ctc_T0"}


@pytest.mark.parametrize("oddity", ODDITIES, ids=lambda o: o.name)
def test_an_odd_but_valid_input_runs(oddity, small_cohort, tmp_path):
    cohort = EditableCohort(small_cohort, tmp_path)
    variant = Variant(cohort)
    oddity.apply(variant)
    variant.save()
    config = cohort.config
    inputs = validate_inputs(config)
    assert not inputs.errors and not inputs.warnings, inputs.problems
    clinical = set(inputs.clinical["patient_id"])
    assert len(clinical) == 8 and set(inputs.samples["patient_id"]) <= clinical and set(inputs.ctc["patient_id"]) <= clinical
    assert len(inputs.samples) == 15 and set(inputs.patients_with_data) == clinical
    if oddity.sample:
        sample = inputs.samples.set_index("sample_id").loc[oddity.sample]
        result = harmonize_sample({**sample.to_dict(), "sample_id": oddity.sample}, config, cohort_gene_map(inputs.samples, config))
        assert result.adata.uns["oncofactor"]["dropped"] == "" and result.adata.n_obs > 0
        assert result.adata.n_vars > 0.9 * 1000 or oddity.sample != "P002_scrna"


@pytest.mark.workflow
def test_odd_inputs_together_run_through_snakemake(small_cohort, tmp_path):
    (tmp_path / "cohort").mkdir()
    cohort = EditableCohort(small_cohort, tmp_path / "cohort")
    variant = Variant(cohort)
    for name in ("unicode_and_spaces_in_path", "gzipped_ctc_table", "crlf_sample_sheet", "bom_clinical_table", "bom_crlf_ctc_enumeration"):
        next(o for o in ODDITIES if o.name == name).apply(variant)
    variant.save()
    workdir = tmp_path / "run é"
    workdir.mkdir()
    result = snakemake("results/integration/views.h5mu", "--configfile", cohort.write_config(), cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    qc = pd.read_parquet(workdir / "results/harmonized/qc.parquet")
    assert qc.groupby("sample_id")["passed_qc"].sum().loc[["P002_scrna", "P001_ctc_T0"]].gt(0).all()


def test_every_scrna_sample_failing_qc_leaves_the_modality_out(small_cohort, tmp_path):
    from oncofactor.harmonize import lost_modalities
    from oncofactor.pseudobulk import sample_pseudobulk
    from oncofactor.spatial_pattern import section_pattern
    from oncofactor.views import build_views

    cohort = EditableCohort(small_cohort, tmp_path)
    cohort.raw_config["qc"] = {"scrna": {"min_counts": 1_000_000}}
    config = cohort.config
    inputs = validate_inputs(config)
    gene_map = cohort_gene_map(inputs.samples, config)
    harmonized = {s["sample_id"]: harmonize_sample(s, config, gene_map).adata for s in inputs.samples.to_dict("records")}
    dropped = {sample_id: adata.uns["oncofactor"]["dropped"] for sample_id, adata in harmonized.items()}
    scrna = inputs.samples.loc[inputs.samples["modality"] == "scrna", "sample_id"]
    assert all("passed QC" in dropped[s] for s in scrna)
    assert [n.subject for n in lost_modalities(inputs.samples, dropped)] == ["scrna"]
    pseudobulks = [sample_pseudobulk(a, config["views"]["exclude_cell_types"]) for a in harmonized.values()]
    patterns = pd.concat([section_pattern(a) for a in harmonized.values()])
    mdata, _, _ = build_views(pseudobulks, patterns, inputs.ctc, inputs.clinical, inputs.samples, config)
    assert not any(name.startswith("rna") for name in mdata.mod) and "spatial" in mdata.mod
