"""Factors against the clinic: associations, response prediction, strata, survival, gene sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncofactor.clinical import (
    associations,
    benjamini_hochberg,
    factor_matrix,
    patient_strata,
    predict_response,
    reproducible_factors,
    response_levels,
    strata_survival,
)
from conftest import trained_cll
from oncofactor.config import check_config
from oncofactor.genesets import enrichment, read_gmt
from oncofactor.validation import validate_inputs


def cohort(n: int = 80, seed: int = 0):
    """Factor A drives age, response and survival; factor B drives nothing."""
    rng = np.random.default_rng(seed)
    patients = [f"P{i:03d}" for i in range(n)]
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    responder = rng.random(n) < 1 / (1 + np.exp(-2.5 * a))
    event_time = rng.exponential(20 / np.exp(1.0 * a))
    censor = rng.uniform(10, 40, n)
    clinical = pd.DataFrame({
        "patient_id": patients,
        "age": 60 + 8 * a + rng.normal(0, 4, n),
        "sex": rng.choice(["female", "male"], n),
        "stage": rng.choice(["II", "III", "IV"], n),
        "response": np.where(responder, "responder", "non_responder"),
        "os": np.minimum(event_time, censor),
        "death": (event_time <= censor).astype(float),
    })
    factors = pd.DataFrame({"FactorA": a, "FactorB": b}, index=pd.Index(patients, name="patient_id"))
    return factors, clinical


def settings(**outcome):
    config = check_config({
        "clinical": {"path": "unused.tsv", "response": "response", "survival_time": "os", "survival_event": "death",
                     "categorical": ["sex", "stage"], "numeric": ["age"]},
        "extra_views": [{"name": "x", "path": "unused.tsv", "orientation": "samples_by_features"}],
        "outcome": outcome,
    })
    return {"clinical": config["clinical"], "outcome": config["outcome"]}


def test_associations_find_the_driving_factor_with_the_right_signs():
    factors, clinical = cohort()
    clinical.loc[3, "age"] = np.nan
    clinical.loc[5, "sex"] = ""
    table = associations(factors, clinical, settings())
    assert set(table["test"]) == {"spearman", "mann_whitney", "kruskal_wallis", "cox"}
    assert len(table) == 2 * 5  # two factors x (age, response, sex, stage, survival)
    rows = table.set_index(["factor", "covariate"])
    for covariate in ("age", "response", "survival"):
        assert rows.loc[("FactorA", covariate), "q_value"] < 0.01 < rows.loc[("FactorB", covariate), "q_value"]
    assert rows.loc[("FactorA", "age"), "effect"] > 0.5
    assert rows.loc[("FactorA", "response"), "contrast"] == "responder vs non_responder"
    assert rows.loc[("FactorA", "response"), "effect"] > 0.3, "responders have higher FactorA: positive rank-biserial"
    assert rows.loc[("FactorA", "survival"), "effect"] > 1.5, "hazard ratio per SD of the hazard-raising factor"
    assert rows.loc[("FactorA", "age"), ["n", "n_missing"]].tolist() == [79, 1]
    assert rows.loc[("FactorA", "sex"), ["n", "n_missing"]].tolist() == [79, 1]
    tested = table.dropna(subset=["ci_low"])
    assert ((tested["ci_low"] <= tested["effect"]) & (tested["effect"] <= tested["ci_high"])).all()
    assert (table["q_value"] >= table["p_value"]).all()


def test_benjamini_hochberg_against_worked_values():
    q = benjamini_hochberg(pd.Series([0.01, 0.04, 0.03, 0.2, np.nan]))
    assert q[:4].tolist() == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2])
    assert np.isnan(q[4])


def test_response_levels():
    assert response_levels(pd.Series(["yes", "no", "no"]), None) == ("yes", ["no"])
    assert response_levels(pd.Series(["CR", "PR", "PD"]), "CR") == ("CR", ["PD", "PR"])
    with pytest.raises(ValueError, match="3 levels .*set outcome.response_positive"):
        response_levels(pd.Series(["CR", "PR", "PD"]), None)
    with pytest.raises(ValueError, match="'SD', which the response column lacks"):
        response_levels(pd.Series(["CR", "PD"]), "SD")


def test_response_prediction_beats_clinical_covariates():
    factors, clinical = cohort()
    result = predict_response(factors, clinical, settings(cv_repeats=5, bootstrap=200))
    performance = result.performance.set_index("model")
    assert list(performance.index) == ["factors", "clinical", "factors_and_clinical"]
    assert performance.loc["factors", "auroc"] > 0.8
    assert performance.loc["factors", "delta_ci_low"] > 0, "factors beat the clinical-only model beyond bootstrap noise"
    assert (performance["ci_low"] <= performance["auroc"]).all() and (performance["auroc"] <= performance["ci_high"]).all()
    assert result.coefficients.set_index("feature").loc["FactorA", "coefficient"] > 0
    assert set(result.roc["model"]) == set(performance.index)
    assert result.warnings == []


def test_response_prediction_in_a_small_cohort_warns_and_still_runs():
    factors, clinical = cohort(n=14, seed=3)
    clinical["response"] = ["responder"] * 3 + ["non_responder"] * 11
    result = predict_response(factors, clinical, settings(cv_repeats=3, bootstrap=100))
    assert "small cohort: the smaller response class has 3 patients" in " ".join(result.warnings)
    assert result.performance["n_splits"].iloc[0] == 3

    clinical["response"] = ["responder"] + ["non_responder"] * 13
    result = predict_response(factors, clinical, settings(cv_repeats=3, bootstrap=100))
    assert result.performance["auroc"].isna().all() and result.roc.empty
    assert result.performance["note"].str.contains("response prediction skipped").all()
    assert "response prediction skipped: the smaller response class has 1 patient(s)" in " ".join(result.warnings)


def test_reproducible_factors_fall_back_to_all():
    factors, _ = cohort(n=10)
    stability = pd.DataFrame({"factor": ["FactorA", "FactorB"], "reproducible": [True, False]})
    assert list(reproducible_factors(factors, stability).columns) == ["FactorA"]
    assert list(reproducible_factors(factors, stability.assign(reproducible=False)).columns) == ["FactorA", "FactorB"]


def two_groups(n_per_group=15, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.repeat([[3.0, 0.0], [-3.0, 0.0]], n_per_group, axis=0)
    patients = [f"P{i:02d}" for i in range(2 * n_per_group)]
    return pd.DataFrame(centers + rng.normal(0, 1, centers.shape), index=patients, columns=["Factor1", "Factor2"])


def test_strata_recover_two_separated_groups_and_differ_in_survival():
    factors = two_groups()
    strata = patient_strata(factors, max_strata=6, min_size=5, seed=1)
    assert strata.warning is None
    assert strata.selection.loc[strata.selection["chosen"], "n_strata"].tolist() == [2]
    assignments = strata.assignments.set_index("patient_id")["stratum"]
    assert assignments.iloc[:15].nunique() == 1 and assignments.iloc[15:].nunique() == 1
    assert assignments.iloc[0] != assignments.iloc[-1]

    rng = np.random.default_rng(2)
    hazard = np.where(assignments == assignments.iloc[0], 1.0, 6.0)
    clinical = pd.DataFrame({"patient_id": assignments.index, "os": rng.exponential(10 / hazard), "death": 1.0})
    clinical.loc[0, "os"] = np.nan
    survival = strata_survival(strata.assignments, clinical, "os", "death")
    assert survival.test["p_value"].iloc[0] < 0.01
    assert survival.test[["n", "n_missing"]].iloc[0].tolist() == [29, 1]
    assert (survival.curves.groupby("stratum")["survival"].first() == 1.0).all()
    assert survival.curves.groupby("stratum")["survival"].apply(lambda s: s.is_monotonic_decreasing).all()


def test_strata_need_enough_patients():
    strata = patient_strata(two_groups(n_per_group=4), max_strata=6, min_size=5, seed=1)
    assert strata.assignments.empty and "need at least 10 patients" in strata.warning
    survival = strata_survival(strata.assignments, pd.DataFrame(columns=["patient_id", "os", "death"]), "os", "death")
    assert survival.curves.empty and survival.test.empty


def test_factor_matrix_from_the_long_table():
    long = pd.DataFrame({"sample": ["P2", "P1", "P2", "P1"], "group": "g", "factor": ["Factor1", "Factor1", "Factor2", "Factor2"], "value": [1.0, 2.0, 3.0, 4.0]})
    wide = factor_matrix(long)
    assert list(wide.index) == ["P2", "P1"] and list(wide.columns) == ["Factor1", "Factor2"]
    assert wide.loc["P1", "Factor2"] == 4.0
    assert list(factor_matrix(long, ["Factor2"]).columns) == ["Factor2"]


# --- gene sets ---------------------------------------------------------------------------------

def test_gmt_reading_and_its_errors(tmp_path):
    good = tmp_path / "sets.gmt"
    good.write_text("immune\tabout\tGZMB\tPRF1\tGZMB\n\nstroma\thttp://x\tCOL1A1\n")
    sets, problems = read_gmt(good)
    assert sets == {"immune": ["GZMB", "PRF1"], "stroma": ["COL1A1"]} and problems == []

    bad = tmp_path / "bad.gmt"
    bad.write_text("immune\tabout\tGZMB\nno genes here\nimmune\tagain\tCD3E\n")
    sets, problems = read_gmt(bad)
    assert sets == {"immune": ["GZMB"]}
    assert [str(p) for p in problems] == [
        f"{bad}, line 2: needs a set name, a description and at least one gene, separated by tabs",
        f"{bad}, line 3: set 'immune' is defined again; set names must be unique within a file",
    ]
    assert "file not found" in str(read_gmt(tmp_path / "missing.gmt")[1][0])


def test_bad_gmt_is_an_input_error(small_cohort, tmp_path):
    from oncofactor.config import load_config

    config = load_config(small_cohort / "config.yaml")
    (tmp_path / "bad.gmt").write_text("only_a_name\n")
    config["feature_sets"]["gmt"] = [str(tmp_path / "bad.gmt")]
    errors = [str(p) for p in validate_inputs(config).errors]
    assert errors == [f"ERROR: {tmp_path / 'bad.gmt'}, line 1: needs a set name, a description and at least one gene, separated by tabs"]


def test_enrichment_finds_the_set_carrying_the_weights():
    rng = np.random.default_rng(0)
    genes = [f"G{i}" for i in range(300)]
    programme, control = genes[:15], genes[100:115]
    weights = []
    for factor, boost in [("Factor1", 0.8), ("Factor2", 0.0)]:
        values = rng.normal(0, 0.2, len(genes))
        values[:15] += boost
        weights.append(pd.DataFrame({"view": "rna", "feature": genes, "factor": factor, "weight": values,
                                     "scaled_weight": values / np.abs(values).max()}))
    table = enrichment(pd.concat(weights), {"sets.gmt": {"programme": programme, "control": control, "tiny": genes[:3]}}, 5, 500)
    assert set(table["feature_set"]) == {"programme", "control"}, "sets under min_size are not tested"
    best = table.sort_values("q_value").iloc[0]
    assert (best["factor"], best["feature_set"], best["direction"]) == ("Factor1", "programme", "positive")
    assert best["q_value"] < 1e-6
    assert (table.loc[table["feature_set"] == "control", "q_value"] > 0.05).all()


def test_cll_associations_find_ighv_and_test_survival(shared_data, tmp_path):
    """The CLL cohort: the IGHV factor comes out of the association table; overall survival (T6, died) is tested."""
    from oncofactor.mofa import result_tables, stability

    config, model, summary = trained_cll(shared_data, tmp_path / "cll.hdf5", categorical=["IGHV", "Gender"], numeric=["Age4Main"],
                                         survival_time="T6", survival_event="died")
    tables = result_tables(model, summary, stability(model.factors[list(summary.mapping.values())], []), config["mofa"], 1)
    clinical = validate_inputs(config).clinical
    table = associations(factor_matrix(tables["factors"]), clinical, config)

    ighv = table[table["covariate"] == "IGHV"].sort_values("q_value")
    assert ighv["q_value"].iloc[0] < 1e-6 and ighv["n"].iloc[0] > 150
    assert ighv["factor"].iloc[0] in ("Factor1", "Factor2")
    assert table.sort_values("q_value").iloc[0]["covariate"] == "IGHV", "IGHV is the cohort's strongest association"
    survival = table[table["covariate"] == "survival"]
    assert len(survival) == len(summary.mapping) and (survival["test"] == "cox").all()
    assert survival["p_value"].notna().all() and (survival["n"] > 100).all()
