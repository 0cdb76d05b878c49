"""A job's own output goes to its log; the console gets one line when it fails."""

from __future__ import annotations

import subprocess
import sys
import textwrap


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
