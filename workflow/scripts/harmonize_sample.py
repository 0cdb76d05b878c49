"""Harmonize one sample (oncofactor.harmonize.harmonize_sample) and write its h5ad, tables and notices."""

import logging
import time

import pandas as pd

from oncofactor.genes import cohort_species
from oncofactor.harmonize import harmonize_sample, read_or_leave_out, unreadable_sample
from oncofactor.job_log import start_job
from oncofactor.notices import notices_table
from oncofactor.pseudobulk import sample_pseudobulk
from oncofactor.result_files import run_stamp, write_parquet
from oncofactor.spatial_pattern import section_pattern

start_job(snakemake)
run = run_stamp(snakemake)
# on_sample_error is read from the config, not the params: it changes nothing for a readable file,
# so switching it must not rerun the cohort (only the jobs that failed run again).
config = {**snakemake.params.settings, "on_sample_error": snakemake.config["on_sample_error"]}
samples = pd.read_parquet(snakemake.input.samples).set_index("sample_id", drop=False)
sample = samples.loc[snakemake.wildcards.sample].to_dict()
species, _ = cohort_species(samples["species"])
gene_map = pd.read_parquet(snakemake.input.gene_map)
started = time.perf_counter()
raw, error = read_or_leave_out(sample, config)
read = time.perf_counter()
if raw is None:
    result = unreadable_sample(sample, config, gene_map, error)
else:
    result = harmonize_sample(sample, config, gene_map, raw, cohort_species=species)
harmonized = time.perf_counter()
result.adata.write_h5ad(snakemake.output.h5ad)
write_parquet(result.qc, snakemake.output.qc, snakemake.params.settings, run)
write_parquet(result.genes, snakemake.output.genes, snakemake.params.settings, run)
write_parquet(notices_table(result.notices), snakemake.output.notices, snakemake.params.settings, run)
sample_pseudobulk(result.adata, config["views"]["exclude_cell_types"]).write_h5ad(snakemake.output.pseudobulk)
written = time.perf_counter()
write_parquet(section_pattern(result.adata), snakemake.output.pattern, snakemake.params.settings, run)
# In-step time without interpreter start and imports (benchmarks/run.py compares it with the read floor).
logging.info(
    "timing: read %.3f s, harmonize %.3f s, write %.3f s, morans_i %.3f s, %d observations",
    read - started, harmonized - read, written - harmonized, time.perf_counter() - written, len(result.qc),
)
logging.info("%s", result.summary())
