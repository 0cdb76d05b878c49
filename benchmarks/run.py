"""Benchmark the pipeline at a named cohort scale, beside the one-process baseline.

    .venv/bin/python benchmarks/run.py S          # the example cohort
    .venv/bin/python benchmarks/run.py M          # 50 patients, 5,000 cells and a 3,000-spot section each
    .venv/bin/python benchmarks/run.py L          # 200 patients, same per patient (on request only)
    .venv/bin/python benchmarks/run.py M --genes 20000   # M with a whole transcriptome's genes

The scales simulate 1,000 genes by default (about 410 detected per cell); --genes 20000 gives about
1,600 detected genes per cell and 2,100 per spot from the same ~2,500 and ~4,000 UMIs, as in real
10x data, and names the run <scale>-<genes>genes.

Simulates the cohort (once) under benchmarks/work/<scale>/, times Snakemake's DAG construction
(a dry run), runs the pipeline with the local profile on 2 cores, runs benchmarks/baseline.py under /usr/bin/time,
times reading each sample's matrix (the floor for harmonization), and writes every rule's
`benchmark:` TSV with the in-step times to benchmarks/results/<scale>.parquet and a summary to
benchmarks/results/<scale>.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil

from oncofactor.simulate import SimulationParams, simulate_cohort

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SCALES = {
    "S": SimulationParams(),
    "M": SimulationParams(patients=50, cells_per_sample=5000, spots_per_section=3000),
    "L": SimulationParams(patients=200, cells_per_sample=5000, spots_per_section=3000),
}
FLOOR_SCRIPT = """
import sys, time
import pandas as pd
from oncofactor.config import load_config
from oncofactor.harmonize import read_sample
config = load_config(sys.argv[1])
samples = pd.read_parquet(sys.argv[2])
for sample in samples.to_dict("records"):
    started = time.perf_counter()
    read_sample(sample, config)
    print(sample["sample_id"], time.perf_counter() - started, sep="\\t")
