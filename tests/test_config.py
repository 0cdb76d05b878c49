"""The config schema: defaults filled in, every violation reported, the shipped config in step with the simulator."""

from __future__ import annotations

import pytest
import yaml

from conftest import REPO
from oncofactor.config import ConfigError, check_config, load_config
from oncofactor.simulate import SimulationParams, simulate_cohort

MINIMAL = {"samples": "samples.tsv", "clinical": {"path": "clinical.tsv"}}


def test_defaults_are_filled_in():
    config = check_config(MINIMAL)
    assert config["clinical"]["id_column"] == "patient_id"
    assert config["clinical"]["numeric"] == [] and config["clinical"]["response"] is None
    assert config["ctc"] == {
        "enumeration": None, "default_blood_volume_ml": 7.5, "count_orientation": "auto", "cell_class_column": "cell_class", "patient_column": None,
    }
    assert config["extra_views"] == []
    assert MINIMAL == {"samples": "samples.tsv", "clinical": {"path": "clinical.tsv"}}, "input left unchanged"


def test_extra_view_defaults():
    config = check_config({**MINIMAL, "extra_views": [{"name": "drugs", "path": "d.csv", "orientation": "features_by_samples"}]})
    assert config["extra_views"][0]["likelihood"] == "gaussian"
    assert config["extra_views"][0]["id_column"] is None


def test_every_violation_is_reported_with_its_key():
    bad = {
        "samples": "samples.tsv",
        "clinical": {"path": "clinical.tsv", "numeric": "age"},
        "ctc": {"default_blood_volume_ml": -1},
        "extra_views": [{"name": "bad name", "path": "x.tsv", "orientation": "sideways"}],
        "sampels": "typo.tsv",
    }
    with pytest.raises(ConfigError) as raised:
        check_config(bad)
    problems = raised.value.problems
    assert len(problems) == 5, problems
    text = "\n".join(problems)
    assert "key 'clinical.numeric': 'age' is not of type 'array'" in text
    assert "key 'ctc.default_blood_volume_ml': -1 is less than or equal to the minimum of 0" in text
    assert "key 'extra_views[0].name'" in text
    assert "key 'extra_views[0].orientation'" in text
    assert "'sampels' was unexpected" in text


def test_required_keys():
    with pytest.raises(ConfigError) as raised:
        check_config({"samples": "s.tsv", "extra_views": [{"name": "v"}]})
    assert raised.value.problems == [
        "key '(top level)': 'clinical' is a required property",
        "key 'extra_views[0]': 'path' is a required property",
        "key 'extra_views[0]': 'orientation' is a required property",
    ]


def test_unreadable_config_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("samples: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.yaml")


def test_shipped_config_is_the_example_cohort_config(tmp_path, monkeypatch):
    """config/config.yaml is what `oncofactor simulate --out resources/example_cohort` writes (make run)."""
    monkeypatch.chdir(tmp_path)
    simulate_cohort(SimulationParams(), "resources/example_cohort")
    shipped = (REPO / "config" / "config.yaml").read_text()
    assert (tmp_path / "resources/example_cohort/config.yaml").read_text() == shipped
    config = load_config(REPO / "config" / "config.yaml")
    assert config["samples"] == "resources/example_cohort/samples.tsv"
    assert yaml.safe_load(shipped)["extra_views"][0]["likelihood"] == "bernoulli"


def test_a_config_must_name_some_data():
    with pytest.raises(ConfigError, match="names no data"):
        check_config({"clinical": {"path": "clinical.tsv"}})
    check_config({"clinical": {"path": "c.tsv"}, "ctc": {"enumeration": "ctc.tsv"}})


def test_qc_defaults_are_per_modality_and_survive_partial_settings():
    config = check_config({**MINIMAL, "qc": {"scrna": {"min_counts": 1000, "mode": "fixed"}}})
    doublets = {"enabled": True, "min_cells": 1000, "expected_rate": 0.06, "seed": 0}
    assert config["qc"]["scrna"] == {
        "min_counts": 1000, "mode": "fixed", "n_mads": 5, "n_mads_mito": 3, "min_genes": 5, "max_pct_mito": 20, "min_cells": 50, "doublets": doublets,
    }
    assert config["qc"]["spatial"]["mode"] == "mad" and config["qc"]["spatial"]["min_counts"] == 1 and config["qc"]["ctc_scrna"]["min_cells"] == 1
    assert config["genes"] == {"namespace": "symbol", "allow_mixed_species": False, "annotation": []}
    assert "EPCAM" in config["cell_types"]["markers"]["tumour_epithelial"]
    with pytest.raises(ConfigError, match="qc.spatial.max_pct_mito"):
        check_config({**MINIMAL, "qc": {"spatial": {"max_pct_mito": 120}}})


def test_extra_view_names_must_be_unique_and_not_the_workflows(tmp_path):
    view = {"path": "v.tsv", "orientation": "samples_by_features"}
    with pytest.raises(ConfigError) as raised:
        check_config({**MINIMAL, "extra_views": [{**view, "name": "m"}, {**view, "name": "m"}, {**view, "name": "spatial"}]})
    assert raised.value.problems == [
        "key 'extra_views[1].name': 'm' is used by an earlier extra view; names must be unique",
        "key 'extra_views[2].name': 'spatial' is the name of a view the workflow builds; choose another",
    ]


def test_config_path_that_is_a_folder_or_not_text(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)
    (tmp_path / "config.yaml").write_bytes(b"samples: \xff\xfe\n")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path / "config.yaml")


def test_survival_adjustment_names_configured_covariates():
    clinical = {"path": "c.tsv", "survival_time": "os", "survival_event": "died", "categorical": ["IGHV"]}
    config = check_config({**MINIMAL, "clinical": {**clinical, "survival_adjust_for": ["IGHV"]}})
    assert config["clinical"]["survival_adjust_for"] == ["IGHV"]
    with pytest.raises(ConfigError) as raised:
        check_config({**MINIMAL, "clinical": {**clinical, "survival_adjust_for": ["IGHV", "stage"]}})
    assert raised.value.problems == [
        "key 'clinical.survival_adjust_for[1]': 'stage' is not a covariate; list it in clinical.categorical or clinical.numeric too"
    ]
    with pytest.raises(ConfigError, match="set clinical.survival_time and clinical.survival_event"):
        check_config({**MINIMAL, "clinical": {"path": "c.tsv", "categorical": ["IGHV"], "survival_adjust_for": ["IGHV"]}})
