"""Validation accepts the real public datasets in ../shared/data (10x, Visium, single-CTC, CLL)."""

from __future__ import annotations

import pandas as pd
import pytest

from oncofactor.config import check_config
from oncofactor.validation import validate_inputs

pytestmark = pytest.mark.shared_data

SCANPY = "scverse_scanpy/tests/_data"
REAL_SAMPLES = [
    # sample_id, modality, path under shared/data, format
    ("pbmc_v3_h5", "scrna", f"{SCANPY}/10x_data/3.0.0/filtered_feature_bc_matrix.h5", "auto"),
    ("pbmc_v3_mex", "scrna", f"{SCANPY}/10x_data/3.0.0/filtered_feature_bc_matrix", "auto"),
    ("pbmc_v2_h5", "scrna", f"{SCANPY}/10x_data/1.2.0/filtered_gene_bc_matrices_h5.h5", "10x_h5"),
    ("two_genomes_h5", "scrna", f"{SCANPY}/10x_data/1.2.0/multiple_genomes.h5", "10x_h5"),
    ("pbmc_v2_mex", "scrna", f"{SCANPY}/10x_data/1.2.0/filtered_gene_bc_matrices/hg19_chr21", "10x_mtx"),
    ("mouse_zarr", "scrna", f"{SCANPY}/10x-10k-subset.zarr", "auto"),
    ("heart_visium_v1", "spatial", f"{SCANPY}/visium_data/1.0.0", "auto"),
    ("mouse_cytassist", "spatial", "Perik-Zavodskii_CoexpressDeconvolve", "visium"),
    ("poonia_ctc", "ctc_scrna", "SaritaPoonia_unCTC/converted/Poonia_et_al._CountData.csv.gz", "auto"),
    ("polaris_ctc", "ctc_scrna", "krishan57gupta_iCTC/converted/raw_test_data__Clearcell_Polaris_sample_test.csv.gz", "csv"),
]


def real_sheet(shared_data, tmp_path, rows=REAL_SAMPLES, **columns) -> dict:
    """A config for a sample sheet of real files (one patient each) with extra sheet columns."""
    sheet = pd.DataFrame(
        [(sample, f"patient{i}", modality, str(shared_data / path), fmt) for i, (sample, modality, path, fmt) in enumerate(rows)],
        columns=["sample_id", "patient_id", "modality", "path", "format"],
    ).assign(**columns)
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    pd.DataFrame({"patient_id": sheet["patient_id"]}).to_csv(tmp_path / "clinical.tsv", sep="\t", index=False)
    return {"samples": str(tmp_path / "samples.tsv"), "clinical": {"path": str(tmp_path / "clinical.tsv")}}


def test_sample_sheet_of_real_files_validates(shared_data, tmp_path):
    genome = ["hg19_chr21" if sample == "two_genomes_h5" else "" for sample, *_ in REAL_SAMPLES]
    result = validate_inputs(check_config(real_sheet(shared_data, tmp_path, genome=genome)))
    assert result.errors == []
    # What a light read tells before any job: two mouse samples in a human cohort, and a section whose
    # genes are Ensembl IDs that nothing in the cohort names by symbol.
    warnings = {(w.line, w.message.split(":")[0]) for w in result.warnings}
    assert warnings == {
        (7, "sample 'mouse_zarr' has mouse genes while 8 of 10 samples are human"),
        (9, "sample 'mouse_cytassist' has mouse genes while 8 of 10 samples are human"),
        (8, "sample 'heart_visium_v1'"),
    }
    assert "none of its 100 features has a gene symbol that the cohort knows" in result.warnings[-1].message
    assert dict(zip(result.samples["sample_id"], result.samples["species"]))["poonia_ctc"] == "human"
    detected = dict(zip(result.samples["sample_id"], result.samples["format"]))
    assert detected == {
        "pbmc_v3_h5": "10x_h5",
        "pbmc_v3_mex": "10x_mtx",
        "pbmc_v2_h5": "10x_h5",
        "two_genomes_h5": "10x_h5",
        "pbmc_v2_mex": "10x_mtx",
        "mouse_zarr": "zarr",
        "heart_visium_v1": "visium",
        "mouse_cytassist": "visium",
        "poonia_ctc": "csv",
        "polaris_ctc": "csv",
    }


def test_real_file_in_the_wrong_format_is_caught(shared_data, tmp_path):
    sheet = pd.DataFrame(
        [("probe_matrix", "p1", "spatial", str(shared_data / SCANPY / "visium_data/2.1.0"), "visium")],
        columns=["sample_id", "patient_id", "modality", "path", "format"],
    )
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    (tmp_path / "clinical.tsv").write_text("patient_id\np1\n")
    config = check_config({"samples": str(tmp_path / "samples.tsv"), "clinical": {"path": str(tmp_path / "clinical.tsv")}})
    messages = [e.message for e in validate_inputs(config).errors]
    assert any("lacks filtered_feature_bc_matrix.h5" in m for m in messages)
    assert any("lacks spatial/tissue_positions.csv" in m for m in messages)


def test_cll_cohort_validates(shared_data):
    folder = shared_data / "bioFAM_cellij/cellij/data"
    config = check_config(
        {
            "clinical": {
                "path": str(folder / "cll_metadata.csv"),
                "id_column": "Sample",
                "categorical": ["Gender", "IGHV", "Diagnosis"],
                "numeric": ["Age4Main"],
                "survival_time": "T5",
                "survival_event": "died",
            },
            "extra_views": [
                {"name": "mutations", "path": str(folder / "cll_mutations.csv"), "orientation": "features_by_samples", "likelihood": "bernoulli"},
                {"name": "drugs", "path": str(folder / "cll_drugs.csv"), "orientation": "features_by_samples"},
            ],
        }
    )
    result = validate_inputs(config)
    assert result.errors == []
    assert len(result.view_patients["mutations"]) == 200 and len(result.view_patients["drugs"]) == 200
    # Healthy donors and patients without omics are in the metadata only: warnings, not errors.
    # One warning for all of them, counting them and naming the first.
    [warning] = result.warnings
    without = set(result.clinical["patient_id"]) - set(result.view_patients["drugs"])
    assert warning.message.startswith(f"{len(without)} patients 'H001'") and "have no data" in warning.message
    assert set(result.clinical["died"].dropna()) == {0.0, 1.0}
    assert result.clinical["T5"].dtype.kind == "f"


def test_light_reads_refuse_before_any_job(shared_data, tmp_path):
    """Problems a job would meet are found by validation: a legacy file with two genomes and no genome
    chosen, and a log-normalized table (scM&T RNA) given as counts."""
    rows = [
        ("two_genomes_h5", "scrna", f"{SCANPY}/10x_data/1.2.0/multiple_genomes.h5", "10x_h5"),
        ("lognormalized", "ctc_scrna", "bioFAM_MOFAdata/converted/scMT_data/RNA_expression.csv.gz", "csv"),
    ]
    result = validate_inputs(check_config(real_sheet(shared_data, tmp_path, rows)))
    messages = [(e.line, e.message) for e in result.errors]
    assert len(messages) == 2
    assert messages[0][0] == 2 and "genomes another_genome, hg19_chr21; pick one with the sample sheet's `genome` column" in messages[0][1]
    assert messages[1][0] == 3 and "as in log-normalized data; give raw (or expected) counts" in messages[1][1]
