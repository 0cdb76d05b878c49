"""Report figures (matplotlib) and the standalone HTML report.

Figure functions take result tables and return a matplotlib Figure; `save_figure` writes it as PNG.
`render_html` assembles one self-contained HTML file: figures embedded as base64 PNG, tables escaped,
no scripts, styles or fonts fetched from anywhere.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from oncofactor.notices import LEFT_OUT  # noqa: E402

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
    """Patients x modalities: which data each patient has (coverage table of the views step)."""
    present = coverage.assign(present=coverage["present"].astype(int)).pivot_table(
        index="patient_id", columns="modality", values="present", aggfunc="max", fill_value=0)
    figure, axis = plt.subplots(figsize=(max(4, 0.9 * present.shape[1] + 2), max(3, 0.18 * len(present) + 1)))
    axis.imshow(present.to_numpy(), aspect="auto", cmap="Greens", vmin=0, vmax=1.4)
    axis.set_xticks(range(present.shape[1]), present.columns, rotation=30, ha="right")
    axis.set_yticks(range(len(present)), present.index, fontsize=7 if len(present) > 40 else 9)
    axis.set_title(f"Data per patient ({len(present)} patients)")
    return figure


def figure_qc(qc: pd.DataFrame):
    """Cells (spots) per sample before and after QC, and median genes per passing cell."""
    if qc.empty:
        return _message_figure("No samples: this cohort has patient-level tables only.")
    per_sample = qc.groupby("sample_id", sort=True).agg(total=("passed_qc", "size"), passed=("passed_qc", "sum"))
    genes = qc[qc["passed_qc"]].groupby("sample_id")["n_genes"].median().reindex(per_sample.index)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(max(6, 0.22 * len(per_sample) + 2), 6), sharex=True)
    x = np.arange(len(per_sample))
    top.bar(x, per_sample["total"], color="lightgray", label="all")
    top.bar(x, per_sample["passed"], color="tab:blue", label="passed QC")
    top.set_ylabel("cells / spots")
    top.legend(frameon=False)
    top.set_title("Quality control per sample")
    bottom.bar(x, genes, color="tab:purple")
    bottom.set_ylabel("median genes\nper passing cell")
    bottom.set_xticks(x, per_sample.index, rotation=90, fontsize=7)
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
    axis.set_ylabel("share of cells")
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
        levels = sorted(groups.dropna().unique())
        for column, factor in enumerate(names):
            axis = axes[row, column]
            data = [factors.loc[groups == level, factor].dropna() for level in levels]
            axis.boxplot(data, showfliers=False)
            for i, values in enumerate(data, start=1):
                axis.scatter(np.full(len(values), i) + np.linspace(-0.12, 0.12, len(values)), values, s=9, alpha=0.7)
            axis.set_xticks(range(1, len(levels) + 1), [str(level) for level in levels], rotation=20, fontsize=8)
            axis.set_title(f"{factor} by {covariate}", fontsize=9)
    figure.tight_layout()
    return figure


def figure_associations(associations: pd.DataFrame):
    """-log10 q-value per factor and test family (a covariate, survival, survival adjusted)."""
    if associations.empty:
        return _message_figure("No associations: no factor is supported by the data.")
    matrix = associations.assign(score=-np.log10(associations["q_value"].astype(float))).pivot_table(
        index="family", columns="factor", values="score", aggfunc="max")
    matrix = matrix[_factor_order(matrix.columns)]
    figure, axis = plt.subplots(figsize=(0.6 * matrix.shape[1] + 4, 0.45 * matrix.shape[0] + 1.5))
    _heatmap(axis, matrix, "Reds", "-log10 q-value", fmt="{:.1f}", vmin=0)
    axis.set_title("Factor - clinical associations")
    return figure


def figure_kaplan_meier(curves: pd.DataFrame, test: pd.DataFrame):
    if curves.empty:
        return _message_figure("No patient strata with survival data (see the strata tables).")
    figure, axis = plt.subplots(figsize=(6, 4))
    for stratum, curve in curves.groupby("stratum"):
        n = int(curve["at_risk"].iloc[0])
        axis.step(curve["time"], curve["survival"], where="post", label=f"stratum {stratum} (n={n})")
        axis.fill_between(curve["time"], curve["ci_low"], curve["ci_high"], step="post", alpha=0.15)
    row = test.iloc[0]
    axis.set_title(f"Survival by patient stratum (log-rank p = {row['p_value']:.2g})")
    axis.set_xlabel("time")
    axis.set_ylabel("survival probability")
    axis.set_ylim(0, 1.02)
    axis.legend(frameon=False)
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


# --- HTML ---------------------------------------------------------------------------------------

@dataclass
class Section:
    """A report section: id (HTML anchor), title, then blocks in order (paragraphs, figures, tables)."""

    id: str
    title: str
    blocks: list[str] = field(default_factory=list)

    def text(self, words: str) -> "Section":
        self.blocks.append(f"<p>{html.escape(words)}</p>")
        return self

    def figure(self, png: str | Path, caption: str) -> "Section":
        data = base64.b64encode(Path(png).read_bytes()).decode()
        self.blocks.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
        return self

    def table(self, frame: pd.DataFrame, caption: str, max_rows: int = 50, digits: int = 3) -> "Section":
        shown = frame.head(max_rows)
        note = f" (first {max_rows} of {len(frame)} rows; all in the Parquet file)" if len(frame) > max_rows else ""
        body = shown.to_html(index=False, escape=True, na_rep="", float_format=lambda v: f"{v:.{digits}g}", border=0)
        self.blocks.append(f"<div class=table><p class=caption>{html.escape(caption + note)}</p>{body}</div>")
        return self


STYLE = """
body { font-family: sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em 2em; color: #222; }
nav a { margin-right: 1em; }
section { border-top: 1px solid #ccc; margin-top: 1.5em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; }
figcaption, p.caption { font-size: 0.9em; color: #555; }
div.table { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: left; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
"""


def render_html(title: str, summary: str, sections: list[Section]) -> str:
    """One self-contained HTML page; every user-supplied string passes through html.escape."""
    nav = " ".join(f'<a href="#{s.id}">{html.escape(s.title)}</a>' for s in sections)
    body = "\n".join(
        f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>\n' + "\n".join(s.blocks) + "</section>" for s in sections
    )
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(summary)}</p><nav>{nav}</nav>\n{body}\n</body></html>\n"
    )


def preformatted(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


# --- the oncofactor report ----------------------------------------------------------------------

FIGURE_SECTIONS = {  # figure key -> report section; captions are workflow/report/<key>.rst
    "coverage": "Inputs and QC",
    "qc": "Inputs and QC",
    "cell_types": "Harmonization",
    "variance_explained": "Integration",
    "top_weights": "Integration",
    "factor_support": "Integration",
    "factors_by_covariates": "Clinical",
    "associations": "Clinical",
    "kaplan_meier": "Clinical",
    "roc": "Clinical",
}


def build_report(figures: dict[str, tuple[str, str]], tables: dict[str, pd.DataFrame], provenance: dict) -> str:
    """The oncofactor HTML report.

    figures: FIGURE_SECTIONS key -> (PNG path, caption); missing keys are left out. tables: 'coverage', 'qc', 'stability',
    'top_features', 'associations' and, when present, 'response_prediction', 'response_coefficients',
    'strata_selection', 'strata_logrank', 'feature_set_enrichment', and
    'notices' (oncofactor.notices.NOTICE_COLUMNS).
    provenance: 'config' (YAML text), 'pipeline' (mapping), 'inputs' and 'packages' (DataFrames).
    """
    sections = {title: Section(title.lower().replace(" ", "-"), title) for title in
                ["Inputs and QC", "Harmonization", "Integration", "Clinical", "Provenance"]}

    def add_figure(key):
        if key in figures:
            sections[FIGURE_SECTIONS[key]].figure(*figures[key])

    coverage = tables["coverage"]
    patients = coverage["patient_id"].nunique()
    per_modality = coverage[coverage["present"]].groupby("modality")["patient_id"].nunique()
    inputs = sections["Inputs and QC"]
    inputs.text(f"{patients} patients; " + ", ".join(f"{modality}: {n} patients" for modality, n in per_modality.items()) + ".")
    notices = tables["notices"]
    left_out = notices[notices["outcome"] == LEFT_OUT]
    inputs.blocks.append('<h3 id="left-out">Left out of this run</h3>')
    if notices.empty:
        inputs.text("Nothing was left out, and no step warned about the data.")
    else:
        inputs.text(
            f"{len(left_out)} item(s) left out and {len(notices) - len(left_out)} warning(s), each with its reason and what to "
            "try (results/notices.parquet; the same list ends the run's console output)."
        )
        shown = pd.concat([left_out, notices[notices["outcome"] != LEFT_OUT]])
        inputs.table(shown[["outcome", "kind", "subject", "reason", "fix", "step"]], "What the run left out or warns about.", max_rows=500)
    add_figure("coverage")
    add_figure("qc")
    qc = tables["qc"]
    if qc.empty:
        inputs.text("No sample sheet: the cohort's views are patient-level tables, so there is no per-sample QC.")
    else:
        removed = qc.loc[~qc["passed_qc"], ["sample_id", "removed_by"]].assign(rule=lambda t: t["removed_by"].str.split(",")).explode("rule")
        if not removed.empty:
            by_rule = removed.groupby(["sample_id", "rule"]).size().unstack(fill_value=0).reset_index()
            inputs.table(by_rule, "Observations removed by each QC rule, per sample (an observation can fail several).", max_rows=500)
        summary = qc.groupby(["sample_id", "modality"], sort=True).agg(
            observations=("passed_qc", "size"), passed_qc=("passed_qc", "sum"), median_counts=("n_counts", "median"),
            median_genes=("n_genes", "median"), median_pct_mito=("pct_mito", "median")).reset_index()
        inputs.table(summary, "QC per sample (median over all cells or spots).", max_rows=500)
    add_figure("cell_types")
    for key in ("variance_explained", "top_weights", "factor_support"):
        add_figure(key)
    support = tables["factor_support"]
    sections["Integration"].table(support, "Which factors the data support: stable across refits on resampled patients, explaining "
                                  "more of a view than factors of permuted data, following no technical covariate and carried "
                                  "by more than one patient (restart_stability is shown, not checked).")
    sections["Integration"].table(tables["top_features"][tables["top_features"]["rank"] <= 5], "Top 5 features per factor and view.", max_rows=200)

    clinical = sections["Clinical"]
    supported = support.loc[support["supported"].astype(bool), "factor"].tolist()
    clinical.text(f"Related to the clinic: the {len(supported)} factor(s) the data support ({', '.join(supported) or 'none'}). "
                  + (f"Not supported, so not tested: {', '.join(support.loc[~support['supported'].astype(bool), 'factor'])} "
                     "(reasons in the Integration section)." if len(supported) < len(support) else ""))
    for notice in tables["notices"].query("step in ('response_prediction', 'patient_strata')").itertuples():
        clinical.text(f"Warning ({notice.step}): {notice.subject} {notice.reason}")
    add_figure("factors_by_covariates")
    add_figure("associations")
    associations = tables["associations"].sort_values(["q_value", "p_value"], na_position="last")
    clinical.table(associations, "Factor - clinical associations, smallest q-value first (effect: Spearman rho, "
                   "rank-biserial correlation, eta-squared or hazard ratio per SD, by test). q: Benjamini-Bogomolov over "
                   "the families (one covariate, survival, or survival adjusted; n_tests tests each), so that a "
                   "covariate unrelated to the factors adds no findings; q_within_family is BH within one family.", max_rows=40)
    add_figure("kaplan_meier")
    for key, caption in [("strata_selection", "Numbers of strata tried (chosen: highest mean silhouette among eligible)."),
                         ("strata_logrank", "Log-rank test of survival across strata.")]:
        if key in tables:
            clinical.table(tables[key], caption)
    add_figure("roc")
    for key, caption in [("response_prediction", ("Response prediction: mean AUROC of out-of-fold probabilities over repeated cross-validation, with "
                          "a 95% interval from refitting the whole procedure on bootstrap resamples and scoring the patients each leaves out.")),
                         ("response_coefficients", ("Coefficients of each model fitted on all patients (log odds per SD of a numeric feature; "
                          "a category: against the others), with 95% intervals from refits on bootstrap resamples."))]:
        if key in tables:
            clinical.table(tables[key], caption)
    if "feature_set_enrichment" in tables:
        enriched = tables["feature_set_enrichment"].sort_values("q_value")
        clinical.table(enriched, "Gene-set enrichment in factor weights, smallest q-value first.", max_rows=30)
    else:
        clinical.text("No gene sets were configured (feature_sets.gmt), so no enrichment was tested.")

    record = sections["Provenance"]
    record.blocks.append(preformatted("\n".join(f"{key}: {value}" for key, value in provenance["pipeline"].items())))
    record.text("Resolved configuration:")
    record.blocks.append(preformatted(provenance["config"]))
    record.table(provenance["inputs"], "Input files and their SHA-256 checksums.", max_rows=100000, digits=12)
    record.table(provenance["packages"], "Python packages of the environment.", max_rows=100000)
    return render_html("oncofactor report", "Multi-modal factor analysis of the cohort: inputs, harmonization, "
                       "MOFA+ integration and clinical associations.", list(sections.values()))
