"""The standalone HTML report (results/report/oncofactor_report.html), in the order a clinical
scientist reads it: a summary first, a card per supported factor, QC and data, the patients, then
methods and provenance.

The functions here turn result tables into what the page says (sentences, short tables); the page
itself is the jinja2 template templates/report.html.j2, rendered with autoescaping, so every string
from the data is escaped. One file: figures are embedded as base64 PNG and the table script is
inline, so the page works offline and as an e-mail attachment.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined

from oncofactor.notices import LEFT_OUT

# A table longer than this is paged by the page's script (all rows are in the file).
PAGE_ROWS = 15


@dataclass
class Table:
    """A table as the page shows it: caption, column names and rows of display strings; the page's
    script sorts by a column (numbers as numbers), filters and pages it."""

    caption: str
    columns: list[str]
    rows: list[list[str]]
    filterable: bool = False
    id: str = ""

    @property
    def paged(self) -> bool:
        return len(self.rows) > PAGE_ROWS


def display(value, digits: int = 3) -> str:
    """A cell's text: integers whole, other numbers to `digits` significant digits without exponent
    from 1,000 up (a median of 122,000 counts is 122000, not 1.22e+05), yes/no, blank when missing."""
    if value is None or value is pd.NA or (isinstance(value, (float, np.floating)) and not np.isfinite(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):d}"
    if isinstance(value, (float, np.floating)):
        return f"{value:.0f}" if abs(value) >= 10 ** digits else f"{value:.{digits}g}"
    return str(value)


def table(frame: pd.DataFrame, caption: str, digits: int = 3, filterable: bool = False, id: str = "") -> Table:
    """A DataFrame as a page table (cells as `display` writes them)."""
    rows = [[display(value, digits) for value in record] for record in frame.itertuples(index=False)]
    return Table(caption, [str(c) for c in frame.columns], rows, filterable, id)


@dataclass
class Figure:
    caption: str
    data: str  # base64 PNG

    @classmethod
    def from_png(cls, path: str | Path, caption: str) -> "Figure":
        """A PNG file with its caption (reStructuredText, see `plain_caption`)."""
        return cls(plain_caption(caption), base64.b64encode(Path(path).read_bytes()).decode())


def plain_caption(text: str) -> str:
    """A caption written for `snakemake --report` (reStructuredText) as page text: literal markup
    dropped, lines joined."""
    return " ".join(text.replace("``", "").split())


# --- what the summary says ---------------------------------------------------------------------

def finding_sentence(row) -> str:
    """One association in words, with its effect, interval and q-value."""
    interval = f", 95% CI {row.ci_low:.2g} to {row.ci_high:.2g}" if np.isfinite(row.ci_low) and np.isfinite(row.ci_high) else ""
    stats = f"q = {row.q_value:.2g}, p = {row.p_value:.2g}"
    if row.test == "mann_whitney":
        high, low = str(row.contrast).split(" vs ", 1)
        higher = row.effect > 0
        return (f"{row.factor} is {'higher' if higher else 'lower'} in {high} than in {low} patients "
                f"(rank-biserial correlation {row.effect:.2g}{interval}; {stats})")
    if row.test == "spearman":
        return f"{row.factor} {'rises' if row.effect > 0 else 'falls'} with {row.covariate} (Spearman rho {row.effect:.2g}{interval}; {stats})"
    if row.test == "kruskal_wallis":
        return f"{row.factor} differs across {row.covariate} (eta-squared {row.effect:.2g}; {stats})"
    if row.test in ("cox", "cox_adjusted"):
        adjusted = str(row.contrast).split(", ", 1)[1] if ", " in str(row.contrast) else ""
        return (f"a higher {row.factor} goes with {'shorter' if row.effect > 1 else 'longer'} survival "
                f"(hazard ratio {row.effect:.2g} per SD{interval}{'; ' + adjusted if adjusted else ''}; {stats})")
    return f"{row.factor} and {row.covariate} ({row.test}: effect {row.effect:.2g}; {stats})"


@dataclass
class Findings:
    """The associations at q < fdr, how many tests there were in how many families, and the
    strongest association when none passes."""

    fdr: float
    n_tests: int
    n_families: int
    found: pd.DataFrame
    strongest: pd.DataFrame

    @property
    def statement(self) -> str:
        if self.n_tests == 0:
            return "No association was tested: no factor is supported by the data."
        tests = f"{self.n_tests} tests over the supported factors, {self.n_families} families: one per covariate and survival"
        if self.found.empty:
            return f"No association reaches q < {self.fdr:g} ({tests}); none is a finding."
        return f"{len(self.found)} of {self.n_tests} tests reach q < {self.fdr:g} ({tests})."


def findings(associations: pd.DataFrame, fdr: float) -> Findings:
    tested = associations[associations["q_value"].notna()]
    found = tested[tested["q_value"] < fdr].sort_values(["q_value", "p_value"])
    strongest = tested.sort_values(["q_value", "p_value"]).head(3) if found.empty else found.head(0)
    return Findings(fdr, len(tested), tested["family"].nunique(), found, strongest)


def prediction_statement(performance: pd.DataFrame) -> list[str]:
    """The response models' cross-validated AUROC in words, against the clinical covariates alone."""
    if performance.empty:
        return []
    rows = performance.set_index("model")
    lines = []
    for model, label in [("factors", "the supported factors"), ("clinical", "the clinical covariates"),
                         ("factors_and_clinical", "both together")]:
        if model not in rows.index:
            continue
        row = rows.loc[model]
        if isinstance(row["note"], str) and row["note"] and not np.isfinite(row["auroc"]):
            lines.append(f"Response from {label}: not fitted ({row['note']}).")
            continue
        line = f"Response from {label} ({row['features']}): AUROC {row['auroc']:.2f} (95% CI {row['ci_low']:.2f} to {row['ci_high']:.2f})"
        if model != "clinical" and np.isfinite(row.get("delta_vs_clinical", np.nan)):
            low, high = row["delta_ci_low"], row["delta_ci_high"]
            verdict = "better than the clinical covariates alone" if low > 0 else (
                "worse than the clinical covariates alone" if high < 0 else "not shown to differ from the clinical covariates alone")
            line += f"; {verdict} (difference {row['delta_vs_clinical']:+.2f}, 95% CI {low:+.2f} to {high:+.2f})"
        lines.append(line + ".")
    return lines


