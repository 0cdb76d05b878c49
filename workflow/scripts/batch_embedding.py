"""PCA and Harmony embedding of subsampled scRNA cells, for looking at technical batches."""

import logging

import anndata as ad
import pandas as pd

from oncofactor.batch import batch_embedding, subsample
from oncofactor.job_log import start_job
from oncofactor.notices import notices_table
from oncofactor.result_files import run_stamp, write_parquet

start_job(snakemake)
run = run_stamp(snakemake)
config = snakemake.params.settings
adatas = []
for path in snakemake.input:
    adata = ad.read_h5ad(path)
    if not adata.uns["oncofactor"]["dropped"]:  # keep only the cells drawn, so memory does not grow with each sample's size
        adatas.append(subsample(adata, config["batch"]["cells_per_sample"], config["batch"]["seed"]).copy())
table, mixing, notices = batch_embedding(adatas, config["batch"])
logging.info("mean same-batch fraction of 15 nearest neighbours: %s", mixing)
write_parquet(table, snakemake.output.embedding, config, run)
write_parquet(pd.DataFrame({"metric": list(mixing), "value": list(mixing.values())}, columns=["metric", "value"]), snakemake.output.mixing, config, run)
write_parquet(notices_table(notices), snakemake.output.notices, config, run)
