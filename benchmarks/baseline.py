"""The baseline: the same analysis as the pipeline, written the way a scanpy/muon user would, in one
process: read every sample, harmonize it (same QC, normalization and cell typing), keep them all and
concatenate them into one AnnData, pseudobulk per sample from the concatenated object, Moran's I per
section, build the MuData, then `muon.tl.mofa` for each restart.

    python benchmarks/baseline.py --config cohort/config.yaml --out baseline/

Measured by benchmarks/run.py with /usr/bin/time (wall time, peak RSS).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import anndata as ad
import muon as mu
import pandas as pd

from oncofactor.config import load_config
from oncofactor.harmonize import cohort_gene_map, harmonize_sample
from oncofactor.validation import validate_inputs
from oncofactor.ctc_burden import ctc_per_standard_volume
from oncofactor.pseudobulk import sample_pseudobulk
from oncofactor.spatial_pattern import PATTERN_COLUMNS, section_pattern
from oncofactor.views import build_views


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    stages = {}
    started = time.perf_counter()

    config = load_config(args.config)
    inputs = validate_inputs(config)
    inputs.raise_for_errors()
    samples = inputs.samples
    gene_map = cohort_gene_map(samples, config)
    harmonized = [harmonize_sample(row, config, gene_map).adata for row in samples.to_dict("records")]
    stages["read_and_harmonize"] = time.perf_counter() - started

    # Concatenation keeps neither per-sample uns nor coordinates that only some samples have.
    sample_info = {adata.uns["oncofactor"]["sample_id"]: adata.uns["oncofactor"] for adata in harmonized}
    coordinates = {adata.uns["oncofactor"]["sample_id"]: adata.obsm["spatial"] for adata in harmonized if "spatial" in adata.obsm}
    cohort = ad.concat(harmonized, join="outer", index_unique="-", merge="first")
    del harmonized

    def sample(sample_id):
        adata = cohort[cohort.obs["sample_id"] == sample_id].copy()
        adata.uns["oncofactor"] = sample_info[sample_id]
        if sample_id in coordinates:
            adata.obsm["spatial"] = coordinates[sample_id]
        return adata

    exclude = config["views"]["exclude_cell_types"]
    pseudobulks = [sample_pseudobulk(sample(sample_id), exclude) for sample_id in samples["sample_id"]]
    spatial = samples.loc[samples["modality"] == "spatial", "sample_id"]
    patterns = pd.concat([section_pattern(sample(sample_id)) for sample_id in spatial] or [pd.DataFrame(columns=PATTERN_COLUMNS)])
    ctc = ctc_per_standard_volume(inputs.ctc) if inputs.ctc is not None else None
    mdata, _, _ = build_views(pseudobulks, patterns, ctc, inputs.clinical, samples, config)
    stages["views"] = time.perf_counter() - started - sum(stages.values())

    settings = config["mofa"]
    likelihoods = [settings["likelihoods"].get(name, mdata.mod[name].uns["likelihood"]) for name in mdata.mod]
    for restart in range(settings["restarts"]):
        mu.tl.mofa(
            mdata, n_factors=settings["factors"], groups_label="group", use_obs="union", likelihoods=likelihoods,
            convergence_mode=settings["convergence_mode"], n_iterations=settings["max_iterations"],
            spikeslab_weights=settings["spikeslab_weights"], ard_weights=settings["ard_weights"], ard_factors=settings["ard_factors"],
            scale_views=settings["scale_views"], seed=settings["seed"] + restart, outfile=str(args.out / f"mofa_{restart}.hdf5"),
            quiet=True, verbose=False,
        )
    stages["mofa"] = time.perf_counter() - started - sum(stages.values())
    print("\n".join(f"{stage}\t{seconds:.1f}" for stage, seconds in stages.items()))


if __name__ == "__main__":
    main()
