"""Symbol <-> Ensembl pairs of the cohort's samples, and the species check."""

import pandas as pd

from oncofactor.harmonize import cohort_gene_map
from oncofactor.job_log import start_job
from oncofactor.result_files import run_stamp, write_parquet

start_job(snakemake)
run = run_stamp(snakemake)
# on_sample_error is read from the config, not the params: it changes nothing for a readable file,
# so switching it must not rerun the cohort (only the jobs that failed run again).
config = {**snakemake.params.settings, "on_sample_error": snakemake.config["on_sample_error"]}
samples = pd.read_parquet(snakemake.input.samples)
write_parquet(cohort_gene_map(samples, config), snakemake.output[0], snakemake.params.settings, run)
