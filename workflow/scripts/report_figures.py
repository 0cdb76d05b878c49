"""The report's figures, one PNG each, and one per supported factor (its card's figure)."""

import logging
from pathlib import Path

import pandas as pd

from oncofactor import report_figures as figures
from oncofactor.clinical import factor_matrix
from oncofactor.job_log import start_job

start_job(snakemake)
config = snakemake.params.settings
columns = config["clinical"]
tables = {name: pd.read_parquet(path) for name, path in snakemake.input.items()}
# Factors shown by covariate: the ones most associated with the clinic first.
by_association = tables["associations"].groupby("factor")["p_value"].min().sort_values(kind="stable").index.tolist()
survival = (columns["survival_time"], columns["survival_event"], columns["survival_time_unit"])
drawn = {  # drawn only for the outputs this run has (no survival or response columns: no such figure)
    "coverage": lambda: figures.figure_coverage(tables["coverage"]),
    "qc": lambda: figures.figure_qc(tables["qc"]),
    "qc_distributions": lambda: figures.figure_qc_distributions(tables["qc"], config["qc"]),
    "cell_types": lambda: figures.figure_cell_types(tables["qc"]),
    "batch_embedding": lambda: figures.figure_batch_embedding(tables["batch_embedding"], tables["batch_mixing"]),
    "variance_explained": lambda: figures.figure_variance(tables["variance"]),
    "top_weights": lambda: figures.figure_top_weights(tables["top"]),
    "factor_support": lambda: figures.figure_factor_support(tables["factor_support"], config["mofa"]["min_stability"]),
    "factors_by_covariates": lambda: figures.figure_factors_by_covariates(
        factor_matrix(tables["factors"], by_association), tables["clinical"], ([columns["response"]] if columns["response"] else []) + columns["categorical"]),
    "associations": lambda: figures.figure_associations(tables["associations"], columns["fdr"]),
    "kaplan_meier": lambda: figures.figure_kaplan_meier(tables["strata"], tables["clinical"], *survival),
    "roc": lambda: figures.figure_roc(tables["response_roc"], tables["response_prediction"]),
}
for key, path in snakemake.output.items():
    if key == "factor_cards" or not path:  # not path: a figure this run has no data for
        continue
    figures.save_figure(drawn[key](), path)
    logging.info("wrote %s", path)

# One figure per supported factor, named after it (the report's factor cards).
cards = Path(snakemake.output.factor_cards)
cards.mkdir(parents=True, exist_ok=True)
support = tables["factor_support"]
scores = factor_matrix(tables["factors"])
variance = tables["variance"][tables["variance"]["group"] == tables["variance"]["group"].iloc[0]]
for name in support.loc[support["supported"].astype(bool), "factor"]:
    r2 = variance[variance["factor"] == name].set_index("view")["r2"]
    figure = figures.figure_factor_card(name, scores[name], r2, tables["clinical"], columns["response"], *survival)
    figures.save_figure(figure, cards / f"{name}.png")
    logging.info("wrote %s", cards / f"{name}.png")
