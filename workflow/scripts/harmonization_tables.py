"""Cohort-wide QC and gene-harmonization tables, and the harmonization notices (samples left out,
modalities that lost every sample)."""

import logging

import h5py
import pandas as pd

from oncofactor.harmonize import (
    GENE_REPORT_COLUMNS,
    QC_COLUMNS,
    lost_modalities,
    low_depth_samples,
)
from oncofactor.job_log import start_job
from oncofactor.notices import notices_table, read_notices
from oncofactor.result_files import run_stamp, write_parquet

start_job(snakemake)
run = run_stamp(snakemake)
config = snakemake.params.settings
samples = pd.read_parquet(snakemake.input.samples)
dropped = {}
for sample_id, path in zip(samples["sample_id"], snakemake.input.h5ad):
    with h5py.File(path, "r") as handle:  # the reason alone, without loading the matrix
        dropped[sample_id] = handle["uns/oncofactor/dropped"][()].decode()


def cohort_table(paths, columns):
    """The per-sample tables as one; with no sample (patient-level tables only), none with its columns."""
    return pd.concat(map(pd.read_parquet, paths), ignore_index=True) if paths else pd.DataFrame(columns=columns)


qc = cohort_table(snakemake.input.qc, QC_COLUMNS)
genes = cohort_table(snakemake.input.genes, GENE_REPORT_COLUMNS)
cohort = notices_table(lost_modalities(samples, dropped) + low_depth_samples(qc))
notices = pd.concat([read_notices(snakemake.input.notices), cohort], ignore_index=True)
for line in notices.itertuples():
    logging.warning("%s %s %s: %s", line.kind, line.subject, line.outcome, line.reason)
write_parquet(qc, snakemake.output.qc, config, run)
write_parquet(genes, snakemake.output.genes, config, run)
write_parquet(notices, snakemake.output.notices, config, run)
