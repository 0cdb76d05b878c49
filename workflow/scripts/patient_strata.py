"""Patient strata on the supported factors where they form clusters (else risk groups), and survival across them."""

import logging

import pandas as pd

from oncofactor.clinical import factor_matrix, supported_factors
from oncofactor.job_log import start_job
from oncofactor.notices import WARNING, Notice, notices_table
from oncofactor.strata import CLUSTERS, patient_strata, strata_survival
from oncofactor.result_files import run_stamp, write_parquet

start_job(snakemake)
run = run_stamp(snakemake)
config = snakemake.params.settings
outcome, columns = config["outcome"], config["clinical"]
factors = supported_factors(factor_matrix(pd.read_parquet(snakemake.input.factors)), pd.read_parquet(snakemake.input.support))
strata = patient_strata(factors, outcome)
logging.info("%s", strata.message)
clustered = not strata.assignments.empty and (strata.assignments["basis"] == CLUSTERS).all()
notices = [] if clustered else [Notice("patient_strata", "strata", "patient strata", WARNING, strata.message)]
write_parquet(notices_table(notices), snakemake.output.notices, config, run)
write_parquet(strata.assignments, snakemake.output.strata, config, run)
write_parquet(strata.selection, snakemake.output.selection, config, run)
if snakemake.output.get("curves"):
    survival = strata_survival(strata.assignments, pd.read_parquet(snakemake.input.clinical), columns["survival_time"], columns["survival_event"])
    write_parquet(survival.curves, snakemake.output.curves, config, run)
    write_parquet(survival.test, snakemake.output.test, config, run)
