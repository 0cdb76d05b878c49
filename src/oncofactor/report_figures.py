"""The report's figures (matplotlib): each function takes result tables and returns a Figure;
`save_figure` writes it as PNG. The page that shows them is oncofactor.report_page."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "figure.dpi": 100})


def save_figure(figure, path: str | Path) -> None:
    """PNG at 110 dpi (readable at the report's width), written via a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(temporary, dpi=110, bbox_inches="tight")
    plt.close(figure)
    temporary.replace(path)


def _message_figure(text: str):
    figure, axis = plt.subplots(figsize=(6, 1.2))
    axis.axis("off")
    axis.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    return figure


def _heatmap(axis, matrix: pd.DataFrame, cmap: str, label: str, annotate: bool = True, fmt: str = "{:.2f}", vmin=None, vmax=None):
    image = axis.imshow(matrix.to_numpy(dtype=float), aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
    axis.set_xticks(range(matrix.shape[1]), [str(c) for c in matrix.columns], rotation=45, ha="right")
    axis.set_yticks(range(matrix.shape[0]), [str(i) for i in matrix.index])
    if annotate and matrix.size <= 400:
        values = matrix.to_numpy(dtype=float)
        threshold = np.nanmax(np.abs(values)) / 2 if np.isfinite(values).any() else 0
        for (i, j), value in np.ndenumerate(values):
            if np.isfinite(value):
                axis.text(j, i, fmt.format(value), ha="center", va="center", fontsize=8, color="white" if abs(value) > threshold else "black")
    plt.colorbar(image, ax=axis, label=label, shrink=0.8)


def figure_coverage(coverage: pd.DataFrame):
    """Patients x views: which views of the integration each patient is in (coverage table of the
    views step), views grouped by the modality that feeds them."""
    rows = coverage[coverage["present"]].assign(view=lambda t: t["views"].fillna("").str.split(",")).explode("view")
    rows = rows[rows["view"].astype(bool)]
    patients = sorted(coverage["patient_id"].unique())
    if rows.empty:
        return _message_figure("No patient is in any view.")
    present = pd.crosstab(rows["patient_id"], rows["view"]).gt(0).reindex(index=patients, fill_value=False).astype(int)
    figure, axis = plt.subplots(figsize=(max(5, 0.35 * present.shape[1] + 2.5), max(3, 0.16 * len(present) + 1.5)))
    axis.imshow(present.to_numpy(), aspect="auto", cmap="Greens", vmin=0, vmax=1.4, interpolation="nearest")
    axis.set_xticks(range(present.shape[1]), present.columns, rotation=60, ha="right", fontsize=8)
    axis.set_yticks(range(len(present)), present.index, fontsize=6 if len(present) > 40 else 8)
    axis.set_xlabel("view")
    axis.set_ylabel("patient")
    counts = present.sum(axis=0)
    axis.set_title(f"Views per patient ({len(present)} patients; green: in the view; patients per view {counts.min()}-{counts.max()})", fontsize=10)
    return figure


QC_METRICS = [("total_counts", "min_counts", "total counts per cell or spot", True), ("n_genes_by_counts", "min_genes", "detected genes", True),
              ("pct_counts_mt", "max_pct_mito", "mitochondrial counts (%)", False)]


def figure_qc_distributions(qc: pd.DataFrame, thresholds: dict[str, dict]):
    """Per modality (rows), the distributions of counts, genes and mitochondrial share over all
    observations, kept and removed stacked, with the fixed floor or ceiling of qc.<modality> drawn
    (the MAD thresholds are each sample's own and are not drawn)."""
    if qc.empty:
        return _message_figure("No samples: this cohort has patient-level tables only.")
    modalities = [m for m in ("scrna", "spatial", "ctc_scrna") if m in set(qc["modality"])]
    figure, axes = plt.subplots(len(modalities), 3, figsize=(13, 2.9 * len(modalities)), squeeze=False)
    for row, modality in enumerate(modalities):
        data = qc[qc["modality"] == modality]
        for column, (metric, key, label, logarithmic) in enumerate(QC_METRICS):
            axis = axes[row, column]
            values = data[metric].astype(float)
            if logarithmic:
                positive = values[values > 0]
                bins = np.logspace(np.log10(max(positive.min(), 1)), np.log10(max(positive.max(), 10)), 40) if len(positive) else 10
                axis.set_xscale("log")
            else:
                bins = np.linspace(0, max(values.max(), 1), 40)
            kept, removed = values[data["passed_qc"]], values[~data["passed_qc"]]
            axis.hist([kept, removed], bins=bins, stacked=True, color=["tab:blue", "0.7"], label=[f"kept ({len(kept)})", f"removed ({len(removed)})"])
            threshold = thresholds.get(modality, {}).get(key)
            if threshold is not None:
                axis.axvline(max(threshold, 1e-9), color="black", linestyle="--", linewidth=1, label=f"{key} = {threshold:g}")
            axis.set_xlabel(label)
            axis.set_ylabel(f"{modality}: observations")
            axis.legend(frameon=False, fontsize=7)
    figure.suptitle("QC distributions by modality (dashed: the fixed thresholds of qc.<modality>)")
    figure.tight_layout()
    return figure


def figure_batch_embedding(embedding: pd.DataFrame, mixing: pd.DataFrame):
    """scRNA cells on the first two components before (PCA) and after Harmony, coloured by batch and
    by cell type, with the share of each cell's neighbours from its own batch."""
    metric = mixing.set_index("metric")["value"]
    figure, axes = plt.subplots(2, 2, figsize=(11, 9))
    for row, (prefix, title, key) in enumerate([("pc", "before (PCA)", "same_batch_fraction_pca"), ("harmony", "after Harmony", "same_batch_fraction_harmony")]):
        for column, colour_by in enumerate(["batch", "cell_type"]):
            axis = axes[row, column]
            labels = embedding[colour_by].fillna("unknown").astype(str)
            for i, level in enumerate(sorted(labels.unique())):
                chosen = labels == level
                axis.scatter(embedding.loc[chosen, f"{prefix}_1"], embedding.loc[chosen, f"{prefix}_2"], s=2, alpha=0.5,
                             color=plt.get_cmap("tab10")(i % 10), label=level, rasterized=True)
            axis.set_xlabel(f"{prefix}_1")
            axis.set_ylabel(f"{prefix}_2")
            share = f"; same-batch neighbours {metric[key]:.2f}" if key in metric else ""
            axis.set_title(f"{title}, by {colour_by.replace('_', ' ')}{share}", fontsize=10)
            axis.legend(frameon=False, fontsize=7, markerscale=4, loc="best")
    figure.tight_layout()
    return figure


def figure_qc(qc: pd.DataFrame):
    """Per modality (one panel each, its own scale): observations per sample read and passing QC,
    and the share kept; a sample that kept less than half is drawn in red."""
    if qc.empty:
        return _message_figure("No samples: this cohort has patient-level tables only.")
    modalities = [m for m in ("scrna", "spatial", "ctc_scrna") if m in set(qc["modality"])]
    figure, axes = plt.subplots(len(modalities), 1, figsize=(max(7, 0.25 * qc["sample_id"].nunique() / len(modalities) + 3), 2.8 * len(modalities)), squeeze=False)
    for axis, modality in zip(axes[:, 0], modalities):
        per_sample = qc[qc["modality"] == modality].groupby("sample_id", sort=True).agg(total=("passed_qc", "size"), passed=("passed_qc", "sum"))
        x = np.arange(len(per_sample))
        low = per_sample["passed"] < 0.5 * per_sample["total"]
        axis.bar(x, per_sample["total"], color="lightgray", label="read")
        axis.bar(x, per_sample["passed"], color=np.where(low, "tab:red", "tab:blue"), label="passed QC (red: under half kept)")
        axis.set_ylabel(f"{modality}\nobservations")
        axis.set_xticks(x, per_sample.index, rotation=90, fontsize=7)
        axis.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes[0, 0].set_title("Cells or spots per sample, read and passing QC")
    figure.tight_layout()
    return figure


def figure_cell_types(qc: pd.DataFrame):
    """Cell-type shares of the cells passing QC, per scRNA-seq sample."""
    cells = qc[qc["passed_qc"].astype(bool) & (qc["modality"] == "scrna") & qc["cell_type"].fillna("").astype(bool)]
    if cells.empty:
        return _message_figure("No typed cells (no single-cell samples).")
    shares = pd.crosstab(cells["sample_id"], cells["cell_type"], normalize="index")
    figure, axis = plt.subplots(figsize=(max(6, 0.22 * len(shares) + 3), 4))
    bottom = np.zeros(len(shares))
    colors = plt.get_cmap("tab10")
    for i, cell_type in enumerate(shares.columns):
        axis.bar(range(len(shares)), shares[cell_type], bottom=bottom, label=cell_type, color=colors(i % 10))
        bottom += shares[cell_type].to_numpy()
    axis.set_xticks(range(len(shares)), shares.index, rotation=90, fontsize=7)
    axis.set_ylabel("share of passing cells")
    axis.set_xlabel("scRNA-seq sample")
    axis.set_title("Cell types per sample")
    axis.legend(bbox_to_anchor=(1.01, 1), loc="upper left", frameon=False)
    return figure


def _factor_order(names) -> list[str]:
    return sorted(names, key=lambda name: int(name[6:]) if name.startswith("Factor") and name[6:].isdigit() else 10**6)


def figure_variance(variance: pd.DataFrame):
    """Variance explained (R2, %) per view and factor (first group)."""
    group = variance["group"].iloc[0]
    table = variance[(variance["group"] == group) & (variance["factor"] != "total")]
    matrix = table.pivot(index="view", columns="factor", values="r2")[_factor_order(table["factor"].unique())] * 100
    figure, axis = plt.subplots(figsize=(0.6 * matrix.shape[1] + 4, 0.4 * matrix.shape[0] + 1.5))
    _heatmap(axis, matrix.clip(lower=0), "Blues", "variance explained (%)", fmt="{:.0f}")
    axis.set_xlabel("factor")
    axis.set_ylabel("view")
    axis.set_title("Variance explained per view and factor")
    return figure


def figure_top_weights(top: pd.DataFrame, per_factor: int = 8, max_factors: int = 6):
    """Largest weights per factor across views (the first `max_factors` factors)."""
    factors = _factor_order(top["factor"].unique())[:max_factors]
    columns = min(3, len(factors))
    rows = -(-len(factors) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.2 * rows), squeeze=False)
    for axis, factor in zip(axes.flat, factors):
        best = top[top["factor"] == factor].reindex(top.loc[top["factor"] == factor, "weight"].abs().sort_values(ascending=False).index).head(per_factor)[::-1]
        labels = [f"{feature} ({view})" for feature, view in zip(best["feature"], best["view"])]
        axis.barh(range(len(best)), best["weight"], color=np.where(best["weight"] > 0, "tab:red", "tab:blue"))
        axis.set_yticks(range(len(best)), labels, fontsize=7)
        axis.axvline(0, color="black", linewidth=0.5)
        axis.set_xlabel("weight")
        axis.set_title(factor)
    for axis in list(axes.flat)[len(factors):]:
        axis.axis("off")
    figure.suptitle("Top feature weights per factor")
    figure.tight_layout()
    return figure


def figure_factor_support(support: pd.DataFrame, threshold: float):
    """Each factor's stability across refits on resampled patients (the check) and across restarts
    (for information), and the share of its best view it explains beside what factors of permuted
    data reach there."""
    table = support.set_index("factor").loc[_factor_order(support["factor"])]
    positions = np.arange(len(table))
    figure, (left, right) = plt.subplots(1, 2, figsize=(max(8, 0.9 * len(table) + 4), 3.4))
    left.bar(positions - 0.2, table["restart_stability"], 0.4, color="0.78", label="other restarts (shown, not a check)")
    left.bar(positions + 0.2, table["resample_stability"], 0.4, color="tab:orange", label="resampled patients (the check)")
    left.axhline(threshold, color="black", linestyle="--", linewidth=0.8, label=f"threshold {threshold:g}")
    left.set_ylim(0, 1.02)
    left.set_ylabel("mean best |r|")
    left.set_title("Stability")
    left.legend(frameon=False, loc="lower left", fontsize=8)
    colours = np.where(table["supported"].astype(bool), "tab:green", "tab:gray")
    right.bar(positions - 0.2, 100 * table["r2"], 0.4, color=colours, label="factor (green: supported)")
    right.bar(positions + 0.2, 100 * table["null_r2"], 0.4, color="white", edgecolor="black", hatch="//", label="best factor of permuted data")
    right.set_ylabel("variance explained in its best view (%)")
    right.set_title("Above noise")
    right.legend(frameon=False, fontsize=8)
    for axis in (left, right):
        axis.set_xticks(positions, table.index, rotation=45, ha="right")
    figure.tight_layout()
    return figure


def _scores_by_group(axis, scores: pd.Series, groups: pd.Series, factor: str, title: str, counts: bool) -> None:
    """A factor's scores (patients) per level of `groups` on `axis`: box and points, levels sorted,
    each level's patient count under its name when `counts`."""
    levels = sorted(groups.dropna().unique())
    data = [scores[groups == level].dropna() for level in levels]
    axis.boxplot(data, showfliers=False)
    for i, values in enumerate(data, start=1):
        axis.scatter(np.full(len(values), i) + np.linspace(-0.12, 0.12, len(values)), values, s=10, alpha=0.7)
    labels = [f"{level}\n(n={len(d)})" if counts else str(level) for level, d in zip(levels, data)]
    axis.set_xticks(range(1, len(levels) + 1), labels, rotation=0 if counts else 20, fontsize=8)
    axis.set_ylabel(f"{factor} score", fontsize=8)
    axis.set_title(title, fontsize=9)


def figure_factors_by_covariates(factors: pd.DataFrame, clinical: pd.DataFrame, covariates: list[str], max_factors: int = 4):
    """Factor values (patients) by each categorical covariate, for the first `max_factors` columns of
    `factors` (patients x factors, in the order to show)."""
    if not covariates:
        return _message_figure("No categorical covariates or response configured.")
    if factors.shape[1] == 0:
        return _message_figure("No factor is supported by the data, so none is shown against the clinic.")
    names = list(factors.columns)[:max_factors]
    table = clinical.set_index("patient_id").reindex(factors.index)
    figure, axes = plt.subplots(len(covariates), len(names), figsize=(3 * len(names), 2.6 * len(covariates)), squeeze=False)
    for row, covariate in enumerate(covariates):
        groups = table[covariate].replace("", np.nan)
        for column, factor in enumerate(names):
            _scores_by_group(axes[row, column], factors[factor], groups, factor, f"{factor} by {covariate}", counts=False)
    figure.tight_layout()
    return figure


# The significance colour scale: fixed q-value bands, so a colour means the same in every run and
# every q at or above the FDR is the same neutral grey, however dark the cells beside it.
SIGNIFICANCE_COLOURS = ("#eeeeee", "#fcbba1", "#fb6a4a", "#cb181d", "#67000d")


def significance_bands(fdr: float) -> list[float]:
    """q-value band edges, highest first: [1, fdr, fdr/5, fdr/50, fdr/500, 0] (0.05: 0.01, 0.001, 0.0001)."""
    return [1.0, fdr, fdr / 5, fdr / 50, fdr / 500, 0.0]


def significance_colour(q: float, fdr: float) -> str:
    """The colour of a q-value on the report's fixed scale: neutral grey at q >= fdr (or no q), then
    four reds, darker for smaller q."""
    if not np.isfinite(q) or q >= fdr:
        return SIGNIFICANCE_COLOURS[0]
    edges = significance_bands(fdr)
    return SIGNIFICANCE_COLOURS[next(i for i in range(1, 5) if q >= edges[i + 1])]


def figure_associations(associations: pd.DataFrame, fdr: float):
    """Smallest q-value per factor and test family, on the fixed significance scale, each cell
    annotated with its q."""
    if associations.empty:
        return _message_figure("No associations: no factor is supported by the data.")
    from matplotlib.colors import BoundaryNorm, ListedColormap

    matrix = associations.pivot_table(index="family", columns="factor", values="q_value", aggfunc="min")
    matrix = matrix[_factor_order(matrix.columns)]
    edges = significance_bands(fdr)[::-1]  # increasing
    colours = ListedColormap(list(SIGNIFICANCE_COLOURS[::-1]))
    figure, axis = plt.subplots(figsize=(0.7 * matrix.shape[1] + 4, 0.45 * matrix.shape[0] + 1.8))
    values = matrix.to_numpy(dtype=float)
    image = axis.imshow(np.where(np.isfinite(values), values, 1.0), aspect="auto", cmap=colours, norm=BoundaryNorm(edges, colours.N))
    axis.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=45, ha="right")
    axis.set_yticks(range(matrix.shape[0]), matrix.index)
    axis.set_xlabel("factor")
    axis.set_ylabel("test family (covariate)")
    for (i, j), q in np.ndenumerate(values):
        text = f"{q:.2g}" if np.isfinite(q) else "n/a"
        axis.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if np.isfinite(q) and q < edges[2] else "black")
    bar = plt.colorbar(image, ax=axis, shrink=0.9, ticks=edges)
    bar.ax.set_yticklabels([f"{edge:g}" for edge in edges])
    bar.set_label(f"q-value (grey: q >= {fdr:g}, not a finding)")
    found, tests = int((associations["q_value"] < fdr).sum()), int(associations["q_value"].notna().sum())
    axis.set_title(f"Factor - clinical associations: {found} of {tests} tests at q < {fdr:g}")
    return figure


