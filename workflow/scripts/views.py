"""The cohort's patient-level views (oncofactor.views.build_views) as MuData, tidy tables and notices."""

import logging

import anndata as ad
import pandas as pd

from oncofactor.job_log import start_job
from oncofactor.notices import notices_table
from oncofactor.result_files import run_stamp, write_parquet
from oncofactor.spatial_pattern import PATTERN_COLUMNS
from oncofactor.views import build_views, coverage, views_long

start_job(snakemake)
run = run_stamp(snakemake)
config = snakemake.params.settings
samples = pd.read_parquet(snakemake.input.samples)
pseudobulks = [ad.read_h5ad(path) for path in snakemake.input.pseudobulk]
patterns = pd.concat([pd.read_parquet(path) for path in snakemake.input.patterns] or [pd.DataFrame(columns=PATTERN_COLUMNS)])
ctc = pd.read_parquet(snakemake.input.ctc) if config["ctc"]["enumeration"] else None
mdata, view_genes, notices = build_views(pseudobulks, patterns, ctc, pd.read_parquet(snakemake.input.clinical), samples, config)
mdata.write(snakemake.output.views)
write_parquet(views_long(mdata), snakemake.output.long, config, run)
write_parquet(coverage(samples, pseudobulks, ctc, mdata), snakemake.output.coverage, config, run)
write_parquet(view_genes, snakemake.output.genes, config, run)
write_parquet(notices_table(notices), snakemake.output.notices, config, run)
for name, view in mdata.mod.items():
    logging.info("view %s: %d patients x %d features (%s)", name, view.n_obs, view.n_vars, view.uns["modality"])
