"""One MOFA+ refit for factor support: on a random subset of the patients, or on the views with each
feature's values permuted across patients (see oncofactor.factor_support)."""

import logging

from threadpoolctl import threadpool_limits

from oncofactor.factor_support import permute_patients, resample_patients
from oncofactor.mofa import train, training_data

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
settings = snakemake.params.settings["mofa"]
data = training_data(snakemake.input[0], settings)
kind, index = snakemake.wildcards.kind, int(snakemake.wildcards.index)
# Each refit draws from its own stream: (seed, kind, index) never collides with another refit's.
stream = (settings["seed"], ["subsample", "permuted"].index(kind), index)
if kind == "subsample":
    data = resample_patients(data, settings["resample_fraction"], stream)
else:
    data = permute_patients(data, stream)
logging.info("%s %d: %d patients", kind, index, len(data.samples))
with threadpool_limits(limits=1):  # as in mofa_restart.py
    train(data, settings, settings["seed"] + index, snakemake.output[0])
