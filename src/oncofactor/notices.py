"""What a run left out or warns about, as structured records.

Each step that leaves something out (a sample, a view, a gene set) or keeps it with a caveat writes
its notices as a Parquet table beside its results. The end-of-run console summary and the report's
data section both read these tables, so the two always say the same thing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

NOTICE_COLUMNS = ["step", "kind", "subject", "outcome", "reason", "fix"]
LEFT_OUT, WARNING = "left out", "warning"
# The kind of a validation warning that a sample will be left out by a later step.
FORECAST = "forecast"


@dataclass(frozen=True)
class Notice:
    """One thing a step left out or warns about.

    step: the workflow step that decided (validate, harmonize, views, batch_embedding, mofa, ...).
    kind: what it concerns (sample, view, modality, genes, cells, feature_set, factors, model).
    subject: its name (a sample ID, a view name, ...).
    outcome: LEFT_OUT (not used by the rest of the run) or WARNING (used, with a caveat).
    reason: what was found, with numbers. fix: what to try, or '' when nothing is to be done.
    """

    step: str
    kind: str
    subject: str
    outcome: str
    reason: str
    fix: str = ""

    def __post_init__(self):
        if self.outcome not in (LEFT_OUT, WARNING):
            raise ValueError(f"outcome must be {LEFT_OUT!r} or {WARNING!r}, got {self.outcome!r}")

    def __str__(self) -> str:
        text = f"{self.kind} {self.subject} {self.outcome} ({self.step}): {self.reason}"
        return f"{text}; {self.fix}" if self.fix else text


def notices_table(notices: list[Notice]) -> pd.DataFrame:
    """The notices as a table with NOTICE_COLUMNS (no rows when there are none)."""
    return pd.DataFrame([asdict(n) for n in notices], columns=NOTICE_COLUMNS).astype(str)


def read_notices(paths) -> pd.DataFrame:
    """The notices of every existing file in `paths`, in the order given, repeats removed. A
    FORECAST (validation's warning that a sample will be left out) is dropped once a later step has
    left the sample out: that step's notice says why, with its numbers."""
    tables = [pd.read_parquet(path) for path in paths if Path(path).exists()]
    table = pd.concat(tables, ignore_index=True) if tables else notices_table([])
    table = table[NOTICE_COLUMNS].drop_duplicates(ignore_index=True)
    left_out = set(table.loc[(table["outcome"] == LEFT_OUT) & (table["kind"] == "sample"), "subject"])
    fulfilled = (table["kind"] == FORECAST) & table["subject"].isin(left_out)
    return table[~fulfilled].reset_index(drop=True)


def from_table(table: pd.DataFrame) -> list[Notice]:
    return [Notice(**row) for row in table[NOTICE_COLUMNS].to_dict("records")]


def summary_lines(table: pd.DataFrame) -> list[str]:
    """The console summary: a count, then one line per notice, what was left out first."""
    if table.empty:
        return ["Nothing was left out and there are no warnings."]
    ordered = pd.concat([table[table["outcome"] == LEFT_OUT], table[table["outcome"] != LEFT_OUT]])
    left_out, warnings = int((table["outcome"] == LEFT_OUT).sum()), int((table["outcome"] != LEFT_OUT).sum())
    lines = [f"{left_out} item(s) left out of the run, {warnings} warning(s):"]
    return lines + [f"  {notice}" for notice in from_table(ordered)]


def run_summary(paths, since: str, report: str | None = None) -> list[str]:
    """The end-of-run console lines: the notices of the tables in `paths` that were written at or
    after `since` (ISO 8601; tables of earlier runs are not this run's news, but they are pointed
    to), then where the report is."""
    from datetime import datetime

    started = datetime.fromisoformat(since).timestamp()
    existing = [path for path in paths if Path(path).exists()]
    fresh = [path for path in existing if Path(path).stat().st_mtime >= started - 1]
    lines = summary_lines(read_notices(fresh)) if fresh else []
    if not fresh and existing:
        lines.append(f"This run did not rebuild what records the left-out items; an earlier run's are in {', '.join(existing)}")
    if report and Path(report).exists():
        lines.append(f"Report: {report}")
    return lines
