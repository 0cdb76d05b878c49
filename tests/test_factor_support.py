"""Factor support: refits on resampled and on permuted patients, and which factors pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import synthetic_views

from oncofactor.clinical import supported_factors
from oncofactor.config import check_config
from oncofactor.factor_support import (
    SUPPORT_COLUMNS,
    best_matches,
    best_refits,
    factor_support,
    permute_patients,
    resample_patients,
    technical_covariates,
    top_patient_share,
)
from oncofactor.mofa import (
    MofaData,
    prepare_views,
    read_model,
    summarize_factors,
    train,
    view_r2,
)

# Three true factors; training asks for six, so three or more are fitted to noise. At mofapy2's fast
# tolerance they are still there to be caught by the checks; at medium ARD had switched off all but one.
SETTINGS = check_config({"samples": "s.tsv", "clinical": {"path": "c.tsv"}, "mofa": {"factors": 6, "convergence_mode": "fast"}})["mofa"]


def small_data() -> MofaData:
    values = np.arange(24, dtype=float).reshape(6, 4)
    values[1, 2] = values[4, 0] = np.nan
    return MofaData({"v": values}, {"v": list("abcd")}, {"v": "gaussian"}, [f"P{i}" for i in range(6)], ["all"] * 6)


def test_permuting_keeps_each_features_values_and_missing_entries():
    data = small_data()
    permuted = permute_patients(data, seed=(1, 1, 0))
    before, after = data.views["v"], permuted.views["v"]
    assert np.array_equal(np.isnan(before), np.isnan(after))
    for column in range(before.shape[1]):
        assert sorted(before[~np.isnan(before[:, column]), column]) == sorted(after[~np.isnan(after[:, column]), column])
    assert not np.array_equal(np.nan_to_num(before), np.nan_to_num(after))
    assert permuted.samples == data.samples and np.isnan(before[1, 2]), "the input is left as it was"


def test_resampling_draws_distinct_patients_in_order():
    data = small_data()
    subset = resample_patients(data, 0.5, seed=(1, 0, 3))
    assert len(subset.samples) == 3 and len(set(subset.samples)) == 3
    assert subset.samples == sorted(subset.samples)
    rows = [data.samples.index(s) for s in subset.samples]
    np.testing.assert_array_equal(subset.views["v"], data.views["v"][rows])
    assert resample_patients(data, 0.5, seed=(1, 0, 3)).samples == subset.samples


def test_best_matches_on_shared_patients():
    patients = [f"P{i}" for i in range(6)]
    reference = pd.DataFrame({"F1": [1.0, 2, 3, 4, 5, 6], "F2": [1.0, -1, 1, -1, 1, -1]}, index=patients)
    flipped = pd.DataFrame({"x": -reference["F1"], "y": [0.0, 0, 0, 1, 1, 1]}, index=patients).iloc[::-1]
    unrelated = pd.DataFrame({"x": [1.0, 2, 3]}, index=["Q1", "Q2", "P0"])  # one shared patient
    scores = best_matches(reference, [flipped, unrelated])
    assert scores["F1"] == pytest.approx((1.0 + 0.0) / 2)
    expected = abs(np.corrcoef(reference["F2"], [0, 0, 0, 1, 1, 1])[0, 1])
    assert scores["F2"] == pytest.approx((expected + 0.0) / 2)


def test_each_resampled_subset_gives_its_best_run(tmp_path):
    mdata, _ = synthetic_views(n_patients=30, seed=5, sizes=(300, 200, 40))
    data = prepare_views(mdata, SETTINGS)
    paths = [str(tmp_path / name) for name in ("subsample_1_0.hdf5", "subsample_0_1.hdf5", "subsample_0_0.hdf5", "subsample_0_2.hdf5")]
    subset_zero = resample_patients(data, 0.8, (1, 0, 0))
    for path, (subset, seed) in zip(paths, [(resample_patients(data, 0.8, (1, 0, 1)), 1), (subset_zero, 2), (subset_zero, 1), (subset_zero, 3)]):
        train(subset, SETTINGS, seed, path)
    runs = {Path(path).name: read_model(path) for path in paths}
    zero = [runs[f"subsample_0_{i}.hdf5"].elbo for i in range(3)]
    assert len(set(zero)) == 3, "the seeds reach different optima, so the choice matters"
    chosen = best_refits(paths)
    assert [model.elbo for model in chosen] == [max(zero), runs["subsample_1_0.hdf5"].elbo]
    with pytest.raises(ValueError, match="not a resampled refit"):
        best_refits([str(tmp_path / "permuted_0.hdf5")])


@pytest.fixture(scope="module")
def fits(tmp_path_factory):
    mdata, truth = synthetic_views(n_patients=30, seed=2, sizes=(1000, 600, 40))
    data = prepare_views(mdata, SETTINGS)
    folder = tmp_path_factory.mktemp("support")

    def fit(name, refit_data, seed):
        path = str(folder / f"{name}.hdf5")
        train(refit_data, SETTINGS, seed, path)
        return read_model(path)

    restarts = [fit(f"restart_{seed}", data, seed) for seed in (1, 2, 3)]
    subsamples = [fit(f"subsample_{i}", resample_patients(data, 0.8, (1, 0, i)), 1 + i) for i in range(4)]
    permuted = [fit(f"permuted_{i}", permute_patients(data, (1, 1, i)), 1 + i) for i in range(3)]
    return truth.pivot(index="patient_id", columns="factor", values="value"), restarts, subsamples, permuted


def reported(model):
    summary = summarize_factors(model, SETTINGS["min_r2"])
    columns = list(summary.mapping.values())
    factors = model.factors[columns].set_axis(list(summary.mapping), axis=1)
    r2 = view_r2(model)[columns].set_axis(list(summary.mapping), axis=1)
    return factors, r2


def test_true_factors_are_supported_and_noise_factors_are_not(fits):
    truth, restarts, subsamples, permuted = fits
    factors, r2 = reported(restarts[0])
    support = factor_support(factors, r2, [m.factors for m in restarts[1:]], [m.factors for m in subsamples], permuted, 0.7,
                             pd.DataFrame(index=factors.index), 0.7, 0.5)
    assert list(support.columns) == SUPPORT_COLUMNS and list(support["factor"]) == list(factors.columns)
    matched = factors.apply(lambda f: truth.loc[factors.index].corrwith(f).abs().max())
    true = matched[matched >= 0.8].index
    assert len(true) == 3, "MOFA finds the three true factors"
    assert len(factors.columns) > 3, "and fits others to noise"
    rows = support.set_index("factor")
    assert rows.loc[true, "supported"].all()
    assert not rows.loc[factors.columns.difference(true), "supported"].any()
    assert (rows.loc[~rows["supported"], "reason"] != "").all() and (rows.loc[rows["supported"], "reason"] == "").all()
    assert (support[["n_restarts", "n_resamples", "n_null_fits"]].iloc[0] == [3, 4, 3]).all()
    assert list(supported_factors(factors, support).columns) == list(true)


def test_restarts_that_miss_a_factor_do_not_decide_its_support(fits):
    """Restarts in worse optima miss true factors that the best one finds; only the resampled refits
    (each the best of its restarts) decide, and restart_stability is reported beside them."""
    _, restarts, subsamples, permuted = fits
    factors, r2 = reported(restarts[0])
    args = ([m.factors for m in subsamples], permuted, 0.7, pd.DataFrame(index=factors.index), 0.7, 0.5)
    agreeing = factor_support(factors, r2, [m.factors for m in restarts[1:]], *args).set_index("factor")
    unrelated = pd.DataFrame(np.random.default_rng(3).normal(size=factors.shape), index=factors.index, columns=factors.columns)
    missing = factor_support(factors, r2, [unrelated], *args).set_index("factor")
    assert (missing["restart_stability"] < 0.7).all() and (agreeing.loc[agreeing["supported"], "restart_stability"] >= 0.7).all()
    assert missing["supported"].tolist() == agreeing["supported"].tolist() and agreeing["supported"].sum() == 3


def test_the_null_fits_set_the_bar_in_each_view(fits):
    _, restarts, _, permuted = fits
    factors, r2 = reported(restarts[0])
    support = factor_support(factors, r2, [], [factors], permuted, 0.7, pd.DataFrame(index=factors.index), 0.7, 0.5).set_index("factor")
    noise = pd.concat([view_r2(model).max(axis=1) for model in permuted], axis=1).max(axis=1)
    assert support["null_r2"].tolist() == pytest.approx(noise[support["best_view"]].tolist())
    assert (support["above_noise"] == (support["r2"] > support["null_r2"])).all()
    weak = support[~support["above_noise"]]
    assert len(weak) >= 1 and weak["reason"].str.startswith("explains no more than noise").all()
    # Against itself every factor is stable: only the null can fail it here.
    assert support["stable_resamples"].all()


def test_a_factor_following_depth_is_an_artefact(fits):
    """However stable, a factor whose scores track the samples' depth is not supported; one that
    depth follows only loosely is."""
    _, restarts, subsamples, permuted = fits
    factors, r2 = reported(restarts[0])
    rng = np.random.default_rng(8)
    technical = pd.DataFrame({
        "scrna median counts per cell": 3.4 + 0.1 * factors["Factor1"] / factors["Factor1"].std() + rng.normal(0, 0.02, len(factors)),
        "scrna cells passing QC": 2.5 + rng.normal(0, 0.1, len(factors)),
    }, index=factors.index)
    support = factor_support(factors, r2, [m.factors for m in restarts[1:]], [m.factors for m in subsamples], permuted, 0.7,
                             technical, 0.7, 0.5).set_index("factor")
    assert support.loc["Factor1", "technical_covariate"] == "scrna median counts per cell" and support.loc["Factor1", "technical_r"] > 0.9
    assert not support.loc["Factor1", "supported"] and support.loc["Factor1", "reason"].startswith("follows scrna median counts per cell")
    others = support.drop(index="Factor1")
    assert (others["technical_r"].abs() < 0.7).all() and others["not_technical"].all()


def test_technical_covariates_per_patient():
    """Depth is taken within cell types, so a patient with more tumour cells (more UMIs each) is not
    deeper; how many CTCs were sequenced is burden, not a technical covariate."""
    qc = pd.DataFrame({
        "sample_id": ["s1"] * 4 + ["s2"] * 3 + ["s3", "s3", "c1", "c1"],
        "modality": ["scrna"] * 7 + ["spatial"] * 2 + ["ctc_scrna"] * 2,
        "cell_type": ["T_cell", "T_cell", "tumour", "tumour", "T_cell", "tumour", "tumour", "spot", "spot", "CTC", "CTC"],
        "total_counts": [1000, 1000, 3000, 3000, 1000, 3000, 3000, 20, 30, 5e5, 7e5],
        "passed_qc": [True] * 11,
    })
    samples = pd.DataFrame({"sample_id": ["s1", "s2", "s3", "c1"], "patient_id": ["P1", "P2", "P2", "P1"]})
    table = technical_covariates(qc, samples)
    assert table.loc["P1", "scrna cells passing QC"] == pytest.approx(np.log10(4))
    assert table.loc["P1", "scrna median counts per cell"] == table.loc["P2", "scrna median counts per cell"] == pytest.approx(np.log10(np.sqrt(3000 * 1000)))
    assert table.loc["P2", "spatial median counts per cell"] == pytest.approx(np.log10(25))
    assert "ctc_scrna cells passing QC" not in table.columns and table.loc["P1", "ctc_scrna median counts per cell"] == pytest.approx(np.log10(6e5))
    assert np.isnan(table.loc["P2", "ctc_scrna median counts per cell"])


def test_a_factor_of_one_patient_is_not_a_finding(fits):
    """A factor whose scores are one patient's (as MOFA fits to one patient's own deviations across
    thousands of features) is not supported, whatever its stability; Gaussian factors pass."""
    _, restarts, subsamples, permuted = fits
    factors, r2 = reported(restarts[0])
    lone = factors.copy()
    lone["Factor1"] = 0.05 * np.random.default_rng(4).normal(size=len(lone))
    lone.iloc[7, lone.columns.get_loc("Factor1")] = 3.0
    support = factor_support(lone, r2, [lone], [lone], permuted, 0.7, pd.DataFrame(index=lone.index), 0.7, 0.5).set_index("factor")
    assert support.loc["Factor1", "top_patient"] == lone.index[7] and support.loc["Factor1", "top_patient_share"] > 0.9
    assert not support.loc["Factor1", "supported"] and support.loc["Factor1", "reason"].startswith(f"carried by one patient ({lone.index[7]}")
    assert (support.drop(index="Factor1")["top_patient_share"] < 0.5).all()


def test_top_patient_share_of_gaussian_scores():
    rng = np.random.default_rng(12)
    shares = [top_patient_share(pd.Series(rng.normal(size=60)))[1] for _ in range(2000)]
    assert np.quantile(shares, 0.99) < 0.3 and max(shares) < 0.5
