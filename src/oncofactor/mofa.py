"""MOFA+ on the patient-level views: input checks, one seeded training run, and reading the model.

mofapy2 is driven through its entry_point with the order it requires (data options, data, model
options, training options, build, run, save). Its failure modes are turned into errors here: it
calls sys.exit(0) on data it does not recognise, can end with a NaN ELBO, and can switch off every
factor. Results are read back from the saved HDF5 file, where factors are sorted by variance
explained and R2 is in percent (the in-memory model differs).
"""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass, replace

import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from oncofactor.pseudobulk import VIEW_SEPARATOR

logger = logging.getLogger(__name__)


class MofaInputError(ValueError):
    """The views cannot be given to MOFA as they are; the message says which view and why."""


class MofaTrainingError(RuntimeError):
    """mofapy2 failed or produced an unusable model."""


@dataclass
class MofaData:
    """Views as MOFA takes them: per view a patients x features matrix (NaN = missing), all views
    over the same patients in the same order, with group labels and likelihoods."""

    views: dict[str, np.ndarray]
    features: dict[str, list[str]]
    likelihoods: dict[str, str]
    samples: list[str]
    groups: list[str]


def prepare_views(mdata, settings: dict) -> MofaData:
    """Check the MuData's views and lay them out for mofapy2.

    Features with no observed value or no variance are dropped (logged); a view left with no feature
    or fewer than two observed patients, non-finite values, or values that do not fit its likelihood
    (bernoulli 0/1, poisson whole numbers >= 0) raise MofaInputError.
    """
    samples = [str(s) for s in mdata.obs_names]
    groups = [str(g) for g in mdata.obs["group"]] if "group" in mdata.obs else ["all"] * len(samples)
    views, features, likelihoods = {}, {}, {}
    for name, view in mdata.mod.items():
        values = view.X.toarray() if sp.issparse(view.X) else np.asarray(view.X, dtype=float)
        frame = pd.DataFrame(values, index=view.obs_names.astype(str), columns=view.var_names.astype(str))
        frame = frame.reindex(samples)
        if np.isinf(frame.to_numpy()).any():
            raise MofaInputError(f"view {name}: infinite values; MOFA needs finite numbers or missing values")
        observed = frame.notna().any(axis=1).sum()
        if observed < 2:
            raise MofaInputError(f"view {name}: {observed} patient(s) with data; MOFA needs at least 2")
        usable = frame.notna().sum() >= 2
        usable &= frame.std(skipna=True).fillna(0) > 0
        if (~usable).any():
            logger.info("view %s: %d features without variance or with < 2 observed values dropped", name, (~usable).sum())
        frame = frame.loc[:, usable]
        if frame.shape[1] == 0:
            raise MofaInputError(f"view {name}: no feature varies across patients")
        likelihood = settings["likelihoods"].get(name) or view.uns.get("likelihood", "gaussian")
        present = frame.to_numpy()[~np.isnan(frame.to_numpy())]
        if likelihood == "bernoulli" and not np.isin(present, [0, 1]).all():
            raise MofaInputError(f"view {name}: likelihood bernoulli needs values 0 or 1")
        if likelihood == "poisson" and ((present < 0).any() or (present % 1 != 0).any()):
            raise MofaInputError(f"view {name}: likelihood poisson needs whole numbers >= 0")
        views[name] = frame.to_numpy(dtype=float)
        features[name] = list(frame.columns)
        likelihoods[name] = likelihood
    if not views:
        raise MofaInputError("no views to integrate")
    return MofaData(views, features, likelihoods, samples, groups)


def training_data(views_path: str, settings: dict) -> MofaData:
    """The views of `views_path` (results/integration/views.h5mu) as every training run takes them:
    checked and laid out (`prepare_views`), with each view's sample batches regressed out when
    settings['batch_correction'] is 'regress' (settings: the config's `mofa` section; with 'groups'
    the batches are MOFA's groups, set by `build_views`)."""
    import mudata

    mudata.set_options(pull_on_update=False)
    mdata = mudata.read_h5mu(views_path)
    data = prepare_views(mdata, settings)
    if settings["batch_correction"] == "regress":
        regress_batches(data, view_batches(mdata, data.views))
    return data


