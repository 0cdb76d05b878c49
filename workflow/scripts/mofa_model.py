"""The best MOFA+ restart by ELBO and its result tables."""

import logging
import shutil

import mudata

from oncofactor.clinical import factor_matrix
from oncofactor.job_log import start_job
from oncofactor.result_files import run_stamp, write_parquet
from oncofactor.mofa import (
    add_to_mudata,
    best_restart,
    prepare_views,
    preprocessing_table,
    read_model,
    result_tables,
    summarize_factors,
    trainable_factors,
    view_batches,
)
from oncofactor.notices import WARNING, Notice, notices_table

start_job(snakemake)
run = run_stamp(snakemake)
config = snakemake.params.settings
settings = config["mofa"]
models = [read_model(path) for path in snakemake.input.restarts]
for path, model in zip(snakemake.input.restarts, models):
    logging.info("%s: ELBO %.6g", path, model.elbo)
best_index = best_restart(models)
best = models[best_index]
summary = summarize_factors(best, settings["min_r2"])
if summary.inactive:
    logging.warning("inactive factors not reported (below mofa.min_r2 in every view): %s", ", ".join(summary.inactive))
tables = result_tables(best, summary, settings)
shutil.copyfile(snakemake.input.restarts[best_index], snakemake.output.model)
flipped = [name for name, sign in summary.signs.items() if sign < 0]
logging.info("factor signs oriented (largest weights positive in the view each explains most); negated from the model file: %s", ", ".join(flipped) or "none")
for key, output in [("factors", "factors"), ("weights", "weights"), ("variance_explained", "variance"), ("top_features", "top"),
                    ("orientation", "orientation")]:
    write_parquet(tables[key], snakemake.output[output], config, run)
add_to_mudata(snakemake.input.views, tables, snakemake.output.views)

# What training did to each feature (as in mofa_restart.py), so `oncofactor project` can score new patients.
mudata.set_options(pull_on_update=False)
views = mudata.read_h5mu(snakemake.input.views)
data = prepare_views(views, settings)
batches = view_batches(views, data.views) if settings["batch_correction"] == "regress" else {}
table = preprocessing_table(data, batches, settings["scale_views"], factor_matrix(tables["factors"]), tables["weights"])
write_parquet(table, snakemake.output.preprocessing, config, run)

notices = []
n_factors, fewer = trainable_factors(data, settings["factors"])
if fewer:
    notices.append(Notice("mofa", "factors", "MOFA", WARNING, f"{n_factors} factors trained: {fewer}", "nothing to do; more patients allow more factors"))
if not best.converged:
    notices.append(Notice("mofa", "model", "MOFA", WARNING,
                          f"the best restart ({snakemake.input.restarts[best_index]}) stopped at mofa.max_iterations = {settings['max_iterations']} before converging",
                          "raise mofa.max_iterations or use mofa.convergence_mode: fast"))
for notice in notices:
    logging.warning("%s", notice)
write_parquet(notices_table(notices), snakemake.output.notices, config, run)
