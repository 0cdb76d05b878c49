"""CTC enumeration scaled to CTCs (and clusters) per 7.5 mL of blood."""

import pandas as pd

from oncofactor.ctc_burden import ctc_per_standard_volume
from oncofactor.job_log import start_job
from oncofactor.result_files import run_stamp, write_parquet

start_job(snakemake)
run = run_stamp(snakemake)
table = ctc_per_standard_volume(pd.read_parquet(snakemake.input[0]))
write_parquet(table, snakemake.output[0], snakemake.params.settings, run)
