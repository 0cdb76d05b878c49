"""Cohort-wide QC and gene-harmonization tables; fails when a modality lost every sample."""

import logging

import h5py
import pandas as pd

from oncofactor.harmonize import check_modalities_kept
from oncofactor.result_files import write_parquet

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
config = snakemake.params.settings
samples = pd.read_parquet(snakemake.input.samples)
dropped = {}
for sample_id, path in zip(samples["sample_id"], snakemake.input.h5ad):
    with h5py.File(path, "r") as handle:  # the reason alone, without loading the matrix
        dropped[sample_id] = handle["uns/oncofactor/dropped"][()].decode()
check_modalities_kept(samples, dropped)
write_parquet(pd.concat(map(pd.read_parquet, snakemake.input.qc), ignore_index=True), snakemake.output.qc, config)
write_parquet(pd.concat(map(pd.read_parquet, snakemake.input.genes), ignore_index=True), snakemake.output.genes, config)
