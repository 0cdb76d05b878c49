"""oncofactor's console for Snakemake (`--logger oncofactor`, set by the workflow profile).

With the profile's `quiet: [rules]`, each finished job is one line: the time, the run's progress,
the rule, its wildcards and how long since it started, e.g.

    18:01:41  12/125  harmonize_sample P002_scrna_2 (1.9 s)

Snakemake's default console prints four to six lines for the same job (its timestamp, "Finished
jobid: 12 (Rule: harmonize_sample)" without the sample, the progress, "Select jobs to execute...",
"Execute 1 jobs..."). Everything else (job stats, warnings, errors, the run summary) goes through
Snakemake's own filter and formatter unchanged; without `rules` in quiet (`--quiet host`) the
console is Snakemake's default.
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import datetime

from snakemake.logging import DefaultFilter, DefaultFormatter
from snakemake.settings.enums import Quietness
from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.common import LogEvent

# Logged by Snakemake's scheduler at every round in which it looks for jobs to start.
SCHEDULING_MESSAGE = "Select jobs to execute..."


def job_label(rule: str, wildcards: dict | None) -> str:
    """The rule and what tells its job apart: the wildcard's value when there is one
    (`harmonize_sample P002_scrna_2`), name=value pairs when there are several."""
    values = {key: value for key, value in (wildcards or {}).items() if not key.startswith("_")}
    if len(values) == 1:
        return f"{rule} {next(iter(values.values()))}"
    return " ".join([rule, *(f"{key}={value}" for key, value in values.items())])


def elapsed(seconds: float) -> str:
    """`1.9 s`, `42 s`, `3 min 5 s`."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


class LogHandler(LogHandlerBase):
    def __post_init__(self) -> None:
        settings = self.common_settings
        self._filter = DefaultFilter(settings.quiet, settings.debug_dag, settings.verbose, settings.dryrun, settings.printshellcmds)
        self._formatter = DefaultFormatter(settings.quiet, settings.show_failed_logs)
        self._one_line_per_job = Quietness.RULES in (settings.quiet or ())
        self._stream = sys.stdout if settings.stdout else sys.stderr
        self._labels: dict[int, str] = {}
        self._started: dict[int, float] = {}
        self._finished: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self._text(record)
            if text:
                self._stream.write(text + "\n")
                self._stream.flush()
        except Exception:  # a handler must not end the run (logging's own convention)
            self.handleError(record)

    def _text(self, record: logging.LogRecord) -> str | None:
        if not self._one_line_per_job:
            return self._formatter.format(record) if self._filter.filter(record) else None
        event = getattr(record, "event", None)
        if event == LogEvent.JOB_INFO:
            self._labels[record.jobid] = job_label(record.rule_name, record.wildcards)
        elif event == LogEvent.JOB_STARTED:
            now = time.monotonic()
            self._started.update((jobid, now) for jobid in record.jobs)
            return None
        elif event == LogEvent.JOB_FINISHED:
            self._finished.append(record.job_id)  # written with the progress record that follows
            return None
        elif event == LogEvent.PROGRESS:
            finished, self._finished = self._finished, []
            if not self._filter.filter(record):
                return None
            # A group job's members finish together, with one progress record for all of them.
            first = record.done - len(finished) + 1
            return "\n".join(self._job_line(jobid, first + i, record.total) for i, jobid in enumerate(finished)) or None
        elif record.msg == SCHEDULING_MESSAGE:
            return None
        return self._formatter.format(record) if self._filter.filter(record) else None

    def _job_line(self, jobid: int, done: int, total: int) -> str:
        clock = datetime.now().strftime("%H:%M:%S")
        label = self._labels.pop(jobid, f"job {jobid}")
        started = self._started.pop(jobid, None)
        took = f" ({elapsed(time.monotonic() - started)})" if started is not None else ""
        return f"{clock}  {done:>{len(str(total))}}/{total}  {label}{took}"

    @property
    def writes_to_stream(self) -> bool:
        return True

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return True

    @property
    def has_formatter(self) -> bool:
        return True

    @property
    def needs_rulegraph(self) -> bool:
        return False
