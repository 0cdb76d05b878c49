"""MOFA+: input checks, training guards, result tables, and recovery of known factors."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import replace

import mudata
import numpy as np
import pandas as pd
import pytest
from conftest import BIN, synthetic_views, trained_cll

from oncofactor.config import check_config
from oncofactor.mofa import (
    MofaData,
    MofaInputError,
    MofaTrainingError,
    best_restart,
    check_model,
    prepare_views,
    read_model,
    regress_batches,
    result_tables,
    summarize_factors,
    train,
    training_data,
    view_batches,
)
from oncofactor.recovery import factor_recovery

SETTINGS = check_config({"samples": "s.tsv", "clinical": {"path": "c.tsv"}, "mofa": {"factors": 5}})["mofa"]
mudata.set_options(pull_on_update=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    mdata, truth = synthetic_views()
    data = prepare_views(mdata, SETTINGS)
    folder = tmp_path_factory.mktemp("mofa")
    paths = []
    for seed in (1, 2, 3):
        train(data, SETTINGS, seed, str(folder / f"seed_{seed}.hdf5"))
        paths.append(str(folder / f"seed_{seed}.hdf5"))
    return mdata, truth, paths


def test_training_recovers_known_factors(trained):
    _, truth, paths = trained
    model = read_model(paths[0])
    summary = summarize_factors(model, SETTINGS["min_r2"])
    factors = model.factors[list(summary.mapping.values())].set_axis(list(summary.mapping), axis=1)
    long = factors.rename_axis("sample").reset_index().melt(id_vars="sample", var_name="factor", value_name="value")
    scores = factor_recovery(truth, long)
    assert (scores > 0.9).all(), scores


def test_same_seed_same_model(trained, tmp_path):
    mdata, _, paths = trained
    train(prepare_views(mdata, SETTINGS), SETTINGS, 1, str(tmp_path / "again.hdf5"))
    first, again = read_model(paths[0]), read_model(str(tmp_path / "again.hdf5"))
    assert np.array_equal(first.factors.to_numpy(), again.factors.to_numpy())
    assert first.elbo == again.elbo


def test_the_best_restart_has_the_highest_elbo(trained):
    _, _, paths = trained
    models = [read_model(path) for path in paths]
    chosen = best_restart(models)
    assert all(models[chosen].elbo >= model.elbo for model in models)
    assert best_restart([replace(models[0], elbo=-5.0), replace(models[1], elbo=-2.0), replace(models[2], elbo=-9.0)]) == 1


def test_result_tables_contract(trained):
    _, _, paths = trained
    models = [read_model(p) for p in paths]
    best = models[0]
    summary = summarize_factors(best, SETTINGS["min_r2"])
    tables = result_tables(best, summary, SETTINGS)
    assert list(tables["factors"].columns) == ["sample", "group", "factor", "value"]
    assert list(tables["weights"].columns) == ["view", "feature", "factor", "weight", "scaled_weight"]
    assert list(tables["variance_explained"].columns) == ["group", "view", "factor", "r2"]
    assert list(tables["top_features"].columns) == ["factor", "view", "rank", "feature", "weight"]
    names = list(summary.mapping)
    assert names == [f"Factor{i + 1}" for i in range(len(names))]
    variance = tables["variance_explained"].query("factor != 'total'").groupby("factor")["r2"].sum()
    assert list(variance.loc[names]) == sorted(variance, reverse=True), "Factor1 explains most"
    assert tables["weights"]["scaled_weight"].abs().max() == pytest.approx(1.0)
    assert not tables["weights"]["feature"].str.contains(":").any(), "features without their view prefix"
    assert set(tables["factors"]["factor"]) == set(tables["weights"]["factor"]) == set(names)
    totals = tables["variance_explained"].query("factor == 'total'")
    assert set(totals["view"]) == {"a", "b", "c"} and totals["r2"].between(0, 1).all()
    top = tables["top_features"]
    assert top.groupby(["factor", "view"])["rank"].max().max() == SETTINGS["top_features"]


def test_factor_signs_do_not_depend_on_the_sign_mofapy2_returned(trained):
    model = read_model(trained[2][0])
    summary = summarize_factors(model, SETTINGS["min_r2"])
    tables = result_tables(model, summary, SETTINGS)
    # The same model with every factor negated (scores and weights together, as MOFA may return it).
    negated = replace(model, factors=-model.factors, weights={view: -w for view, w in model.weights.items()})
    negated_summary = summarize_factors(negated, SETTINGS["min_r2"])
    again = result_tables(negated, negated_summary, SETTINGS)
    for key in ("factors", "weights", "top_features"):
        pd.testing.assert_frame_equal(tables[key], again[key], obj=key)
    assert (tables["orientation"]["flipped"] != again["orientation"]["flipped"]).all()

    weights = tables["weights"]
    factors = tables["factors"].pivot(index="sample", columns="factor", values="value")
    for row in tables["orientation"].itertuples():
        # Its largest weights are positive in the view it explains most...
        view_r2 = tables["variance_explained"].query("factor == @row.factor").set_index("view")["r2"]
        assert row.oriented_by_view == view_r2.idxmax()
        in_view = weights.query("factor == @row.factor and view == @row.oriented_by_view")["weight"]
        assert (in_view ** 3).sum() > 0
        # ...and scores and weights changed sign together: their product is the model file's.
        column = f"mofa_{row.model_factor}"
        raw = np.outer(model.factors[column], model.weights[row.oriented_by_view][column])
        oriented = np.outer(factors.loc[model.factors.index, row.factor], in_view)
        np.testing.assert_allclose(oriented, raw, rtol=1e-6, atol=1e-9)
        assert row.flipped == (np.corrcoef(model.factors[column], factors.loc[model.factors.index, row.factor])[0, 1] < 0)


def test_inactive_factors_are_not_reported(trained):
    model = read_model(trained[2][0])
    summary = summarize_factors(model, min_r2=0.05)
    r2 = pd.concat(model.r2.values()).max(axis=0)
    assert set(summary.inactive) == set(r2[r2 < 0.05].index)
    assert set(summary.mapping.values()) == set(r2[r2 >= 0.05].index)
    with pytest.raises(MofaTrainingError, match="no factor explains at least mofa.min_r2 = 0.99 of any view"):
        summarize_factors(model, min_r2=0.99)


def test_input_checks():
    mdata, _ = synthetic_views(n_patients=20)
    view = mdata.mod["c"]
    view.X[0, 0] = np.inf
    with pytest.raises(MofaInputError, match="view c: infinite values"):
        prepare_views(mdata, SETTINGS)
    view.X[0, 0] = 0.5
    with pytest.raises(MofaInputError, match="view c: likelihood bernoulli needs values 0 or 1"):
        prepare_views(mdata, {**SETTINGS, "likelihoods": {"c": "bernoulli"}})
    view.X[:] = 3.0
    with pytest.raises(MofaInputError, match="view c: no feature varies across patients"):
        prepare_views(mdata, SETTINGS)


def test_silent_exit_of_mofapy2_becomes_an_error(tmp_path):
    empty = MofaData(views={}, features={}, likelihoods={}, samples=["a", "b"], groups=["all", "all"])
    with pytest.raises(MofaTrainingError, match=r"mofapy2 stopped \(exit status None\): Error: Data is empty$"):
        train(empty, SETTINGS, 1, str(tmp_path / "m.hdf5"))
    mdata, _ = synthetic_views(n_patients=20)
    data = prepare_views(mdata, SETTINGS)
    data.likelihoods["a"] = "negative_binomial"
    with pytest.raises(MofaTrainingError, match="mofapy2 refused the input: Available likelihoods"):
        train(data, SETTINGS, 1, str(tmp_path / "m.hdf5"))
    assert not (tmp_path / "m.hdf5").exists()


def test_diverged_elbo_is_an_error(trained, tmp_path):
    import shutil

    import h5py

    broken = tmp_path / "broken.hdf5"
    shutil.copyfile(trained[2][0], broken)
    with h5py.File(broken, "r+") as handle:
        elbo = handle["training_stats/elbo"]
        elbo[-3:] = np.nan  # NaN from some iteration on, as a diverged fit leaves it
    with pytest.raises(MofaTrainingError, match="ELBO nan"):
        check_model(str(broken))


def test_training_progress_is_logged_while_it_trains(trained, tmp_path):
    """Each iteration's line (ELBO, its change, factors) is logged as mofapy2 prints it: the first
    arrives before the model file is written, which happens when training ends."""
    mdata, _, _ = trained
    outfile = tmp_path / "progress.hdf5"
    seen = []

    class Watch(logging.Handler):
        def emit(self, record):
            if record.getMessage().startswith("mofapy2: Iteration"):
                seen.append((record.getMessage(), outfile.exists()))

    handler = Watch()
    logging.getLogger("oncofactor.mofa").addHandler(handler)
    previous = logging.getLogger("oncofactor.mofa").level
    logging.getLogger("oncofactor.mofa").setLevel(logging.INFO)
    try:
        train(prepare_views(mdata, SETTINGS), SETTINGS, 1, str(outfile))
    finally:
        logging.getLogger("oncofactor.mofa").removeHandler(handler)
        logging.getLogger("oncofactor.mofa").setLevel(previous)
    assert len(seen) > 5 and "ELBO=" in seen[0][0]
    assert not any(existed for _, existed in seen), "iteration lines arrive while training, before the model is saved"
    assert read_model(str(outfile)).converged


def test_a_fit_stopped_at_the_iteration_limit_is_kept_and_flagged(trained, tmp_path, caplog):
    mdata, _, paths = trained
    # mofapy2 leaves the slot after the last iteration NaN when it stops at the limit; that is not a
    # diverged ELBO (a medium-tolerance null fit of the example cohort failed on it).
    settings = {**SETTINGS, "max_iterations": 12, "convergence_mode": "slow"}
    with caplog.at_level("WARNING", logger="oncofactor.mofa"):
        train(prepare_views(mdata, settings), settings, 1, str(tmp_path / "short.hdf5"))
    short, full = read_model(str(tmp_path / "short.hdf5")), read_model(paths[0])
    assert not short.converged and full.converged
    assert np.isfinite(short.elbo) and short.elbo < full.elbo
    assert "stopped at mofa.max_iterations = 12 before converging" in caplog.text


def test_batch_regression_removes_a_batch_shift():
    mdata, _ = synthetic_views(n_patients=40, missing=0)
    data = prepare_views(mdata, SETTINGS)
    labels = np.where(np.arange(40) % 2 == 0, "run1", "run2")
    shares = pd.get_dummies(pd.Series(labels, index=data.samples)).astype(float)
    data.views["a"][labels == "run2"] += 5.0
    regress_batches(data, {"a": shares})
    means = pd.DataFrame(data.views["a"]).groupby(labels).mean()
    assert np.allclose(means.loc["run1"], means.loc["run2"])
    # The batch a view is corrected for follows the modality the view records, whatever its name.
    mdata.mod["a"].uns["modality"], mdata.mod["b"].uns["modality"] = "spatial", "extra"
    views = mudata.MuData({"rna:T_cell": mdata.mod["a"], "mutations": mdata.mod["b"]})
    views.obsm["batch_scrna"] = pd.DataFrame({"x": 1.0}, index=views.obs_names)
    views.obsm["batch_spatial"] = pd.DataFrame({"y": 1.0}, index=views.obs_names)
    assert list(view_batches(views, views.mod)) == ["rna:T_cell"]
    assert list(view_batches(views, views.mod)["rna:T_cell"].columns) == ["y"]


def test_a_patient_in_two_batches_is_corrected_by_its_mix():
    """A patient whose samples lie half in each batch carries half of each shift: it loses that,
    not the mean of a batch label of its own."""
    rng = np.random.default_rng(5)
    mdata, _ = synthetic_views(n_patients=41, missing=0)
    data = prepare_views(mdata, SETTINGS)
    run2 = np.r_[np.zeros(20), np.ones(20), 0.5]
    shares = pd.DataFrame({"run1": 1 - run2, "run2": run2}, index=data.samples)
    clean = data.views["a"].copy()
    shifted = replace(data, views={"a": clean + run2[:, None] * rng.normal(0, 3, clean.shape[1])})
    regress_batches(shifted, {"a": shares})
    regress_batches(data, {"a": shares})
    def centred(matrix):  # any correction leaves one constant per feature open
        return matrix - matrix.mean(axis=0)

    assert np.allclose(centred(shifted.views["a"]), centred(data.views["a"])), "a shift by the batch shares is removed whole"
    # The mixed patient keeps its own values (less the fitted offsets), where a batch of its own
    # would have set it to the overall mean.
    assert not np.allclose(data.views["a"][-1], clean.mean(axis=0), atol=0.5)


def test_score_recovery_command(tmp_path):
    truth = pd.DataFrame({"patient_id": list("abcdef") * 2, "factor": ["F1"] * 6 + ["F2"] * 6, "value": [1, 2, 3, 4, 5, 6, 1, -1, 1, -1, 1, -1.0]})
    factors = pd.DataFrame({"sample": list("abcdef"), "group": "all", "factor": "Factor1", "value": [-2, -4, -6, -8, -10, -12.0]})
    truth.to_parquet(tmp_path / "truth.parquet")
    factors.to_parquet(tmp_path / "factors.parquet")
    result = subprocess.run([str(BIN / "oncofactor"), "score-recovery", "--truth", tmp_path / "truth.parquet", "--factors", tmp_path / "factors.parquet"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "F1 1.0000"
    assert lines[-1].startswith("mean_recovery ")
    assert float(lines[-1].split()[1]) == pytest.approx((1 + abs(np.corrcoef([1, 2, 3, 4, 5, 6], [1, -1, 1, -1, 1, -1])[0, 1])) / 2, abs=1e-4)

    # A second inferred factor that follows neither true factor, called supported: a spurious finding.
    noise = [1.0, 0.0, -1.0, -1.0, 0.0, 1.0]  # uncorrelated with F1 and with F2
    factors = pd.concat([factors, factors.assign(factor="Factor2", value=noise)])
    factors.to_parquet(tmp_path / "factors.parquet")
    pd.DataFrame({"factor": ["Factor1", "Factor2"], "supported": [True, True]}).to_parquet(tmp_path / "support.parquet")
    result = subprocess.run([str(BIN / "oncofactor"), "score-recovery", "--truth", tmp_path / "truth.parquet", "--factors",
                             tmp_path / "factors.parquet", "--support", tmp_path / "support.parquet"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Factor1 F1 1.0000 supported" in lines
    best = max(abs(np.corrcoef(noise, [1, 2, 3, 4, 5, 6])[0, 1]), abs(np.corrcoef(noise, [1, -1, 1, -1, 1, -1])[0, 1]))
    assert best < 0.3
    assert any(line.startswith("Factor2 ") and line.endswith(f"{best:.4f} supported spurious") for line in lines)
    assert lines[-1] == "spurious_supported 1"


def test_cll_cohort_has_an_ighv_factor(shared_data, tmp_path):
    """MOFA on the CLL drug-response and mutation views finds a factor that separates IGHV status."""
    from scipy.stats import mannwhitneyu

    config, model, summary = trained_cll(shared_data, tmp_path / "cll.hdf5")
    folder = shared_data / "bioFAM_cellij/cellij/data"
    ighv = pd.read_csv(folder / "cll_metadata.csv").set_index("Sample")["IGHV"].reindex(model.factors.index)
    known = ighv.notna()
    mutated = (ighv[known] == "M").to_numpy()
    auc = {}
    for name, column in summary.mapping.items():
        values = model.factors.loc[known, column].to_numpy()
        statistic = mannwhitneyu(values[mutated], values[~mutated]).statistic / (mutated.sum() * (~mutated).sum())
        auc[name] = max(statistic, 1 - statistic)
    best = max(auc, key=auc.get)
    assert auc[best] > 0.85, auc
    assert best in ("Factor1", "Factor2"), f"the IGHV factor should be among the strongest, got {best}"


def test_model_file_opens_in_mofax(trained):
    import mofax

    model = mofax.mofa_model(trained[2][0])
    try:
        ours = read_model(trained[2][0])
        assert model.get_factors().shape == ours.factors.shape
        assert np.allclose(model.get_factors(), ours.factors.to_numpy())
        assert set(model.views) == {"a", "b", "c"}
    finally:
        model.close()


@pytest.mark.parametrize("scale_views", [False, True])
def test_projected_patients_score_as_if_trained_with_the_cohort(tmp_path, scale_views):
    from oncofactor.mofa import preprocessing_table, project

    settings = {**SETTINGS, "scale_views": scale_views}
    mdata, _ = synthetic_views(n_patients=80, missing=0.1, seed=4)
    held_out = list(mdata.obs_names[:12])
    training = mdata[[p for p in mdata.obs_names if p not in held_out]].copy()

    def as_tables(views, patients):
        return {
            name: pd.DataFrame(view.X, index=view.obs_names, columns=[v.split(":", 1)[1] for v in view.var_names]).reindex(
                [p for p in patients if p in view.obs_names]
            )
            for name, view in views.mod.items()
        }

    def fit(views, path):
        data = prepare_views(views, settings)
        train(data, settings, 1, str(path))
        model = read_model(str(path))
        summary = summarize_factors(model, SETTINGS["min_r2"])
        tables = result_tables(model, summary, SETTINGS)
        factors = tables["factors"].pivot(index="sample", columns="factor", values="value")
        table = preprocessing_table(data, {}, scale_views, factors, tables["weights"])
        return tables["weights"], table, factors

    weights, preprocessing, trained = fit(training, tmp_path / "training.hdf5")
    _, _, full = fit(mdata, tmp_path / "full.hdf5")

    # The training patients, projected back, get their own scores on the same scale.
    again = project(as_tables(training, list(training.obs_names)), weights, preprocessing)
    for factor in trained.columns[:3]:
        assert np.corrcoef(again[factor], trained.loc[again.index, factor])[0, 1] > 0.95
        assert 0.8 < again[factor].std() / trained[factor].std() < 1.25

    new_views = as_tables(mdata, held_out)
    projected = project(new_views, weights, preprocessing)
    assert list(projected.index) == sorted(set().union(*[set(v.index) for v in new_views.values()]), key=held_out.index)
    reproduced = []
    for factor in full.columns[:3]:
        best = max(projected.columns, key=lambda f: abs(np.corrcoef(projected[f], full.loc[projected.index, factor])[0, 1]))
        reproduced.append(abs(np.corrcoef(projected[best], full.loc[projected.index, factor])[0, 1]))
    assert min(reproduced) > 0.9, reproduced


@pytest.mark.parametrize("correction", ["regress", "none"])
def test_training_data_corrects_batches_only_when_asked(tmp_path, correction):
    mdata, _ = synthetic_views(n_patients=40, missing=0)
    mdata.mod["a"].uns["modality"] = "scrna"
    run2 = np.arange(40) % 2 == 1
    mdata.mod["a"].X = mdata.mod["a"].X + np.where(run2, 4.0, 0.0)[:, None]
    mdata.obsm["batch_scrna"] = pd.DataFrame({"run1": (~run2).astype(float), "run2": run2.astype(float)}, index=mdata.obs_names)
    mdata.write(tmp_path / "views.h5mu")
    data = training_data(str(tmp_path / "views.h5mu"), {**SETTINGS, "batch_correction": correction})
    gap = data.views["a"][run2].mean() - data.views["a"][~run2].mean()
    assert abs(gap) < 1e-6 if correction == "regress" else gap == pytest.approx(4.0, abs=0.5)
