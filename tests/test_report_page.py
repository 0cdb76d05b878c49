"""The report page's parts without a workflow: the significance colour scale, what the summary says
about findings, cell formatting, and escaping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncofactor.report_figures import (
    SIGNIFICANCE_COLOURS,
    figure_associations,
    significance_colour,
)
from oncofactor.report_page import (
    Findings,
    Report,
    display,
    finding_sentence,
    findings,
    qc_per_sample,
    render,
    table,
    table_page,
)

NEUTRAL = SIGNIFICANCE_COLOURS[0]


def associations(q_values: dict[tuple[str, str], float]) -> pd.DataFrame:
    rows = []
    for (factor, family), q in q_values.items():
        rows.append({"factor": factor, "covariate": family, "family": family, "test": "spearman", "contrast": "", "effect": 0.3,
                     "ci_low": 0.1, "ci_high": 0.5, "p_value": q / 3, "q_value": q, "n": 30})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("q, colour", [
    (0.32, NEUTRAL), (0.05, NEUTRAL), (1.0, NEUTRAL), (np.nan, NEUTRAL),
    (0.049, SIGNIFICANCE_COLOURS[1]), (0.0099, SIGNIFICANCE_COLOURS[2]), (0.00099, SIGNIFICANCE_COLOURS[3]), (0.00001, SIGNIFICANCE_COLOURS[4]),
])
def test_a_q_value_has_one_colour_and_non_findings_are_neutral(q, colour):
    assert significance_colour(q, 0.05) == colour


def test_the_heatmap_colours_a_q_value_the_same_in_every_run():
    import matplotlib.colors as colours
    import matplotlib.pyplot as plt

    def cell_colour(q_values, cell):
        figure = figure_associations(associations(q_values), 0.05)
        image = figure.axes[0].images[0]
        rgba = image.cmap(image.norm(q_values[cell]))
        plt.close(figure)
        return colours.to_hex(rgba)

    # q = 0.32 is neutral grey whether or not the other cells are strong findings.
    alone = cell_colour({("Factor1", "age"): 0.32, ("Factor2", "age"): 0.5}, ("Factor1", "age"))
    beside_findings = cell_colour({("Factor1", "age"): 0.32, ("Factor2", "age"): 1e-6}, ("Factor1", "age"))
    assert alone == beside_findings == NEUTRAL
    assert cell_colour({("Factor1", "age"): 0.003, ("Factor2", "age"): 0.9}, ("Factor1", "age")) == significance_colour(0.003, 0.05)


def test_the_summary_counts_findings_and_says_when_there_are_none():
    table = associations({("Factor1", "response"): 0.01, ("Factor2", "response"): 0.2, ("Factor1", "age"): 0.04,
                          ("Factor2", "age"): 0.6, ("Factor1", "survival"): np.nan})
    result = findings(table, 0.05)
    assert result.n_tests == 4 and result.n_families == 2
    assert result.statement.startswith("2 of 4 tests reach q < 0.05")
    assert list(result.found["q_value"]) == [0.01, 0.04] and result.strongest.empty
    none = findings(table.assign(q_value=table["q_value"] + 0.5), 0.05)
    assert none.found.empty and none.statement.startswith("No association reaches q < 0.05 (4 tests")
    assert list(none.strongest["factor"]) == ["Factor1", "Factor1", "Factor2"]
    assert Findings(0.05, 0, 0, table.head(0), table.head(0)).statement.startswith("No association was tested")


def test_a_finding_reads_in_the_direction_of_its_effect():
    row = pd.Series({"factor": "Factor3", "covariate": "response", "test": "mann_whitney", "contrast": "responder vs non_responder",
                     "effect": -0.4, "ci_low": -0.7, "ci_high": -0.1, "p_value": 0.002, "q_value": 0.01})
    assert finding_sentence(row.to_frame().T.itertuples().__next__()).startswith("Factor3 is lower in responder than in non_responder")
    cox = row.copy()
    cox[["test", "covariate", "contrast", "effect"]] = ["cox_adjusted", "survival", "per SD, adjusted for IGHV", 0.6]
    sentence = finding_sentence(cox.to_frame().T.itertuples().__next__())
    assert sentence.startswith("a higher Factor3 goes with longer survival (hazard ratio 0.6 per SD") and "adjusted for IGHV" in sentence


def test_cells_are_written_for_reading():
    assert [display(v) for v in (122000.0, 3, np.int64(12), 0.000123, 0.5, True, np.nan, None, "P001")] == [
        "122000", "3", "12", "0.000123", "0.5", "yes", "", "", "P001"]


def test_every_string_from_the_data_is_escaped():
    hostile = '<script>alert("x")</script>'
    frame = pd.DataFrame({"patient_id": [hostile], "value": [1.5]})
    empty = associations({}).reindex(columns=["factor", "family", "q_value", "p_value"])
    report = Report(
        title=f"title {hostile}", written="now", cohort=[f"patient {hostile}"], supported_statement=hostile,
        findings=Findings(0.05, 0, 0, empty, empty), finding_lines=[hostile], strongest_lines=[], prediction=[hostile],
        strata_statement=hostile, strata=None, notices=table(frame, f"table of {hostile}"), notice_count="1",
        cards=[], figures={}, qc_tables=[], no_samples=True, not_supported=table(frame, "support"), detail_tables=[],
        patients=table(frame, "patients", id="patients-table"), run=[("command", hostile)],
        provenance_tables=[], config_text=hostile,
    )
    page = render(report)
    assert page.count("<script") == 1, "only the page's own table script"
    # title (twice: <title> and <h1>), cohort, factors, finding, prediction, groups, notices caption and
    # cell, support cell, patient cell, command, config
    assert page.count("&lt;script&gt;") == 13


def test_a_table_page_holds_every_row_escaped_and_paged():
    hostile = '<script>alert("x")</script>'
    frame = pd.DataFrame({"feature": [hostile] + [f"gene{i}" for i in range(39)], "weight": np.linspace(-2, 2, 40)})
    page = table_page(frame, "Top features", f"weights {hostile}", "results/mofa/top_features.parquet")
    assert page.count("<script") == 1, "only the page's own table script"
    assert page.count("&lt;script&gt;") == 2  # the cell and the description
    assert page.count("<tr><td>") == 40 and 'data-page="15"' in page
    assert "results/mofa/top_features.parquet" in page and "40 rows shown" in page


def test_qc_per_sample_counts_what_each_rule_removed():
    qc = pd.DataFrame({
        "sample_id": ["s1"] * 4 + ["s2"] * 2,
        "modality": ["scrna"] * 4 + ["visium"] * 2,
        "passed_qc": [True, False, False, True, True, False],
        "removed_by": ["", "min_genes", "min_genes,max_pct_mito", "", "", "min_counts"],
        "total_counts": [100, 5, 7, 300, 50, 1],
        "n_genes_by_counts": [50, 3, 4, 120, 20, 1],
        "pct_counts_mt": [1.0, 30.0, 40.0, 3.0, 0.0, 0.0],
    })
    per_sample = qc_per_sample(qc).set_index("sample_id")
    assert per_sample["observations"].tolist() == [4, 2] and per_sample["passed_qc"].tolist() == [2, 1]
    assert per_sample.loc["s1", ["removed: min_genes", "removed: max_pct_mito", "removed: min_counts"]].tolist() == [2, 1, 0]
    assert per_sample.loc["s2", ["removed: min_genes", "removed: min_counts"]].tolist() == [0, 1]
    assert per_sample.loc["s1", "median_counts"] == 53.5
