"""The main result tables as HTML pages (results/report/tables/<name>.html) for `snakemake --report`."""

import logging
from pathlib import Path

import pandas as pd

from oncofactor.job_log import start_job
from oncofactor.report_page import qc_per_sample, table_page

TITLES = {
    "notices": "Left out of this run, and warnings",
    "qc": "QC per sample",
    "variance_explained": "Variance explained per factor and view",
    "top_features": "Top features per factor and view",
    "factor_support": "Factor support",
    "associations": "Factor associations with the clinic",
    "strata": "Patient groups",
    "batch_confounding": "Batch against outcome and covariates",
    "response_prediction": "Response prediction",
    "feature_set_enrichment": "Gene-set enrichment in factor weights",
}
SORTED_BY_Q = {"associations", "feature_set_enrichment"}

start_job(snakemake)
captions = Path(snakemake.params.captions)
for name, source in snakemake.input.items():
    frame = pd.read_parquet(source)
    if name == "qc" and not frame.empty:  # a row per cell or spot in the file; a row per sample on the page
        frame = qc_per_sample(frame)
    if name in SORTED_BY_Q:
        frame = frame.sort_values(["q_value", "p_value"], na_position="last")
    description = " ".join((captions / f"{name}_table.rst").read_text().replace("``", "").split())
    Path(snakemake.output[name]).write_text(table_page(frame, TITLES[name], description, source))
    logging.info("%s: %d rows -> %s", source, len(frame), snakemake.output[name])
