"""The Snakemake workflow: a dry run of the shipped config, a real run, and a run stopped by bad input."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
from pathlib import Path

import anndata as ad
import mudata
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import BIN, FINISHED_JOB, REPO, finished_jobs
from oncofactor.simulate import SimulationParams, simulate_cohort

pytestmark = pytest.mark.workflow


def snakemake(*args, cwd) -> subprocess.CompletedProcess:
    command = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--cores", "2", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd)


def job_counts(console: str) -> dict[str, int]:
    """Jobs per rule from the first "Job stats" table Snakemake prints."""
    table = console.split("Job stats:")[1].split("\n\n")[0].splitlines()[3:]
    return {name: int(count) for name, count in (line.split() for line in table if line.strip())}


def test_dry_run_of_the_example_config(tmp_path):
    simulate_cohort(SimulationParams(), tmp_path / "resources" / "example_cohort")
    result = snakemake("-n", "--configfile", REPO / "config" / "config.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "validated_inputs" in result.stdout and "mofa_restart" in result.stdout
    assert "mefisto_section" not in result.stdout, "MEFISTO is off by default"
    assert not (tmp_path / "results").exists()

    config = (REPO / "config" / "config.yaml").read_text() + "\nmefisto:\n  enabled: true\n"
    (tmp_path / "mefisto.yaml").write_text(config)
    result = snakemake("-n", "--configfile", tmp_path / "mefisto.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    sections = pd.read_csv(tmp_path / "resources/example_cohort/samples.tsv", sep="\t").query("modality == 'spatial'")
    assert job_counts(result.stdout)["mefisto_section"] == len(sections)


def test_local_runs_use_the_default_profile(tmp_path):
    """A plain `snakemake` (no profile flag) and `oncofactor run` both read the workflow's settings."""
    run_recipe = (REPO / "Makefile").read_text().split("\nrun:")[1].split("\n\n")[0]
    assert "oncofactor run" in run_recipe
    simulate_cohort(SimulationParams(), tmp_path / "resources" / "example_cohort")
    config = str(REPO / "config" / "config.yaml")
    for command in ([str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--cores", "2", "-n", "--configfile", config],
                    [str(BIN / "oncofactor"), "run", "-n", "--configfile", config]):
        result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        console = result.stdout + result.stderr
        assert f"workflow specific profile {REPO / 'profiles/default'}" in console, console[:2000]
    assert (REPO / "profiles/default").resolve() == (REPO / "workflow/profiles/default").resolve()


def test_a_malformed_config_is_named_with_its_line(tmp_path):
    (tmp_path / "my.yaml").write_text("clinical:\n  path: clinical.tsv\n   id_column: patient\n")
    result = subprocess.run([str(BIN / "oncofactor"), "run", "--configfile", "my.yaml"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "oncofactor run: my.yaml, line 3, column 13: not valid YAML (mapping values are not allowed here); fix the file and run again"
    assert not (tmp_path / ".snakemake").exists()


def test_a_user_config_stands_alone(small_cohort, tmp_path):
    """In a checkout after `make run` (config/config.yaml and the example cohort present), a user's
    config is not merged into the example's: no example tables, no inherited clinical columns, and
    the workflow resolves the config exactly as `oncofactor validate` does."""
    import yaml

    from oncofactor.config import load_config

    workdir = tmp_path / "checkout"
    (workdir / "config").mkdir(parents=True)
    shutil.copy(REPO / "config/config.yaml", workdir / "config/config.yaml")
    simulate_cohort(SimulationParams(), workdir / "resources/example_cohort")
    user = {
        "samples": str(small_cohort / "samples.tsv"),
        "clinical": {"path": str(small_cohort / "clinical.tsv"), "response": "response"},
    }
    (tmp_path / "user.yaml").write_text(yaml.safe_dump(user))

    # --quiet host: the jobs' inputs on the console (the profile's quiet: [rules] hides them).
    result = snakemake("-n", "--quiet", "host", "--configfile", tmp_path / "user.yaml", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "results/harmonized/" in result.stdout, "the jobs' inputs and outputs are shown"
    assert "feature_set_enrichment" not in result.stdout, "the example's GMT leaked into the user's config"
    assert "resources/example_cohort" not in result.stdout, "the example's tables leaked into the user's config"

    result = snakemake("results/provenance/config.yaml", "--configfile", tmp_path / "user.yaml", cwd=workdir)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load((workdir / "results/provenance/config.yaml").read_text())
    assert resolved == load_config(tmp_path / "user.yaml")
    assert resolved["clinical"]["survival_time"] is None and resolved["clinical"]["categorical"] == []
    assert resolved["extra_views"] == [] and resolved["feature_sets"]["gmt"] == []

    # With no --configfile the example config is still the default (what `make run` runs).
    result = snakemake("-n", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "feature_set_enrichment" in result.stdout


def test_the_console_has_one_line_per_finished_job(small_run):
    console = small_run.console
    jobs = finished_jobs(console)
    total = sum(count for rule, count in job_counts(console).items() if rule != "total")
    assert len(jobs) == total and [int(job[1]) for job in jobs] == list(range(1, total + 1)), console[-3000:]
    sheet = small_run.cohort.read("samples.tsv")
    assert sorted(job[4] for job in jobs if job[3] == "harmonize_sample") == sorted(sheet["sample_id"])
    assert {job[3] for job in jobs} == set(job_counts(console)) - {"total"}
    for snakemake_default in ("Finished jobid", "Select jobs to execute", "Execute 1 jobs", "steps ("):
        assert snakemake_default not in console
    assert "Report: results/report/oncofactor_report.html" in console.splitlines()[-5:], console[-1000:]
    # Snakemake's header and job stats, a line per job, the left-out items, the report's path.
    assert len(console.splitlines()) < total + 80, console


def test_run_writes_every_stage(small_run, tmp_path):
    cohort, workdir = small_run.cohort, small_run.workdir
    samples = pd.read_parquet(workdir / "results/inputs/samples.parquet")
    sheet = cohort.read("samples.tsv")
    assert list(samples["sample_id"]) == list(sheet["sample_id"])
    assert list(samples["path"]) == list(sheet["path"])
    clinical = pd.read_parquet(workdir / "results/inputs/clinical.parquet")
    assert len(clinical) == len(cohort.read("clinical.tsv")) and clinical["os_months"].dtype.kind == "f"
    ctc = pd.read_parquet(workdir / "results/inputs/ctc_enumeration.parquet")
    assert len(ctc) == len(cohort.read("ctc_enumeration.tsv")) and ctc["blood_volume_ml"].notna().all()
    assert "wrote" in (workdir / "logs/validated_inputs.log").read_text()

    qc = pd.read_parquet(workdir / "results/harmonized/qc.parquet")
    assert set(qc["sample_id"]) == set(sheet["sample_id"])
    assert set(qc["modality"]) == {"scrna", "spatial", "ctc_scrna"}
    genes = pd.read_parquet(workdir / "results/harmonized/gene_harmonization.parquet")
    assert set(genes["sample_id"]) == set(sheet["sample_id"])
    for sample_id in sheet["sample_id"]:
        adata = ad.read_h5ad(workdir / f"results/harmonized/{sample_id}.h5ad")
        assert adata.n_obs == qc.query("sample_id == @sample_id")["passed_qc"].sum()
        assert "counts" in adata.layers

    mdata = mudata.read_h5mu(workdir / "results/integration/views.h5mu")
    assert any(name.startswith("rna:") for name in mdata.mod) and "mutations" in mdata.mod
    long = pd.read_parquet(workdir / "results/integration/views_long.parquet")
    assert set(long["view"]) == set(mdata.mod)
    coverage = pd.read_parquet(workdir / "results/integration/coverage.parquet")
    assert set(coverage["patient_id"]) == set(cohort.read("clinical.tsv")["patient_id"])

    tables = ["factors", "weights", "variance_explained", "top_features", "factor_support", "preprocessing"]
    first = {name: pd.read_parquet(workdir / f"results/mofa/{name}.parquet") for name in tables}
    assert set(first["factors"]["sample"]) == set(mdata.obs_names)
    assert (first["factor_support"][["n_restarts", "n_resamples", "n_null_fits"]] == [2, 2, 1]).all().all()
    runs = sorted(path.name for path in (workdir / "results/mofa/resamples").iterdir())
    assert runs == ["permuted_0.hdf5", "subsample_0_0.hdf5", "subsample_0_1.hdf5", "subsample_1_0.hdf5", "subsample_1_1.hdf5"]
    assert (workdir / "results/mofa/model.hdf5").exists()
    with_factors = mudata.read_h5mu(workdir / "results/integration/views_mofa.h5mu")
    assert with_factors.obsm["X_mofa"].shape == (mdata.n_obs, first["factors"]["factor"].nunique())

    # Projecting the training patients back onto the model gives back their factors.
    projected = workdir / "projected.parquet"
    command = [str(BIN / "oncofactor"), "project", "--model", "results/mofa", "--views", "results/integration/views.h5mu", "--out", str(projected)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=workdir)
    assert result.returncode == 0, result.stderr
    scores = pd.read_parquet(projected).pivot(index="sample", columns="factor", values="value")
    trained = first["factors"].pivot(index="sample", columns="factor", values="value").loc[scores.index]
    assert scores["Factor1"].corr(trained["Factor1"]) > 0.9

    # Training again in new processes gives the same values.
    result = snakemake("--configfile", small_run.config, "--forcerun", "mofa_restart", cwd=workdir)
    assert result.returncode == 0, result.stderr
    for name in tables:
        pd.testing.assert_frame_equal(pd.read_parquet(workdir / f"results/mofa/{name}.parquet"), first[name])

    # Changing a MOFA option reruns MOFA only, not the harmonization before it.
    changed = yaml.safe_load(small_run.config.read_text())
    changed["mofa"]["factors"] = 3
    (tmp_path / "changed.yaml").write_text(yaml.safe_dump(changed))
    result = snakemake("-n", "--configfile", tmp_path / "changed.yaml", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "mofa_restart" in result.stdout and "mofa_model" in result.stdout
    for rule in ("harmonize_sample", "gene_map", "views", "validated_inputs"):
        assert f"{rule} " not in result.stdout.split("Job stats:")[1].split("Reasons:")[0], rule


def test_the_model_file_opens_in_mofax_with_its_training_data(small_run):
    """results/mofa/model.hdf5 holds the data it was trained on, as mofax and MOFA2 read it: per view
    the training values (Gaussian views centred per feature, as mofapy2 trains them), for the
    patients and features of the factor and weight tables."""
    import mofax

    from oncofactor.config import load_config
    from oncofactor.mofa import strip_view, training_data

    workdir = small_run.workdir
    settings = load_config(small_run.config)["mofa"]
    data = training_data(str(workdir / "results/integration/views.h5mu"), settings)
    factors = pd.read_parquet(workdir / "results/mofa/factors.parquet")
    weights = pd.read_parquet(workdir / "results/mofa/weights.parquet")
    model = mofax.mofa_model(str(workdir / "results/mofa/model.hdf5"))
    try:
        assert model.shape == (len(data.samples), sum(len(features) for features in data.features.values()))
        for view in model.views:
            values = model.get_data(views=view, df=True)
            expected = data.views[view] - (np.nanmean(data.views[view], axis=0) if data.likelihoods[view] == "gaussian" else 0)
            np.testing.assert_allclose(values.to_numpy(), expected, atol=1e-5)
            assert list(values.index) == list(data.samples) and set(values.index) == set(factors["sample"])
            assert sorted(strip_view(f, view) for f in values.columns) == sorted(weights.loc[weights["view"] == view, "feature"].unique())
    finally:
        model.close()


def test_a_harmonized_section_plots_with_scanpy_as_it_is(small_run):
    """sc.pl.spatial draws a harmonized Visium section on its tissue image with no extra argument:
    uns['spatial'] holds the section's images and scale factors under its sample ID."""
    import matplotlib

    matplotlib.use("Agg")
    import scanpy as sc

    sheet = small_run.cohort.read("samples.tsv")
    sample_id = sheet.query("modality == 'spatial'")["sample_id"].iloc[0]
    adata = ad.read_h5ad(small_run.workdir / f"results/harmonized/{sample_id}.h5ad")
    assert list(adata.uns["spatial"]) == [sample_id]
    assert {"hires", "lowres"} <= set(adata.uns["spatial"][sample_id]["images"])
    axes = sc.pl.spatial(adata, color="total_counts", show=False)
    assert axes[0].images, "the tissue image is drawn"


def test_a_harmonized_section_works_with_squidpy_as_it_is(small_run):
    """squidpy builds its Visium grid graph and computes Moran's I on a harmonized section with no
    adaptation. On a 6-nearest-spots graph, as the pipeline's spatial_pattern table uses, its values
    follow ours (not exactly: squidpy's kNN graph is not made symmetric as ours is)."""
    import squidpy as sq
    from scipy.stats import pearsonr

    sheet = small_run.cohort.read("samples.tsv")
    sample_id = sheet.query("modality == 'spatial'")["sample_id"].iloc[0]
    adata = ad.read_h5ad(small_run.workdir / f"results/harmonized/{sample_id}.h5ad")
    ours = pd.read_parquet(small_run.workdir / f"results/harmonized/spatial_pattern/{sample_id}.parquet").set_index("gene")["morans_i"]

    def squidpy_morans_i():
        sq.gr.spatial_autocorr(adata, mode="moran", genes=list(ours.index), n_perms=None, n_jobs=1, show_progress_bar=False)
        return adata.uns["moranI"]["I"].reindex(ours.index)

    sq.gr.spatial_neighbors_grid(adata)
    neighbours = np.asarray(adata.obsp["spatial_connectivities"].sum(axis=1)).ravel()
    assert neighbours.max() == 6 and neighbours.mean() > 4, "spots sit on the Visium hexagonal grid"
    assert squidpy_morans_i().notna().all()
    sq.gr.spatial_neighbors_knn(adata, n_neighs=6)
    assert pearsonr(ours, squidpy_morans_i()).statistic > 0.95


def test_every_parquet_file_names_its_run(small_run):
    """Every Parquet file of a run carries the checksum of the run's whole config (one value for the
    run, the checksum of the config the run resolved) and the git revision it was written from, beside
    its rule's own settings checksum; duckdb reads every file."""
    import duckdb

    from oncofactor.config import load_config
    from oncofactor.result_files import config_checksum

    files = sorted((small_run.workdir / "results").rglob("*.parquet"))
    assert len(files) > 50
    metadata = {path: pq.read_schema(path).metadata for path in files}
    assert {m[b"run_config_sha256"].decode() for m in metadata.values()} == {config_checksum(load_config(small_run.config))}
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    revisions = {m[b"git_revision"].decode() for m in metadata.values()}
    assert len(revisions) == 1 and revisions.pop().startswith(head)
    pipeline = yaml.safe_load((small_run.workdir / "results/provenance/pipeline.yaml").read_text())
    assert pipeline["run_config_sha256"] == config_checksum(load_config(small_run.config)) and pipeline["git_revision"].startswith(head)
    assert len({m[b"config_sha256"] for m in metadata.values()}) > 1, "each rule's settings have their own checksum"
    with duckdb.connect() as connection:
        for path in files:
            rows = connection.execute("select count(*) from read_parquet(?)", [str(path)]).fetchone()[0]
            assert rows == pq.read_metadata(path).num_rows, path


def test_bad_inputs_stop_the_run_before_any_job(cohort, tmp_path):
    cohort.set_cell("samples.tsv", 0, "format", "loom")
    cohort.set_cell("ctc_enumeration.tsv", 2, "ctc_count", "-2")
    workdir = tmp_path / "run"
    workdir.mkdir()
    result = snakemake("--configfile", cohort.write_config(), cwd=workdir)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "2 error(s) in the inputs; nothing was run" in output
    assert f"{cohort.path('samples.tsv')}, line 2, column 'format': 'loom'" in output
    assert f"{cohort.path('ctc_enumeration.tsv')}, line 4, column 'ctc_count': -2" in output
    assert not (workdir / "results").exists()
    assert not (workdir / "logs").exists()


def test_bad_config_stops_the_run(cohort, tmp_path):
    cohort.raw_config["ctc"]["default_blood_volume_ml"] = 0
    result = snakemake("-n", "--configfile", cohort.write_config(), cwd=tmp_path)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "key 'ctc.default_blood_volume_ml': 0 is less than or equal to the minimum of 0" in output


def test_patient_level_tables_alone_run_to_the_report(small_cohort, tmp_path):
    """No sample sheet and no CTC table (the CLL cohort's shape): the clinical table and an extra view
    run from validation to the report, with empty QC tables instead of a crash."""
    import yaml

    config = {
        "clinical": {"path": str(small_cohort / "clinical.tsv"), "response": "response"},
        "extra_views": [{"name": "mutations", "path": str(small_cohort / "mutations.tsv"), "orientation": "samples_by_features", "likelihood": "bernoulli"}],
        # Ten mutations of eight patients carry too little for a factor above the default min_r2;
        # what is tested here is that the run has a shape for no samples, not what it finds.
        "mofa": {"factors": 2, "restarts": 2, "min_r2": 0.0, "resamples": 2, "resample_restarts": 1, "null_fits": 1},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("--configfile", tmp_path / "config.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-5000:]
    assert pd.read_parquet(tmp_path / "results/harmonized/qc.parquet").empty
    assert "No sample sheet" in (tmp_path / "results/report/oncofactor_report.html").read_text()
    factors = pd.read_parquet(tmp_path / "results/mofa/factors.parquet")
    assert set(factors["sample"]) == set(pd.read_csv(small_cohort / "mutations.tsv", sep="\t").iloc[:, 0])


def _same_outputs(first: Path, second: Path) -> list[str]:
    """The Parquet, h5ad and h5mu files under results/ of both runs, each compared by value."""
    names = sorted(str(p.relative_to(first)) for p in (first / "results").rglob("*") if p.suffix in (".parquet", ".h5ad", ".h5mu"))
    assert names == sorted(str(p.relative_to(second)) for p in (second / "results").rglob("*") if p.suffix in (".parquet", ".h5ad", ".h5mu"))
    for name in names:
        if name.endswith(".parquet"):
            pd.testing.assert_frame_equal(pd.read_parquet(first / name), pd.read_parquet(second / name), obj=name)
            continue
        read = mudata.read_h5mu if name.endswith(".h5mu") else ad.read_h5ad
        a, b = read(first / name), read(second / name)
        for x, y in ([(a, b)] if name.endswith(".h5ad") else [(a.mod[k], b.mod[k]) for k in a.mod]):
            left, right = (m.X.toarray() if hasattr(m.X, "toarray") else np.asarray(m.X) for m in (x, y))
            np.testing.assert_array_equal(left, right, err_msg=name)
            pd.testing.assert_frame_equal(x.obs, y.obs, obj=name)
            pd.testing.assert_frame_equal(x.var, y.var, obj=name)
    return names


def test_a_killed_run_resumes_to_the_same_outputs(small_run, tmp_path):
    # A random job, reproducible from the failure message.
    seed = random.SystemRandom().randrange(1_000_000)
    kill_after = random.Random(seed).randint(1, len(finished_jobs(small_run.console)) - 1)
    command = [str(BIN / "oncofactor"), "run", "--cores", "2", "--configfile", str(small_run.config)]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    finished = 0
    for line in process.stdout:
        finished += bool(FINISHED_JOB.match(line.rstrip("\n")))
        if finished == kill_after:
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.wait()
    assert finished == kill_after, f"seed {seed}: the run ended after {finished} jobs"
    assert list((tmp_path / ".snakemake/locks").glob("*.lock")), f"seed {seed}: the killed run left no lock"

    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, f"seed {seed} (killed after job {kill_after}): {result.stderr[-3000:]}"
    assert "removed the lock a stopped run left" in result.stderr
    assert len(_same_outputs(small_run.workdir, tmp_path)) > 50
