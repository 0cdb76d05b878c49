"""MEFISTO on one spatial section: spatially smooth factors and their smoothness."""

import anndata as ad
from threadpoolctl import threadpool_limits

from oncofactor.job_log import start_job
from oncofactor.result_files import run_stamp, write_parquet
from oncofactor.mefisto import smooth_factors

start_job(snakemake)
run = run_stamp(snakemake)
settings = snakemake.params.settings
with threadpool_limits(limits=1):
    factors, smoothness = smooth_factors(ad.read_h5ad(snakemake.input[0]), settings["mefisto"], snakemake.output.model)
write_parquet(factors, snakemake.output.factors, settings, run)
write_parquet(smoothness, snakemake.output.smoothness, settings, run)
