"""Shared fixtures: a small simulated cohort, an editable copy of its tables, the real shared data."""

from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from oncofactor.config import check_config
from oncofactor.simulate import QUIRKS, SimulationParams, simulate_cohort

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
BIN = Path(sys.executable).parent
# A finished job as the workflow profile's console writes it: "18:01:41  12/125  harmonize_sample P002_scrna (1.9 s)".
FINISHED_JOB = re.compile(r"^\d\d:\d\d:\d\d +(\d+)/(\d+) +(\S+)(?: (.+?))? \((?:\d+\.\d s|\d+ s|\d+ min \d+ s)\)$")


def finished_jobs(console: str) -> list[re.Match]:
    """The console's finished-job lines, in order (groups: done, total, rule, wildcards)."""
    return [match for line in console.splitlines() if (match := FINISHED_JOB.match(line))]


# Clean cohorts (no real-data quirks): what the tests of each step measure against.
SMALL = SimulationParams(patients=8, seed=3, cells_per_sample=80, spots_per_section=60, genes=1000, quirks=())
TRUTH = SimulationParams(patients=30, seed=5, cells_per_sample=300, spots_per_section=100, genes=1000, quirks=())
# Every shape of real data the simulator can write, each on its own patient (oncofactor.simulate.QUIRKS).
QUIRKY = SimulationParams(patients=16, seed=4, cells_per_sample=250, spots_per_section=80, genes=1000, quirks=tuple(QUIRKS))


