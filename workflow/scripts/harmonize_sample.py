"""Harmonize one sample (oncofactor.harmonize.harmonize_sample) and write its h5ad and tables."""

import logging
import time

import pandas as pd

from oncofactor.harmonize import harmonize_sample, read_sample
from oncofactor.result_files import write_parquet
from oncofactor.pseudobulk import sample_pseudobulk
from oncofactor.spatial_pattern import section_pattern

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
config = snakemake.params.settings
samples = pd.read_parquet(snakemake.input.samples).set_index("sample_id", drop=False)
sample = samples.loc[snakemake.wildcards.sample].to_dict()
started = time.perf_counter()
raw = read_sample(sample, config)
read = time.perf_counter()
result = harmonize_sample(sample, config, pd.read_parquet(snakemake.input.gene_map), raw)
harmonized = time.perf_counter()
result.adata.write_h5ad(snakemake.output.h5ad)
write_parquet(result.qc, snakemake.output.qc, config)
write_parquet(result.genes, snakemake.output.genes, config)
sample_pseudobulk(result.adata, config["views"]["exclude_cell_types"]).write_h5ad(snakemake.output.pseudobulk)
written = time.perf_counter()
write_parquet(section_pattern(result.adata), snakemake.output.pattern, config)
# In-step time without interpreter start and imports (benchmarks/run.py compares it with the read floor).
logging.info(
    "timing: read %.3f s, harmonize %.3f s, write %.3f s, morans_i %.3f s, %d observations",
    read - started, harmonized - read, written - harmonized, time.perf_counter() - written, len(result.qc),
)
