"""What the run was made from: resolved config, input checksums, package versions, pipeline version."""

import logging

import yaml

from oncofactor import __version__
from oncofactor.job_log import start_job
from oncofactor.provenance import checksums, input_files, package_versions
from oncofactor.result_files import run_stamp, write_parquet

start_job(snakemake)
run = run_stamp(snakemake)
config = snakemake.params.settings
with open(snakemake.output.config, "w") as handle:
    yaml.safe_dump(config, handle, sort_keys=False)
files = input_files(config, snakemake.input.samples)
write_parquet(checksums(files), snakemake.output.inputs, config, run)
write_parquet(package_versions(), snakemake.output.packages, config, run)
with open(snakemake.output.pipeline, "w") as handle:
    yaml.safe_dump({"oncofactor_version": __version__, "git_revision": run.git_revision, "run_config_sha256": run.run_config_sha256}, handle, sort_keys=False)
logging.info("checksummed %d input files", len(files))
