"""Cohort-wide QC and gene-harmonization tables, and the harmonization notices (samples left out,
modalities that lost every sample)."""

import logging

import h5py
import pandas as pd

from oncofactor.harmonize import lost_modalities, low_depth_samples
from oncofactor.notices import notices_table, read_notices
from oncofactor.result_files import write_parquet

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
config = snakemake.params.settings
samples = pd.read_parquet(snakemake.input.samples)
dropped = {}
for sample_id, path in zip(samples["sample_id"], snakemake.input.h5ad):
    with h5py.File(path, "r") as handle:  # the reason alone, without loading the matrix
        dropped[sample_id] = handle["uns/oncofactor/dropped"][()].decode()
qc = pd.concat(map(pd.read_parquet, snakemake.input.qc), ignore_index=True)
cohort = notices_table(lost_modalities(samples, dropped) + low_depth_samples(qc))
notices = pd.concat([read_notices(snakemake.input.notices), cohort], ignore_index=True)
for line in notices.itertuples():
    logging.warning("%s %s %s: %s", line.kind, line.subject, line.outcome, line.reason)
write_parquet(qc, snakemake.output.qc, config)
write_parquet(pd.concat(map(pd.read_parquet, snakemake.input.genes), ignore_index=True), snakemake.output.genes, config)
write_parquet(notices, snakemake.output.notices, config)
