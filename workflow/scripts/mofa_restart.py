"""One seeded MOFA+ training run on the patient-level views."""

import logging

import mudata
from threadpoolctl import threadpool_limits

from oncofactor.mofa import prepare_views, regress_batches, train, view_batches

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
settings = snakemake.params.settings["mofa"]
mudata.set_options(pull_on_update=False)
mdata = mudata.read_h5mu(snakemake.input[0])
data = prepare_views(mdata, settings)
if settings["regress_batches"]:
    regress_batches(data, view_batches(mdata, data.views))
# One BLAS thread per job: measured faster for MOFA than two, and restarts run side by side.
with threadpool_limits(limits=1):
    train(data, settings, int(snakemake.wildcards.seed), snakemake.output[0])
