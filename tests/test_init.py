"""`oncofactor init --scan`: a sample sheet and config from a folder of a cohort's files, which
`oncofactor validate` then accepts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from oncofactor.cli import main
from oncofactor.simulate import EXAMPLE_QUIRKS, SimulationParams, simulate_cohort

SHEET_KEYS = ["sample_id", "patient_id", "modality", "path", "cell_metadata"]


@pytest.fixture(scope="module")
def quirky_cohort(tmp_path_factory) -> Path:
    """A small simulated cohort with the example's shapes of real data (a Space Ranger 1 section,
    Ensembl-only genes, CTC cell tables beside their count tables, a failed sample)."""
    params = SimulationParams(patients=4, seed=1, cells_per_sample=40, spots_per_section=30, genes=1000, quirks=EXAMPLE_QUIRKS)
    folder = simulate_cohort(params, tmp_path_factory.mktemp("scan") / "cohort")
    sheet = pd.read_csv(folder / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert set(sheet["modality"]) == {"scrna", "spatial", "ctc_scrna"} and sheet["cell_metadata"].astype(bool).any()
    return folder


def as_written(sheet: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """The sheet's identifying columns with paths made absolute, in sample order."""
    table = sheet.reindex(columns=SHEET_KEYS).fillna("")
    for column in ("path", "cell_metadata"):
        table[column] = [str((folder / p).resolve()) if p else "" for p in table[column]]
    return table.sort_values("sample_id").reset_index(drop=True)


