"""A job's own output goes to its log; the console gets one line when it fails."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time


def test_a_job_prints_to_its_log_and_fails_in_one_console_line(tmp_path):
    log = tmp_path / "logs" / "step.log"
    script = textwrap.dedent(f"""
        import logging, os, warnings
        from types import SimpleNamespace
        from oncofactor.job_log import start_job
        snakemake = SimpleNamespace(log=[{str(log)!r}], rule="harmonize_sample", wildcards={{"sample": "P001"}})
        start_job(snakemake)
        print("a library's progress line")
        warnings.warn("a library's warning")
        os.write(2, b"a C library's message\\n")
        logging.info("262 of 276 cells passed QC")
        raise ValueError("the counts are negative")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"oncofactor: harmonize_sample (sample=P001) failed: ValueError: the counts are negative "
        f"(unexpected: the traceback is in the log; please report it) (traceback in {log})"]
    written = log.read_text()
    for line in ("a library's progress line", "a library's warning", "a C library's message", "262 of 276 cells passed QC",
                 "Traceback (most recent call last)", "ValueError: the counts are negative"):
        assert line in written, line
    assert (tmp_path / "logs" / "step.log.error").read_text().startswith("harmonize_sample (sample=P001): ValueError")


def test_what_a_job_prints_reaches_its_log_while_it_runs(tmp_path):
    """mofapy2 prints one line per iteration: each is in the log as it is printed, not when the job
    ends, so the log shows how training goes."""
    log = tmp_path / "step.log"
    done = tmp_path / "done"
    script = textwrap.dedent(f"""
        import os, time
        from types import SimpleNamespace
        from oncofactor.job_log import start_job
        start_job(SimpleNamespace(log=[{str(log)!r}], rule="mofa_restart", wildcards={{}}))
        print("Iteration 1: time=0.01, ELBO=-1234.5")
        while not os.path.exists({str(done)!r}):  # the job goes on until the test has read its log
            time.sleep(0.05)
    """)
    # As in a user's shell: this machine's PYTHONUNBUFFERED would hide the buffering.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    process = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "Iteration 1" not in (log.read_text() if log.exists() else ""):
            time.sleep(0.1)
        assert process.poll() is None, "the job was still running"
        assert "Iteration 1: time=0.01, ELBO=-1234.5" in log.read_text()
    finally:
        done.touch()
        process.wait(timeout=30)
