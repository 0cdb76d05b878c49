"""The report's figures, one PNG each."""

import logging

import pandas as pd

from oncofactor import report
from oncofactor.clinical import factor_matrix

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
config = snakemake.params.settings
columns = config["clinical"]
read = {name: (lambda path=path: pd.read_parquet(path)) for name, path in snakemake.input.items()}
qc = read["qc"]()
associations = read["associations"]()
# Factors shown by covariate: the ones most associated with the clinic first.
by_association = associations.groupby("factor")["p_value"].min().sort_values(kind="stable").index.tolist()
figures = {
    "coverage": lambda: report.figure_coverage(read["coverage"]()),
    "qc": lambda: report.figure_qc(qc),
    "cell_types": lambda: report.figure_cell_types(qc),
    "variance_explained": lambda: report.figure_variance(read["variance"]()),
    "top_weights": lambda: report.figure_top_weights(read["top"]()),
    "stability": lambda: report.figure_stability(read["stability"](), config["mofa"]["min_stability"]),
    "factors_by_covariates": lambda: report.figure_factors_by_covariates(
        factor_matrix(read["factors"](), by_association), read["clinical"](), ([columns["response"]] if columns["response"] else []) + columns["categorical"]),
    "associations": lambda: report.figure_associations(associations),
    "kaplan_meier": lambda: report.figure_kaplan_meier(read["kaplan_meier"](), read["strata_logrank"]()),
    "roc": lambda: report.figure_roc(read["response_roc"](), read["response_prediction"]()),
}
for key, path in snakemake.output.items():
    report.save_figure(figures[key](), path)
    logging.info("wrote %s", path)