def strata_description(strata: pd.DataFrame, clinical: pd.DataFrame, response: str | None, positive: str | None,
                       time_column: str | None, event_column: str | None) -> pd.DataFrame:
    """Per stratum or risk group: patients, response rate (% of the positive level among patients with
    a response) and median survival (Kaplan-Meier; 'not reached' when the curve stays above 0.5)."""
    from lifelines import KaplanMeierFitter

    table = strata.merge(clinical, on="patient_id", how="left")
    rows = []
    for label, group in table.groupby("label", sort=True):
        row = {"group": label, "basis": group["basis"].iloc[0], "patients": len(group)}
        if response:
            known = group[response].replace("", np.nan).dropna()
            row[f"{positive} (%)"] = round(100 * (known == positive).mean()) if len(known) else np.nan
            row["with response"] = len(known)
        if time_column and event_column:
            known = group[[time_column, event_column]].dropna()
            median = KaplanMeierFitter().fit(known[time_column], known[event_column]).median_survival_time_ if len(known) else np.nan
            row["median survival"] = f"{median:.3g}" if np.isfinite(median) else "not reached"
            row["events"] = int(known[event_column].sum())
        rows.append(row)
    return pd.DataFrame(rows)


# --- factor cards ------------------------------------------------------------------------------

@dataclass
class FactorCard:
    name: str
    reading: str
    figure: Figure | None
    top_features: Table
    gene_sets: Table | None
    associations: Table
    extremes: Table


