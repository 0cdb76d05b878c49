"""Factors and the clinic: covariate and survival associations, response prediction, patient strata.

Every function takes the factor matrix (patients x factors, float; from `factor_matrix`) and the
validated clinical table (one row per patient, `patient_id` first; see `oncofactor.validation`), and
returns plain DataFrames ready for Parquet. Patients lacking a value are left out of the test that
needs it and counted; nothing is imputed except clinical covariates inside the prediction models.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

Z_95 = stats.norm.ppf(0.975)

ASSOCIATION_COLUMNS = [
    "factor", "covariate", "test", "contrast", "effect", "ci_low", "ci_high",
    "statistic", "p_value", "q_value", "n", "n_missing", "note",
]


def factor_matrix(factors_long: pd.DataFrame, factors: list[str] | None = None) -> pd.DataFrame:
    """Patients x factors from the long factor table (sample, group, factor, value) of `mofa_model`.

    Rows keep the table's sample order and columns its factor order; `factors` selects and orders
    columns.
    """
    wide = factors_long.pivot(index="sample", columns="factor", values="value")
    wide = wide.loc[pd.unique(factors_long["sample"]), list(pd.unique(factors_long["factor"]))]
    wide.index.name = "patient_id"
    wide.columns.name = None
    return wide[factors] if factors is not None else wide


def reproducible_factors(factors: pd.DataFrame, stability: pd.DataFrame) -> pd.DataFrame:
    """The columns of `factors` that reproduce across restarts (stability table of `mofa_model`), or
    all of them when none does, so that prediction and strata are not built on restart noise."""
    keep = [factor for factor in stability.loc[stability["reproducible"], "factor"] if factor in factors.columns]
    return factors[keep] if keep else factors


def response_levels(values: pd.Series, positive: str | None) -> tuple[str, list[str]]:
    """The positive response level and the others, as compared everywhere (associations, prediction).

    Without `positive`, the last level in sorted order is positive (responder over non_responder, yes
    over no, 1 over 0), which requires exactly two levels.
    """
    levels = sorted(values.dropna().unique())
    if positive is None:
        if len(levels) != 2:
            raise ValueError(
                f"the response column has {len(levels)} levels ({', '.join(map(str, levels))}); "
                "set outcome.response_positive to the level that counts as a response"
            )
        positive = levels[-1]
    elif positive not in levels:
        raise ValueError(
            f"outcome.response_positive is '{positive}', which the response column lacks; "
            f"its levels are: {', '.join(map(str, levels))}"
        )
    return positive, [level for level in levels if level != positive]


def benjamini_hochberg(p_values: pd.Series) -> pd.Series:
    """BH-adjusted q-values; missing p-values stay missing and do not count as tests."""
    q = pd.Series(np.nan, index=p_values.index)
    tested = p_values.notna()
    if tested.any():
        q[tested] = stats.false_discovery_control(p_values[tested].to_numpy(), method="bh")
    return q


def _row(factor, covariate, test, contrast="", effect=np.nan, ci=(np.nan, np.nan), statistic=np.nan, p=np.nan, n=0, n_missing=0, note=""):
    return dict(factor=factor, covariate=covariate, test=test, contrast=contrast, effect=effect, ci_low=ci[0],
                ci_high=ci[1], statistic=statistic, p_value=p, n=n, n_missing=n_missing, note=note)


def _spearman(factor: str, covariate: str, x: pd.Series, y: pd.Series, n_missing: int) -> dict:
    n = len(x)
    if n < 4 or x.nunique() < 2 or y.nunique() < 2:
        return _row(factor, covariate, "spearman", n=n, n_missing=n_missing, note="fewer than 4 patients or a constant column")
    rho, p = stats.spearmanr(x, y)
    # Fisher z interval with the Bonett-Wright standard error for Spearman's rho.
    se = np.sqrt((1 + rho**2 / 2) / (n - 3))
    ci = tuple(np.tanh(np.arctanh(np.clip(rho, -0.999999, 0.999999)) + sign * Z_95 * se) for sign in (-1, 1))
    return _row(factor, covariate, "spearman", effect=rho, ci=ci, statistic=rho, p=p, n=n, n_missing=n_missing)


def _mann_whitney(factor: str, covariate: str, x: pd.Series, groups: pd.Series, high: str, low: str, n_missing: int) -> dict:
    """Rank-biserial correlation of the factor between two levels: +1 when every patient of `high`
    scores above every patient of `low`; interval from the Hanley-McNeil standard error of the AUC."""
    a, b = x[groups == high].to_numpy(), x[groups == low].to_numpy()
    n1, n2 = len(a), len(b)
    contrast = f"{high} vs {low}"
    if min(n1, n2) < 2:
        return _row(factor, covariate, "mann_whitney", contrast, n=n1 + n2, n_missing=n_missing, note="a level has fewer than 2 patients")
    u, p = stats.mannwhitneyu(a, b, alternative="two-sided")
    auc = u / (n1 * n2)
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    se = np.sqrt((auc * (1 - auc) + (n1 - 1) * (q1 - auc**2) + (n2 - 1) * (q2 - auc**2)) / (n1 * n2))
    ci = (2 * max(auc - Z_95 * se, 0.0) - 1, 2 * min(auc + Z_95 * se, 1.0) - 1)
    return _row(factor, covariate, "mann_whitney", contrast, 2 * auc - 1, ci, u, p, n1 + n2, n_missing)


def _kruskal(factor: str, covariate: str, x: pd.Series, groups: pd.Series, n_missing: int) -> dict:
    """Kruskal-Wallis H; effect is eta-squared based on H, (H - k + 1) / (n - k) (no interval)."""
    levels = sorted(groups.unique())
    samples = [x[groups == level].to_numpy() for level in levels]
    n, k = len(x), len(levels)
    contrast = ", ".join(map(str, levels))
    if min(map(len, samples)) < 2 or n <= k:
        return _row(factor, covariate, "kruskal_wallis", contrast, n=n, n_missing=n_missing, note="a level has fewer than 2 patients")
    h, p = stats.kruskal(*samples)
    return _row(factor, covariate, "kruskal_wallis", contrast, (h - k + 1) / (n - k), statistic=h, p=p, n=n, n_missing=n_missing)


def _cox(factor: str, x: pd.Series, time: pd.Series, event: pd.Series, n_missing: int) -> dict:
    """Univariable Cox model; effect is the hazard ratio per standard deviation of the factor."""
    from lifelines import CoxPHFitter

    n = len(x)
    if n < 5 or event.sum() < 2 or x.std() == 0:
        return _row(factor, "survival", "cox", "per SD", n=n, n_missing=n_missing, note="fewer than 5 patients or 2 events")
    frame = pd.DataFrame({"z": (x - x.mean()) / x.std(), "time": time, "event": event})
    fitter = CoxPHFitter().fit(frame, duration_col="time", event_col="event")
    s = fitter.summary.loc["z"]
    return _row(factor, "survival", "cox", "per SD", s["exp(coef)"], (s["exp(coef) lower 95%"], s["exp(coef) upper 95%"]),
                s["z"], s["p"], n, n_missing)


def associations(factors: pd.DataFrame, clinical: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """One row per factor and clinical covariate (ASSOCIATION_COLUMNS), BH-adjusted across the table.

    factors: patients x factors. clinical: validated clinical table. settings: the config's `clinical`
    and `outcome` sections. Numeric covariates: Spearman's rho. Categorical covariates and the
    response: Mann-Whitney (two levels; rank-biserial effect) or Kruskal-Wallis (more). Survival:
    univariable Cox, hazard ratio per SD. `n` counts patients tested, `n_missing` patients with a
    factor value but no covariate value.
    """
    columns = settings["clinical"]
    table = clinical.set_index("patient_id").reindex(factors.index)
    rows = []
    positive = None
    if columns["response"]:
        positive, _ = response_levels(table[columns["response"]], settings["outcome"]["response_positive"])
    categorical = ([columns["response"]] if columns["response"] else []) + list(columns["categorical"])
    for factor in factors.columns:
        x = factors[factor]
        for covariate in columns["numeric"]:
            y = table[covariate]
            keep = y.notna() & x.notna()
            rows.append(_spearman(factor, covariate, x[keep], y[keep].astype(float), int((~keep).sum())))
        for covariate in categorical:
            groups = table[covariate].replace("", np.nan)
            keep = groups.notna() & x.notna()
            levels = sorted(groups[keep].unique())
            missing = int((~keep).sum())
            if covariate == columns["response"] and len(levels) > 2:
                rest = "other"
                groups = groups.where(groups == positive, rest)
                rows.append(_mann_whitney(factor, covariate, x[keep], groups[keep], positive, rest, missing))
            elif len(levels) == 2:
                high = positive if covariate == columns["response"] else levels[1]
                low = levels[0] if high == levels[1] else levels[1]
                rows.append(_mann_whitney(factor, covariate, x[keep], groups[keep], high, low, missing))
            elif len(levels) > 2:
                rows.append(_kruskal(factor, covariate, x[keep], groups[keep], missing))
            else:
                rows.append(_row(factor, covariate, "none", n=int(keep.sum()), n_missing=missing, note="fewer than 2 levels"))
        if columns["survival_time"] and columns["survival_event"]:
            time, event = table[columns["survival_time"]], table[columns["survival_event"]]
            keep = time.notna() & event.notna() & x.notna()
            rows.append(_cox(factor, x[keep], time[keep].astype(float), event[keep].astype(float), int((~keep).sum())))
    result = pd.DataFrame(rows, columns=ASSOCIATION_COLUMNS)
    result["q_value"] = benjamini_hochberg(result["p_value"])
    return result


# --- response prediction ------------------------------------------------------------------------

@dataclass
class Prediction:
    """Cross-validated response prediction.

    performance: one row per model (factors, clinical, factors_and_clinical); `note` carries the
    warnings, and when prediction was impossible the rows say why and hold no estimates.
    roc: ROC curve points (model, false_positive_rate, true_positive_rate) of the repeat-averaged
    out-of-fold probabilities. coefficients: the factor model fitted on all patients (log odds per SD).
    warnings: messages for the log and the report (small cohorts, skipped models).
    """

    performance: pd.DataFrame
    roc: pd.DataFrame
    coefficients: pd.DataFrame
    warnings: list[str]


PERFORMANCE_COLUMNS = [
    "model", "features", "n_patients", "n_positive", "n_splits", "n_repeats", "auroc", "ci_low", "ci_high",
    "auroc_repeat_mean", "auroc_repeat_sd", "delta_vs_clinical", "delta_ci_low", "delta_ci_high", "note",
]


def _model(numeric: list[str], categorical: list[str], inner_folds: int, seed: int):
    """Imputation and scaling, then an L2 logistic regression whose penalty is chosen among 10 values
    (C from 1e-3 to 1e2) by AUROC in an inner stratified cross-validation of the training patients."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = []
    if numeric:
        parts.append(("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric))
    if categorical:
        parts.append(("categorical", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), categorical))
    inner = StratifiedKFold(n_splits=inner_folds, shuffle=True, random_state=seed)
    return make_pipeline(ColumnTransformer(parts), LogisticRegressionCV(
        Cs=np.logspace(-3, 2, 10), l1_ratios=(0.0,), cv=inner, scoring="roc_auc", max_iter=5000, use_legacy_attributes=False))


def _bootstrap_auroc(y: np.ndarray, scores: dict[str, np.ndarray], n_boot: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """AUROC of each model on the same stratified patient resamples (so differences are paired)."""
    from sklearn.metrics import roc_auc_score

    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    draws = {name: np.empty(n_boot) for name in scores}
    for b in range(n_boot):
        sample = np.concatenate([rng.choice(positives, len(positives)), rng.choice(negatives, len(negatives))])
        for name, score in scores.items():
            draws[name][b] = roc_auc_score(y[sample], score[sample])
    return draws


def predict_response(factors: pd.DataFrame, clinical: pd.DataFrame, settings: dict) -> Prediction:
    """Repeated stratified cross-validation of an L2-regularized logistic regression for response
    (penalty chosen by an inner cross-validation in each training set, see `_model`).

    factors: patients x factors (the factors to use). settings: the config's `clinical` and `outcome`
    sections. Three models: factors alone, clinical covariates alone (numeric median-imputed and
    scaled, categorical one-hot), both. AUROC is that of the out-of-fold probabilities averaged over
    repeats, with a 95% interval from a stratified patient bootstrap; `delta_vs_clinical` is the paired
    bootstrap difference to the clinical model.
    """
    from sklearn.metrics import roc_auc_score, roc_curve
    from sklearn.model_selection import RepeatedStratifiedKFold

    columns, outcome = settings["clinical"], settings["outcome"]
    table = clinical.set_index("patient_id")
    response = table[columns["response"]].replace("", np.nan).reindex(factors.index)
    positive, _ = response_levels(response, outcome["response_positive"])
    known = response.notna()
    y = (response[known] == positive).astype(int).to_numpy()
    messages = []
    if (~known).any():
        messages.append(f"{int((~known).sum())} patient(s) with factors but no response were left out of response prediction")
    clinical_numeric = list(columns["numeric"])
    clinical_categorical = list(columns["categorical"])
    features = factors[known].join(table[clinical_numeric + clinical_categorical].replace("", np.nan), how="left")
    models = {"factors": (list(factors.columns), [])}
    if clinical_numeric or clinical_categorical:
        models["clinical"] = (clinical_numeric, clinical_categorical)
        models["factors_and_clinical"] = (list(factors.columns) + clinical_numeric, clinical_categorical)
    else:
        messages.append("no clinical covariates are configured (clinical.numeric, clinical.categorical): only the factor model is fitted")
    minority = int(min(y.sum(), len(y) - y.sum()))
    if minority < 2:
        messages.append(f"response prediction skipped: the smaller response class has {minority} patient(s); at least 2 are needed")
        skipped = pd.DataFrame([{"model": name, "features": ", ".join(numeric + categorical), "n_patients": len(y), "n_positive": int(y.sum())}
                                for name, (numeric, categorical) in models.items()], columns=PERFORMANCE_COLUMNS)
        return Prediction(skipped.assign(note="; ".join(messages)), pd.DataFrame(columns=["model", "false_positive_rate", "true_positive_rate"]),
                          pd.DataFrame(columns=["feature", "coefficient", "odds_ratio", "cv_mean", "cv_sd"]), messages)
    if minority < outcome["min_class_size"]:
        messages.append(
            f"small cohort: the smaller response class has {minority} patients (outcome.min_class_size is "
            f"{outcome['min_class_size']}); cross-validated AUROC will be imprecise, read its interval"
        )
    n_splits = min(outcome["cv_folds"], minority)
    splitter = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=outcome["cv_repeats"], random_state=outcome["seed"])
    splits = list(splitter.split(np.zeros(len(y)), y))
    inner_folds = max(2, min(3, minority - -(-minority // n_splits)))  # the smaller class of every training set fills each inner fold
    averaged, per_repeat, cv_coefficients = {}, {}, []
    for name, (numeric, categorical) in models.items():
        probabilities = np.zeros((outcome["cv_repeats"], len(y)))
        for index, (train, test) in enumerate(splits):
            model = _model(numeric, categorical, inner_folds, outcome["seed"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=UserWarning)  # a fold may lack a rare category
                model.fit(features.iloc[train], y[train])
                probabilities[index // n_splits, test] = model.predict_proba(features.iloc[test])[:, 1]
            if name == "factors":
                cv_coefficients.append(model[-1].coef_[0])
        averaged[name] = probabilities.mean(axis=0)
        per_repeat[name] = np.array([roc_auc_score(y, row) for row in probabilities])
    draws = _bootstrap_auroc(y, averaged, outcome["bootstrap"], np.random.default_rng(outcome["seed"]))
    rows, roc = [], []
    for name, (numeric, categorical) in models.items():
        row = {
            "model": name, "features": ", ".join(numeric + categorical), "n_patients": len(y), "n_positive": int(y.sum()),
            "n_splits": n_splits, "n_repeats": outcome["cv_repeats"], "auroc": roc_auc_score(y, averaged[name]),
            "ci_low": np.quantile(draws[name], 0.025), "ci_high": np.quantile(draws[name], 0.975),
            "auroc_repeat_mean": per_repeat[name].mean(), "auroc_repeat_sd": per_repeat[name].std(ddof=1) if len(per_repeat[name]) > 1 else np.nan,
            "delta_vs_clinical": np.nan, "delta_ci_low": np.nan, "delta_ci_high": np.nan, "note": "; ".join(messages),
        }
        if name != "clinical" and "clinical" in models:
            delta = draws[name] - draws["clinical"]
            row["delta_vs_clinical"] = row["auroc"] - roc_auc_score(y, averaged["clinical"])
            row["delta_ci_low"], row["delta_ci_high"] = np.quantile(delta, [0.025, 0.975])
        rows.append(row)
        fpr, tpr, _ = roc_curve(y, averaged[name])
        roc.append(pd.DataFrame({"model": name, "false_positive_rate": fpr, "true_positive_rate": tpr}))
    final = _model(list(factors.columns), [], min(3, minority), outcome["seed"]).fit(features, y)
    cv = np.array(cv_coefficients)
    coefficients = pd.DataFrame({
        "feature": list(factors.columns), "coefficient": final[-1].coef_[0], "odds_ratio": np.exp(final[-1].coef_[0]),
        "cv_mean": cv.mean(axis=0), "cv_sd": cv.std(axis=0, ddof=1),
    })
    return Prediction(pd.DataFrame(rows, columns=PERFORMANCE_COLUMNS), pd.concat(roc, ignore_index=True), coefficients, messages)


# --- patient strata -----------------------------------------------------------------------------

@dataclass
class Strata:
    """Patients clustered on factors.

    assignments: patient_id, stratum (1 = largest), silhouette (the patient's own silhouette width).
    selection: one row per number of strata tried (n_strata, mean_silhouette, smallest_stratum,
    eligible, chosen). warning: why there are no strata (tables then have no rows), else None.
    """

    assignments: pd.DataFrame
    selection: pd.DataFrame
    warning: str | None = None


def patient_strata(factors: pd.DataFrame, max_strata: int, min_size: int, seed: int) -> Strata:
    """k-means on the factor values (patients x factors) as MOFA gives them: a factor's spread follows
    how much variance it explains, and standardizing would give weak factors an equal say. Among the numbers of strata 2..max_strata
    whose every stratum holds at least `min_size` patients, the one with the highest mean silhouette
    width is chosen (without the size floor, single outlying patients win the silhouette). Strata are
    numbered by size, largest first, ties by first patient."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_samples, silhouette_score

    data = factors.dropna()
    none = Strata(pd.DataFrame(columns=["patient_id", "stratum", "silhouette"]),
                  pd.DataFrame(columns=["n_strata", "mean_silhouette", "smallest_stratum", "eligible", "chosen"]))
    if len(data) < 2 * min_size:
        none.warning = (f"no patient strata: they need at least {2 * min_size} patients with factor values "
                        f"(2 x outcome.min_stratum_size), and {len(data)} have them")
        return none
    x = (data - data.mean()).to_numpy()
    tried, labels = [], {}
    for k in range(2, min(max_strata, len(data) // min_size) + 1):
        labels[k] = KMeans(n_clusters=k, n_init=20, random_state=seed).fit_predict(x)
        smallest = int(np.bincount(labels[k]).min())
        tried.append((k, silhouette_score(x, labels[k]), smallest, smallest >= min_size))
    selection = pd.DataFrame(tried, columns=["n_strata", "mean_silhouette", "smallest_stratum", "eligible"])
    if not selection["eligible"].any():
        none.selection = selection.assign(chosen=False)
        none.warning = f"no patient strata: no clustering into 2 or more strata gives every stratum {min_size} patients (outcome.min_stratum_size)"
        return none
    best = int(selection.loc[selection.loc[selection["eligible"], "mean_silhouette"].idxmax(), "n_strata"])
    selection["chosen"] = selection["n_strata"] == best
    raw = pd.Series(labels[best], index=data.index)
    order = sorted(raw.unique(), key=lambda label: (-(raw == label).sum(), np.flatnonzero(raw.to_numpy() == label)[0]))
    renumber = {label: i + 1 for i, label in enumerate(order)}
    assignments = pd.DataFrame({
        "patient_id": data.index, "stratum": raw.map(renumber).to_numpy(), "silhouette": silhouette_samples(x, labels[best]),
    })
    return Strata(assignments, selection)


@dataclass
class StrataSurvival:
    """Kaplan-Meier curves per stratum (stratum, time, survival, ci_low, ci_high, at_risk) and the
    multivariate log-rank test across strata (one row: statistic, df, p_value, n, n_events); both
    without rows when fewer than two strata have survival data."""

    curves: pd.DataFrame
    test: pd.DataFrame


def strata_survival(assignments: pd.DataFrame, clinical: pd.DataFrame, time_column: str, event_column: str) -> StrataSurvival:
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    table = assignments.merge(clinical[["patient_id", time_column, event_column]], on="patient_id", how="left")
    table = table.dropna(subset=[time_column, event_column])
    if table["stratum"].nunique() < 2:
        return StrataSurvival(pd.DataFrame(columns=["stratum", "time", "survival", "ci_low", "ci_high", "at_risk"]),
                              pd.DataFrame(columns=["test", "n_strata", "statistic", "df", "p_value", "n", "n_events", "n_missing"]))
    curves = []
    for stratum, group in table.groupby("stratum", sort=True):
        fitter = KaplanMeierFitter().fit(group[time_column], group[event_column], label="survival")
        frame = pd.concat([fitter.survival_function_, fitter.confidence_interval_], axis=1)
        frame.columns = ["survival", "ci_low", "ci_high"]
        frame = frame.rename_axis("time").reset_index()
        frame["at_risk"] = fitter.event_table["at_risk"].reindex(frame["time"]).to_numpy()
        curves.append(frame.assign(stratum=stratum))
    curves = pd.concat(curves, ignore_index=True)[["stratum", "time", "survival", "ci_low", "ci_high", "at_risk"]]
    result = multivariate_logrank_test(table[time_column], table["stratum"], table[event_column])
    test = pd.DataFrame([{
        "test": "log-rank", "n_strata": table["stratum"].nunique(), "statistic": result.test_statistic,
        "df": result.degrees_of_freedom, "p_value": result.p_value, "n": len(table), "n_events": int(table[event_column].sum()),
        "n_missing": len(assignments) - len(table),
    }])
    return StrataSurvival(curves, test)
