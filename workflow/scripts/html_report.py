"""The standalone HTML report (results/report/oncofactor_report.html)."""

import logging
from pathlib import Path

import pandas as pd
import yaml

from oncofactor.job_log import start_job
from oncofactor.report import build_report

start_job(snakemake)
captions = Path(snakemake.params.captions)
figures = {Path(path).stem: (path, (captions / f"{Path(path).stem}.rst").read_text().strip()) for path in snakemake.input.figures}
names = ["coverage", "qc", "factor_support", "associations", "strata_selection", "strata_logrank", "response_prediction",
         "response_coefficients", "feature_set_enrichment", "notices"]
tables = {name: pd.read_parquet(snakemake.input[name]) for name in names if name in snakemake.input.keys()}
tables["top_features"] = pd.read_parquet(snakemake.input.top)
pipeline = yaml.safe_load(Path(snakemake.input.provenance_pipeline).read_text())
if Path(snakemake.params.run_record).exists():
    pipeline |= yaml.safe_load(Path(snakemake.params.run_record).read_text())
provenance = {
    "config": Path(snakemake.input.provenance_config).read_text(),
    "inputs": pd.read_parquet(snakemake.input.provenance_inputs),
    "packages": pd.read_parquet(snakemake.input.provenance_packages),
    "pipeline": pipeline,
}
Path(snakemake.output[0]).write_text(build_report(figures, tables, provenance))
logging.info("wrote %s", snakemake.output[0])
