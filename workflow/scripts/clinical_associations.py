"""Every supported factor against every clinical covariate, response and survival."""

import logging

import pandas as pd

from oncofactor.clinical import associations, factor_matrix, supported_factors
from oncofactor.job_log import start_job
from oncofactor.result_files import run_stamp, write_parquet

start_job(snakemake)
run = run_stamp(snakemake)
config = snakemake.params.settings
factors = supported_factors(factor_matrix(pd.read_parquet(snakemake.input.factors)), pd.read_parquet(snakemake.input.support))
table = associations(factors, pd.read_parquet(snakemake.input.clinical), config)
logging.info("%d tests of %d factors; %d with q < 0.05", len(table), factors.shape[1], int((table["q_value"] < 0.05).sum()))
write_parquet(table, snakemake.output[0], config, run)
