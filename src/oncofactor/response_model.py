"""Response prediction from the supported factors, the clinical covariates, and both.

The model is an L2-penalized logistic regression on standardized features, its penalty chosen by
log-loss in an inner cross-validation of the training patients. Log-loss, not AUROC: AUROC does not
change when all coefficients shrink together, so choosing by it drives them towards zero (0.008 log
odds per SD where the truth was 2.0); log-loss rewards calibrated probabilities and keeps them on the
scale of the effect.

Performance is the AUROC of out-of-fold probabilities in repeated stratified cross-validation. Its
interval comes from bootstrapping the whole procedure: each resample refits the model, penalty
choice included, and is scored on the patients it left out (Efron's leave-one-out bootstrap), so
the interval includes what refitting changes, which resampling fixed predictions would not. The
same refits give the coefficients' intervals. The features are the factors the data support (see
oncofactor.factor_support), chosen without the response, so nothing is selected on the outcome
outside the cross-validation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from oncofactor.clinical import response_levels
from oncofactor.notices import WARNING, Notice

PERFORMANCE_COLUMNS = [
    "model", "features", "n_patients", "n_positive", "n_splits", "n_repeats", "auroc", "ci_low", "ci_high",
    "auroc_repeat_sd", "n_bootstrap", "delta_vs_clinical", "delta_ci_low", "delta_ci_high", "note",
]
COEFFICIENT_COLUMNS = ["model", "feature", "coefficient", "ci_low", "ci_high", "odds_ratio"]
ROC_COLUMNS = ["model", "false_positive_rate", "true_positive_rate"]
PENALTIES = np.logspace(-3, 2, 10)  # inverse L2 strength C of LogisticRegressionCV


@dataclass
class Prediction:
    """performance: one row per model (PERFORMANCE_COLUMNS; `note` says why a model has no
    estimates). roc: ROC points of the repeat-averaged out-of-fold probabilities. coefficients: each
    model fitted on all patients (log odds per SD of a numeric feature, or of a category against the
    others), with 95% bootstrap intervals. notices: what the report and the console should say."""

    performance: pd.DataFrame
    roc: pd.DataFrame
    coefficients: pd.DataFrame
    notices: list[Notice] = field(default_factory=list)


def _model(numeric: list[str], categorical: list[str], inner_folds: int, seed: int):
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
    return make_pipeline(ColumnTransformer(parts, verbose_feature_names_out=False), LogisticRegressionCV(
        Cs=PENALTIES, l1_ratios=(0.0,), cv=inner, scoring="neg_log_loss", max_iter=5000, use_legacy_attributes=False))


def _fit(model, features: pd.DataFrame, y: np.ndarray):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # a training set may lack a rare category
        return model.fit(features, y)


def _inner_folds(minority: int) -> int:
    """Inner folds that the smaller class of a training set fills: 3 where it allows."""
    return max(2, min(3, minority - 1))


def predict_response(factors: pd.DataFrame, clinical: pd.DataFrame, settings: dict) -> Prediction:
    """factors: patients x the factors to use (may have no column: then no factor model).
    settings: the config's `clinical` and `outcome` sections (outcome: cv_folds, cv_repeats,
    bootstrap, min_class_size, response_positive, seed)."""
    from sklearn.metrics import roc_auc_score, roc_curve
    from sklearn.model_selection import RepeatedStratifiedKFold

    columns, outcome = settings["clinical"], settings["outcome"]
    table = clinical.set_index("patient_id")
    response = table[columns["response"]].replace("", np.nan).reindex(factors.index)
    positive, _ = response_levels(response, outcome["response_positive"])
    known = response.notna()
    y = (response[known] == positive).astype(int).to_numpy()
    notices = []
    if (~known).any():
        notices.append(Notice("response_prediction", "patients", f"{int((~known).sum())} patient(s)", WARNING,
                              "have factors but no response, so are left out of response prediction"))
    numeric, categorical = list(columns["numeric"]), list(columns["categorical"])
    features = factors[known].join(table[numeric + categorical].replace("", np.nan), how="left")
    features[numeric] = features[numeric].astype(float)
    models = {}
    if factors.shape[1]:
        models["factors"] = (list(factors.columns), [])
    else:
        notices.append(Notice("response_prediction", "model", "factors", WARNING, "no factor is supported by the data, so none predicts response"))
    if numeric or categorical:
        models["clinical"] = (numeric, categorical)
        if factors.shape[1]:
            models["factors_and_clinical"] = (list(factors.columns) + numeric, categorical)
    minority = int(min(y.sum(), len(y) - y.sum()))
    empty = Prediction(pd.DataFrame(columns=PERFORMANCE_COLUMNS), pd.DataFrame(columns=ROC_COLUMNS), pd.DataFrame(columns=COEFFICIENT_COLUMNS), notices)
    if not models:
        return empty
    if minority < 3:
        reason = f"the smaller response class has {minority} patient(s); cross-validation needs at least 3"
        notices.append(Notice("response_prediction", "model", "response prediction", WARNING, f"skipped: {reason}"))
        empty.performance = pd.DataFrame([{"model": name, "features": ", ".join(n + c), "n_patients": len(y), "n_positive": int(y.sum()),
                                           "note": f"not fitted: {reason}"} for name, (n, c) in models.items()], columns=PERFORMANCE_COLUMNS)
        return empty
    if minority < outcome["min_class_size"]:
        notices.append(Notice("response_prediction", "model", "response prediction", WARNING,
                              f"small cohort: the smaller response class has {minority} patients (outcome.min_class_size is "
                              f"{outcome['min_class_size']}); cross-validated AUROC is imprecise, read its interval"))

    n_splits = min(outcome["cv_folds"], minority)
    splits = list(RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=outcome["cv_repeats"], random_state=outcome["seed"]).split(features, y))
    inner = _inner_folds(minority - -(-minority // n_splits))
    rng = np.random.default_rng(outcome["seed"])
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    resamples = []
    while len(resamples) < outcome["bootstrap"]:
        drawn = np.concatenate([rng.choice(positives, len(positives)), rng.choice(negatives, len(negatives))])
        left_out = np.setdiff1d(np.arange(len(y)), drawn)
        if len(np.unique(y[left_out])) == 2:  # an out-of-bag set with both classes can be scored
            resamples.append((drawn, left_out))

    rows, roc, coefficients, bootstrap_auroc = [], [], [], {}
    for name, (num, cat) in models.items():
        probabilities = np.zeros((outcome["cv_repeats"], len(y)))
        for index, (train, test) in enumerate(splits):
            fitted = _fit(_model(num, cat, inner, outcome["seed"]), features.iloc[train], y[train])
            probabilities[index // n_splits, test] = fitted.predict_proba(features.iloc[test])[:, 1]
        per_repeat = np.array([roc_auc_score(y, row) for row in probabilities])
        bootstrap_auroc[name], draws = np.empty(len(resamples)), []
        for b, (drawn, left_out) in enumerate(resamples):
            fitted = _fit(_model(num, cat, _inner_folds(min(y[drawn].sum(), len(drawn) - y[drawn].sum())), outcome["seed"]), features.iloc[drawn], y[drawn])
            bootstrap_auroc[name][b] = roc_auc_score(y[left_out], fitted.predict_proba(features.iloc[left_out])[:, 1])
            draws.append(fitted[-1].coef_[0])
        final = _fit(_model(num, cat, _inner_folds(minority), outcome["seed"]), features, y)
        draws = np.array(draws)
        coefficients.append(pd.DataFrame({
            "model": name, "feature": final[0].get_feature_names_out(), "coefficient": final[-1].coef_[0],
            "ci_low": np.quantile(draws, 0.025, axis=0), "ci_high": np.quantile(draws, 0.975, axis=0), "odds_ratio": np.exp(final[-1].coef_[0]),
        }))
        rows.append({
            "model": name, "features": ", ".join(num + cat), "n_patients": len(y), "n_positive": int(y.sum()), "n_splits": n_splits,
            "n_repeats": outcome["cv_repeats"], "auroc": per_repeat.mean(),
            "ci_low": np.quantile(bootstrap_auroc[name], 0.025), "ci_high": np.quantile(bootstrap_auroc[name], 0.975),
            "auroc_repeat_sd": per_repeat.std(ddof=1) if len(per_repeat) > 1 else np.nan, "n_bootstrap": len(resamples),
            "delta_vs_clinical": np.nan, "delta_ci_low": np.nan, "delta_ci_high": np.nan, "note": "",
        })
        fpr, tpr, _ = roc_curve(y, probabilities.mean(axis=0))
        roc.append(pd.DataFrame({"model": name, "false_positive_rate": fpr, "true_positive_rate": tpr}))
    performance = pd.DataFrame(rows, columns=PERFORMANCE_COLUMNS).set_index("model", drop=False)
    if "clinical" in models:
        for name in [name for name in models if name != "clinical"]:
            delta = bootstrap_auroc[name] - bootstrap_auroc["clinical"]  # paired: the same resamples
            performance.loc[name, "delta_vs_clinical"] = performance.loc[name, "auroc"] - performance.loc["clinical", "auroc"]
            performance.loc[name, ["delta_ci_low", "delta_ci_high"]] = np.quantile(delta, [0.025, 0.975])
    return Prediction(performance.reset_index(drop=True), pd.concat(roc, ignore_index=True), pd.concat(coefficients, ignore_index=True), notices)