"""


def timed(command: list[str], cwd: Path, log: Path) -> tuple[float, float]:
    """Wall seconds of the command, and the CPU seconds of its own process (for Snakemake: the
    scheduler's work, without its jobs), sampled every 0.1 s until it exits."""
    started = time.perf_counter()
    own_cpu = 0.0
    with log.open("w") as handle:
        process = subprocess.Popen(command, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT)
        watched = psutil.Process(process.pid)
        while process.poll() is None:
            with contextlib.suppress(psutil.Error):
                cpu = watched.cpu_times()
                own_cpu = cpu.user + cpu.system
            time.sleep(0.1)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return time.perf_counter() - started, own_cpu


def benchmark_tables(run: Path) -> pd.DataFrame:
    """One row per job: job (the benchmark file's path under results/benchmarks), stage (its rule,
    which names the file or the folder of a rule's per-wildcard files), seconds, peak RSS (MB), CPU time."""
    rows = []
    for path in sorted((run / "results/benchmarks").rglob("*.tsv")):
        table = pd.read_csv(path, sep="\t")
        job = str(path.relative_to(run / "results/benchmarks").with_suffix(""))
        rows.append({"job": job, "s": table["s"].iloc[0], "max_rss_mb": table["max_rss"].iloc[0], "cpu_time": table["cpu_time"].iloc[0]})
    table = pd.DataFrame(rows)
    table["stage"] = table["job"].str.split("/").str[0]
    return table


def in_step_times(run: Path) -> pd.DataFrame:
    """harmonize_sample's own timing lines (logs/harmonized/<sample>.log)."""
    rows = []
    pattern = re.compile(r"timing: read ([\d.]+) s, harmonize ([\d.]+) s, write ([\d.]+) s, morans_i ([\d.]+) s, (\d+) observations")
    for log in sorted((run / "logs/harmonized").glob("*.log")):
        match = pattern.search(log.read_text())
        if match:
            rows.append({"sample_id": log.stem, "job_read_s": float(match[1]), "harmonize_s": float(match[2]), "write_s": float(match[3]),
                         "morans_i_s": float(match[4]), "observations": int(match[5])})
    return pd.DataFrame(rows)


def read_floor(run: Path, config: str) -> pd.DataFrame:
    """sample_id, read_s: each sample of the run's sample table read once more, all in one warm process."""
    command = [str(BIN / "python"), "-c", FLOOR_SCRIPT, config, "results/inputs/samples.parquet"]
    floor = subprocess.run(command, cwd=run, capture_output=True, text=True, check=True)
    return pd.read_csv(io.StringIO(floor.stdout), sep="\t", names=["sample_id", "read_s"])


def harmonize_steps(run: Path, jobs: pd.DataFrame, floor: pd.DataFrame) -> pd.DataFrame:
    """One row per harmonize_sample job: its modality, logged in-step times, the warm read floor, the
    job's benchmark seconds and peak RSS, and the fixed cost (benchmark seconds not logged in-step)."""
    modality = pd.read_parquet(run / "results/inputs/samples.parquet")[["sample_id", "modality"]]
    steps = in_step_times(run).merge(floor, on="sample_id", how="left").merge(modality, on="sample_id")
    harmonize = jobs[jobs["stage"] == "harmonize_sample"].assign(sample_id=lambda t: t["job"].str.split("/").str[1])
    steps = steps.merge(harmonize[["sample_id", "s", "max_rss_mb"]], on="sample_id")
    steps["in_step_s"] = steps["job_read_s"] + steps["harmonize_s"]  # reading and harmonizing, as the step does
    steps["fixed_s"] = steps["s"] - steps["in_step_s"] - steps["write_s"] - steps["morans_i_s"]
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the pipeline and the baseline at a cohort scale.")
    parser.add_argument("scale", choices=sorted(SCALES))
    parser.add_argument("--genes", type=int, default=SCALES["S"].genes, help="genes simulated")
    parser.add_argument("--no-baseline", action="store_true", help="skip the one-process baseline")
    args = parser.parse_args()
    params = dataclasses.replace(SCALES[args.scale], genes=args.genes)
    name = args.scale if args.genes == SCALES["S"].genes else f"{args.scale}-{args.genes}genes"
    work = REPO / "benchmarks/work" / name
    cohort, run, baseline = work / "cohort", work / "pipeline", work / "baseline"
    results = REPO / "benchmarks/results"
    results.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)

    if not (cohort / "samples.tsv").exists():
        started = time.perf_counter()
        simulate_cohort(params, cohort)
        print(f"simulated {name} in {time.perf_counter() - started:.0f} s", flush=True)
    config = str(cohort / "config.yaml")
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir()
    # The local profile, as `make run` uses it, on 2 cores.
    snakemake = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"),
                 "--configfile", config, "--cores", "2"]
    figures = {"scale": name}
    figures["dag_s"], _ = timed(snakemake + ["--dry-run", "--quiet", "all"], run, work / "dryrun.log")
    # First the analysis the baseline does (harmonization, views with Moran's I, MOFA restarts and
    # model), then the rest (Harmony embedding, clinical analyses, report) in the same folder.
    figures["pipeline_to_mofa_s"], figures["snakemake_cpu_s"] = timed(snakemake + ["results/mofa/model.hdf5"], run, work / "pipeline_to_mofa.log")
    figures["pipeline_s"] = figures["pipeline_to_mofa_s"] + timed(snakemake, run, work / "pipeline.log")[0]
    print(f"pipeline to MOFA {figures['pipeline_to_mofa_s']:.0f} s, whole {figures['pipeline_s']:.0f} s", flush=True)

    if not args.no_baseline:
        shutil.rmtree(baseline, ignore_errors=True)
        time_file = work / "baseline.time"
        command = ["/usr/bin/time", "-f", "%e %M", "-o", str(time_file), str(BIN / "python"), str(REPO / "benchmarks/baseline.py"), "--config", config, "--out", str(baseline)]
        with (work / "baseline.log").open("w") as handle:
            finished = subprocess.run(command, cwd=work, stdout=handle, stderr=subprocess.STDOUT)
        # /usr/bin/time writes its figures also when the baseline fails (for example killed for memory).
        wall, peak_kb = time_file.read_text().split()[-2:]
        figures["baseline_s"], figures["baseline_peak_mb"] = float(wall), int(peak_kb) / 1024
        figures["baseline_exit"] = finished.returncode
        print(f"baseline {figures['baseline_s']:.0f} s, {figures['baseline_peak_mb']:.0f} MB, exit {finished.returncode}", flush=True)

    jobs = benchmark_tables(run)
    steps = harmonize_steps(run, jobs, read_floor(run, config))
    jobs.assign(scale=name).to_parquet(results / f"{name}.parquet", index=False)
    steps.assign(scale=name).to_parquet(results / f"{name}_harmonize.parquet", index=False)
    (results / f"{name}.md").write_text(summary(name, params, figures, jobs, steps))
    print((results / f"{name}.md").read_text())


