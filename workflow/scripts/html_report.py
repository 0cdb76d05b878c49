"""The standalone HTML report (results/report/oncofactor_report.html)."""

import logging
from pathlib import Path

import pandas as pd
import yaml

from oncofactor.job_log import start_job
from oncofactor.report_page import Figure, build_report

start_job(snakemake)
captions = Path(snakemake.params.captions)
figures = {}
for path in map(Path, snakemake.input.figures):
    if path.is_dir():  # the factor cards' figures, one per supported factor
        caption = (captions / "factor_card.rst").read_text().strip()
        figures |= {png.stem: Figure.from_png(png, caption) for png in sorted(path.glob("*.png"))}
    else:
        figures[path.stem] = Figure.from_png(path, (captions / f"{path.stem}.rst").read_text().strip())
skip = {"figures", "provenance_config", "provenance_inputs", "provenance_packages", "provenance_pipeline", "batch_embedding"}
tables = {name: pd.read_parquet(path) for name, path in snakemake.input.items() if name not in skip}
run_record = Path(snakemake.params.run_record)
provenance = {
    "config": Path(snakemake.input.provenance_config).read_text(),
    "inputs": pd.read_parquet(snakemake.input.provenance_inputs),
    "packages": pd.read_parquet(snakemake.input.provenance_packages),
    "pipeline": yaml.safe_load(Path(snakemake.input.provenance_pipeline).read_text()),
    "run": yaml.safe_load(run_record.read_text()) if run_record.exists() else {},
}
Path(snakemake.output[0]).write_text(build_report(tables, figures, provenance, snakemake.params.settings))
logging.info("wrote %s", snakemake.output[0])