def test_init_finds_the_simulated_cohort_as_the_simulator_wrote_it(quirky_cohort, tmp_path, capsys):
    out = tmp_path / "init"
    assert main(["init", "--scan", str(quirky_cohort), "--patient-pattern", r"(P\d{3})", "--timepoint-pattern", r"_(T\d)_?", "--out", str(out)]) == 0
    console = capsys.readouterr().out
    assert "samples.tsv: a sample sheet already" in console  # the simulator's own sheet is named, not used

    written = pd.read_csv(out / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    truth = pd.read_csv(quirky_cohort / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(as_written(written, out), as_written(truth, quirky_cohort))
    ctc = written.query("modality == 'ctc_scrna'").set_index("sample_id")["timepoint"]
    assert ctc.to_dict() == truth.set_index("sample_id").loc[ctc.index, "timepoint"].to_dict()

    config = yaml.safe_load((out / "config.yaml").read_text())
    simulated = yaml.safe_load((quirky_cohort / "config.yaml").read_text())
    for key in ("id_column", "response", "survival_time", "survival_event", "survival_time_unit"):
        assert config["clinical"][key] == simulated["clinical"].get(key, "patient_id" if key == "id_column" else None), key
    assert sorted(config["clinical"]["categorical"]) == sorted(simulated["clinical"]["categorical"])
    assert config["clinical"]["numeric"] == simulated["clinical"]["numeric"]
    assert Path(config["ctc"]["enumeration"]) == Path(simulated["ctc"]["enumeration"]).resolve()
    assert config["ctc"]["cell_class_column"] == simulated["ctc"]["cell_class_column"]
    assert [(v["name"], v["orientation"], v["likelihood"]) for v in config["extra_views"]] == [
        (v["name"], v["orientation"], v["likelihood"]) for v in simulated["extra_views"]]
    assert [Path(p) for p in config["feature_sets"]["gmt"]] == [Path(p).resolve() for p in simulated["feature_sets"]["gmt"]]

    assert main(["validate", "--config", str(out / "config.yaml")]) == 0


def test_init_leaves_what_it_cannot_tell_for_the_user(tmp_path, capsys):
    folder = tmp_path / "cohort"
    folder.mkdir()
    (folder / "notes.txt").write_text("sequenced in March\nsecond line\n")
    (folder / "readme.csv").write_text("a,b\nx,y\n")
    out = tmp_path / "init"
    assert main(["init", "--scan", str(folder), "--patient-pattern", r"(P\d+)", "--out", str(out)]) == 0
    console = capsys.readouterr().out
    assert "clinical table: none found" in console and f"not used: {folder / 'readme.csv'}" in console
    assert "clinical:\n  path: FILL_IN" in (out / "config.yaml").read_text()
    assert main(["validate", "--config", str(out / "config.yaml")]) == 1
    # An existing sheet or config is never overwritten.
    assert main(["init", "--scan", str(folder), "--patient-pattern", r"(P\d+)", "--out", str(out)]) == 2
    assert "exist; give another --out" in capsys.readouterr().err


@pytest.mark.shared_data
def test_init_on_a_folder_of_real_files(shared_data, tmp_path, capsys):
    """Real outputs as they lie: a Cell Ranger 3 folder (HDF5 and MEX), a CytAssist Space Ranger
    folder, a Space Ranger 1 section, an AnnData zarr, Poonia et al.'s one CTC table of several
    patients with its cell table, and a Polaris CTC table in a patient's folder."""
    folder = tmp_path / "cohort"
    (folder / "P7").mkdir(parents=True)
    links = {
        "P1_pbmc": "scverse_scanpy/tests/_data/10x_data/3.0.0",
        "P9_cytassist": "Perik-Zavodskii_CoexpressDeconvolve",
        "P3_heart": "scverse_scanpy/tests/_data/visium_data/1.0.0",
        "P5_mouse.zarr": "scverse_scanpy/tests/_data/10x-10k-subset.zarr",
        "poonia.csv.gz": "SaritaPoonia_unCTC/converted/Poonia_et_al._CountData.csv.gz",
        "poonia_cells.csv.gz": "SaritaPoonia_unCTC/converted/Poonia_et_al._metaData.csv.gz",
        "P7/polaris.csv.gz": "krishan57gupta_iCTC/converted/raw_test_data__Clearcell_Polaris_sample_test.csv.gz",
    }
    for name, target in links.items():
        (folder / name).symlink_to(shared_data / target)
    # The user's own clinical table: Poonia et al.'s patients P1 to P9.
    pd.DataFrame({"patient_id": [f"P{i}" for i in range(1, 10)], "hormone_status": ["ER-", "ER+"] * 4 + ["ER-"]}).to_csv(
        folder / "clinical.tsv", sep="\t", index=False)
    out = tmp_path / "init"
    assert main(["init", "--scan", str(folder), "--patient-pattern", r"(P\d+)", "--out", str(out)]) == 0

    sheet = pd.read_csv(out / "samples.tsv", sep="\t", dtype=str, keep_default_na=False).set_index("sample_id")
    expected = {"P1_pbmc": ("P1", "scrna", "10x_h5"), "P9_cytassist": ("P9", "spatial", "visium"), "P3_heart": ("P3", "spatial", "visium"),
                "P5_mouse": ("P5", "scrna", "zarr"), "polaris": ("P7", "ctc_scrna", "csv")}
    # Poonia et al.'s metadata names six patients (GroupID): one sample each, the same two files.
    expected |= {f"{p}_poonia": (p, "ctc_scrna", "csv") for p in ("P1", "P3", "P4", "P5", "P7", "P9")}
    assert {s: tuple(row) for s, row in sheet[["patient_id", "modality", "format"]].iterrows()} == expected
    assert sheet.loc["P1_pbmc", "path"].endswith("P1_pbmc/filtered_feature_bc_matrix.h5")
    assert set(sheet.loc[sheet.index.str.endswith("_poonia"), "cell_metadata"]) == {str(folder.resolve() / "poonia_cells.csv.gz")}
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["ctc"]["cell_class_column"] == "Cell_type" and config["ctc"]["patient_column"] == "GroupID"
    assert config["clinical"]["categorical"] == ["hormone_status"] and config["clinical"]["response"] is None

    capsys.readouterr()
    assert main(["validate", "--config", str(out / "config.yaml")]) == 0
    assert "OK: 9 patients, 11 samples (7 ctc_scrna, 2 scrna, 2 spatial)" in capsys.readouterr().out
