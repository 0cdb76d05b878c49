"""`oncofactor run`: Snakemake on this checkout's workflow, with what a rerun after a crash needs.

Before handing over to Snakemake (same arguments, plus this checkout's Snakefile and local profile
unless given), it checks that every --configfile is valid YAML, naming the file, line and column
(Snakemake says only "Config file is not valid JSON or YAML"), and removes a stale lock: after a
kill or a power loss Snakemake refuses every rerun until `--unlock`. The lock is removed only when no
Snakemake process of this machine works in the folder; a run from another machine on a shared file
system cannot be seen from here, so there the README's advice stands (unlock by hand, when sure).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "Snakefile"


def _values(args: list[str], *names: str) -> list[str]:
    """The values given to any of the options `names` (each may take several, as --configfile)."""
    values, taking = [], False
    for arg in args:
        if arg in names:
            taking = True
            continue
        key, sep, value = arg.partition("=")
        if sep and key in names:
            values.append(value)
            taking = False
        elif taking and not arg.startswith("-"):
            values.append(arg)
        else:
            taking = False
    return values


def yaml_problems(paths: list[str]) -> list[str]:
    """One line per config file that cannot be read or is not valid YAML, with its line and column."""
    problems = []
    for path in paths:
        try:
            yaml.safe_load(Path(path).read_text())
        except OSError as error:
            problems.append(f"{path}: cannot be read ({error.strerror or error})")
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            what = " ".join(filter(None, [getattr(error, "context", None), getattr(error, "problem", None)])) or str(error)
            problems.append(f"{path}{where}: not valid YAML ({what}); fix the file and run again")
    return problems


def snakemake_processes(folder: Path) -> list[int]:
    """PIDs of the Snakemake processes of this machine whose working directory is `folder`."""
    folder = folder.resolve()
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "cwd"]):
        info = process.info
        if info["pid"] == os.getpid() or not info["cmdline"] or not info["cwd"]:
            continue
        if any(Path(part).name == "snakemake" for part in info["cmdline"][:3]) and Path(info["cwd"]).resolve() == folder:
            found.append(info["pid"])
    return found


def remove_stale_lock(folder: Path) -> str:
    """Remove the Snakemake lock of `folder` (what `snakemake --unlock` removes) when no Snakemake
    process works there. Returns what was done, '' when there was no lock."""
    locks = sorted((folder / ".snakemake" / "locks").glob("*.lock"))
    if not locks:
        return ""
    alive = snakemake_processes(folder)
    if alive:
        return f"Snakemake process {', '.join(map(str, alive))} works in {folder}; its lock is kept"
    for lock in locks:
        lock.unlink(missing_ok=True)
    return f"removed the lock a stopped run left in {folder} (no Snakemake process works there)"


def snakemake_command(args: list[str]) -> list[str]:
    """The Snakemake command line: `args`, with this checkout's Snakefile unless `args` name their own
    (Snakemake reads the workflow profile beside it, profiles/default, by itself)."""
    command = [str(Path(sys.executable).parent / "snakemake")]
    if not _values(args, "-s", "--snakefile"):
        command += ["--snakefile", str(SNAKEFILE)]
    return command + args


def run(args: list[str]) -> int:
    """Check the config files, remove a stale lock, then become Snakemake (never returns then)."""
    problems = yaml_problems(_values(args, "--configfile", "--configfiles"))
    for problem in problems:
        print(f"oncofactor run: {problem}", file=sys.stderr)
    if problems:
        return 1
    directory = _values(args, "-d", "--directory")
    said = remove_stale_lock(Path(directory[-1]) if directory else Path.cwd())
    if said:
        print(f"oncofactor run: {said}", file=sys.stderr)
    command = snakemake_command(args)
    os.execv(command[0], command)
