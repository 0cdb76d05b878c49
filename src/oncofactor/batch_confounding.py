"""Whether the sample sheet's batches go with the clinic: a batch that tracks response, survival or a
covariate carries biology, and correcting for it (mofa.batch_correction: regress or groups) removes
that biology with it. Tested per modality, at the patient level, before anything is corrected."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from oncofactor.notices import WARNING, Notice

CONFOUNDING_COLUMNS = ["modality", "covariate", "kind", "test", "n_patients", "n_batches", "statistic", "p_value", "confounded"]


def batch_shares(samples: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per modality, the share of each patient's samples of that modality in each batch: patients x
    batches, rows summing to 1. Samples without a batch are not counted. samples: the sample sheet
    (sample_id, patient_id, modality, batch, ...)."""
    return {
        str(modality): pd.crosstab(group["patient_id"], group["batch"], normalize="index")
        for modality, group in samples.dropna(subset=["batch"]).groupby("modality")
    }


def patient_batches(samples: pd.DataFrame) -> dict[str, pd.Series]:
    """Per modality, the batch of each patient whose samples of that modality all lie in one batch
    (a patient spanning batches is balanced across them and says nothing of confounding)."""
    return {modality: shares[(shares == 1).any(axis=1)].idxmax(axis=1).astype(str) for modality, shares in batch_shares(samples).items()}


def _categorical(batch: pd.Series, values: pd.Series) -> tuple[str, float, float]:
    table = pd.crosstab(batch, values)
    if table.shape == (2, 2):
        statistic, p = stats.fisher_exact(table.to_numpy())
        return "Fisher's exact", float(statistic), float(p)
    statistic, p, *_ = stats.chi2_contingency(table.to_numpy())
    return "chi-square", float(statistic), float(p)


def _numeric(batch: pd.Series, values: pd.Series) -> tuple[str, float, float]:
    statistic, p = stats.kruskal(*[values[batch == b].to_numpy(dtype=float) for b in sorted(batch.unique())])
    return "Kruskal-Wallis", float(statistic), float(p)


def _survival(batch: pd.Series, time: pd.Series, event: pd.Series) -> tuple[str, float, float]:
    from lifelines.statistics import multivariate_logrank_test

    result = multivariate_logrank_test(time.to_numpy(dtype=float), batch.to_numpy(), event.to_numpy(dtype=float))
    return "log-rank", float(result.test_statistic), float(result.p_value)


def batch_confounding(samples: pd.DataFrame, clinical: pd.DataFrame, settings: dict, alpha: float) -> tuple[pd.DataFrame, list[Notice]]:
    """Test each modality's batches (patients in one batch each, `patient_batches`) against the
    response, survival and every covariate the config names (settings: its `clinical` section):
    categorical ones by Fisher's exact test (2 x 2) or chi-square, numeric ones by Kruskal-Wallis,
    survival by the log-rank test. A test with p < `alpha` marks the batch confounded and gives a
    warning. Tests need two batches with at least two patients each.

    Returns the table (CONFOUNDING_COLUMNS) and the warnings.
    """
    clinical = clinical.set_index("patient_id").replace("", np.nan)  # a blank cell is missing, as in the associations
    covariates = [(c, "categorical") for c in [settings["response"], *settings["categorical"]] if c]
    covariates += [(c, "numeric") for c in settings["numeric"]]
    rows, notices = [], []
    for modality, batch in patient_batches(samples).items():
        batch = batch[batch.index.isin(clinical.index)]
        tests = [(c, kind, clinical.loc[batch.index, c]) for c, kind in covariates]
        if settings["survival_time"] and settings["survival_event"]:
            tests.append(("survival", "survival", clinical.loc[batch.index, [settings["survival_time"], settings["survival_event"]]]))
        for covariate, kind, values in tests:
            known = values.notna().all(axis=1) if isinstance(values, pd.DataFrame) else values.notna()
            sizes = batch[known].value_counts()
            sizes = sizes[sizes >= 2]
            used = known & batch.isin(sizes.index)
            if len(sizes) < 2:
                continue
            if kind == "categorical":
                if values[used].nunique() < 2:
                    continue
                test, statistic, p = _categorical(batch[used], values[used].astype(str))
            elif kind == "numeric":
                test, statistic, p = _numeric(batch[used], values[used].astype(float))
            else:
                test, statistic, p = _survival(batch[used], values.iloc[:, 0][used], values.iloc[:, 1][used])
            confounded = bool(np.isfinite(p) and p < alpha)
            rows.append((modality, covariate, kind, test, int(used.sum()), len(sizes), statistic, p, confounded))
            if confounded:
                notices.append(Notice(
                    "batch_confounding", "batch", f"{modality} batches", WARNING,
                    f"go with {covariate} ({test} p = {p:.2g}, {int(used.sum())} patients in {len(sizes)} batches): "
                    "correcting for them removes that part of the biology too",
                    "if the batches carry biology, compare a run with mofa.batch_correction: none; in new studies, balance batches across outcomes",
                ))
    return pd.DataFrame(rows, columns=CONFOUNDING_COLUMNS), notices
