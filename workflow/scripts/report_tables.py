"""The main result tables as HTML pages (results/report/tables/<name>.html) for `snakemake --report`."""

import logging
from pathlib import Path

import pandas as pd

from oncofactor.job_log import start_job
from oncofactor.report_page import plain_caption, qc_per_sample, table_page

SORTED_BY_Q = {"associations", "feature_set_enrichment"}

start_job(snakemake)
captions = Path(snakemake.params.captions)
for name, source in snakemake.input.items():
    frame = pd.read_parquet(source)
    if name == "qc" and not frame.empty:  # a row per cell or spot in the file; a row per sample on the page
        frame = qc_per_sample(frame)
    if name in SORTED_BY_Q:
        frame = frame.sort_values(["q_value", "p_value"], na_position="last")
    description = plain_caption((captions / f"{name}_table.rst").read_text())
    Path(snakemake.output[name]).write_text(table_page(frame, snakemake.params.titles[name], description, source))
    logging.info("%s: %d rows -> %s", source, len(frame), snakemake.output[name])
