"""Factors against the clinic: associations, response prediction, strata, survival, gene sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from conftest import trained_cll

from oncofactor.clinical import (
    associations,
    benjamini_hochberg,
    selective_fdr,
    factor_matrix,
    response_levels,
)
from oncofactor.config import check_config
from oncofactor.genesets import correlated_rank_sum, enrichment, mean_correlation, read_gmt
from oncofactor.response_model import predict_response
from oncofactor.strata import CLUSTERS, RISK_GROUPS, patient_strata, strata_survival
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
    # One family per covariate, each of two tests (the two factors), corrected on its own and across families.
    assert (table["family"] == table["covariate"]).all() and (table["n_tests"] == 2).all()
    for _, family in table.groupby("family"):
        assert family["q_within_family"].tolist() == pytest.approx(benjamini_hochberg(family["p_value"]).tolist())
    assert (table["q_value"] >= table["q_within_family"]).all()


def test_adjusted_cox_separates_a_factor_from_a_known_prognostic():
    """FactorB follows a prognostic covariate (grade) and has no hazard of its own; FactorA has one."""
    rng = np.random.default_rng(5)
    n = 300
    grade = rng.choice(["low", "high"], n)
    high = (grade == "high").astype(float)
    a, b = rng.standard_normal(n), 1.5 * high + rng.standard_normal(n)
    event_time = rng.exponential(20 / np.exp(0.6 * a + 1.2 * high))
    censor = rng.uniform(10, 40, n)
    patients = [f"P{i:03d}" for i in range(n)]
    clinical = pd.DataFrame({"patient_id": patients, "grade": grade, "os": np.minimum(event_time, censor), "death": (event_time <= censor).astype(float)})
    clinical.loc[0, "grade"] = ""
    factors = pd.DataFrame({"FactorA": a, "FactorB": b}, index=pd.Index(patients, name="patient_id"))
    config = check_config({
        "clinical": {"path": "c.tsv", "survival_time": "os", "survival_event": "death", "categorical": ["grade"], "survival_adjust_for": ["grade"]},
        "extra_views": [{"name": "x", "path": "unused.tsv", "orientation": "samples_by_features"}],
    })
    table = associations(factors, clinical, config).set_index(["factor", "test"])
    assert table.loc[("FactorB", "cox"), "p_value"] < 0.001
    assert table.loc[("FactorB", "cox_adjusted"), "p_value"] > 0.05
    assert table.loc[("FactorA", "cox_adjusted"), "p_value"] < 0.001 and table.loc[("FactorA", "cox_adjusted"), "effect"] > 1.3
    assert table.loc[("FactorA", "cox_adjusted"), ["n", "n_missing"]].tolist() == [299, 1]
    assert table.loc[("FactorA", "cox_adjusted"), "family"] == "survival adjusted for grade"


def test_selective_fdr_against_worked_values():
    """Benjamini-Bogomolov by hand: Simes p of A, B, C = 0.002, 0.08, 0.6; BH over them 0.006, 0.12,
    0.6. At level 0.12 families A and B are selected (R = 2 of 3), so B's first test (within-family
    q 0.08) is a finding at 0.12 * 2 / 3 = 0.08 and its q-value is 0.12."""
    table = pd.DataFrame({"family": list("AABBCC"), "p_value": [0.001, 0.2, 0.04, 0.5, 0.3, 0.9]})
    result = selective_fdr(table)
    assert result["family_p"].tolist() == pytest.approx([0.002, 0.002, 0.08, 0.08, 0.6, 0.6])
    assert result["family_q"].tolist() == pytest.approx([0.006, 0.006, 0.12, 0.12, 0.6, 0.6])
    assert result["q_within_family"].tolist() == pytest.approx([0.002, 0.2, 0.08, 0.5, 0.6, 0.9])
    assert result["q_value"].tolist() == pytest.approx([0.006, 0.3, 0.12, 0.6, 0.6, 0.9])


def test_selective_fdr_keeps_noise_families_from_adding_findings():
    """Five families of three tests (as five covariates over three supported factors): two hold one
    real effect (z = 3), three are pure noise. Per-family BH lets a noise family give a finding in
    about 15% of runs (3 families x ~5%); Benjamini-Bogomolov keeps that near 5%, at a cost in power
    (measured with this seed: 14.3% and 6.7% of runs; the real effects found in 73% and 59%)."""
    rng = np.random.default_rng(20261202)
    runs, noise_runs, found = 1000, {"bh": 0, "bb": 0}, {"bh": 0, "bb": 0}
    families = np.repeat(["response", "survival", "age", "sex", "stage"], 3)
    noise = np.isin(families, ["age", "sex", "stage"])
    real = np.zeros(15, dtype=bool)
    real[[0, 3]] = True
    for _ in range(runs):
        z = rng.standard_normal(15) + 3.0 * real
        result = selective_fdr(pd.DataFrame({"family": families, "p_value": 2 * stats.norm.sf(np.abs(z))}))
        for method, column in (("bh", "q_within_family"), ("bb", "q_value")):
            hits = (result[column] < 0.05).to_numpy()
            noise_runs[method] += hits[noise].any()
            found[method] += hits[real].sum()
    assert noise_runs["bh"] / runs > 0.11 and noise_runs["bb"] / runs < 0.08, noise_runs
    assert 0.5 < found["bb"] / (2 * runs) and found["bb"] > 0.75 * found["bh"], found


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
    result = predict_response(factors, clinical, settings(cv_repeats=3, bootstrap=40))
    performance = result.performance.set_index("model")
    assert list(performance.index) == ["factors", "clinical", "factors_and_clinical"]
    assert performance.loc["factors", "auroc"] > 0.8
    assert (performance["ci_low"] <= performance["auroc"]).all() and (performance["auroc"] <= performance["ci_high"]).all()
    assert (performance["n_bootstrap"] == 40).all()
    # Penalty chosen by log-loss keeps the coefficient on the scale of the true effect (2.5 log odds per SD).
    coefficients = result.coefficients.query("model == 'factors'").set_index("feature")
    assert 1.2 < coefficients.loc["FactorA", "coefficient"] < 4
    assert coefficients.loc["FactorA", "ci_low"] > 0 and coefficients.loc["FactorB", "ci_low"] < 0 < coefficients.loc["FactorB", "ci_high"]
    assert set(result.roc["model"]) == set(performance.index)
    assert result.notices == []


def test_response_prediction_without_a_supported_factor_fits_the_clinical_model():
    factors, clinical = cohort(n=40)
    result = predict_response(factors[[]], clinical, settings(cv_repeats=2, bootstrap=20))
    assert result.performance["model"].tolist() == ["clinical"]
    assert any("no factor is supported" in notice.reason for notice in result.notices)


def test_response_prediction_in_a_small_cohort_warns_and_still_runs():
    factors, clinical = cohort(n=14, seed=3)
    clinical["response"] = ["responder"] * 3 + ["non_responder"] * 11
    result = predict_response(factors, clinical, settings(cv_repeats=3, bootstrap=20))
    assert any("small cohort: the smaller response class has 3 patients" in notice.reason for notice in result.notices)
    assert result.performance["n_splits"].iloc[0] == 3

    clinical["response"] = ["responder"] * 2 + ["non_responder"] * 12
    result = predict_response(factors, clinical, settings(cv_repeats=3, bootstrap=20))
    assert result.performance["auroc"].isna().all() and result.roc.empty
    assert result.performance["note"].str.startswith("not fitted: the smaller response class has 2 patient(s)").all()
    assert [notice.reason for notice in result.notices] == [
        "skipped: the smaller response class has 2 patient(s); cross-validation needs at least 3"
    ]


def two_groups(n_per_group=15, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.repeat([[3.0, 0.0], [-3.0, 0.0]], n_per_group, axis=0)
    patients = [f"P{i:02d}" for i in range(2 * n_per_group)]
    return pd.DataFrame(centers + rng.normal(0, 1, centers.shape), index=patients, columns=["Factor1", "Factor2"])


def strata_settings(**changes):
    return {**settings()["outcome"], "strata_null_draws": 39, **changes}


def test_strata_recover_two_separated_groups_and_differ_in_survival():
    factors = two_groups()
    strata = patient_strata(factors, strata_settings())
    assert strata.p_value == pytest.approx(1 / 40), "no unimodal draw comes close"
    assert strata.message.startswith("2 patient strata: the factors form clusters")
    assert strata.selection.loc[strata.selection["chosen"], "n_strata"].tolist() == [2]
    assignments = strata.assignments.set_index("patient_id")["stratum"]
    assert (strata.assignments["basis"] == CLUSTERS).all()
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


def test_a_unimodal_cloud_gives_risk_groups_not_strata():
    """Continuous factors with no clusters (as MOFA's usually are): k-means would split them anyway."""
    rng = np.random.default_rng(11)
    patients = [f"P{i:02d}" for i in range(60)]
    factors = pd.DataFrame(rng.standard_normal((60, 3)) * [3.0, 1.0, 0.5], index=patients, columns=["Factor1", "Factor2", "Factor3"])
    strata = patient_strata(factors, strata_settings())
    assert strata.p_value > 0.05 and not strata.selection["chosen"].any()
    assert (strata.assignments["basis"] == RISK_GROUPS).all()
    high = strata.assignments.set_index("patient_id")["label"] == "high Factor1"
    assert high.sum() == 30 and (factors.loc[high, "Factor1"].min() > factors.loc[~high, "Factor1"].max())
    assert "no cluster structure" in strata.message and "median of Factor1" in strata.message
    chosen = patient_strata(factors, strata_settings(risk_score="Factor2")).assignments
    assert set(chosen["label"]) == {"low Factor2", "high Factor2"}


def test_strata_need_enough_patients_and_a_factor():
    strata = patient_strata(two_groups(n_per_group=4), strata_settings())
    assert strata.assignments.empty and "need at least 10 patients" in strata.message
    survival = strata_survival(strata.assignments, pd.DataFrame(columns=["patient_id", "os", "death"]), "os", "death")
    assert survival.curves.empty and survival.test.empty
    assert patient_strata(two_groups()[[]], strata_settings()).message == "no patient strata: no factor is supported by the data"


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


def fitted_weights(rng, n_patients=30, n_genes=400, programme=range(15), boost=0.0, nuisance=range(100, 120), correlation=0.5):
    """A factor model's view as the enrichment step sees it: a factor z moving the `programme` genes
    by `boost` per SD, a latent nuisance the model does not know making the `nuisance` genes
    correlate by `correlation` (their variance as the others'), noise; weights fitted by least
    squares on z, and the residuals they leave."""
    z = rng.normal(size=n_patients)
    u = rng.normal(size=n_patients)
    data = rng.normal(size=(n_patients, n_genes))
    nuisance = list(nuisance)
    data[:, nuisance] = np.sqrt(1 - correlation) * data[:, nuisance] + np.sqrt(correlation) * u[:, None]
    data[:, list(programme)] += boost * z[:, None]
    data -= data.mean(axis=0)
    z = (z - z.mean()) / z.std()
    weights = data.T @ z / n_patients
    genes = [f"G{i}" for i in range(n_genes)]
    table = pd.DataFrame({"view": "rna", "feature": genes, "factor": "Factor1", "weight": weights,
                          "scaled_weight": weights / np.abs(weights).max()})
    return table, {"rna": pd.DataFrame(data - np.outer(z, weights), columns=genes)}


def test_enrichment_finds_the_set_carrying_the_weights():
    rng = np.random.default_rng(0)
    weights, residuals = fitted_weights(rng, boost=1.0)
    genes = list(weights["feature"])
    sets = {"sets.gmt": {"programme": genes[:15], "correlated_control": genes[100:120], "tiny": genes[:3]}}
    table = enrichment(weights, sets, residuals, 5, 500).set_index("feature_set")
    assert set(table.index) == {"programme", "correlated_control"}, "sets under min_size are not tested"
    assert table.loc["programme", "direction"] == "positive" and table.loc["programme", "q_value"] < 1e-4
    # The nuisance makes its genes correlate about 0.5; the residuals show it.
    assert 0.3 < table.loc["correlated_control", "inter_gene_correlation"] < 0.7


def test_enrichment_holds_its_level_for_correlated_genes():
    """A set of genes moved together by something the model does not know is no more often enriched
    than the test's level; without the correlation (limma's fixed 0.01) it is, several times as often."""
    rng = np.random.default_rng(2024)
    p_adjusted, p_fixed = [], []
    for _ in range(300):
        weights, residuals = fitted_weights(rng)
        genes = list(weights["feature"])
        sets = {"sets.gmt": {"control": genes[100:120]}}
        p_adjusted.append(enrichment(weights, sets, residuals, 5, 500)["p_value"].iloc[0])
        p_fixed.append(enrichment(weights, sets, {}, 5, 500)["p_value"].iloc[0])
    adjusted, fixed = np.mean(np.array(p_adjusted) < 0.05), np.mean(np.array(p_fixed) < 0.05)
    assert adjusted <= 0.07, adjusted
    assert fixed >= 3 * max(adjusted, 0.05), (fixed, adjusted)


def test_the_rank_sum_test_without_correlation_is_mann_whitney():
    """At correlation 0 the CAMERA rank test is scipy's Mann-Whitney (ties, continuity) on the same values."""
    values = np.round(np.random.default_rng(1).normal(size=300), 1)  # rounded: many ties
    inside = np.zeros(300, dtype=bool)
    inside[:20] = True
    z, p = correlated_rank_sum(values, inside, 0.0)
    expected = stats.mannwhitneyu(values[inside], values[~inside], alternative="two-sided", use_continuity=True, method="asymptotic")
    assert p == pytest.approx(expected.pvalue, rel=1e-9)
    ranks = stats.rankdata(values)
    assert np.sign(z) == np.sign(ranks[inside].mean() - ranks[~inside].mean()) != 0


def test_mean_correlation_is_the_mean_of_the_pairwise_correlations():
    values = np.random.default_rng(3).normal(size=(40, 6)) + np.random.default_rng(4).normal(size=(40, 1))
    matrix = np.corrcoef(values, rowvar=False)
    assert mean_correlation(values) == pytest.approx(matrix[np.triu_indices(6, 1)].mean())


def test_cll_associations_find_ighv_and_test_survival(shared_data, tmp_path):
    """The CLL cohort: the IGHV factor comes out of the association table; overall survival (T6, died) is tested."""
    from oncofactor.mofa import result_tables

    config, model, summary = trained_cll(shared_data, tmp_path / "cll.hdf5", categorical=["IGHV", "Gender"], numeric=["Age4Main"],
                                         survival_time="T6", survival_event="died", survival_adjust_for=["IGHV"])
    tables = result_tables(model, summary, config["mofa"])
    clinical = validate_inputs(config).clinical
    table = associations(factor_matrix(tables["factors"]), clinical, config)

    ighv = table[table["covariate"] == "IGHV"].sort_values("q_value")
    assert ighv["q_value"].iloc[0] < 1e-6 and ighv["n"].iloc[0] > 150
    assert ighv["factor"].iloc[0] in ("Factor1", "Factor2")
    assert table.sort_values("q_value").iloc[0]["covariate"] == "IGHV", "IGHV is the cohort's strongest association"
    survival = table[table["test"] == "cox"].set_index("factor")
    assert len(survival) == len(summary.mapping) and (survival["covariate"] == "survival").all()
    assert survival["p_value"].notna().all() and (survival["n"] > 100).all()
    # The IGHV factor's survival hazard is IGHV's: adjusted for IGHV it is no longer distinguishable.
    adjusted = table[table["test"] == "cox_adjusted"].set_index("factor")
    factor = ighv["factor"].iloc[0]
    assert survival.loc[factor, "p_value"] < 0.05 < adjusted.loc[factor, "p_value"]
    assert adjusted.loc[factor, "contrast"] == "per SD, adjusted for IGHV" and adjusted.loc[factor, "n"] < survival.loc[factor, "n"]
