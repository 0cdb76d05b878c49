"""Steps that run once per sample, or that only move tables, import only what they need: every such
job pays its imports again, so an analysis library pulled in by accident costs seconds per sample."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow/scripts"
# Libraries these steps do not use, with their import cost measured here: scanpy ~3 s (and numba's
# compilation on first use), muon ~3 s, mofapy2, matplotlib, scikit-learn, lifelines; scipy.io ~50 ms
# (only MEX folders need it, and the MEX reader imports it itself).
NOT_NEEDED = ["scanpy", "muon", "mofapy2", "numba", "matplotlib", "sklearn", "lifelines", "scipy.io"]


def script_imports(script: Path) -> str:
    """The script's top-level import statements, as source."""
    tree = ast.parse(script.read_text())
    return "\n".join(ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))


@pytest.mark.parametrize("script", ["harmonize_sample.py", "gene_map.py", "harmonization_tables.py", "views.py"])
def test_step_loads_no_library_it_does_not_use(script):
    imports = script_imports(SCRIPTS / script)
    assert "oncofactor" in imports  # the parse found the script's imports
    probe = f"{imports}\nimport sys\nprint(' '.join(name for name in {NOT_NEEDED!r} if name in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == [], f"{script} imports {', '.join(loaded)} at start-up"
