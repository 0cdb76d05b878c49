"""Write the validated, typed input tables as Parquet (see oncofactor.validation.ValidatedInputs)."""

import logging

from oncofactor.validation import write_validated_inputs

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
write_validated_inputs(snakemake.params.settings, snakemake.output)