def trainable_factors(data: MofaData, requested: int) -> tuple[int, str]:
    """How many factors the views allow: mofapy2 starts from a PCA of the patients, which has fewer
    components than patients, so at most patients - 1 (and no more than the features). Returns the
    number and, when it is below `requested`, why."""
    n_samples = len(data.samples)
    n_features = sum(len(features) for features in data.features.values())
    allowed = max(1, min(requested, n_samples - 1, n_features))
    if allowed == requested:
        return allowed, ""
    return allowed, f"mofa.factors = {requested}, but {n_samples} patients and {n_features} features allow at most {allowed}"


def train(data: MofaData, settings: dict, seed: int, outfile: str, coordinates: np.ndarray | None = None, n_inducing: int | None = None,
          save_data: bool = False) -> None:
    """Train one MOFA model with `seed` and save it to `outfile` (HDF5, as mofapy2 saves it; with
    `save_data`, with the training data, so that mofax's `get_data()` and MOFA2's data plots work).

    With `coordinates` (samples x 2, e.g. spot positions) the model is MEFISTO: factors are smooth
    over the coordinates, with a sparse Gaussian process on `n_inducing` inducing points.
    Trains `trainable_factors` factors. mofapy2's console output goes to the log line by line as it
    prints it (one line per iteration: ELBO, its change, active factors), so the log follows training. Raises
    MofaTrainingError on mofapy2's silent exit, a non-finite ELBO, or a model whose factors are all
    switched off.
    """
    from mofapy2.run.entry_point import entry_point

    group_names = sorted(set(data.groups))
    view_names = list(data.views)
    groups = np.array(data.groups)
    matrices = [[data.views[v][groups == g] for g in group_names] for v in view_names]
    samples = [[s for s, sg in zip(data.samples, data.groups) if sg == g] for g in group_names]
    console = _LogLines()
    try:
        with contextlib.redirect_stdout(console):
            model = entry_point()
            model.set_data_options(scale_views=settings["scale_views"], scale_groups=False, use_float32=settings["float32"])
            model.set_data_matrix(
                matrices,
                likelihoods=[data.likelihoods[v] for v in view_names],
                views_names=view_names,
                groups_names=group_names,
                samples_names=samples,
                features_names=[data.features[v] for v in view_names],
            )
            model.set_model_options(
                factors=trainable_factors(data, settings["factors"])[0], spikeslab_weights=settings["spikeslab_weights"],
                ard_factors=settings["ard_factors"], ard_weights=settings["ard_weights"],
            )
            model.set_train_options(
                iter=settings["max_iterations"], convergence_mode=settings["convergence_mode"],
                dropR2=settings["drop_r2"], startELBO=1, freqELBO=1, seed=seed, verbose=False, quiet=False,
            )
            if coordinates is not None:
                model.set_covariates([np.asarray(coordinates, dtype=float)], covariates_names=["x", "y"])
                fraction = min(1.0, (n_inducing or len(data.samples)) / len(data.samples))
                model.set_smooth_options(scale_cov=True, sparseGP=fraction < 1.0, frac_inducing=fraction, start_opt=10, opt_freq=10)
            model.build()
            model.run()
            model.save(outfile, save_data=save_data)
    except SystemExit as stop:
        console.flush()
        raise MofaTrainingError(f"mofapy2 stopped (exit status {stop.code}): {console.last or 'no message'}") from None
    except AssertionError as error:  # mofapy2 checks its arguments with assert
        raise MofaTrainingError(f"mofapy2 refused the input: {error}") from None
    finally:
        console.flush()
    check_model(outfile)


class _LogLines(io.TextIOBase):
    """A stream that logs each line written to it as it is completed ("mofapy2: ..."), and keeps
    the last one: mofapy2 says why it stops in its last line before sys.exit."""

    def __init__(self):
        self.partial, self.last = "", ""

    def write(self, text: str) -> int:
        *lines, self.partial = (self.partial + text).split("\n")
        for line in lines:
            self._log(line)
        return len(text)

    def flush(self) -> None:
        if self.partial:
            self._log(self.partial)
            self.partial = ""

    def _log(self, line: str) -> None:
        if line.strip():
            self.last = line.strip()
            logger.info("mofapy2: %s", line.rstrip())


