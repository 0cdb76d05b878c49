"""The best MOFA+ restart by ELBO, its reproducibility across restarts, and the result tables."""

import logging
import shutil

from oncofactor.io import write_parquet
from oncofactor.mofa import add_to_mudata, read_model, result_tables, stability, summarize_factors

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
config = snakemake.params.config
settings = config["mofa"]
models = [read_model(path) for path in snakemake.input.restarts]
for path, model in zip(snakemake.input.restarts, models):
    logging.info("%s: ELBO %.6g", path, model.elbo)
best_index = max(range(len(models)), key=lambda i: models[i].elbo)
best = models[best_index]
summary = summarize_factors(best, settings["min_r2"])
if summary.inactive:
    logging.warning("inactive factors not reported (below mofa.min_r2 in every view): %s", ", ".join(summary.inactive))
others = [m.factors for i, m in enumerate(models) if i != best_index]
tables = result_tables(best, summary, stability(best.factors[list(summary.mapping.values())], others), settings, len(models))
shutil.copyfile(snakemake.input.restarts[best_index], snakemake.output.model)
for key, output in [("factors", "factors"), ("weights", "weights"), ("variance_explained", "variance"), ("top_features", "top"), ("stability", "stability")]:
    write_parquet(tables[key], snakemake.output[output], config)
add_to_mudata(snakemake.input.views, tables, snakemake.output.views)