def factor_reading(name: str, orientation: pd.DataFrame, top: pd.DataFrame, r2: pd.Series) -> str:
    """How to read the factor's sign, in words: its leading view, its largest positive weights there,
    and whether the sign was flipped from the model file."""
    row = orientation.set_index("factor").loc[name]
    view = row["oriented_by_view"]
    leading = top[(top["factor"] == name) & (top["view"] == view)].sort_values("weight", ascending=False)
    features = ", ".join(leading.loc[leading["weight"] > 0, "feature"].head(5))
    flipped = " (its sign is flipped from model.hdf5: factor_orientation.parquet)" if row["flipped"] else ""
    return (f"{name} explains most of view {view} ({100 * r2.get(view, np.nan):.0f}% of its variance). Its sign is set so "
            f"that its largest weights there are positive{flipped}: patients with a higher {name} have more of "
            f"{features or 'its top features'}.")


def factor_cards(supported: list[str], tables: dict[str, pd.DataFrame], figures: dict[str, Figure], settings: dict) -> list[FactorCard]:
    """One card per supported factor: how to read it, its figure, top features per view with signed
    weights, enriched gene sets, its associations and the patients at its extremes."""
    fdr = settings["clinical"]["fdr"]
    variance = tables["variance"]
    variance = variance[variance["group"] == variance["group"].iloc[0]]
    scores = tables["factors"].pivot_table(index="sample", columns="factor", values="value")
    clinical = tables["clinical"].set_index("patient_id")
    columns = settings["clinical"]
    cards = []
    for name in supported:
        r2 = variance[variance["factor"] == name].set_index("view")["r2"]
        views = r2[r2 >= max(0.01, r2.max() / 10)].sort_values(ascending=False).index
        top = tables["top"]
        shown = top[(top["factor"] == name) & top["view"].isin(views) & (top["rank"] <= 5)].copy()
        shown["view"] = pd.Categorical(shown["view"], categories=list(views), ordered=True)
        shown = shown.sort_values(["view", "rank"]).assign(r2_of_view=lambda t: t["view"].map(r2).astype(float))
        top_table = table(shown[["view", "r2_of_view", "rank", "feature", "weight"]].astype({"view": str}),
                          f"The 5 largest weights (signed) in each view where {name} explains at least 1% and a tenth of its best view.")
        gene_sets = None
        if "feature_set_enrichment" in tables:
            sets = tables["feature_set_enrichment"].query("factor == @name").sort_values("q_value")
            significant = sets[sets["q_value"] < fdr]
            gene_sets = table((significant if len(significant) else sets.head(3))[["view", "feature_set", "direction", "effect", "p_value", "q_value"]],
                              f"Gene sets enriched in {name}'s weights at q < {fdr:g}" if len(significant) else
                              f"No gene set is enriched in {name}'s weights at q < {fdr:g}; the three smallest q-values are shown.")
        own = tables["associations"].query("factor == @name").sort_values(["q_value", "p_value"])
        association_table = table(own[["covariate", "test", "contrast", "effect", "ci_low", "ci_high", "p_value", "q_value", "n"]],
                                  f"{name} against each covariate (q: FDR over the supported factors within each covariate's family; bold rows are findings at q < {fdr:g}).")
        values = scores[name].dropna().sort_values()
        extreme = pd.concat([values.tail(3)[::-1], values.head(3)])
        extremes = pd.DataFrame({"patient_id": extreme.index, name: extreme.to_numpy(),
                                 "end": ["highest"] * min(3, len(values)) + ["lowest"] * (len(extreme) - min(3, len(values)))})
        for column in [c for c in (columns["response"], columns["survival_time"], columns["survival_event"]) if c]:
            extremes[column] = clinical.reindex(extremes["patient_id"])[column].to_numpy()
        cards.append(FactorCard(
            name, factor_reading(name, tables["orientation"], top, r2), figures.get(name), top_table, gene_sets,
            association_table, table(extremes, f"The patients with the highest and lowest {name}."),
        ))
    return cards


