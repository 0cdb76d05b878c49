"""Moran's I of each gene over one Visium section's spots."""

import logging

import anndata as ad

from oncofactor.io import write_parquet
from oncofactor.views import spatial_autocorrelation

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
adata = ad.read_h5ad(snakemake.input[0])
table = spatial_autocorrelation(adata)
table.insert(0, "patient_id", str(adata.obs["patient_id"].iloc[0]) if adata.n_obs else "")
table.insert(0, "sample_id", snakemake.wildcards.sample)
if adata.uns["oncofactor"]["dropped"]:
    table = table.iloc[0:0]
write_parquet(table, snakemake.output[0], snakemake.params.settings)
