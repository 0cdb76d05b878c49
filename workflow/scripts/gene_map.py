"""Symbol <-> Ensembl pairs of the cohort's samples, and the species check."""

import logging

import pandas as pd

from oncofactor.harmonize import cohort_gene_map
from oncofactor.result_files import write_parquet

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
samples = pd.read_parquet(snakemake.input.samples)
write_parquet(cohort_gene_map(samples, snakemake.params.settings), snakemake.output[0], snakemake.params.settings)
