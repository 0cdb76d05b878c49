"""Each conda environment in envs/ is complete: its pip packages, installed alone into a fresh venv
(versions from requirements.lock), import every module that its rules' scripts import, directly
or through the oncofactor modules they use, at the top or inside a function.

`snakemake --sdm conda` cannot run here (no conda), so the environments are checked as pip would
install them inside conda. Snakemake appends the main environment's sys.path to a script's, which
hides a missing package wherever the main environment is at hand; a fresh venv does not.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import REPO
from test_environment import ENV_FILES, RULE_ENV, locked_versions, pip_requirements

RULE = re.compile(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", re.MULTILINE)
SCRIPT = re.compile(r'script:\s*\n\s*"\.\./scripts/([^"]+)"')


def rule_scripts() -> dict[str, set[str]]:
    """Environment file name -> the scripts of the rules that name it."""
    scripts: dict[str, set[str]] = {}
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for name, body in RULE.findall(smk.read_text()):
            conda, script = RULE_ENV.search(body), SCRIPT.search(body)
            assert conda, f"rule {name} in {smk.name} names no conda environment"
            assert script, f"rule {name} in {smk.name} runs no script"
            scripts.setdefault(conda.group(1), set()).add(script.group(1))
    return scripts


def imported_modules(path: Path, seen: set[Path] | None = None) -> set[str]:
    """Every module a Python file imports anywhere in it, following oncofactor's own modules into
    their files; oncofactor's modules themselves and the standard library are left out."""
    seen = set() if seen is None else seen
    if path in seen:
        return set()
    seen.add(path)
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            if name == "oncofactor" or name.startswith("oncofactor."):
                parts = name.split(".")[1:] or ["__init__"]
                module = REPO / "src" / "oncofactor" / Path(*parts)
                modules |= imported_modules(module.with_suffix(".py") if module.with_suffix(".py").exists() else module / "__init__.py", seen)
            elif name.split(".")[0] not in sys.stdlib_module_names:
                modules.add(name)
    return modules


def build_venv(env_file: Path, folder: Path, constraints: Path) -> subprocess.CompletedProcess:
    """A fresh venv in `folder` with the environment's pip packages, every version constrained by
    `constraints` (pip takes the wheels from its cache or the configured index)."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    return subprocess.run([str(folder / "bin/python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "-c", str(constraints), *pip_requirements(env_file)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def venvs(tmp_path_factory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """One fresh venv per environment file, built two at a time."""
    root = tmp_path_factory.mktemp("envs")
    constraints = root / "lock_constraints.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in locked_versions().items()))
    with ThreadPoolExecutor(max_workers=2) as pool:
        built = {path.name: pool.submit(build_venv, path, root / path.stem, constraints) for path in ENV_FILES}
    return {name: (root / Path(name).stem, future.result()) for name, future in built.items()}


def test_every_environment_serves_a_rule():
    assert set(rule_scripts()) == {path.name for path in ENV_FILES}


def test_the_import_scan_follows_oncofactor_modules_and_function_bodies():
    """The scan is what the environment test relies on: harmonize_sample.py imports no scanpy
    itself, but oncofactor.doublets does, inside the function that calls Scrublet."""
    script = REPO / "workflow/scripts/harmonize_sample.py"
    assert "scanpy" not in script.read_text()
    modules = imported_modules(script)
    assert "scanpy" in modules and "pandas" in modules
    assert not any(name.startswith("oncofactor") or name in ("logging", "os") for name in modules)


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_environment_imports_what_its_rules_import(env_file, venvs):
    folder, install = venvs[env_file.name]
    assert install.returncode == 0, f"pip could not install {env_file.name}: {install.stderr[-2000:]}"
    scripts = sorted(rule_scripts()[env_file.name])
    needed: dict[str, list[str]] = {}
    for script in scripts:
        for module in imported_modules(REPO / "workflow/scripts" / script):
            needed.setdefault(module, []).append(script)
    probe = textwrap.dedent(f"""
        import importlib, json
        failed = {{}}
        for name in {sorted(needed)!r}:
            try:
                importlib.import_module(name)
            except Exception as error:
                failed[name] = f"{{type(error).__name__}}: {{error}}"
        print(json.dumps(failed))
    """)
    result = subprocess.run([str(folder / "bin/python"), "-c", probe], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "src"), "HOME": str(folder)})
    assert result.returncode == 0, result.stderr[-2000:]
    failed = json.loads(result.stdout.strip().splitlines()[-1])
    assert not failed, "\n".join(f"{env_file.name} cannot import {name} ({', '.join(needed[name])}): {error}" for name, error in failed.items())
