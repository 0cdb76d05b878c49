"""Cross-validated response prediction from the supported factors, clinical covariates, and both."""

import logging

import pandas as pd

from oncofactor.clinical import factor_matrix, supported_factors
from oncofactor.job_log import start_job
from oncofactor.notices import notices_table
from oncofactor.response_model import predict_response
from oncofactor.result_files import run_stamp, write_parquet

start_job(snakemake)
run = run_stamp(snakemake)
config = snakemake.params.settings
factors = supported_factors(factor_matrix(pd.read_parquet(snakemake.input.factors)), pd.read_parquet(snakemake.input.support))
prediction = predict_response(factors, pd.read_parquet(snakemake.input.clinical), config)
for notice in prediction.notices:
    logging.warning("%s", notice)
for row in prediction.performance.itertuples():
    logging.info("%s: AUROC %.3f (95%% CI %.3f-%.3f)", row.model, row.auroc, row.ci_low, row.ci_high)
write_parquet(prediction.performance, snakemake.output.performance, config, run)
write_parquet(prediction.roc, snakemake.output.roc, config, run)
write_parquet(prediction.coefficients, snakemake.output.coefficients, config, run)
write_parquet(notices_table(prediction.notices), snakemake.output.notices, config, run)
