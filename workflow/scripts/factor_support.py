"""Which reported factors the data support (oncofactor.factor_support), with a notice for each that
is not: it is listed, never related to the clinic."""

import logging

import pandas as pd

from oncofactor.clinical import factor_matrix
from oncofactor.factor_support import best_refits, factor_support, technical_covariates
from oncofactor.job_log import start_job
from oncofactor.mofa import best_restart, read_model
from oncofactor.notices import LEFT_OUT, WARNING, Notice, notices_table
from oncofactor.result_files import run_stamp, write_parquet

start_job(snakemake)
run = run_stamp(snakemake)
config = snakemake.params.settings
factors = factor_matrix(pd.read_parquet(snakemake.input.factors))
variance = pd.read_parquet(snakemake.input.variance).query("factor != 'total'")
r2 = variance.groupby(["view", "factor"])["r2"].mean().unstack("factor")[factors.columns]
restarts = [read_model(path) for path in snakemake.input.restarts]
best = best_restart(restarts)  # the reported one, as mofa_model chose it
others = [model.factors for i, model in enumerate(restarts) if i != best]
resamples = [model.factors for model in best_refits(snakemake.input.subsamples)]
null_fits = [read_model(path) for path in snakemake.input.permuted]
technical = technical_covariates(
    pd.read_parquet(snakemake.input.qc, columns=["sample_id", "modality", "total_counts", "cell_type", "passed_qc"]), pd.read_parquet(snakemake.input.samples)
)
support = factor_support(factors, r2, others, resamples, null_fits, config["mofa"]["min_stability"], technical,
                         config["mofa"]["max_technical_correlation"], config["mofa"]["max_patient_share"])
notices = [
    Notice("factor_support", "factor", row.factor, LEFT_OUT, f"not supported by the data, so not related to the clinic: {row.reason}")
    for row in support.itertuples() if not row.supported
]
if support["supported"].any():
    logging.info("supported: %s", ", ".join(support.loc[support["supported"], "factor"]))
else:
    notices.append(Notice("factor_support", "factors", "MOFA", WARNING, "no factor is supported by the data: nothing is related to the clinic",
                          "more patients, or views measured in more of them, give MOFA more to find"))
for notice in notices:
    logging.warning("%s", notice)
write_parquet(support, snakemake.output.support, config, run)
write_parquet(notices_table(notices), snakemake.output.notices, config, run)
