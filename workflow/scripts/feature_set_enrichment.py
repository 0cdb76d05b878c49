"""Enrichment of the configured gene sets in each factor's weights, and the sets no view could test."""

import logging

import pandas as pd

from oncofactor.genesets import enrichment, read_gmt, untested_sets
from oncofactor.notices import notices_table
from oncofactor.result_files import write_parquet

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
config = snakemake.params.settings
settings = config["feature_sets"]
gene_sets = {path: read_gmt(path)[0] for path in settings["gmt"]}  # validated before the run started
table = enrichment(pd.read_parquet(snakemake.input.weights), gene_sets, settings["min_size"], settings["max_size"])
logging.info("%d tests; %d with q < 0.05", len(table), int((table["q_value"] < 0.05).sum()))
write_parquet(table, snakemake.output.table, config)
notices = untested_sets(gene_sets, table, settings["min_size"], settings["max_size"])
for notice in notices:
    logging.warning("%s", notice)
write_parquet(notices_table(notices), snakemake.output.notices, config)
