"""MEFISTO on a simulated Visium section: smooth factors follow the simulated spatial domains."""

from __future__ import annotations

import numpy as np
import pandas as pd

from oncofactor.config import check_config, load_config
from oncofactor.harmonize import cohort_gene_map, harmonize_sample
from oncofactor.mefisto import smooth_factors
from oncofactor.validation import validate_inputs

DOMAINS = ["tumour", "immune", "stroma"]


def test_smooth_factors_follow_the_spatial_domains(truth_cohort, tmp_path):
    config = load_config(truth_cohort / "config.yaml")
    spots = pd.read_parquet(truth_cohort / "truth" / "spots.parquet")
    # The section whose three domains are most evenly represented.
    balance = spots.groupby("sample_id")["domain"].apply(lambda d: d.value_counts(normalize=True).reindex(DOMAINS).fillna(0).min())
    samples = validate_inputs(config).samples.query("sample_id == @balance.idxmax()")
    sample = samples.iloc[0].to_dict()
    section = harmonize_sample(sample, config, cohort_gene_map(samples, config)).adata
    settings = check_config({"samples": "s", "clinical": {"path": "c"}, "mefisto": {"factors": 3, "n_inducing": 40, "max_iterations": 200}})["mefisto"]
    factors, smoothness = smooth_factors(section, settings, str(tmp_path / "model.hdf5"))
    assert list(factors.columns) == ["barcode", "factor", "value"]
    assert len(factors) == section.n_obs * 3
    assert list(smoothness.columns) == ["factor", "smoothness", "length_scale"]
    assert smoothness["smoothness"].between(0, 1).all()

    values = factors.pivot(index="barcode", columns="factor", values="value")
    truth = spots.query("sample_id == @sample['sample_id']").set_index("barcode").loc[values.index]  # spots passing QC
    smooth = smoothness.set_index("factor")["smoothness"]
    for domain in ("tumour", "immune"):
        indicator = (truth["domain"] == domain).astype(float)
        correlations = values.apply(lambda column: abs(np.corrcoef(column, indicator)[0, 1]))
        best = correlations.idxmax()
        assert correlations[best] > 0.7, (domain, correlations.to_dict())
        assert smooth[best] > 0.2, (domain, smooth.to_dict())
