"""A workflow job's log, and the one line per failed job that the end of a run shows.

Every script starts with `start_job(snakemake)`: its log lines, and whatever the job or its
libraries print (warnings, progress, C-level messages), go to the job's log file; when it fails,
the traceback goes there too, and the error's own message goes, as one line, to the console and to
`<log>.error` beside the log. The Snakefile's `onerror` handler lists those lines
(`failed_job_lines`), so a failed run ends with what went wrong in each job, not with Snakemake's
"At least one job did not complete successfully".
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime
from pathlib import Path

ERROR_SUFFIX = ".error"
LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def error_line(error: BaseException) -> str:
    """The one line shown for a failed job: the message of oncofactor's own errors (they say what
    to fix), the exception's type and message for anything else."""
    message = " ".join(str(error).split()) or type(error).__name__
    if type(error).__module__.startswith("oncofactor"):
        return message
    return f"{type(error).__name__}: {message} (unexpected: the traceback is in the log; please report it)"


def start_job(snakemake) -> logging.Logger:
    """Send the job's logging to its first log file and set how a failure is reported (see the
    module docstring). Returns the root logger."""
    log = Path(snakemake.log[0])
    log.parent.mkdir(parents=True, exist_ok=True)
    marker = log.with_name(log.name + ERROR_SUFFIX)
    marker.unlink(missing_ok=True)  # a retry that succeeds leaves no earlier failure behind
    logging.basicConfig(filename=log, level=logging.INFO, format=LOG_FORMAT, force=True)
    console = _send_output_to(log)
    job = f"{snakemake.rule}" + (f" ({', '.join(f'{k}={v}' for k, v in snakemake.wildcards.items())})" if len(snakemake.wildcards) else "")

    def report_failure(kind, error, traceback):
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, traceback)
            return
        logging.getLogger().error("%s failed", job, exc_info=(kind, error, traceback))
        line = error_line(error)
        marker.write_text(f"{job}: {line} (log: {log})\n")
        print(f"oncofactor: {job} failed: {line} (traceback in {log})", file=console)

    sys.excepthook = report_failure
    return logging.getLogger()


def _send_output_to(log: Path):
    """Point the process's stdout and stderr (file descriptors 1 and 2, so C libraries' messages as
    well) at `log`, so a run's console holds only Snakemake's progress and one line per failure.
    Returns a stream to the console as it was."""
    sys.stdout.flush()
    sys.stderr.flush()
    console = os.fdopen(os.dup(2), "w", buffering=1)
    target = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.dup2(target, 1)
    os.dup2(target, 2)
    os.close(target)
    # A file makes Python buffer stdout by blocks: mofapy2's per-iteration lines (ELBO, time) would
    # reach the log only when training ends. Line by line, `tail -f` on the log follows the fit.
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    return console


def failed_job_lines(log_root: str | Path, since: str) -> list[str]:
    """One line per job of this run (started at `since`, ISO 8601) that failed, read from the
    `.error` files under `log_root`; none when no job failed that way."""
    started = datetime.fromisoformat(since).timestamp()
    markers = sorted(p for p in Path(log_root).rglob(f"*.log{ERROR_SUFFIX}") if p.stat().st_mtime >= started - 1)
    if not markers:
        return []
    return [f"{len(markers)} job(s) failed:"] + [f"  {p.read_text().strip()}" for p in markers]
