"""Patient strata on the supported factors, only where the patients form clusters, and survival
across the strata.

k-means finds k groups in any data, clustered or not, and the silhouette of the best k is high
for a single elongated cloud too. So the best silhouette is compared with the best silhouettes of
data that have no clusters by construction: Gaussian draws with the factors' mean and covariance
(a unimodal null, as in the gap statistic's reference distribution). Strata are reported only when
the observed best silhouette exceeds all but 5% of the null's. Otherwise patients are split into
two risk groups at the median of a score fixed before any outcome is looked at
(outcome.risk_score: a factor, by default the supported factor explaining most variance), and the
tables say which of the two they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ASSIGNMENT_COLUMNS = ["patient_id", "stratum", "label", "basis", "silhouette"]
SELECTION_COLUMNS = ["n_strata", "mean_silhouette", "null_silhouette_q95", "smallest_stratum", "eligible", "chosen"]
CLUSTERS, RISK_GROUPS = "clusters", "risk groups"


@dataclass
class Strata:
    """assignments: ASSIGNMENT_COLUMNS (stratum 1 = the largest cluster, or 1 = low and 2 = high risk
    group; basis: CLUSTERS or RISK_GROUPS). selection: SELECTION_COLUMNS, one row per number of strata
    tried. p_value: of the best silhouette against the unimodal null (NaN when not tested).
    message: what the report and the console should say about the choice, or why there are none."""

    assignments: pd.DataFrame
    selection: pd.DataFrame
    p_value: float
    message: str


def _best_silhouettes(x: np.ndarray, ks: list[int], min_size: int, seed: int) -> tuple[dict, dict, dict]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    scores, smallest, labels = {}, {}, {}
    for k in ks:
        labels[k] = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)
        smallest[k] = int(np.bincount(labels[k], minlength=k).min())
        scores[k] = silhouette_score(x, labels[k]) if len(np.unique(labels[k])) > 1 else -1.0
    return scores, smallest, labels


def _eligible_best(scores: dict, smallest: dict, min_size: int) -> float:
    eligible = [scores[k] for k in scores if smallest[k] >= min_size]
    return max(eligible) if eligible else -1.0


def patient_strata(factors: pd.DataFrame, settings: dict) -> Strata:
    """factors: patients x the supported factors (in order: the first explains most variance).
    settings: the config's `outcome` section (max_strata, min_stratum_size, strata_null_draws,
    risk_score, seed).

    k-means on the factor values as MOFA gives them (a factor's spread follows how much variance it
    explains; standardizing would give weak factors an equal say); among 2..max_strata with every
    stratum of at least min_stratum_size patients, the highest mean silhouette is chosen, and kept
    only if it beats the unimodal null (see the module docstring).
    """
    from sklearn.metrics import silhouette_samples

    min_size, seed = settings["min_stratum_size"], settings["seed"]
    data = factors.dropna()
    none = Strata(pd.DataFrame(columns=ASSIGNMENT_COLUMNS), pd.DataFrame(columns=SELECTION_COLUMNS), np.nan, "")
    if data.shape[1] == 0:
        none.message = "no patient strata: no factor is supported by the data"
        return none
    if len(data) < 2 * min_size:
        none.message = (f"no patient strata: they need at least {2 * min_size} patients with factor values "
                        f"(2 x outcome.min_stratum_size), and {len(data)} have them")
        return none
    x = (data - data.mean()).to_numpy()
    ks = list(range(2, min(settings["max_strata"], len(data) // min_size) + 1))
    scores, smallest, labels = _best_silhouettes(x, ks, min_size, seed)
    observed = _eligible_best(scores, smallest, min_size)
    rng = np.random.default_rng(seed)
    covariance = np.atleast_2d(np.cov(x, rowvar=False))
    null_best, null_scores = [], {k: [] for k in ks}
    for _ in range(settings["strata_null_draws"]):
        draw = rng.multivariate_normal(np.zeros(x.shape[1]), covariance, size=len(x))
        draw_scores, draw_smallest, _ = _best_silhouettes(draw, ks, min_size, seed)
        null_best.append(_eligible_best(draw_scores, draw_smallest, min_size))
        for k in ks:
            null_scores[k].append(draw_scores[k])
    p_value = (1 + sum(best >= observed for best in null_best)) / (1 + len(null_best))
    selection = pd.DataFrame({
        "n_strata": ks, "mean_silhouette": [scores[k] for k in ks], "null_silhouette_q95": [np.quantile(null_scores[k], 0.95) for k in ks],
        "smallest_stratum": [smallest[k] for k in ks], "eligible": [smallest[k] >= min_size for k in ks],
    })
    selection["chosen"] = False
    if selection["eligible"].any() and p_value < 0.05:
        best = int(selection.loc[selection.loc[selection["eligible"], "mean_silhouette"].idxmax(), "n_strata"])
        selection["chosen"] = selection["n_strata"] == best
        raw = pd.Series(labels[best], index=data.index)
        order = sorted(raw.unique(), key=lambda label: (-(raw == label).sum(), np.flatnonzero(raw.to_numpy() == label)[0]))
        renumber = {label: i + 1 for i, label in enumerate(order)}
        strata = raw.map(renumber).to_numpy()
        assignments = pd.DataFrame({
            "patient_id": data.index, "stratum": strata, "label": [f"stratum {s}" for s in strata], "basis": CLUSTERS,
            "silhouette": silhouette_samples(x, labels[best]),
        })
        message = (f"{best} patient strata: the factors form clusters (best silhouette {observed:.2f}, p = {p_value:.3g} "
                   f"against {len(null_best)} unimodal Gaussian draws of the same covariance)")
        return Strata(assignments, selection, p_value, message)
    score_name = settings["risk_score"] or data.columns[0]
    if score_name not in data.columns:
        none.selection, none.p_value = selection, p_value
        none.message = f"no risk groups: outcome.risk_score names {score_name}, which is not a supported factor ({', '.join(data.columns)})"
        return none
    score = data[score_name]
    high = (score > score.median()).to_numpy()
    assignments = pd.DataFrame({
        "patient_id": data.index, "stratum": np.where(high, 2, 1), "label": np.where(high, f"high {score_name}", f"low {score_name}"),
        "basis": RISK_GROUPS, "silhouette": np.nan,
    })
    message = (f"no cluster structure in the factors (best silhouette {observed:.2f}, p = {p_value:.3g} against "
               f"{len(null_best)} unimodal Gaussian draws of the same covariance): patients are split into risk groups "
               f"at the median of {score_name} instead, not into strata")
    return Strata(assignments, selection, p_value, message)


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
