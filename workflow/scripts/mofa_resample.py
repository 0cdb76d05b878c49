"""One MOFA+ training run for factor support: on a random subset of the patients (one of
mofa.resample_restarts runs per subset), or on the views with each feature's values permuted across
patients (see oncofactor.factor_support)."""

import logging

from threadpoolctl import threadpool_limits

from oncofactor.factor_support import permute_patients, resample_patients
from oncofactor.job_log import start_job
from oncofactor.mofa import train, training_data

start_job(snakemake)
settings = snakemake.params.settings["mofa"]
data = training_data(snakemake.input[0], settings)
kind, index = snakemake.params.kind, int(snakemake.wildcards.index)
# Each refit draws its patients from its own stream: (seed, kind, index) never collides with another refit's.
stream = (settings["seed"], ["subsample", "permuted"].index(kind), index)
if kind == "subsample":
    data = resample_patients(data, settings["resample_fraction"], stream)
    seed = settings["seed"] + int(snakemake.wildcards.restart)  # the reported model's restart seeds
else:
    data = permute_patients(data, stream)
    seed = settings["seed"] + index
logging.info("%s %d: %d patients, training seed %d", kind, index, len(data.samples), seed)
with threadpool_limits(limits=1):  # as in mofa_restart.py
    train(data, settings, seed, snakemake.output[0])
