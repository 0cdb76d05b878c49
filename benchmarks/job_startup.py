"""What one cluster job pays to start, and what building the DAG costs, as the sample sheet grows.

    .venv/bin/python benchmarks/job_startup.py                 # sheets of 20, 400 and 2,000 samples
    .venv/bin/python benchmarks/job_startup.py --samples 20 400

A cluster job is `python -m snakemake --target-jobs ... --mode remote`: it parses the workflow again
before running its one step. For each sheet size this times the main process's dry run (validation
of every sample and the whole DAG; it also writes the validated sheet the jobs read) and then, three
times, the parse of one harmonize_sample job as the SLURM executor starts it (dry run, so the step
itself is not timed). Wall and CPU seconds (user + system of the process and its children).

The sheets repeat the example cohort's samples under new IDs (the same files), so validation's light
reads hit files the OS has cached; a real cohort of distinct files reads more from disk.

Writes benchmarks/results/job_startup.parquet and job_startup.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from oncofactor.simulate import SimulationParams, simulate_cohort
from oncofactor.validated_sheet import VALIDATED_SHEET_VARIABLE

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
JOB_RUNS = 3


def repeated_sheet(cohort: Path, samples: int) -> pd.DataFrame:
    """The cohort's sample sheet repeated under new sample IDs until it has `samples` rows."""
    sheet = pd.read_csv(cohort / "samples.tsv", sep="\t", keep_default_na=False)
    copies = []
    for copy in range(-(-samples // len(sheet))):
        rows = sheet.copy()
        rows["sample_id"] = rows["sample_id"] + f"_{copy}"
        for column in ("path", "cell_metadata"):
            if column in rows:
                rows[column] = [str(cohort / value) if value else "" for value in rows[column]]
        copies.append(rows)
    return pd.concat(copies).iloc[:samples]


def timed(command: list[str], cwd: Path, environment: dict) -> tuple[float, float]:
    """Wall and CPU seconds of the command; raises with its output when it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(work: Path, cohort: Path, samples: int) -> dict:
    folder = work / f"sheet-{samples}"
    folder.mkdir(parents=True, exist_ok=True)
    sheet = repeated_sheet(cohort, samples)
    sheet.to_csv(folder / "samples.tsv", sep="\t", index=False)
    config = (cohort / "config.yaml").read_text().replace(f"samples: {cohort}/samples.tsv", f"samples: {folder}/samples.tsv")
    (folder / "config.yaml").write_text(config)
    snakemake = [PYTHON, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--configfile", str(folder / "config.yaml")]
    environment = {key: value for key, value in os.environ.items() if key != VALIDATED_SHEET_VARIABLE}
    dag_wall, dag_cpu = timed([*snakemake, "--cores", "2", "-n"], folder, environment)

    # The main process has written the validated sheet; find it by its content, as a job's variable names it.
    validated = sorted((folder / ".snakemake/oncofactor").glob("samples-*.parquet"), key=lambda path: path.stat().st_mtime)[-1]
    job_environment = {**environment, VALIDATED_SHEET_VARIABLE: str(validated)}
    first = sheet["sample_id"].iloc[0]
    job = [*snakemake, "--target-jobs", f"harmonize_sample:sample={first}", "--allowed-rules", "harmonize_sample",
           "--mode", "remote", "--cores", "1", "-n"]
    runs = [timed(job, folder, job_environment) for _ in range(JOB_RUNS)]
    return {
        "samples": samples, "dag_wall_s": dag_wall, "dag_cpu_s": dag_cpu,
        "job_start_wall_s": float(np.median([wall for wall, _ in runs])),
        "job_start_cpu_s": float(np.median([cpu for _, cpu in runs])),
    }


def summary(table: pd.DataFrame) -> str:
    smallest = table.iloc[0]
    lines = [
        "# Job start-up and DAG construction by sheet size",
        "",
        f"Medians of {JOB_RUNS} job parses; one dry run per size. Ratios against the {int(smallest['samples'])}-sample sheet.",
        "",
        "| samples | main dry run (validation + DAG), wall / CPU | one job's parse, wall / CPU | job CPU ratio |",
        "| --- | --- | --- | --- |",
    ]
    for row in table.itertuples():
        lines.append(f"| {row.samples:,} | {row.dag_wall_s:.1f} s / {row.dag_cpu_s:.1f} s | {row.job_start_wall_s:.2f} s / "
                     f"{row.job_start_cpu_s:.2f} s | {row.job_start_cpu_s / smallest['job_start_cpu_s']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[20, 400, 2000])
    args = parser.parse_args()
    work = REPO / "benchmarks/work/job_startup"
    cohort = work / "cohort"
    if not (cohort / "samples.tsv").exists():
        simulate_cohort(SimulationParams(), cohort)
    table = pd.DataFrame([measure(work, cohort, samples) for samples in sorted(args.samples)])
    out = REPO / "benchmarks/results"
    out.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out / "job_startup.parquet", index=False)
    (out / "job_startup.md").write_text(summary(table))
    print(summary(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
