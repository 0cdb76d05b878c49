"""The run's notices in one table: every sample, view, gene set or other item a step left out or warns about."""

import logging

from oncofactor.job_log import start_job
from oncofactor.notices import LEFT_OUT, read_notices
from oncofactor.result_files import run_stamp, write_parquet

start_job(snakemake)
run = run_stamp(snakemake)
table = read_notices(snakemake.input)
write_parquet(table, snakemake.output[0], snakemake.params.settings, run)
logging.info("%d notices (%d left out)", len(table), int((table["outcome"] == LEFT_OUT).sum()))
