"""Patient strata on the reproducible factors, and survival across them."""

import logging

import pandas as pd

from oncofactor.clinical import factor_matrix, patient_strata, reproducible_factors, strata_survival
from oncofactor.result_files import write_parquet

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
config = snakemake.params.settings
outcome, columns = config["outcome"], config["clinical"]
factors = reproducible_factors(factor_matrix(pd.read_parquet(snakemake.input.factors)), pd.read_parquet(snakemake.input.stability))
strata = patient_strata(factors, outcome["max_strata"], outcome["min_stratum_size"], outcome["seed"])
if strata.warning:
    logging.warning(strata.warning)
logging.info("%d strata on %s", strata.assignments["stratum"].nunique(), ", ".join(factors.columns))
write_parquet(strata.assignments, snakemake.output.strata, config)
write_parquet(strata.selection, snakemake.output.selection, config)
if snakemake.output.get("curves"):
    survival = strata_survival(strata.assignments, pd.read_parquet(snakemake.input.clinical), columns["survival_time"], columns["survival_event"])
    write_parquet(survival.curves, snakemake.output.curves, config)
    write_parquet(survival.test, snakemake.output.test, config)
