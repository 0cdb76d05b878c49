"""One seeded MOFA+ training run on the patient-level views, saved with its training data (the best
restart becomes results/mofa/model.hdf5, which mofax and MOFA2 open with its data)."""

from threadpoolctl import threadpool_limits

from oncofactor.job_log import start_job
from oncofactor.mofa import train, training_data

start_job(snakemake)
settings = snakemake.params.settings["mofa"]
data = training_data(snakemake.input[0], settings)
# One BLAS thread per job: measured faster for MOFA than two, and restarts run side by side.
with threadpool_limits(limits=1):
    train(data, settings, int(snakemake.wildcards.seed), snakemake.output[0], save_data=True)
