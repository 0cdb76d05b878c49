# Shared set-up: the oncofactor package, the checked config and the validated inputs.
# Validation runs while the main process parses the workflow, so bad inputs stop the run before any
# job starts and before results/ is created; every problem is listed at once.

import mimetypes
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from snakemake.exceptions import WorkflowError

# This file's folder is workflow/rules, wherever the Snakefile that includes it lives.
REPO = Path(workflow.current_basedir).parents[1]
SRC = str(REPO / "src")
# The package is imported from this checkout, in this process and in every job (also in --sdm conda
# environments and SLURM jobs, which inherit the environment), so rules run the code beside them.
sys.path.insert(0, SRC)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))

from oncofactor.config import ConfigError, check_config, named_tables
from oncofactor.job_log import failed_job_lines
from oncofactor.notices import run_summary
from oncofactor.provenance import write_run_record
from oncofactor.validated_sheet import VALIDATED_SHEET_VARIABLE, read_validated_sheet, text_value, write_validated_sheet

try:
    config.update(check_config(config, source="config"))
except ConfigError as error:
    raise WorkflowError(str(error))

if workflow.is_main_process:
    # Imported here only: the readers behind validation (anndata, scipy) are most of a job's parse.
    from oncofactor.validation import SAMPLE_COLUMNS, factor_count_warning, validate_inputs

    INPUTS = validate_inputs(config)
    for problem in INPUTS.warnings:
        logger.warning(str(problem))
    FEWER_FACTORS = factor_count_warning(config, INPUTS)
    if FEWER_FACTORS:
        logger.warning(f"WARNING: {FEWER_FACTORS}")
    if INPUTS.errors:
        raise WorkflowError(
            f"{len(INPUTS.errors)} error(s) in the inputs; nothing was run. Fix them and run again:\n"
            + "\n".join(str(problem) for problem in INPUTS.errors)
        )
    VALIDATED_SAMPLES = INPUTS.samples if INPUTS.samples is not None else pd.DataFrame(columns=SAMPLE_COLUMNS)
    # A cluster job parses the workflow again; it reads the sheet validated here instead of
    # validating the whole cohort itself (oncofactor.validated_sheet), so its start-up does not grow
    # with the number of samples.
    os.environ[VALIDATED_SHEET_VARIABLE] = str(write_validated_sheet(VALIDATED_SAMPLES, ".snakemake/oncofactor"))
else:
    try:
        VALIDATED_SAMPLES = read_validated_sheet()
    except RuntimeError as error:
        raise WorkflowError(str(error))


envvars:
    VALIDATED_SHEET_VARIABLE,


# Parquet tables in `snakemake --report` are offered for download under their registered type.
mimetypes.add_type("application/vnd.apache.parquet", ".parquet")


# The run's command line and times go to RUN_RECORD (the Snakefile's onstart and onsuccess handlers).
RUN_STARTED = datetime.now(timezone.utc).isoformat(timespec="seconds")
RUN_RECORD = "results/provenance/run.yaml"


# The sample sheet as validated, indexed by sample ID; rules fan out over its rows.
SAMPLES = VALIDATED_SAMPLES.set_index("sample_id", drop=False)


wildcard_constraints:
    sample="[A-Za-z0-9][A-Za-z0-9._-]*",


def files_of_sample(row):
    """A sample-sheet row's file or folder, and its cell metadata table when it has one."""
    metadata = text_value(row, "cell_metadata")
    return [row["path"]] + ([metadata] if metadata else [])


# Every sample's files: what validation reads lightly and the gene map reads again.
SAMPLE_FILES = [path for _, row in SAMPLES.iterrows() for path in files_of_sample(row)]


def settings(*sections):
    """The config sections a rule depends on. Rules take these (not the whole config) as params, so
    changing, say, MOFA options reruns the MOFA jobs and not the harmonization before them."""
    return {section: config[section] for section in sections}


def input_tables():
    """The tables the config names, so that editing one reruns the jobs that read it."""
    return named_tables(config)


def input_mb(input):
    """The size of a job's existing input files (MB).

    Not Snakemake's `input.size_mb`: that builds a coroutine which Snakemake cannot run inside its
    own DAG loop, so every such resource printed "coroutine ... was never awaited" during
    `snakemake --report` (snakemake#4280). Inputs that do not exist yet count 0: Snakemake
    re-evaluates a job's resources when it is ready to run, with all its inputs present.
    """
    return sum(os.path.getsize(path) for path in input if os.path.exists(path)) / 2**20


def mem_mb(base, per_input_mb=0.0):
    """A job's memory request (MB): `base` plus `per_input_mb` per MB of its input files, times the
    attempt, so that a job killed for memory is retried with more."""
    return lambda wildcards, input, attempt: int(base + per_input_mb * input_mb(input)) * attempt


def runtime(base, per_input_gb=0.0):
    """A job's time limit (minutes): `base` plus `per_input_gb` per GB of input, times the attempt."""
    return lambda wildcards, input, attempt: int(base + per_input_gb * input_mb(input) / 1024) * attempt