def elbo_trace(elbo: np.ndarray) -> tuple[np.ndarray, bool]:
    """The ELBO values mofapy2 computed, and whether training converged. mofapy2 keeps
    max_iterations + 1 slots and fills one per iteration: on convergence it trims the unused slots,
    at the iteration limit it leaves the last one NaN. That NaN is not a diverged ELBO."""
    reached_limit = len(elbo) > 1 and np.isnan(elbo[-1]) and np.isfinite(elbo[-2])
    return (elbo[:-1], False) if reached_limit else (elbo, True)


def check_model(path: str) -> None:
    """Raise MofaTrainingError if the saved model's ELBO diverged or no factor is active; log a
    warning when training stopped at mofa.max_iterations before converging."""
    with h5py.File(path, "r") as handle:
        elbo, converged = elbo_trace(handle["training_stats/elbo"][:])
        n_factors = handle["expectations/Z"][next(iter(handle["expectations/Z"]))].shape[0]
    if elbo.size == 0 or not np.isfinite(elbo[-1]):
        raise MofaTrainingError(f"{path}: training ended with ELBO {elbo[-1] if elbo.size else 'none'}; try fewer factors, float64 or scaled views")
    if n_factors == 0:
        raise MofaTrainingError(f"{path}: every factor was switched off (dropR2); lower mofa.drop_r2")
    if not converged:
        logger.warning("%s: stopped at mofa.max_iterations = %d before converging (ELBO change %.3g in the last iteration)",
                       path, elbo.size, elbo[-1] - elbo[-2] if elbo.size > 1 else float("nan"))


@dataclass
class MofaModel:
    """A saved model read back: factors (samples x factors), weights per view (features x factors),
    R2 per group (views x factors, fraction 0-1), the final ELBO and whether training converged
    before mofa.max_iterations. Factor columns in file order."""

    factors: pd.DataFrame
    groups: pd.Series
    weights: dict[str, pd.DataFrame]
    r2: dict[str, pd.DataFrame]
    r2_total: dict[str, pd.Series]
    elbo: float
    converged: bool


def best_restart(models: list[MofaModel]) -> int:
    """The position in `models` of the highest final ELBO: the restart MOFA's users report, as
    mofapy2 converges to a local optimum that depends on the seed."""
    return max(range(len(models)), key=lambda i: models[i].elbo)


