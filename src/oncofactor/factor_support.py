"""Which MOFA factors the data support: stable when the patients are resampled, explaining more of
a view than factors fitted to the same data with its patient structure destroyed, following no
technical covariate and carried by more than one patient.

Restarts on the same patients only show whether the optimizer finds the same optimum; a factor
fitted to noise in those patients reappears in every restart, and a true factor that only the best
restarts find is missing from the others. How often the other restarts find a factor is reported
(restart_stability), but it decides nothing. Two checks a referee would ask for:

- resampling: MOFA is refitted on random subsets of the patients (`resample_patients`), each by the
  procedure that chose the reported model (the best ELBO of several restarts, `mofa.resample_restarts`);
  a factor of the reported model is matched, by its scores on the shared patients, to its best
  counterpart in each refit. A factor that is a property of the cohort, not of these patients, comes back.
- null: MOFA is refitted on the views with each feature's values permuted across the patients that
  have it (`permute_patients`), which keeps every feature's distribution and each view's missing
  pattern but no structure across features. The largest share of a view's variance any factor
  explains there is what noise alone reaches; a supported factor must explain more in some view.

Both refits use the settings of the reported model (`mofa.train`), so a result is comparable. Two
more checks need no refit: a factor whose scores follow the cells captured or the sequencing depth of
the patients' samples (`technical_covariates`) is an artefact of the lab, and a factor one patient
carries (`top_patient_share`) is that patient's, however stable either is.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from oncofactor.mofa import MofaData, MofaModel, best_restart, read_model, view_r2

SUPPORT_COLUMNS = [
    "factor", "restart_stability", "n_restarts", "resample_stability", "n_resamples", "best_view", "r2",
    "null_r2", "n_null_fits", "technical_covariate", "technical_r", "top_patient", "top_patient_share",
    "stable_resamples", "above_noise", "not_technical", "not_one_patient", "supported", "reason",
]


def resample_patients(data: MofaData, fraction: float, seed: int) -> MofaData:
    """The views over a random `fraction` of the patients, drawn without replacement (a subsample,
    not a bootstrap: MOFA would take a repeated patient for two)."""
    rng = np.random.default_rng(seed)
    n = len(data.samples)
    keep = np.sort(rng.choice(n, size=max(3, round(fraction * n)), replace=False))
    return replace(
        data,
        views={name: matrix[keep] for name, matrix in data.views.items()},
        samples=[data.samples[i] for i in keep],
        groups=[data.groups[i] for i in keep],
    )


def best_refits(paths: list[str]) -> list[MofaModel]:
    """The best-ELBO run of each resampled subset, in subset order, from the paths of all runs
    (.../subsample_<subset>_<run>.hdf5, in any order)."""
    runs = defaultdict(list)
    for path in paths:
        found = re.fullmatch(r"subsample_(\d+)_\d+\.hdf5", Path(path).name)
        if found is None:
            raise ValueError(f"{path}: not a resampled refit's file (subsample_<subset>_<run>.hdf5)")
        runs[int(found.group(1))].append(read_model(path))
    return [fits[best_restart(fits)] for _, fits in sorted(runs.items())]


def permute_patients(data: MofaData, seed: int) -> MofaData:
    """The views with each feature's observed values shuffled across the patients that have a value;
    missing entries stay where they are."""
    rng = np.random.default_rng(seed)
    views = {}
    for name, matrix in data.views.items():
        permuted = matrix.copy()
        for column in range(matrix.shape[1]):
            observed = np.flatnonzero(~np.isnan(matrix[:, column]))
            permuted[observed, column] = matrix[rng.permutation(observed), column]
        views[name] = permuted
    return replace(data, views=views)


def best_matches(reference: pd.DataFrame, fits: list[pd.DataFrame]) -> pd.Series:
    """For each factor of `reference` (patients x factors), the mean over `fits` of its largest
    absolute Pearson correlation with any factor of that fit, over the patients both have (0 for a
    fit that shares fewer than three patients with it or has no factor)."""
    scores = {}
    for factor in reference.columns:
        matches = []
        for fit in fits:
            shared = reference.index.intersection(fit.index)
            if len(shared) < 3 or fit.shape[1] == 0:
                matches.append(0.0)
                continue
            correlations = fit.loc[shared].corrwith(reference.loc[shared, factor]).abs()
            matches.append(float(correlations.max()) if correlations.notna().any() else 0.0)
        scores[factor] = float(np.mean(matches)) if matches else float("nan")
    return pd.Series(scores, dtype=float)


def noise_r2(null_fits: list[MofaModel]) -> pd.Series:
    """Per view, the largest fraction of variance any single factor explains in any null fit."""
    per_fit = [view_r2(model).max(axis=1) for model in null_fits]
    return pd.concat(per_fit, axis=1).max(axis=1)


def technical_covariates(qc: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """Per patient, what the lab decided rather than the tumour, both log10: the cells (spots) passing
    QC of its scRNA (spatial) samples, and their depth, the median counts per cell taken within each
    cell type and then over types (so that a factor that shifts composition towards cells with more
    UMIs, as tumour cells have, does not look like depth). Single-CTC data give their depth only: how
    many CTCs were sequenced is the patient's CTC burden, which is biology.

    qc: results/harmonized/qc.parquet (sample_id, modality, total_counts, cell_type, passed_qc per
    cell); samples: the validated sample sheet (sample_id, patient_id). Returns patients x covariates.
    """
    kept = qc.loc[qc["passed_qc"].astype(bool), ["sample_id", "modality", "total_counts", "cell_type"]].merge(
        samples[["sample_id", "patient_id"]], on="sample_id"
    )
    kept["cell_type"] = kept["cell_type"].astype(str)
    columns = {}
    for modality, cells in kept.groupby("modality"):
        if modality != "ctc_scrna":
            columns[f"{modality} cells passing QC"] = np.log10(cells.groupby("patient_id").size())
        per_type = cells.groupby(["patient_id", "cell_type"])["total_counts"].median().clip(lower=1)
        columns[f"{modality} median counts per cell"] = np.log10(per_type).groupby("patient_id").median()
    return pd.DataFrame(columns)


def technical_correlation(factors: pd.DataFrame, technical: pd.DataFrame) -> pd.DataFrame:
    """Per factor, the technical covariate its scores follow most (largest |Spearman r| over the
    patients having both, at least 5) and that r. factors: patients x factors; technical:
    `technical_covariates`."""
    rows = []
    for factor in factors.columns:
        best, best_r = "", 0.0
        for covariate in technical.columns:
            both = pd.concat([factors[factor], technical[covariate]], axis=1, join="inner").dropna()
            if len(both) < 5 or both.iloc[:, 1].nunique() < 2:
                continue
            r = both.iloc[:, 0].corr(both.iloc[:, 1], method="spearman")
            if np.isfinite(r) and abs(r) > abs(best_r):
                best, best_r = covariate, float(r)
        rows.append((factor, best, best_r))
    return pd.DataFrame(rows, columns=["factor", "technical_covariate", "technical_r"]).set_index("factor")


def top_patient_share(scores: pd.Series) -> tuple[str, float]:
    """The patient with the largest squared (centred) score of a factor and that square's share of
    the sum over patients: about 0.18 for Gaussian scores of 30 patients (99.9% below 0.44), 0.11
    for 60; near 1 for a factor that describes one patient."""
    centred = (scores - scores.mean()).dropna()
    squares = centred**2
    total = squares.sum()
    return (str(squares.idxmax()), float(squares.max() / total)) if total > 0 else ("", 0.0)


def factor_support(
    factors: pd.DataFrame, r2: pd.DataFrame, restarts: list[pd.DataFrame], resamples: list[pd.DataFrame],
    null_fits: list[MofaModel], min_stability: float, technical: pd.DataFrame, max_technical_correlation: float,
    max_patient_share: float,
) -> pd.DataFrame:
    """The support table of the reported factors (SUPPORT_COLUMNS, one row per factor).

    factors: patients x reported factors (Factor1..K); r2: views x reported factors (fraction);
    restarts: the other restarts' factors (patients x factors), for restart_stability only; resamples:
    the factors of refits on resampled patients (each the best of its restarts); null_fits: models
    refitted to permuted views; technical: patients x technical covariates (`technical_covariates`;
    may have no columns). A factor is supported when its mean best |r| across resamples reaches
    `min_stability`, it explains more of some view than any factor of the null fits, its scores do
    not follow a technical covariate (|Spearman r| below `max_technical_correlation`: a factor that
    tracks sequencing depth or cells captured is an artefact of the lab, however stable), and no
    single patient carries it (the top patient's share of its squared scores below
    `max_patient_share`: with thousands of features, one patient's own deviations form a direction
    MOFA can fit, which reappears in every refit that includes that patient) (stable_resamples,
    above_noise, not_technical, not_one_patient); `reason` says why the first check it fails fails.
    """
    restart_stability = best_matches(factors, restarts) if restarts else pd.Series(np.nan, index=factors.columns)
    resample_stability = best_matches(factors, resamples)
    noise = noise_r2(null_fits).reindex(r2.index)
    margin = r2.sub(noise, axis=0)
    artefacts = technical_correlation(factors, technical)
    rows = []
    for factor in factors.columns:
        view = margin[factor].idxmax()
        top = top_patient_share(factors[factor])
        checks = {
            "stable_resamples": resample_stability[factor] >= min_stability,
            "above_noise": margin.loc[view, factor] > 0,
            "not_technical": abs(artefacts.loc[factor, "technical_r"]) < max_technical_correlation,
            "not_one_patient": top[1] < max_patient_share,
        }
        failed = [check for check, passed in checks.items() if not passed]
        rows.append({
            "factor": factor, "restart_stability": restart_stability[factor], "n_restarts": len(restarts) + 1,
            "resample_stability": resample_stability[factor], "n_resamples": len(resamples), "best_view": view,
            "r2": r2.loc[view, factor], "null_r2": noise[view], "n_null_fits": len(null_fits),
            "technical_covariate": artefacts.loc[factor, "technical_covariate"], "technical_r": artefacts.loc[factor, "technical_r"],
            "top_patient": top[0], "top_patient_share": top[1],
            **checks, "supported": not failed,
            "reason": _reason(failed[0], resample_stability[factor], min_stability, r2[factor], noise,
                              artefacts.loc[factor], max_technical_correlation, top, max_patient_share)
            if failed else "",
        })
    return pd.DataFrame(rows, columns=SUPPORT_COLUMNS)


def _reason(check: str, resample: float, threshold: float, r2: pd.Series, noise: pd.Series,
            artefact: pd.Series, max_technical: float, top: tuple[str, float], max_share: float) -> str:
    if check == "not_one_patient":
        return (f"carried by one patient ({top[0]} gives {top[1]:.0%} of its variance, >= mofa.max_patient_share = {max_share:g}): "
                "a finding needs more than one patient")
    if check == "not_technical":
        return (f"follows {artefact['technical_covariate']} (Spearman r = {artefact['technical_r']:.2f}, |r| >= "
                f"mofa.max_technical_correlation = {max_technical:g}): a depth or cell-count artefact")
    if check == "stable_resamples":
        return f"not found again when the patients are resampled (mean best |r| {resample:.2f} < {threshold:g})"
    view = r2.idxmax()
    return f"explains no more than noise: {r2[view]:.1%} of {view}, where a factor of permuted data reaches {noise[view]:.1%}"
