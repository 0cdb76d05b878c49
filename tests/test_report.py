"""The example cohort end to end: clinical findings, the standalone HTML report in headless Chromium,
and `snakemake --report`."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pandas as pd
import pytest

from conftest import BIN, REPO
from oncofactor.clinical import factor_matrix

SECTIONS = ["summary", "factors", "qc-and-data", "patients", "methods-and-provenance"]


def true_factor_matches(workdir) -> dict[str, str]:
    """MOFA factor -> the simulated factor it follows (|r| > 0.8), for the factors that follow one."""
    truth = pd.read_parquet(workdir / "resources/example_cohort/truth/factors.parquet").pivot(index="patient_id", columns="factor", values="value")
    factors = factor_matrix(pd.read_parquet(workdir / "results/mofa/factors.parquet"))
    correlation = pd.concat([factors, truth.add_prefix("true_").reindex(factors.index)], axis=1).corr().loc[factors.columns, "true_" + truth.columns]
    best = correlation.abs().idxmax(axis=1)
    return {factor: best[factor][5:] for factor in factors.columns if correlation.abs().loc[factor].max() > 0.8}


def true_factor_signs(workdir) -> dict[str, float]:
    """MOFA factor -> sign of its correlation with the simulated factor it follows most closely."""
    truth = pd.read_parquet(workdir / "resources/example_cohort/truth/factors.parquet").pivot(index="patient_id", columns="factor", values="value")
    factors = factor_matrix(pd.read_parquet(workdir / "results/mofa/factors.parquet"))
    correlation = pd.concat([factors, truth.add_prefix("true_").reindex(factors.index)], axis=1).corr().loc[factors.columns, "true_" + truth.columns]
    return {factor: float(np.sign(correlation.loc[factor, correlation.loc[factor].abs().idxmax()])) for factor in factors.columns}


@pytest.mark.workflow
def test_example_cohort_finds_the_factors_that_drive_outcome(example_run):
    matches = true_factor_matches(example_run)
    effects = pd.read_parquet(example_run / "resources/example_cohort/truth/effects.parquet")
    table = pd.read_parquet(example_run / "results/clinical/associations.parquet")
    for outcome in ("response", "survival"):
        drivers = set(effects.loc[effects["target"] == outcome, "factor"])
        top = table[table["covariate"] == outcome].sort_values("q_value").iloc[0]
        assert matches.get(top["factor"]) in drivers, f"smallest {outcome} q-value: {top['factor']}, which follows {matches.get(top['factor'])}"
        assert top["q_value"] == table.loc[table["covariate"] == outcome, "q_value"].min()
    q = table["q_value"].dropna()
    assert ((q >= 0) & (q <= 1)).all() and set(table["test"]) == {"spearman", "mann_whitney", "kruskal_wallis", "cox"}
    # Only supported factors are tested, each covariate a family of its own. (At 30 patients not every
    # factor that follows a true one is supported: see README, MOFA+.)
    support = pd.read_parquet(example_run / "results/mofa/factor_support.parquet").set_index("factor")["supported"]
    assert set(table["factor"]) == set(support[support].index)
    assert (table.groupby("family")["n_tests"].first() == support.sum()).all()

    # On 30 patients the factor model's AUROC is not shown to beat the clinical model's (its interval
    # spans about 0.34-0.77, and the difference's about -0.3-0.3), so no such claim is tested; what
    # the model must get right is which factors carry response, and in which direction.
    performance = pd.read_parquet(example_run / "results/clinical/response_prediction.parquet").set_index("model")
    assert (performance["ci_low"] <= performance["auroc"]).all() and (performance["auroc"] <= performance["ci_high"]).all()
    coefficients = pd.read_parquet(example_run / "results/clinical/response_coefficients.parquet").query("model == 'factors'").set_index("feature")["coefficient"]
    signs = true_factor_signs(example_run)
    true_effect = effects[effects["target"] == "response"].set_index("factor")["effect"]
    # The largest coefficient only: the factor following the second response driver (true Factor2)
    # is not supported at 30 patients, so it is not in the model (README, Clinical).
    for factor in coefficients.abs().nlargest(1).index:
        assert matches.get(factor) in true_effect.index, f"{factor} is among the two largest coefficients but follows {matches.get(factor)}"
        assert np.sign(coefficients[factor]) == np.sign(true_effect[matches[factor]]) * signs[factor], factor
    strata = pd.read_parquet(example_run / "results/clinical/strata.parquet")
    assert strata["stratum"].value_counts().min() >= 5
    assert len(pd.read_parquet(example_run / "results/clinical/strata_logrank.parquet")) == 1
    enrichment = pd.read_parquet(example_run / "results/clinical/feature_set_enrichment.parquet")
    for programme, true_factor in [("immune_activation_programme", "Factor1"), ("stromal_activation_programme", "Factor3")]:
        top = enrichment[enrichment["feature_set"] == programme].sort_values("q_value").iloc[0]
        assert matches.get(top["factor"]) == true_factor and top["q_value"] < 0.05, top


@pytest.mark.workflow
def test_report_opens_in_headless_chromium(example_run):
    """The page renders without errors or requests; its summary states the findings correctly and
    names the factor that follows true Factor1 for response; the patient table sorts. Screenshots of
    each section go to results/report/screenshots/ of the example run."""
    subprocess.run([str(REPO / "tests/system/ensure_chromium.sh")], check=True)
    from playwright.sync_api import sync_playwright

    report = example_run / "results/report/oncofactor_report.html"
    screenshots = example_run / "results/report/screenshots"
    screenshots.mkdir(exist_ok=True)
    requests, errors = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.on("request", lambda request: requests.append(request.url))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(report.as_uri(), wait_until="load")
        present = [section for section in SECTIONS if page.locator(f"section#{section}").count() == 1]
        for section in present:
            page.locator(f"section#{section}").screenshot(path=str(screenshots / f"{section}.png"))
        images = page.eval_on_selector_all("img", "images => images.map(i => [i.src.slice(0, 22), i.complete, i.naturalWidth])")
        summary = page.inner_text("section#summary")
        cards = page.eval_on_selector_all("div.card", "cards => cards.map(c => c.id)")
        patients = page.locator("#patients-table table")
        column = page.eval_on_selector_all("#patients-table th", "cells => cells.map(c => c.textContent)").index("Factor1")
        patients.locator("th").nth(column).click()
        ascending = [row[column] for row in patients.evaluate("t => Array.from(t.tBodies[0].rows).filter(r => r.style.display !== 'none').map(r => Array.from(r.cells).map(c => c.textContent))")]
        page.locator("section#patients").screenshot(path=str(screenshots / "patients_sorted_by_Factor1.png"))
        browser.close()
    assert errors == []
    assert present == SECTIONS
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == [], "the report fetches nothing"
    assert all(src == "data:image/png;base64," and complete and width > 300 for src, complete, width in images), images

    support = pd.read_parquet(example_run / "results/mofa/factor_support.parquet")
    supported = support.loc[support["supported"], "factor"].tolist()
    assert cards == [f"factor-{name}" for name in supported]
    figures = len(list((example_run / "results/report/figures").glob("*.png")))
    assert figures == 12 and len(images) == figures + len(supported), "the run's figures and one per factor card"

    associations = pd.read_parquet(example_run / "results/clinical/associations.parquet")
    found, tested = int((associations["q_value"] < 0.05).sum()), int(associations["q_value"].notna().sum())
    expected = f"{found} of {tested} tests reach q < 0.05" if found else f"No association reaches q < 0.05 ({tested} tests"
    assert expected in summary
    # The factor following true Factor1 (a response driver) is the one the summary names for response,
    # as a finding or as the smallest q-value.
    follows_factor1 = next(factor for factor, true in true_factor_matches(example_run).items() if true == "Factor1")
    response_lines = [line for line in summary.splitlines() if "in responder than in non_responder" in line]
    assert response_lines and response_lines[0].startswith(follows_factor1), response_lines
    assert ascending == sorted(ascending, key=float) and len(ascending) == 15, ascending


@pytest.mark.workflow
def test_snakemake_report_previews_figures_and_tables_without_warnings(example_run):
    """`snakemake --report` lists the figures and the main tables by category with no warning, and
    previews a table (an HTML rendition; it cannot preview Parquet) with all its rows in Chromium."""
    report = example_run / "snakemake_report.html"
    command = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--configfile", str(REPO / "config/config.yaml"), "--report", str(report)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=example_run)
    assert result.returncode == 0, result.stderr[-3000:]
    console = result.stdout + result.stderr
    assert "Warning" not in console and "never awaited" not in console, console[-3000:]
    added = re.findall(r"^Adding (\S+) ", console, flags=re.MULTILINE)
    assert not [name for name in added if name.endswith(".parquet")], added
    for name in ("variance_explained.png", "kaplan_meier.png", "roc.png", "oncofactor_report.html", "associations.html", "qc.html", "notices.html"):
        assert name in added, added
    page = report.read_text()
    for category in ("Inputs and QC", "Harmonization", "Integration", "Clinical"):
        assert category in page

    subprocess.run([str(REPO / "tests/system/ensure_chromium.sh")], check=True)
    from playwright.sync_api import sync_playwright

    associations = pd.read_parquet(example_run / "results/clinical/associations.parquet")
    errors = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(report.as_uri(), wait_until="load")
        page.get_by_text("Clinical", exact=True).first.click()
        page.locator("tr", has_text="tables/associations.html").locator("a[iconname=eye]").click()
        preview = next(frame for frame in page.frames if "filename=associations.html" in frame.url)
        preview.wait_for_selector("table.data")
        rows = preview.locator("table.data tbody tr").count()
        screenshots = example_run / "results/report/screenshots"
        screenshots.mkdir(exist_ok=True)
        page.screenshot(path=str(screenshots / "snakemake_report_associations.png"))
        browser.close()
    assert not errors, errors
    assert rows == len(associations) > 0


def test_provenance_records_checksums_and_versions(example_run):
    inputs = pd.read_parquet(example_run / "results/provenance/input_checksums.parquet")
    assert "resources/example_cohort/clinical.tsv" in set(inputs["path"])
    assert any(path.endswith("filtered_feature_bc_matrix.h5") for path in inputs["path"])
    assert inputs["sha256"].str.fullmatch(r"[0-9a-f]{64}").all()
    packages = pd.read_parquet(example_run / "results/provenance/packages.parquet").set_index("name")["version"]
    assert packages["mofapy2"] == "0.7.5" and np.isin(["scanpy", "snakemake", "lifelines"], packages.index).all()


@pytest.mark.workflow
def test_what_the_example_run_left_out_is_printed_and_reported(example_run):
    """The example cohort has a failed library (quirk failed_sample): the run ends with it in its
    summary, and the report lists it under "Left out of this run"."""
    notices = pd.read_parquet(example_run / "results/notices.parquet")
    cells = pd.read_parquet(example_run / "resources/example_cohort/truth/cells.parquet")
    failed = cells.loc[cells["quirk"] == "failed_sample", "sample_id"].iloc[0]
    left_out = notices[(notices["outcome"] == "left out") & (notices["kind"] == "sample")]
    assert left_out["subject"].tolist() == [failed] and left_out["reason"].str.contains("cells passed QC").all()
    # The factors the data do not support are left out of the clinic, each with its reason.
    factors = notices[(notices["outcome"] == "left out") & (notices["kind"] == "factor")]
    support = pd.read_parquet(example_run / "results/mofa/factor_support.parquet")
    assert set(factors["subject"]) == set(support.loc[~support["supported"], "factor"])
    console = (example_run / "console.txt").read_text()
    summary = console[console.index("item(s) left out of the run"):]
    assert f"sample {failed} left out (harmonize): 0 of" in summary and "relax qc.scrna.max_pct_mito" in summary
    assert "Report: results/report/oncofactor_report.html" in summary
    page = (example_run / "results/report/oncofactor_report.html").read_text()
    section = page[page.index('id="left-out"'):]
    assert failed in section
