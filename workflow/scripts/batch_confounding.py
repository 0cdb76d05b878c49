"""Whether each modality's batches go with the response, survival or a covariate (oncofactor.batch_confounding)."""

import logging

import pandas as pd

from oncofactor.batch_confounding import batch_confounding
from oncofactor.job_log import start_job
from oncofactor.notices import notices_table
from oncofactor.result_files import run_stamp, write_parquet

start_job(snakemake)
run = run_stamp(snakemake)
config = snakemake.params.settings
table, notices = batch_confounding(
    pd.read_parquet(snakemake.input.samples), pd.read_parquet(snakemake.input.clinical), config["clinical"], config["batch"]["confounding_alpha"],
)
logging.info("%d tests; %d with p < %g", len(table), int(table["confounded"].sum()), config["batch"]["confounding_alpha"])
for notice in notices:
    logging.warning("%s", notice)
write_parquet(table, snakemake.output.table, config, run)
write_parquet(notices_table(notices), snakemake.output.notices, config, run)