# --- the page ----------------------------------------------------------------------------------

@dataclass
class Report:
    """Everything the template shows (see build_report)."""

    title: str
    written: str
    cohort: list[str]
    supported_statement: str
    findings: Findings
    finding_lines: list[str]
    strongest_lines: list[str]
    prediction: list[str]
    strata_statement: str
    strata: Table | None
    notices: Table | None
    notice_count: str
    cards: list[FactorCard]
    figures: dict[str, Figure]
    qc_tables: list[Table]
    no_samples: bool
    not_supported: Table
    detail_tables: list[Table]
    patients: Table
    run: list[tuple[str, str]]
    provenance_tables: list[Table]
    config_text: str


QC_PER_SAMPLE_CAPTION = ("Per sample: cells or spots read and passing QC, medians over all of them, and how many each QC rule "
                         "removed (an observation can fail several rules).")


def qc_per_sample(qc: pd.DataFrame) -> pd.DataFrame:
    """One row per sample from the per-barcode QC table (results/harmonized/qc.parquet): observations
    read and passing QC, median counts, genes and mitochondrial percentage over all of them, and one
    'removed: <rule>' column per QC rule with the observations it removed."""
    removed = qc.loc[~qc["passed_qc"], ["sample_id", "removed_by"]].assign(rule=lambda t: t["removed_by"].str.split(",")).explode("rule")
    kept = qc.groupby(["sample_id", "modality"], sort=True).agg(
        observations=("passed_qc", "size"), passed_qc=("passed_qc", "sum"), median_counts=("total_counts", "median"),
        median_genes=("n_genes_by_counts", "median"), median_pct_counts_mt=("pct_counts_mt", "median")).reset_index()
    if not removed.empty:
        by_rule = removed.groupby(["sample_id", "rule"]).size().unstack(fill_value=0).add_prefix("removed: ")
        kept = kept.merge(by_rule.reset_index(), on="sample_id", how="left")
        kept[list(by_rule.columns)] = kept[list(by_rule.columns)].fillna(0).astype(int)
    return kept


def cohort_lines(coverage: pd.DataFrame, qc: pd.DataFrame) -> list[str]:
    patients = coverage["patient_id"].nunique()
    present = coverage[coverage["present"]]
    per_modality = present.groupby("modality").agg(patients=("patient_id", "nunique"), samples=("n_samples", "sum"))
    lines = [f"{patients} patients."]
    for modality, row in per_modality.iterrows():
        samples = f", {int(row['samples'])} samples" if row["samples"] > 0 else ""
        lines.append(f"{modality}: {int(row['patients'])} patients{samples}.")
    if not qc.empty:
        lines.append(f"{int(qc['passed_qc'].sum())} of {len(qc)} cells or spots passed QC.")
    return lines


def patient_table(coverage: pd.DataFrame, clinical: pd.DataFrame, strata: pd.DataFrame, factors: pd.DataFrame,
                  supported: list[str], settings: dict) -> Table:
    columns = settings["clinical"]
    present = coverage[coverage["present"]].groupby("patient_id")["modality"].agg(lambda m: ", ".join(sorted(m)))
    frame = pd.DataFrame({"patient_id": sorted(coverage["patient_id"].unique())}).set_index("patient_id")
    frame["modalities"] = present.reindex(frame.index).fillna("")
    own = clinical.set_index("patient_id")
    for column in [c for c in (columns["response"], columns["survival_time"], columns["survival_event"]) if c]:
        frame[column] = own[column].reindex(frame.index)
    if not strata.empty:
        frame["group"] = strata.set_index("patient_id")["label"].reindex(frame.index)
    scores = factors.pivot_table(index="sample", columns="factor", values="value")
    for name in supported:
        frame[name] = scores[name].reindex(frame.index).round(3)
    return table(frame.reset_index(), "Every patient: the modalities they have, outcome, group and supported factor scores. "
                 "Click a column to sort; type to filter.", filterable=True, id="patients-table")


