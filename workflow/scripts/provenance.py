"""What the run was made from: resolved config, input checksums, package versions, pipeline version."""

import logging

import yaml

from oncofactor.job_log import start_job
from oncofactor.result_files import write_parquet
from oncofactor.provenance import checksums, input_files, package_versions, pipeline_version

start_job(snakemake)
config = snakemake.params.settings
with open(snakemake.output.config, "w") as handle:
    yaml.safe_dump(config, handle, sort_keys=False)
files = input_files(config, snakemake.input.samples)
write_parquet(checksums(files), snakemake.output.inputs, config)
write_parquet(package_versions(), snakemake.output.packages, config)
with open(snakemake.output.pipeline, "w") as handle:
    yaml.safe_dump(pipeline_version(snakemake.params.basedir), handle, sort_keys=False)
logging.info("checksummed %d input files", len(files))
