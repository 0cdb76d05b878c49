"""Enrichment of the configured gene sets in each factor's weights."""

import logging

import pandas as pd

from oncofactor.genesets import enrichment, read_gmt
from oncofactor.result_files import write_parquet

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
config = snakemake.params.settings
settings = config["feature_sets"]
gene_sets = {path: read_gmt(path)[0] for path in settings["gmt"]}  # validated before the run started
table = enrichment(pd.read_parquet(snakemake.input.weights), gene_sets, settings["min_size"], settings["max_size"])
logging.info("%d tests; %d with q < 0.05", len(table), int((table["q_value"] < 0.05).sum()))
write_parquet(table, snakemake.output[0], config)
