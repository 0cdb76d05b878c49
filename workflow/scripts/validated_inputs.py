"""Write the validated, typed input tables as Parquet (see oncofactor.validation.ValidatedInputs)."""

from oncofactor.job_log import start_job
from oncofactor.result_files import run_stamp
from oncofactor.validation import write_validated_inputs

start_job(snakemake)
# on_sample_error from the config, as the harmonization jobs read it (see harmonize_sample.py).
write_validated_inputs({**snakemake.params.settings, "on_sample_error": snakemake.config["on_sample_error"]}, snakemake.output, run_stamp(snakemake))
