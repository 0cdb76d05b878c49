"""How well inferred factors recover the true ones of a simulated cohort."""

from __future__ import annotations

import pandas as pd

SPURIOUS_BELOW = 0.3  # an inferred factor whose |r| with every true factor is below this matches none


def _aligned(truth: pd.DataFrame, factors: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    true = truth.pivot(index="patient_id", columns="factor", values="value")
    inferred = factors.pivot_table(index="sample", columns="factor", values="value")
    common = true.index.intersection(inferred.index)
    if len(common) < 3:
        raise ValueError(f"only {len(common)} patients in both tables; cannot correlate")
    return true.loc[common], inferred.loc[common]


def factor_recovery(truth: pd.DataFrame, factors: pd.DataFrame) -> pd.Series:
    """For each true factor, the largest absolute Pearson correlation with any inferred factor.

    truth: patient_id, factor, value (truth/factors.parquet); factors: sample, factor, value
    (results/mofa/factors.parquet). Patients are matched by ID; those in only one table are ignored.
    """
    true, inferred = _aligned(truth, factors)
    return pd.Series({name: inferred.corrwith(true[name]).abs().max() for name in true.columns}, name="best_abs_corr")


def inferred_matches(truth: pd.DataFrame, factors: pd.DataFrame, support: pd.DataFrame) -> pd.DataFrame:
    """For each inferred factor: the true factor it follows best (true_factor, best_abs_corr),
    whether the run calls it supported (support: results/mofa/factor_support.parquet), and whether it
    is spurious (|r| < SPURIOUS_BELOW with every true factor)."""
    true, inferred = _aligned(truth, factors)
    rows = []
    for name in inferred.columns:
        correlations = true.corrwith(inferred[name]).abs()
        rows.append({"factor": name, "true_factor": correlations.idxmax(), "best_abs_corr": correlations.max()})
    table = pd.DataFrame(rows)
    table["supported"] = table["factor"].map(support.set_index("factor")["supported"]).fillna(False).astype(bool)
    table["spurious"] = table["best_abs_corr"] < SPURIOUS_BELOW
    return table