def build_report(tables: dict[str, pd.DataFrame], figures: dict[str, Figure], provenance: dict, settings: dict) -> str:
    """The HTML page.

    tables: 'coverage', 'qc', 'factor_support', 'orientation', 'variance', 'top', 'factors', 'clinical',
    'associations', 'strata', 'strata_selection', 'notices' and, when the run has them,
    'strata_logrank', 'response_prediction', 'response_coefficients', 'feature_set_enrichment',
    'batch_mixing'. figures: key -> Figure (the report_figures outputs, and one per supported factor
    under its name). provenance: 'config' (YAML text), 'pipeline' and 'run' (mappings), 'inputs' and
    'packages' (DataFrames). settings: the run's config.
    """
    columns, fdr = settings["clinical"], settings["clinical"]["fdr"]
    support = tables["factor_support"]
    supported = support.loc[support["supported"].astype(bool), "factor"].tolist()
    unsupported = support.loc[~support["supported"].astype(bool), "factor"].tolist()
    supported_statement = (
        f"{len(supported)} of {len(support)} factors are supported by the data (stable when patients are resampled "
        f"and above what permuted data reach): {', '.join(supported) or 'none'}."
        + (f" Not supported, so neither tested against the clinic nor used for prediction or groups: {', '.join(unsupported)} "
           "(reasons under Factors not supported)." if unsupported else "")
    )
    found = findings(tables["associations"], fdr)

    positive = None
    if columns["response"]:
        from oncofactor.clinical import response_levels

        values = tables["clinical"][columns["response"]].replace("", np.nan)
        try:
            positive = response_levels(values, settings.get("outcome", {}).get("response_positive"))[0]
        except ValueError:
            positive = None
    strata = tables["strata"]
    strata_table, strata_statement = None, "No patient groups: no factor is supported."
    if not strata.empty:
        basis = strata["basis"].iloc[0]
        described = strata_description(strata, tables["clinical"], columns["response"] if positive else None, positive,
                                       columns["survival_time"], columns["survival_event"])
        strata_statement = (f"Patients are split into {basis}"
                            + (" (clusters found in the factors, against a unimodal null)" if basis == "clusters" else
                               ": the factors show no clusters, so these are groups of a prespecified score, not subtypes") + ".")
        if "strata_logrank" in tables and len(tables["strata_logrank"]):
            strata_statement += f" Survival differs between them with log-rank p = {tables['strata_logrank']['p_value'].iloc[0]:.2g}."
        strata_table = table(described, "Patient groups: size, response rate and median survival"
                             + (f" ({columns['survival_time_unit']})" if columns.get("survival_time_unit") else "") + ".")

    notices = tables["notices"]
    left_out = notices[notices["outcome"] == LEFT_OUT]
    ordered = pd.concat([left_out, notices[notices["outcome"] != LEFT_OUT]])
    notice_table = table(ordered[["outcome", "kind", "subject", "reason", "fix", "step"]],
                         "What the run left out or warns about, each with what to do (results/notices.parquet; the same list ends the run's console output).",
                         id="notices-table") if len(notices) else None
    notice_count = (f"{len(left_out)} item(s) left out and {len(notices) - len(left_out)} warning(s)." if len(notices)
                    else "Nothing was left out, and no step warned about the data.")

    qc = tables["qc"]
    qc_tables = []
    if not qc.empty:
        qc_tables.append(table(qc_per_sample(qc), QC_PER_SAMPLE_CAPTION, filterable=True))
    if "batch_mixing" in tables:
        qc_tables.append(table(tables["batch_mixing"], "Batch mixing: the share of each cell's nearest neighbours from its own batch, before (PCA) and after Harmony."))

    not_supported = table(support[~support["supported"].astype(bool)][["factor", "reason", "resample_stability", "r2", "null_r2", "best_view"]],
                          "Factors not supported, each with the check it fails.", id="not-supported")
    detail_tables = [table(support, "Every factor's checks (restart_stability is shown, not checked).", filterable=True)]
    detail_tables += [table(tables["associations"].sort_values(["q_value", "p_value"], na_position="last"),
                            f"Every association test, smallest q first. effect: Spearman rho, rank-biserial correlation, eta-squared or hazard ratio per SD, by test. "
                            f"q: Benjamini-Bogomolov over the families (one covariate, survival, or survival adjusted; n_tests tests each); "
                            f"q_within_family is BH within one family. Findings: q < {fdr:g}.", filterable=True)]
    for key, caption in [("response_coefficients", "Coefficients of each response model fitted on all patients (log odds per SD of a numeric feature; a category: against the others), with 95% intervals from refits on bootstrap resamples."),
                         ("response_prediction", "Response prediction: mean AUROC of out-of-fold probabilities over repeated cross-validation, with a 95% interval from refitting the whole procedure on bootstrap resamples."),
                         ("strata_selection", "Numbers of clusters tried, against the silhouette that unimodal data of the same covariance reach (null_silhouette_q95)."),
                         ("feature_set_enrichment", "Gene-set tests in factor weights (correlation-adjusted, CAMERA-style), smallest q first.")]:
        if key in tables:
            frame = tables[key].sort_values("q_value") if key == "feature_set_enrichment" else tables[key]
            detail_tables.append(table(frame, caption, filterable=len(frame) > PAGE_ROWS))

    pipeline, run = provenance["pipeline"], provenance["run"]
    run_lines = [("oncofactor", str(pipeline.get("oncofactor_version", ""))), ("git revision", str(pipeline.get("git_revision", ""))),
                 ("run config sha256", str(pipeline.get("run_config_sha256", "")))]
    run_lines += [("command", str(run.get("command", ""))), ("started", str(run.get("started", "")))]
    written = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run_lines.append(("status", f"every result this page shows was complete when it was written ({written}); the run's end time is "
                                "recorded in results/provenance/run.yaml, written after the last job"))
    provenance_tables = [table(provenance["inputs"], "Input files and their SHA-256 checksums.", filterable=True),
                         table(provenance["packages"], "Python packages of the environment.", filterable=True)]

    report = Report(
        title="oncofactor report", written=written, cohort=cohort_lines(tables["coverage"], qc), supported_statement=supported_statement,
        findings=found, finding_lines=[finding_sentence(row) for row in found.found.itertuples()],
        strongest_lines=[finding_sentence(row) for row in found.strongest.itertuples()],
        prediction=prediction_statement(tables.get("response_prediction", pd.DataFrame())), strata_statement=strata_statement,
        strata=strata_table, notices=notice_table, notice_count=notice_count,
        cards=factor_cards(supported, tables, figures, settings), figures=figures, qc_tables=qc_tables, no_samples=qc.empty,
        not_supported=not_supported, detail_tables=detail_tables,
        patients=patient_table(tables["coverage"], tables["clinical"], strata, tables["factors"], supported, settings),
        run=run_lines, provenance_tables=provenance_tables, config_text=provenance["config"],
    )
    return render(report)


def _template(name: str):
    environment = Environment(loader=PackageLoader("oncofactor", "templates"), autoescape=True, undefined=StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)
    return environment.get_template(name)


def render(report: Report) -> str:
    return _template("report.html.j2").render(report=report, page_rows=PAGE_ROWS)


def table_page(frame: pd.DataFrame, title: str, description: str, source: str) -> str:
    """One result table as a standalone HTML page (sortable, filterable, paged like the report's
    tables), so that `snakemake --report`, which previews HTML but not Parquet, can show it.

    frame: the rows to show; title: the page heading; description: what the table holds (plain
    text); source: the Parquet file that holds the whole table.
    """
    shown = table(frame, "Click a column to sort; type to filter." if len(frame) else "", filterable=len(frame) > 0)
    return _template("table.html.j2").render(table=shown, title=title, description=description, source=source, page_rows=PAGE_ROWS)
