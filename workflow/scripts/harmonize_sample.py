"""Harmonize one sample (oncofactor.harmonize.harmonize_sample) and write its h5ad, tables and notices."""

import logging
import time

import pandas as pd

from oncofactor.genes import cohort_species
from oncofactor.harmonize import harmonize_sample
from oncofactor.notices import notices_table
from oncofactor.pseudobulk import sample_pseudobulk
from oncofactor.result_files import write_parquet
from oncofactor.sample_readers import read_sample
from oncofactor.spatial_pattern import section_pattern

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
config = snakemake.params.settings
samples = pd.read_parquet(snakemake.input.samples).set_index("sample_id", drop=False)
sample = samples.loc[snakemake.wildcards.sample].to_dict()
species, _ = cohort_species(samples["species"])
started = time.perf_counter()
raw = read_sample(sample, config)
read = time.perf_counter()
result = harmonize_sample(sample, config, pd.read_parquet(snakemake.input.gene_map), raw, cohort_species=species)
harmonized = time.perf_counter()
result.adata.write_h5ad(snakemake.output.h5ad)
write_parquet(result.qc, snakemake.output.qc, config)
write_parquet(result.genes, snakemake.output.genes, config)
write_parquet(notices_table(result.notices), snakemake.output.notices, config)
sample_pseudobulk(result.adata, config["views"]["exclude_cell_types"]).write_h5ad(snakemake.output.pseudobulk)
written = time.perf_counter()
write_parquet(section_pattern(result.adata), snakemake.output.pattern, config)
# In-step time without interpreter start and imports (benchmarks/run.py compares it with the read floor).
logging.info(
    "timing: read %.3f s, harmonize %.3f s, write %.3f s, morans_i %.3f s, %d observations",
    read - started, harmonized - read, written - harmonized, time.perf_counter() - written, len(result.qc),
)
logging.info("%d of %d observations passed QC%s", result.adata.n_obs, len(result.qc), f"; left out: {result.dropped}" if result.dropped else "")
