"""The conda environments and the lock file pin the same versions."""

from __future__ import annotations

import json
import re
import tomllib

import pytest
import yaml

from conftest import REPO

LOCK_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions() -> dict[str, str]:
    versions = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        match = LOCK_LINE.match(line)
        if match:
            versions[canonical(match.group(1))] = match.group(2)
    return versions


def test_lock_pins_every_dependency_once():
    versions = locked_versions()
    assert len(versions) > 50
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    for requirement in wanted:
        name = canonical(re.split(r"[<>=!~\[; ]", requirement)[0])
        assert name in versions, f"{name} is a dependency but not in requirements.lock"
    lines = (REPO / "requirements.lock").read_text()
    assert "--hash=sha256:" in lines


ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))
RULE_ENV = re.compile(r'conda:\s*\n\s*"\.\./\.\./envs/([^"]+)"')


def pip_requirements(path) -> list[str]:
    """The pip packages of a conda environment file, as written (name==version)."""
    env = yaml.safe_load(path.read_text())
    return next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)


def test_there_are_conda_environments():
    assert ENV_FILES


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_conda_environment_pins_the_locked_versions(path):
    env = yaml.safe_load(path.read_text())
    locked = locked_versions()
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = pip_requirements(path)
    python = next(d for d in conda if d.startswith("python="))
    assert tuple(map(int, python.split("=")[1].split(".")[:2])) >= (3, 11)
    assert set(conda) <= {python, "pip"}, "packages come from PyPI with the lock's versions, not from conda"
    assert pip
    for requirement in pip:
        name, _, version = requirement.partition("==")
        assert version, f"{requirement} in {path.name} is not pinned with =="
        assert locked.get(canonical(name)) == version, f"{path.name} pins {requirement}, the lock {locked.get(canonical(name))}"


def test_every_rule_environment_exists():
    rules = "\n".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    named = set(RULE_ENV.findall(rules))
    assert named, "rules name their conda environments"
    assert named <= {p.name for p in ENV_FILES}


DOCKER_INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(instruction, arguments) per logical line: comments dropped, backslash continuations joined."""
    logical, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            logical.append(current.strip())
            current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return [tuple(line.split(None, 1)) for line in logical]


def test_container_installs_from_the_lock():
    """The container cannot be built here (no registry); it must parse and install exactly the lock."""
    instructions = dockerfile_instructions((REPO / "Dockerfile").read_text())
    assert all(name in DOCKER_INSTRUCTIONS for name, _ in instructions), instructions
    assert instructions[0][0] == "FROM"
    python = re.match(r"python:(\d+)\.(\d+)\.\d+-slim", instructions[0][1])
    assert python and (int(python[1]), int(python[2])) == (3, 11), "the same Python the lock was resolved for"
    installs = [arguments for name, arguments in instructions if name == "RUN" and "pip install" in arguments]
    assert len(installs) == 1
    assert "--require-hashes --no-deps -r requirements.lock" in installs[0], "every package from the lock, with hashes, nothing else"
    assert "--no-deps ." in installs[0], "oncofactor itself without resolving anything beyond the lock"
    copied = " ".join(arguments for name, arguments in instructions if name == "COPY")
    for path in ("requirements.lock", "src", "Snakefile", "workflow", "config", "envs"):
        assert path in copied.split(), path
    entrypoint = json.loads(next(arguments for name, arguments in instructions if name == "ENTRYPOINT"))
    assert entrypoint[:3] == ["snakemake", "--snakefile", "/opt/oncofactor/Snakefile"]