def _time_label(unit: str | None) -> str:
    return f"time ({unit})" if unit else "time (unit not set: clinical.survival_time_unit)"


def kaplan_meier_axis(axis, time: pd.Series, event: pd.Series, groups: pd.Series, unit: str | None) -> float:
    """Kaplan-Meier curves of each group (patients: label) on `axis`, censored patients marked,
    numbers at risk below the axis; returns the log-rank p-value across the groups."""
    from lifelines import KaplanMeierFitter
    from lifelines.plotting import add_at_risk_counts
    from lifelines.statistics import multivariate_logrank_test

    fitters = []
    for name, members in groups.groupby(groups, sort=True):
        index = members.index
        fitter = KaplanMeierFitter().fit(time[index], event[index], label=f"{name} (n={len(index)})")
        fitter.plot_survival_function(ax=axis, ci_show=False, show_censors=True, censor_styles={"marker": "|", "ms": 7})
        fitters.append(fitter)
    add_at_risk_counts(*fitters, ax=axis, rows_to_show=["At risk"])
    axis.set_xlabel(_time_label(unit))
    axis.set_ylabel("survival probability")
    axis.set_ylim(0, 1.02)
    axis.legend(frameon=False, fontsize=8)
    return float(multivariate_logrank_test(time[groups.index], groups, event[groups.index]).p_value)


