"""Factors and the clinic: covariate and survival associations.

Every function takes the factor matrix (patients x factors, float; from `factor_matrix`) and the
validated clinical table (one row per patient, `patient_id` first; see `oncofactor.validation`), and
returns plain DataFrames ready for Parquet. Patients lacking a value are left out of the test that
needs it and counted; nothing is imputed except clinical covariates inside the prediction models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

Z_95 = stats.norm.ppf(0.975)

ASSOCIATION_COLUMNS = [
    "factor", "covariate", "test", "contrast", "effect", "ci_low", "ci_high",
    "statistic", "p_value", "family", "n_tests", "family_p", "family_q", "q_within_family", "q_value",
    "n", "n_missing", "note",
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


def supported_factors(factors: pd.DataFrame, support: pd.DataFrame) -> pd.DataFrame:
    """The columns of `factors` (patients x factors) that the support table marks as supported."""
    keep = [factor for factor in support.loc[support["supported"].astype(bool), "factor"] if factor in factors.columns]
    return factors[keep]


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


def simes(p_values: pd.Series) -> float:
    """Simes' combined p-value of a family (min over ranks j of n p_(j) / j); missing ones left out."""
    tested = np.sort(p_values.dropna().to_numpy())
    if tested.size == 0:
        return np.nan
    return float(min(1.0, (tested.size * tested / np.arange(1, tested.size + 1)).min()))


def selective_fdr(table: pd.DataFrame) -> pd.DataFrame:
    """Benjamini-Bogomolov (2014) q-values for tests in families: a test is a finding at level a
    when its family is selected (BH over the families' Simes p-values, `family_q` <= a) and BH within
    the family (`q_within_family`) is <= a R / m, R of the m families selected at a. This keeps the
    false discovery rate within each selected family and, across families, keeps a family with no
    signal (a noise covariate) from adding findings at a rate of a per family.

    table: one row per test with `family` and `p_value` (missing: not tested). Adds family_p (Simes),
    family_q, q_within_family and q_value, the smallest level at which the test is a finding:
    min over k >= the family's rank of max(family_q_(k), q_within_family m / k), capped at 1.
    """
    result = table.copy()
    result["q_within_family"] = result.groupby("family", group_keys=False)["p_value"].apply(benjamini_hochberg)
    family_p = result.groupby("family")["p_value"].apply(simes).dropna()
    family_q = benjamini_hochberg(family_p)
    result["family_p"] = result["family"].map(family_p)
    result["family_q"] = result["family"].map(family_q)
    ordered = np.sort(family_q.to_numpy())
    m = ordered.size
    q_value = np.full(len(result), np.nan)
    for row, (fq, within) in enumerate(zip(result["family_q"].to_numpy(), result["q_within_family"].to_numpy())):
        if np.isnan(fq) or np.isnan(within):
            continue
        k = np.arange(int(np.searchsorted(ordered, fq, side="right")), m + 1)
        q_value[row] = min(1.0, float(np.maximum(ordered[k - 1], within * m / k).min()))
    result["q_value"] = q_value
    return result


def _row(factor, covariate, test, contrast="", effect=np.nan, ci=(np.nan, np.nan), statistic=np.nan, p=np.nan, n=0, n_missing=0, note="", family=None):
    return dict(factor=factor, covariate=covariate, test=test, contrast=contrast, effect=effect, ci_low=ci[0],
                ci_high=ci[1], statistic=statistic, p_value=p, family=family or covariate, n=n, n_missing=n_missing, note=note)


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


def _cox(factor: str, x: pd.Series, time: pd.Series, event: pd.Series, adjust: pd.DataFrame | None = None) -> dict:
    """Cox model of survival on the factor (hazard ratio per SD), alone or with the covariates in
    `adjust` (patients x covariates: numeric standardized, categorical one-hot against their first
    level). Patients lacking any value are left out and counted."""
    from lifelines import CoxPHFitter

    frame = pd.DataFrame({"z": x, "time": time, "event": event})
    test, contrast, family = "cox", "per SD", "survival"
    if adjust is not None:
        names = ", ".join(adjust.columns)
        test, contrast, family = "cox_adjusted", f"per SD, adjusted for {names}", f"survival adjusted for {names}"
        frame = frame.join(adjust)
    known = frame.notna().all(axis=1)
    n_missing = int((~known).sum())
    frame = frame[known]
    n = len(frame)
    if n < 5 or frame["event"].sum() < 2 or frame["z"].std() == 0:
        return _row(factor, "survival", test, contrast, n=n, n_missing=n_missing, note="fewer than 5 patients or 2 events", family=family)
    frame["z"] = (frame["z"] - frame["z"].mean()) / frame["z"].std()
    if adjust is not None:
        frame = pd.get_dummies(frame, columns=list(adjust.select_dtypes(exclude="number").columns), drop_first=True, dtype=float)
        numeric = [c for c in adjust.columns if c in frame.columns]
        frame[numeric] = (frame[numeric] - frame[numeric].mean()) / frame[numeric].std()
        frame = frame.loc[:, frame.std() > 0].assign(time=frame["time"], event=frame["event"])
    fitter = CoxPHFitter().fit(frame, duration_col="time", event_col="event")
    s = fitter.summary.loc["z"]
    return _row(factor, "survival", test, contrast, s["exp(coef)"], (s["exp(coef) lower 95%"], s["exp(coef) upper 95%"]),
                s["z"], s["p"], n, n_missing, family=family)


def associations(factors: pd.DataFrame, clinical: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """One row per factor and clinical covariate (ASSOCIATION_COLUMNS).

    factors: patients x factors (the supported ones: every test counts against its family).
    clinical: validated clinical table. settings: the config's `clinical` and `outcome` sections.
    Numeric covariates: Spearman's rho. Categorical covariates and the response: Mann-Whitney (two
    levels; rank-biserial effect) or Kruskal-Wallis (more). Survival: Cox, hazard ratio per SD,
    univariable and, with clinical.survival_adjust_for, adjusted for those covariates. `n` counts
    patients tested, `n_missing` patients with a factor value but no covariate value.

    False discovery rate: the families (`family`: one covariate, survival, or survival adjusted) are
    declared in advance and each holds the supported factors' tests (`n_tests`); q_value is
    Benjamini-Bogomolov's over the families (`selective_fdr`), q_within_family plain BH within one.
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
            time, event = table[columns["survival_time"]].astype(float), table[columns["survival_event"]].astype(float)
            rows.append(_cox(factor, x, time, event))
            if columns["survival_adjust_for"]:
                adjust = table[columns["survival_adjust_for"]].replace("", np.nan)
                adjust = adjust.astype({c: float for c in columns["survival_adjust_for"] if c in columns["numeric"]})
                rows.append(_cox(factor, x, time, event, adjust))
    result = pd.DataFrame(rows, columns=ASSOCIATION_COLUMNS)
    if result.empty:
        return result
    result["n_tests"] = result.groupby("family")["p_value"].transform("count").astype(int)
    return selective_fdr(result)[ASSOCIATION_COLUMNS]
