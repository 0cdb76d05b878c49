"""Batches that go with the clinic are reported before any correction removes that biology."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncofactor.batch_confounding import batch_confounding
from oncofactor.config import ConfigError, check_config

CLINICAL_SETTINGS = {"response": "response", "categorical": ["sex"], "numeric": ["age"], "survival_time": "os", "survival_event": "death"}


def cohort(seed: int, n: int = 40, confounded_with_response: bool = False):
    rng = np.random.default_rng(seed)
    patients = [f"P{i:03d}" for i in range(n)]
    response = rng.choice(["CR", "PD"], n)
    batch = np.where(response == "CR", "run1", "run2") if confounded_with_response else rng.choice(["run1", "run2"], n)
    flip = rng.random(n) < 0.1  # not perfectly
    batch = np.where(flip, np.where(batch == "run1", "run2", "run1"), batch)
    samples = pd.DataFrame({"sample_id": [f"{p}_scrna" for p in patients], "patient_id": patients, "modality": "scrna", "batch": batch})
    clinical = pd.DataFrame({
        "patient_id": patients, "response": response, "sex": rng.choice(["F", "M"], n), "age": rng.normal(60, 10, n),
        "os": rng.exponential(20, n), "death": rng.random(n) < 0.6,
    })
    return samples, clinical


def test_a_batch_that_tracks_response_is_reported():
    samples, clinical = cohort(11, confounded_with_response=True)
    table, notices = batch_confounding(samples, clinical, CLINICAL_SETTINGS, 0.05)
    row = table.set_index("covariate").loc["response"]
    assert row["test"] == "Fisher's exact" and row["p_value"] < 1e-4 and row["confounded"]
    assert [n.subject for n in notices] == ["scrna batches"] and "go with response" in notices[0].reason
    assert set(table["covariate"]) == {"response", "sex", "age", "survival"}


def test_independent_batches_are_reported_rarely():
    """Over 100 cohorts with batches independent of everything, each test flags at about its level."""
    flagged = pd.concat([batch_confounding(*cohort(seed), CLINICAL_SETTINGS, 0.05)[0] for seed in range(100, 200)])
    rates = flagged.groupby("covariate")["confounded"].mean()
    assert (rates <= 0.1).all(), rates


def test_a_patient_spanning_batches_is_not_counted():
    samples, clinical = cohort(11, confounded_with_response=True)
    extra = samples.iloc[[0]].assign(sample_id="P000_scrna_2", batch=lambda t: np.where(t["batch"] == "run1", "run2", "run1"))
    table, _ = batch_confounding(pd.concat([samples, extra]), clinical, CLINICAL_SETTINGS, 0.05)
    assert table.set_index("covariate").loc["response", "n_patients"] == 39


def test_batches_as_groups_and_a_group_column_are_one_choice_too_many():
    config = {"samples": "samples.tsv", "clinical": {"path": "clinical.tsv"}, "mofa": {"batch_correction": "groups"}, "views": {"group_column": "sex"}}
    with pytest.raises(ConfigError, match="mofa.batch_correction"):
        check_config(config)
    assert check_config({**config, "views": {}})["mofa"]["batch_correction"] == "groups"