def _names(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def read_model(path: str) -> MofaModel:
    """Read a model saved by mofapy2 (expectations/Z and W, variance_explained, training_stats)."""
    with h5py.File(path, "r") as handle:
        groups = _names(handle["groups/groups"][:])
        views = _names(handle["views/views"][:])
        factor_names = [f"mofa_{i + 1}" for i in range(handle["expectations/Z"][groups[0]].shape[0])]
        parts, labels = [], []
        for group in groups:
            samples = _names(handle["samples"][group][:])
            parts.append(pd.DataFrame(handle["expectations/Z"][group][:].T, index=samples, columns=factor_names))
            labels += [group] * len(samples)
        factors = pd.concat(parts)
        weights = {
            view: pd.DataFrame(handle["expectations/W"][view][:].T, index=_names(handle["features"][view][:]), columns=factor_names)
            for view in views
        }
        r2 = {
            group: pd.DataFrame(handle["variance_explained/r2_per_factor"][group][:] / 100.0, index=views, columns=factor_names)
            for group in groups
        }
        r2_total = {group: pd.Series(handle["variance_explained/r2_total"][group][:] / 100.0, index=views) for group in groups}
        elbo, converged = elbo_trace(handle["training_stats/elbo"][:])
    return MofaModel(factors, pd.Series(labels, index=factors.index), weights, r2, r2_total, float(elbo[-1]), converged)


def batch_offsets(data: MofaData, batches: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Per view, how far each batch moves each feature: batches x features, NaN where a feature's
    observed patients do not span two batches.

    batches: view name -> patients x batches, the share of the patient's samples of the view's
    modality in each batch (rows sum to 1; NaN for a patient whose batch is unknown). A patient with
    samples in two batches is a mix of both, not a batch of its own: the offsets are the
    least-squares fit of each feature on the shares, relative to the feature's mean over its observed
    patients (for one batch per patient: batch mean minus overall mean).
    """
    result = {}
    for name, shares in batches.items():
        matrix = data.views[name]
        design = shares.reindex(data.samples).to_numpy(dtype=float)
        known = ~np.isnan(design).any(axis=1)
        offsets = np.full((design.shape[1], matrix.shape[1]), np.nan)
        observed = ~np.isnan(matrix) & known[:, None]
        patterns, columns_of = np.unique(observed, axis=1, return_inverse=True)
        for index, pattern in enumerate(patterns.T):  # features measured in the same patients share one fit
            columns = np.flatnonzero(columns_of.ravel() == index)
            present = design[pattern].sum(axis=0) > 0
            if present.sum() < 2:
                continue
            values = matrix[np.ix_(pattern, columns)]
            fitted, *_ = np.linalg.lstsq(design[np.ix_(pattern, present)], values, rcond=None)
            offsets[np.ix_(present, columns)] = fitted - values.mean(axis=0)
        result[name] = pd.DataFrame(offsets, index=shares.columns.astype(str), columns=data.features[name])
    return result


def regress_batches(data: MofaData, batches: dict[str, pd.DataFrame], offsets: dict[str, pd.DataFrame] | None = None) -> MofaData:
    """Remove each view's technical batches from its features, in place: each patient loses its
    batch shares times the batch offsets (`batch_offsets`, computed here unless given). MOFA has no
    covariates, so a batch left in the views would come out as a factor of its own."""
    for name, offset in (offsets if offsets is not None else batch_offsets(data, batches)).items():
        shares = batches[name].reindex(data.samples).to_numpy(dtype=float)
        data.views[name] -= np.nan_to_num(shares) @ np.nan_to_num(offset.to_numpy())
    return data


def as_trained(matrix: np.ndarray, groups: list[str], scale_view: bool) -> tuple[np.ndarray, dict[str, np.ndarray], float]:
    """A gaussian view as mofapy2 trains on it: each feature centred on its mean within each group,
    then the view divided by its standard deviation when scale_views is on. Returns the matrix
    (patients x features, NaN kept), each group's feature means and the scale (1 without scaling)."""
    labels = np.array(groups)
    centred = matrix.copy()
    means = {}
    for group in sorted(set(groups)):
        means[group] = np.nanmean(matrix[labels == group], axis=0)
        centred[labels == group] -= means[group]
    scale = float(np.nanstd(centred)) if scale_view else 1.0
    return centred / scale, means, scale


def view_batches(mdata, views) -> dict[str, pd.DataFrame]:
    """The batches each of `views` (names) should be corrected for: the shares of the patient's
    samples of the modality the view was built from in each batch (uns['modality']: obsm
    batch_scrna, batch_spatial or batch_ctc_scrna, written by `build_views`); views of
    patient-level tables have none."""
    keys = {name: f"batch_{mdata.mod[name].uns.get('modality')}" for name in views}
    return {name: pd.DataFrame(mdata.obsm[key]) for name, key in keys.items() if key in mdata.obsm}


@dataclass
class FactorSummary:
    """The reported factors of the best model: active ones only, ordered by variance explained and
    named Factor1..K (Factor1 explains most); `mapping` gives the model column of each, `signs` the
    sign (+1 or -1) its scores and weights are multiplied by (`factor_signs`), `oriented_by` the view
    that chose it."""

    mapping: dict[str, str]
    inactive: list[str]
    signs: dict[str, int]
    oriented_by: dict[str, str]


def view_r2(model: MofaModel) -> pd.DataFrame:
    """Variance explained per view (rows) and factor (columns), fraction 0-1, averaged over groups."""
    return sum(model.r2.values()) / len(model.r2)


def summarize_factors(model: MofaModel, min_r2: float) -> FactorSummary:
    """Keep factors explaining at least `min_r2` (fraction) of some view in some group; order them by
    total variance explained (summed over views, averaged over groups)."""
    r2 = view_r2(model)
    best_per_factor = pd.concat(model.r2.values()).max(axis=0)
    active = best_per_factor[best_per_factor >= min_r2].index
    if active.empty:
        raise MofaTrainingError(
            f"no factor explains at least mofa.min_r2 = {min_r2:g} of any view (best: {best_per_factor.max():.3g}); "
            "the views carry no shared structure MOFA can find: add patients or views, or lower mofa.min_r2"
        )
    order = r2[active].sum(axis=0).sort_values(ascending=False).index
    mapping = {f"Factor{i + 1}": column for i, column in enumerate(order)}
    inactive = [c for c in model.factors.columns if c not in set(active)]
    signs, oriented_by = factor_signs(model, mapping)
    return FactorSummary(mapping, inactive, signs, oriented_by)


def factor_signs(model: MofaModel, mapping: dict[str, str]) -> tuple[dict[str, int], dict[str, str]]:
    """The sign that makes each factor read naturally, and the view that decides it.

    A factor's sign is arbitrary in MOFA (scores and weights can both be negated). It is set so that,
    in the view the factor explains most, its largest weights are positive: the sum of the cubed
    weights there is positive, so a patient with a higher score has more of the features that weigh
    most. Deterministic, and the same whichever sign mofapy2 happened to return.
    """
    r2 = view_r2(model)
    signs, views = {}, {}
    for name, column in mapping.items():
        view = str(r2[column].idxmax())
        heaviest = float(np.nansum(model.weights[view][column].to_numpy(dtype=float) ** 3))
        signs[name], views[name] = (-1 if heaviest < 0 else 1), view
    return signs, views


def strip_view(feature: str, view: str) -> str:
    prefix = view + VIEW_SEPARATOR
    return feature[len(prefix):] if feature.startswith(prefix) else feature


def result_tables(model: MofaModel, summary: FactorSummary, settings: dict) -> dict[str, pd.DataFrame]:
    """The Parquet tables of a MOFA run (factors, weights, variance_explained, top_features, and
    orientation: each reported factor's column in the model file (1-based, mofapy2's order), whether
    its scores and weights were negated there, and the view that decided it), with factors renamed
    and oriented as in `summary`."""
    columns = list(summary.mapping.values())
    rename = {column: name for name, column in summary.mapping.items()}
    signs = pd.Series(summary.signs)
    factors = model.factors[columns].rename(columns=rename) * signs
    long_factors = (
        factors.assign(group=model.groups).rename_axis("sample").reset_index()
        .melt(id_vars=["sample", "group"], var_name="factor", value_name="value")
    )
    weights, top = [], []
    for view, matrix in model.weights.items():
        table = matrix[columns].rename(columns=rename) * signs
        largest = table.abs().max(axis=0).replace(0, np.nan)
        scaled = table / largest
        for factor in table.columns:
            frame = pd.DataFrame(
                {"view": view, "feature": [strip_view(f, view) for f in table.index], "factor": factor,
                 "weight": table[factor].to_numpy(), "scaled_weight": scaled[factor].to_numpy()}
            )
            weights.append(frame)
            ranked = frame.reindex(frame["weight"].abs().sort_values(ascending=False, kind="stable").index).head(settings["top_features"])
            top.append(ranked.assign(rank=np.arange(1, len(ranked) + 1))[["factor", "view", "rank", "feature", "weight"]])
    variance = []
    for group, r2 in model.r2.items():
        frame = r2[columns].rename(columns=rename).rename_axis("view").reset_index().melt(id_vars="view", var_name="factor", value_name="r2")
        totals = model.r2_total[group].rename("r2").rename_axis("view").reset_index().assign(factor="total")
        variance.append(pd.concat([frame, totals[["view", "factor", "r2"]]], ignore_index=True).assign(group=group))
    orientation = pd.DataFrame({
        "factor": list(summary.mapping), "model_factor": [int(column.removeprefix("mofa_")) for column in columns],
        "flipped": [summary.signs[name] < 0 for name in summary.mapping],
        "oriented_by_view": [summary.oriented_by[name] for name in summary.mapping],
    })
    return {
        "factors": long_factors[["sample", "group", "factor", "value"]],
        "orientation": orientation,
        "weights": pd.concat(weights, ignore_index=True),
        "variance_explained": pd.concat(variance, ignore_index=True)[["group", "view", "factor", "r2"]],
        "top_features": pd.concat(top, ignore_index=True),
    }


def add_to_mudata(views_path: str, tables: dict[str, pd.DataFrame], out_path: str) -> None:
    """Copy the views MuData with the reported factors in obsm['X_mofa'] (patients x factors) and each
    view's weights in varm['LFs'] (features x factors; NaN for features MOFA did not see)."""
    import mudata

    mudata.set_options(pull_on_update=False)
    mdata = mudata.read_h5mu(views_path)
    factors = tables["factors"].pivot(index="sample", columns="factor", values="value")
    order = sorted(factors.columns, key=lambda name: int(name.removeprefix("Factor")))
    mdata.obsm["X_mofa"] = factors.reindex(index=mdata.obs_names, columns=order).to_numpy()
    weights = tables["weights"]
    for name, view in mdata.mod.items():
        table = weights[weights["view"] == name].pivot(index="feature", columns="factor", values="weight")
        features = [strip_view(f, name) for f in view.var_names]
        view.varm["LFs"] = table.reindex(index=features, columns=order).to_numpy()
    mdata.uns["mofa_factors"] = np.array(order)
    mdata.write(out_path)


def model_residuals(data: MofaData, factors: pd.DataFrame, weights: pd.DataFrame, scale_views: bool) -> dict[str, pd.DataFrame]:
    """What the model leaves unexplained in each gaussian view: patients x features (names without the
    view prefix), the training data centred per group (and scaled per view when `scale_views`) as
    mofapy2 saw it, minus factors @ weights.T; 0 where a value is missing.

    data: the training views (`training_data`); factors: patients x factors
    (`oncofactor.clinical.factor_matrix`) and weights: the long weight table, both of the reported model.
    """
    z = factors.reindex(data.samples).to_numpy(dtype=float)
    residuals = {}
    for name, matrix in data.views.items():
        if data.likelihoods[name] != "gaussian":
            continue
        centered = as_trained(matrix, data.groups, scale_views)[0]
        features = [strip_view(f, name) for f in data.features[name]]
        w = (
            weights[weights["view"] == name].pivot(index="feature", columns="factor", values="weight")
            .reindex(index=features, columns=factors.columns).fillna(0.0).to_numpy()
        )
        residuals[name] = pd.DataFrame(np.nan_to_num(centered - z @ w.T), index=data.samples, columns=features)
    return residuals


def preprocessing_table(data: MofaData, batches: dict[str, pd.DataFrame], scale_views: bool, factors: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """What training did to each feature before MOFA saw it, and how noisy the model found it, so new
    patients can be treated and scored the same.

    Rows (view, feature, quantity, level, value): `batch_offset` per batch (what `regress_batches`
    subtracts), then for gaussian views `center` per group (mofapy2 centres features per group),
    `scale` (mofapy2 divides a view by its standard deviation when scale_views is on; 1 otherwise)
    and `noise_variance` (mean squared residual over the patients that have the feature, on the
    trained scale: the inverse of MOFA's noise precision). Call with `data` before
    `regress_batches`; factors and weights: the reported model's, as `model_residuals` takes them.
    """
    offsets = batch_offsets(data, batches)
    trained = regress_batches(replace(data, views={name: matrix.copy() for name, matrix in data.views.items()}), batches, offsets)
    residuals = model_residuals(trained, factors, weights, scale_views)
    rows = [
        (name, feature, "batch_offset", batch, float(offset))
        for name, offset_table in offsets.items()
        for (batch, feature), offset in offset_table.stack(future_stack=True).dropna().items()
    ]
    for name, matrix in trained.views.items():
        if data.likelihoods[name] != "gaussian":
            continue
        _, means, scale = as_trained(matrix, data.groups, scale_views)
        for group, group_means in means.items():
            rows += [(name, feature, "center", group, float(mean)) for feature, mean in zip(data.features[name], group_means)]
        rows += [(name, feature, "scale", "", scale) for feature in data.features[name]]
        squares = (residuals[name].to_numpy() ** 2).sum(axis=0)  # 0 where a value is missing
        noise = squares / np.maximum((~np.isnan(matrix)).sum(axis=0), 1)
        rows += [(name, feature, "noise_variance", "", float(value)) for feature, value in zip(data.features[name], noise)]
    table = pd.DataFrame(rows, columns=["view", "feature", "quantity", "level", "value"])
    table["feature"] = [strip_view(f, v) for f, v in zip(table["feature"], table["view"])]
    return table


def project(views: dict[str, pd.DataFrame], weights: pd.DataFrame, preprocessing: pd.DataFrame,
            batches: dict[str, pd.DataFrame] | None = None, group: str | None = None) -> pd.DataFrame:
    """Factor scores of new patients from a trained model's weights, as MOFA scores its own patients.

    views: view name -> patients x features (feature names without the view prefix), built by the same
    harmonization as the training cohort. weights: weights.parquet of the model; preprocessing: its
    preprocessing.parquet. Each gaussian view the model knows is corrected for the patient's batch
    (when known to the model), centred with the training means of `group` (default: the mean over
    groups) and scaled as in training. The scores are the posterior mean of MOFA's factor update
    given the weights, over the features the patient has: (I + W'TW)^-1 W'Ty, with T the features'
    noise precisions and the N(0, 1) prior of the factors. Least squares would leave a factor that
    the patient's views do not carry undetermined, where MOFA shrinks it to 0. Returns patients x
    factors (NaN for a patient with none of the model's features).
    """
    batches = batches or {}
    factor_names = sorted(weights["factor"].unique(), key=lambda name: int(name.removeprefix("Factor")))
    blocks_y, blocks_w, blocks_precision = [], [], []
    for name, table in views.items():
        known = preprocessing[preprocessing["view"] == name]
        if known.empty or "scale" not in set(known["quantity"]):
            continue
        w = weights[weights["view"] == name].pivot(index="feature", columns="factor", values="weight")[factor_names]
        centers = known[known["quantity"] == "center"]
        center = (centers[centers["level"] == group] if group else centers).groupby("feature")["value"].mean()
        scale = known[known["quantity"] == "scale"].set_index("feature")["value"]
        noise = known[known["quantity"] == "noise_variance"].set_index("feature")["value"]
        features = w.index.intersection(table.columns)
        values = table[features].astype(float)
        offsets = known[known["quantity"] == "batch_offset"].pivot(index="level", columns="feature", values="value")
        if name in batches and not offsets.empty:
            shares = batches[name].reindex(index=values.index, columns=offsets.index).fillna(0.0).to_numpy()
            values = values - shares @ offsets.reindex(columns=features).fillna(0.0).to_numpy()
        values = (values - center.reindex(features)) / scale.reindex(features)
        blocks_y.append(values)
        blocks_w.append(w.loc[features])
        blocks_precision.append(1.0 / noise.reindex(features).clip(lower=1e-12))
    if not blocks_y:
        raise ValueError("none of the new patients' views is a gaussian view of the model")
    y = pd.concat(blocks_y, axis=1)
    w = pd.concat(blocks_w, axis=0).to_numpy()
    precision = pd.concat(blocks_precision).to_numpy()
    scores = []
    for patient, row in y.iterrows():
        observed = row.notna().to_numpy()
        if not observed.any():
            scores.append(np.full(len(factor_names), np.nan))
            continue
        weighted = w[observed] * precision[observed, None]
        scores.append(np.linalg.solve(np.eye(len(factor_names)) + weighted.T @ w[observed], weighted.T @ row.to_numpy()[observed]))
    return pd.DataFrame(scores, index=y.index, columns=factor_names)