def summary(scale: str, params: SimulationParams, figures: dict, jobs: pd.DataFrame, steps: pd.DataFrame) -> str:
    stages = jobs.groupby("stage").agg(jobs=("s", "size"), total_s=("s", "sum"), median_s=("s", "median"), max_s=("s", "max"),
                                       max_rss_mb=("max_rss_mb", "max")).sort_values("total_s", ascending=False)
    cells = steps["observations"].sum()
    lines = [
        f"# Benchmark {scale}: {params.patients} patients, {params.cells_per_sample} cells per scRNA sample, "
        f"{params.spots_per_section} spots per section, {params.genes} genes; 2 cores",
        "",
        f"- Snakemake DAG construction and scheduling (dry run): {figures['dag_s']:.1f} s",
        f"- pipeline wall time to the MOFA model (the baseline's analysis): {figures['pipeline_to_mofa_s']:.0f} s; whole pipeline "
        f"(with Harmony embedding, clinical analyses, report): {figures['pipeline_s']:.0f} s",
        f"- Snakemake's own CPU time (its process, not its jobs) up to the MOFA model: {figures['snakemake_cpu_s']:.0f} s",
        f"- largest job peak RSS: {jobs['max_rss_mb'].max():.0f} MB ({jobs.loc[jobs['max_rss_mb'].idxmax(), 'job']}); largest per-sample job: "
        f"{steps['max_rss_mb'].max():.0f} MB",
    ]
    if figures.get("baseline_exit"):
        lines += [
            f"- baseline (one process) did NOT complete: exit status {figures['baseline_exit']} after {figures['baseline_s']:.0f} s "
            f"at peak RSS {figures['baseline_peak_mb']:.0f} MB (see baseline.log)",
        ]
    elif "baseline_s" in figures:
        lines += [
            f"- baseline (one process): {figures['baseline_s']:.0f} s, peak RSS {figures['baseline_peak_mb']:.0f} MB",
            f"- pipeline to MOFA / baseline wall time: {figures['pipeline_to_mofa_s'] / figures['baseline_s']:.2f}; largest job / baseline peak RSS: "
            f"{jobs['max_rss_mb'].max() / figures['baseline_peak_mb']:.2f}",
        ]
    lines += [
        f"- harmonization: {cells} observations in {steps['s'].sum():.0f} job-seconds ({cells / steps['s'].sum():.0f} per second per core, "
        f"{cells / steps['in_step_s'].sum():.0f} per second in-step)",
        f"- per harmonize_sample job: fixed cost (interpreter, imports, Snakemake) median {steps['fixed_s'].median():.2f} s, "
        f"max {steps['fixed_s'].max():.2f} s",
        f"- in-step (read and harmonize) / read floor (warm, one process for all samples): median "
        f"{(steps['in_step_s'] / steps['read_s']).median():.2f}, max {(steps['in_step_s'] / steps['read_s']).max():.2f}; "
        f"/ the job's own read: median {(steps['in_step_s'] / steps['job_read_s']).median():.2f}, max {(steps['in_step_s'] / steps['job_read_s']).max():.2f}",
        "",
        "Per harmonize_sample job, by modality (ratios: in-step read and harmonize over a read of the same matrix):",
        "",
        "```",
        by_modality(steps).to_string(),
        "```",
        "",
        "```",
        stages.round(1).to_string(),
        "```",
        "",
    ]
    return "\n".join(lines)


def by_modality(steps: pd.DataFrame) -> pd.DataFrame:
    """Per modality: samples, median read and in-step seconds, in-step / the job's own read and / the
    warm read floor (median, max, samples over 2), fixed cost (median, max) and the largest peak RSS."""
    steps = steps.assign(over_own=steps["in_step_s"] / steps["job_read_s"], over_floor=steps["in_step_s"] / steps["read_s"])
    table = steps.groupby("modality").agg(
        samples=("sample_id", "size"), read_s=("job_read_s", "median"), in_step_s=("in_step_s", "median"),
        own_read_median=("over_own", "median"), own_read_max=("over_own", "max"), own_read_over_2=("over_own", lambda r: int((r > 2).sum())),
        floor_median=("over_floor", "median"), floor_max=("over_floor", "max"), floor_over_2=("over_floor", lambda r: int((r > 2).sum())),
        fixed_median_s=("fixed_s", "median"), fixed_max_s=("fixed_s", "max"), max_rss_mb=("max_rss_mb", "max"),
    )
    return table.round(2)


if __name__ == "__main__":
    main()
