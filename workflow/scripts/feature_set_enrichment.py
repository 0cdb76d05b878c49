"""Enrichment of the configured gene sets in the weights of each supported factor, corrected for
inter-gene correlation, and the sets no view could test."""

import logging

import pandas as pd

from oncofactor.clinical import factor_matrix, supported_factors
from oncofactor.genesets import enrichment, read_gmt, untested_sets
from oncofactor.job_log import start_job
from oncofactor.mofa import model_residuals, training_data
from oncofactor.notices import notices_table
from oncofactor.result_files import run_stamp, write_parquet

start_job(snakemake)
run = run_stamp(snakemake)
config = snakemake.params.settings
settings = config["feature_sets"]
gene_sets = {path: read_gmt(path)[0] for path in settings["gmt"]}  # validated before the run started
factors = factor_matrix(pd.read_parquet(snakemake.input.factors))
weights = pd.read_parquet(snakemake.input.weights)
residuals = model_residuals(training_data(snakemake.input.views, config["mofa"]), factors, weights, config["mofa"]["scale_views"])
supported = supported_factors(factors, pd.read_parquet(snakemake.input.support)).columns
table = enrichment(weights[weights["factor"].isin(supported)], gene_sets, residuals, settings["min_size"], settings["max_size"])
logging.info("%d tests over the %d supported factors; %d with q < 0.05", len(table), len(supported), int((table["q_value"] < 0.05).sum()))
write_parquet(table, snakemake.output.table, config, run)
notices = untested_sets(gene_sets, table, settings["min_size"], settings["max_size"]) if len(supported) else []
for notice in notices:
    logging.warning("%s", notice)
write_parquet(notices_table(notices), snakemake.output.notices, config, run)