def synthetic_views(n_patients=60, seed=0, missing=0.2, sizes=(200, 150, 40)):
    """Three views (a, b, c of `sizes` features) driven by three known factors; some patients miss
    whole views. Returns the MuData
    and the true factors (long: patient_id, factor T1..T3, value)."""
    import anndata as ad
    import mudata

    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_patients, 3))
    patients = [f"P{i:03d}" for i in range(n_patients)]
    views = {}
    for name, n_features, used in zip("abc", sizes, ([0, 1], [1, 2], [0, 2])):
        weights = np.zeros((3, n_features))
        for k in used:
            weights[k, rng.choice(n_features, n_features // 3, replace=False)] = rng.normal(0, 1.5, n_features // 3)
        values = z @ weights + rng.normal(0, 1, (n_patients, n_features))
        keep = rng.random(n_patients) > missing
        view = ad.AnnData(values[keep].astype(np.float32), obs=pd.DataFrame(index=np.array(patients)[keep]))
        view.var_names = [f"{name}:g{j}" for j in range(n_features)]
        views[name] = view
    mdata = mudata.MuData(views)
    mdata.obs["group"] = "all"
    truth = pd.DataFrame(z, index=patients, columns=["T1", "T2", "T3"]).rename_axis("patient_id").reset_index()
    return mdata, truth.melt(id_vars="patient_id", var_name="factor", value_name="value")


@pytest.fixture(scope="session")
def small_cohort(tmp_path_factory) -> Path:
    """A simulated 8-patient cohort (read-only for tests: copy before editing)."""
    return simulate_cohort(SMALL, tmp_path_factory.mktemp("small") / "cohort")


@pytest.fixture(scope="session")
def truth_cohort(tmp_path_factory) -> Path:
    """30 patients: enough to see each factor's effects across patients (read-only for tests)."""
    return simulate_cohort(TRUTH, tmp_path_factory.mktemp("truth") / "cohort")


@pytest.fixture(scope="session")
def quirky_cohort(tmp_path_factory) -> Path:
    """16 patients with every real-data quirk of the simulator (read-only for tests)."""
    return simulate_cohort(QUIRKY, tmp_path_factory.mktemp("quirky") / "cohort")


@pytest.fixture(scope="session")
def example_run(tmp_path_factory) -> Path:
    """The shipped config on the default simulated cohort, run to the end locally (read-only)."""
    import subprocess

    workdir = tmp_path_factory.mktemp("example")
    simulate_cohort(SimulationParams(), workdir / "resources" / "example_cohort")
    command = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--cores", "2", "--configfile", str(REPO / "config/config.yaml")]
    result = subprocess.run(command, capture_output=True, text=True, cwd=workdir)
    assert result.returncode == 0, result.stderr[-5000:]
    (workdir / "console.txt").write_text(result.stdout + result.stderr)
    return workdir


# MOFA settings small enough for whole-workflow runs in the tests.
SMALL_MOFA = {"factors": 4, "restarts": 2, "resamples": 2, "resample_restarts": 2, "null_fits": 1}


@dataclass
class WorkflowRun:
    cohort: EditableCohort
    config: Path
    workdir: Path
    console: str


@pytest.fixture(scope="session")
def small_run(small_cohort, tmp_path_factory) -> WorkflowRun:
    """The small cohort (SMALL_MOFA) run to the end with plain `snakemake` (read-only: tests that
    change the config write their own copy)."""
    import subprocess

    cohort = EditableCohort(small_cohort, tmp_path_factory.mktemp("small_run_tables"))
    cohort.raw_config["mofa"] = dict(SMALL_MOFA)
    config = cohort.write_config()
    workdir = tmp_path_factory.mktemp("small_run")
    command = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--cores", "2", "--configfile", str(config)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=workdir)
    assert result.returncode == 0, result.stderr[-5000:]
    return WorkflowRun(cohort, config, workdir, result.stdout + result.stderr)


def trained_cll(shared_data: Path, outfile: Path, **clinical):
    """MOFA (seed 1, default settings) on the CLL drug-response and mutation views.

    `clinical` adds keys to the config's clinical section. Returns the config, the model and its
    factor summary.
    """
    import mudata

    from oncofactor.mofa import prepare_views, read_model, summarize_factors, train
    from oncofactor.views import extra_view

    folder = shared_data / "bioFAM_cellij/cellij/data"
    config = check_config({
        "clinical": {"path": str(folder / "cll_metadata.csv"), "id_column": "Sample", **clinical},
        "extra_views": [
            {"name": "drugs", "path": str(folder / "cll_drugs.csv"), "orientation": "features_by_samples"},
            {"name": "mutations", "path": str(folder / "cll_mutations.csv"), "orientation": "features_by_samples", "likelihood": "bernoulli"},
        ],
    })
    mdata = mudata.MuData({view["name"]: extra_view(view) for view in config["extra_views"]})
    mdata.obs["group"] = "all"
    train(prepare_views(mdata, config["mofa"]), config["mofa"], 1, str(outfile))
    model = read_model(str(outfile))
    return config, model, summarize_factors(model, config["mofa"]["min_r2"])


def run_committed_cohort(cohort: Path, workdir: Path) -> str:
    """Run a committed cohort config (tests/real_cohort, tests/cll_cohort: tables named from the
    repository root) with the README's command (`snakemake --configfile
    config.yaml`) in `workdir`, its table paths made absolute; skip when ../shared/data is absent.
    Asserts the run succeeds and returns its console output."""
    import subprocess

    import yaml

    if not SHARED_DATA.is_dir():
        pytest.skip(f"real public datasets not found at {SHARED_DATA} (they live beside the repository, not in it)")
    config = yaml.safe_load((cohort / "config.yaml").read_text())
    if config.get("samples"):
        config["samples"] = str(REPO / config["samples"])
    config["clinical"]["path"] = str(REPO / config["clinical"]["path"])
    for view in config.get("extra_views", []):
        view["path"] = str(REPO / view["path"])
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    command = [
        str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"),
        "--configfile", "config.yaml",
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=workdir)
    assert result.returncode == 0, result.stderr[-5000:]
    return result.stdout + result.stderr


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real public datasets not found at {SHARED_DATA} (they live beside the repository, not in it)")
    return SHARED_DATA


def views_in_process(cohort: Path, view_settings: dict | None = None):
    """The workflow's steps up to the views, called in this process on a simulated cohort.

    The same package functions the rules run, without Snakemake's per-job start-up, so tests can
    take a cohort of 100 patients to MOFA in about a minute. Returns (config, inputs, harmonized
    samples by ID, pseudobulk sums, views MuData).
    """
    import pandas as pd

    from oncofactor.config import load_config
    from oncofactor.harmonize import cohort_gene_map, harmonize_sample
    from oncofactor.validation import validate_inputs
    from oncofactor.pseudobulk import sample_pseudobulk
    from oncofactor.spatial_pattern import section_pattern
    from oncofactor.views import build_views

    config = load_config(cohort / "config.yaml")  # the simulator wrote absolute paths
    config["views"].update(view_settings or {})
    inputs = validate_inputs(config)
    gene_map = cohort_gene_map(inputs.samples, config)
    harmonized = {s["sample_id"]: harmonize_sample(s, config, gene_map).adata for s in inputs.samples.to_dict("records")}
    exclude = config["views"]["exclude_cell_types"]
    pseudobulks = [sample_pseudobulk(a, exclude) for a in harmonized.values()]
    patterns = pd.concat([section_pattern(a) for a in harmonized.values()])
    mdata, _, _ = build_views(pseudobulks, patterns, inputs.ctc, inputs.clinical, inputs.samples, config)
    return config, inputs, harmonized, pseudobulks, mdata


class EditableCohort:
    """The small cohort's tables copied into a folder of their own, with data paths made absolute.

    Tests change one thing (a cell, a row, a config key) and check what validation says about it.
    """

    def __init__(self, cohort: Path, folder: Path):
        self.folder = folder
        for name in ("clinical.tsv", "ctc_enumeration.tsv", "mutations.tsv"):
            shutil.copy(cohort / name, folder / name)
        sheet = pd.read_csv(cohort / "samples.tsv", sep="\t", dtype=str)
        sheet["path"] = [str(cohort / p) for p in sheet["path"]]
        if "cell_metadata" in sheet:
            sheet["cell_metadata"] = [str(cohort / p) if isinstance(p, str) and p else p for p in sheet["cell_metadata"]]
        sheet.to_csv(folder / "samples.tsv", sep="\t", index=False)
        config = yaml.safe_load((cohort / "config.yaml").read_text())
        config["samples"] = str(folder / "samples.tsv")
        config["clinical"]["path"] = str(folder / "clinical.tsv")
        config["ctc"]["enumeration"] = str(folder / "ctc_enumeration.tsv")
        config["extra_views"][0]["path"] = str(folder / "mutations.tsv")
        self.raw_config = config

    @property
    def config(self) -> dict:
        return check_config(self.raw_config)

    def path(self, name: str) -> Path:
        return self.folder / name

    def read(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.path(name), sep="\t", dtype=str, keep_default_na=False)

    def write(self, name: str, table: pd.DataFrame) -> None:
        table.to_csv(self.path(name), sep="\t", index=False)

    def set_cell(self, name: str, row: int, column: str, value: str) -> None:
        """Set a value by 0-based data row; that row is line row + 2 of the file."""
        table = self.read(name)
        table.loc[row, column] = value
        self.write(name, table)

    def write_config(self) -> Path:
        path = self.folder / "config.yaml"
        path.write_text(yaml.safe_dump(self.raw_config))
        return path


@pytest.fixture
def cohort(small_cohort, tmp_path) -> EditableCohort:
    return EditableCohort(small_cohort, tmp_path)
