"""The report's figures, one PNG each."""

import logging

import pandas as pd

from oncofactor import report
from oncofactor.clinical import factor_matrix
from oncofactor.job_log import start_job

start_job(snakemake)
config = snakemake.params.settings
columns = config["clinical"]
tables = {name: pd.read_parquet(path) for name, path in snakemake.input.items()}
# Factors shown by covariate: the ones most associated with the clinic first.
by_association = tables["associations"].groupby("factor")["p_value"].min().sort_values(kind="stable").index.tolist()
figures = {  # drawn only for the outputs this run has (no survival or response columns: no such figure)
    "coverage": lambda: report.figure_coverage(tables["coverage"]),
    "qc": lambda: report.figure_qc(tables["qc"]),
    "cell_types": lambda: report.figure_cell_types(tables["qc"]),
    "variance_explained": lambda: report.figure_variance(tables["variance"]),
    "top_weights": lambda: report.figure_top_weights(tables["top"]),
    "factor_support": lambda: report.figure_factor_support(tables["factor_support"], config["mofa"]["min_stability"]),
    "factors_by_covariates": lambda: report.figure_factors_by_covariates(
        factor_matrix(tables["factors"], by_association), tables["clinical"], ([columns["response"]] if columns["response"] else []) + columns["categorical"]),
    "associations": lambda: report.figure_associations(tables["associations"]),
    "kaplan_meier": lambda: report.figure_kaplan_meier(tables["kaplan_meier"], tables["strata_logrank"]),
    "roc": lambda: report.figure_roc(tables["response_roc"], tables["response_prediction"]),
}
for key, path in snakemake.output.items():
    if not path:  # a figure this run has no data for (no survival or response columns)
        continue
    report.save_figure(figures[key](), path)
    logging.info("wrote %s", path)
