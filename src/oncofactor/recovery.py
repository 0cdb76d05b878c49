"""How well inferred factors recover the true ones of a simulated cohort."""

from __future__ import annotations

import pandas as pd


def factor_recovery(truth: pd.DataFrame, factors: pd.DataFrame) -> pd.Series:
    """For each true factor, the largest absolute Pearson correlation with any inferred factor.

    truth: patient_id, factor, value (truth/factors.parquet); factors: sample, factor, value
    (results/mofa/factors.parquet). Patients are matched by ID; those in only one table are ignored.
    """
    true = truth.pivot(index="patient_id", columns="factor", values="value")
    inferred = factors.pivot_table(index="sample", columns="factor", values="value")
    common = true.index.intersection(inferred.index)
    if len(common) < 3:
        raise ValueError(f"only {len(common)} patients in both tables; cannot correlate")
    true, inferred = true.loc[common], inferred.loc[common]
    return pd.Series({name: inferred.corrwith(true[name]).abs().max() for name in true.columns}, name="best_abs_corr")