def figure_kaplan_meier(strata: pd.DataFrame, clinical: pd.DataFrame, time_column: str, event_column: str, unit: str | None):
    """Survival per stratum or risk group (strata.parquet), with censoring marks, numbers at risk and
    the log-rank p-value."""
    table = strata.merge(clinical[["patient_id", time_column, event_column]], on="patient_id").dropna(subset=[time_column, event_column])
    if table["stratum"].nunique() < 2:
        return _message_figure("Fewer than two patient strata have survival data (see the strata tables).")
    table = table.set_index("patient_id")
    figure, axis = plt.subplots(figsize=(6.5, 4.6))
    p_value = kaplan_meier_axis(axis, table[time_column].astype(float), table[event_column].astype(float), table["label"].astype(str), unit)
    axis.set_title(f"Survival by {table['basis'].iloc[0]} (log-rank p = {p_value:.2g})")
    figure.tight_layout()
    return figure


def figure_factor_card(factor: str, scores: pd.Series, r2: pd.Series, clinical: pd.DataFrame, response: str | None,
                       time_column: str | None, event_column: str | None, unit: str | None):
    """One factor at a glance: variance explained per view (%), the factor by response, and survival of
    the patients above and below its median score (Kaplan-Meier, log-rank p). scores: per patient;
    r2: per view (fraction 0-1)."""
    panels = ["variance"] + (["response"] if response else []) + (["survival"] if time_column and event_column else [])
    figure, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.9), squeeze=False)
    axes = dict(zip(panels, axes[0]))
    shown = (100 * r2.sort_values()).tail(12)
    axes["variance"].barh(range(len(shown)), shown, color="tab:green")
    axes["variance"].set_yticks(range(len(shown)), shown.index, fontsize=8)
    axes["variance"].set_xlabel("variance explained (%)")
    axes["variance"].set_title(f"{factor}: variance explained per view", fontsize=10)
    table = clinical.set_index("patient_id").reindex(scores.index)
    if response:
        _scores_by_group(axes["response"], scores, table[response].replace("", np.nan), factor, f"{factor} by {response}", counts=True)
    if "survival" in axes:
        known = table[[time_column, event_column]].assign(score=scores).dropna()
        axis = axes["survival"]
        if len(known) < 4 or known[event_column].sum() < 1:
            axis.axis("off")
            axis.text(0.5, 0.5, "too few patients with survival data", ha="center", va="center")
        else:
            high = known["score"] > known["score"].median()
            split = pd.Series(np.where(high, f"high {factor}", f"low {factor}"), index=known.index)
            p_value = kaplan_meier_axis(axis, known[time_column].astype(float), known[event_column].astype(float), split, unit)
            axis.set_title(f"Survival, split at the median score (log-rank p = {p_value:.2g})", fontsize=10)
    figure.tight_layout()
    return figure


def figure_roc(roc: pd.DataFrame, performance: pd.DataFrame):
    if roc.empty:
        reason = performance["note"].dropna()
        return _message_figure(f"No response prediction: {reason.iloc[0]}" if len(reason) else "No response prediction: no model could be fitted.")
    figure, axis = plt.subplots(figsize=(5, 5))
    for model, curve in roc.groupby("model", sort=False):
        row = performance.set_index("model").loc[model]
        axis.plot(curve["false_positive_rate"], curve["true_positive_rate"],
                  label=f"{model}: AUROC {row['auroc']:.2f} ({row['ci_low']:.2f}-{row['ci_high']:.2f})")
    axis.plot([0, 1], [0, 1], color="gray", linestyle=":")
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    axis.set_title("Response prediction (cross-validated)")
    axis.legend(frameon=False, loc="lower right", fontsize=8)
    return figure
