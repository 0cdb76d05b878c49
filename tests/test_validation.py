"""Input validation: one test per class of error, each checking the file, line and column named."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from oncofactor.validation import InputValidationError, validate_inputs


def errors_of(cohort) -> list:
    return validate_inputs(cohort.config).errors


def single_error(cohort):
    errors = errors_of(cohort)
    assert len(errors) == 1, "\n".join(map(str, errors))
    return errors[0]


def test_simulated_cohort_is_valid_and_typed(cohort):
    result = validate_inputs(cohort.config)
    assert result.problems == []
    sheet = cohort.read("samples.tsv")
    assert list(result.samples["sample_id"]) == list(sheet["sample_id"])
    assert set(result.samples["format"]) <= {"10x_h5", "visium", "csv"}
    assert result.clinical.columns[0] == "patient_id"
    assert result.clinical["age"].dtype.kind == "f"
    assert set(result.clinical["death"].dropna()) <= {0.0, 1.0}
    assert result.ctc["ctc_count"].min() >= 0
    assert result.ctc["blood_volume_ml"].notna().all()


def test_missing_sample_file_names_line_and_column(cohort, tmp_path):
    cohort.set_cell("samples.tsv", 1, "path", str(tmp_path / "nowhere.h5"))
    error = single_error(cohort)
    assert (error.file, error.line, error.column) == (str(cohort.path("samples.tsv")), 3, "path")
    assert "does not exist" in error.message and "nowhere.h5" in error.message


def test_unreadable_sample_file(cohort, tmp_path):
    fake = tmp_path / "broken.h5"
    fake.write_text("this is not HDF5")
    cohort.set_cell("samples.tsv", 0, "path", str(fake))
    cohort.set_cell("samples.tsv", 0, "format", "auto")
    error = single_error(cohort)
    assert (error.line, error.column) == (2, "path")
    assert "cannot be opened as HDF5" in error.message


def test_folder_that_lacks_part_of_its_format(cohort, tmp_path):
    sheet = cohort.read("samples.tsv")
    row = int((sheet["modality"] == "spatial").to_numpy().argmax())
    outs = shutil.copytree(sheet.loc[row, "path"], tmp_path / "section" / "outs")
    (outs / "spatial" / "tissue_positions.csv").unlink()
    cohort.set_cell("samples.tsv", row, "path", str(outs.parent))
    error = single_error(cohort)
    assert (error.line, error.column) == (row + 2, "path")
    assert "lacks spatial/tissue_positions.csv" in error.message


def test_empty_sample_id(cohort):
    cohort.set_cell("samples.tsv", 2, "sample_id", "")
    error = single_error(cohort)
    assert (error.line, error.column) == (4, "sample_id")
    assert "is empty" in error.message


def test_duplicate_sample_id_names_both_lines(cohort):
    sheet = cohort.read("samples.tsv")
    cohort.set_cell("samples.tsv", 3, "sample_id", sheet.loc[0, "sample_id"])
    error = single_error(cohort)
    assert (error.line, error.column) == (5, "sample_id")
    assert "first on line 2" in error.message


@pytest.mark.parametrize("unsafe", ["P 1", "../P1", "_P1", "P1/scrna", "Pä1"])
def test_ids_unsafe_as_file_names(cohort, unsafe):
    cohort.set_cell("samples.tsv", 0, "sample_id", unsafe)
    error = single_error(cohort)
    assert (error.line, error.column) == (2, "sample_id")
    assert "used in file names" in error.message and repr(unsafe) in error.message


def test_unknown_modality(cohort):
    cohort.set_cell("samples.tsv", 0, "modality", "rnaseq")
    error = single_error(cohort)
    assert (error.line, error.column) == (2, "modality")
    assert "'rnaseq' must be one of scrna, spatial, ctc_scrna" == error.message


def test_unknown_format(cohort):
    cohort.set_cell("samples.tsv", 0, "format", "loom")
    error = single_error(cohort)
    assert (error.line, error.column) == (2, "format")
    assert "'loom' must be one of auto" in error.message


def test_format_that_does_not_fit_the_modality(cohort):
    sheet = cohort.read("samples.tsv")
    row = int((sheet["modality"] == "scrna").to_numpy().argmax())
    cohort.set_cell("samples.tsv", row, "format", "visium")
    error = single_error(cohort)
    assert (error.line, error.column) == (row + 2, "format")
    assert "does not fit modality 'scrna'" in error.message


def test_missing_required_column(cohort):
    cohort.write("samples.tsv", cohort.read("samples.tsv").drop(columns=["modality"]))
    error = single_error(cohort)
    assert (error.file, error.line) == (str(cohort.path("samples.tsv")), 1)
    assert "lacks column(s) modality" in error.message


def test_sample_patient_absent_from_clinical(cohort):
    cohort.set_cell("samples.tsv", 1, "patient_id", "P999")
    error = single_error(cohort)
    assert (error.file, error.line, error.column) == (str(cohort.path("samples.tsv")), 3, "patient_id")
    assert "'P999' is not in the clinical table" in error.message


def test_ctc_patient_absent_from_clinical(cohort):
    cohort.set_cell("ctc_enumeration.tsv", 0, "patient_id", "P999")
    error = single_error(cohort)
    assert (error.file, error.line, error.column) == (str(cohort.path("ctc_enumeration.tsv")), 2, "patient_id")
    assert "'P999' is not in the clinical table" in error.message


def test_clinical_patient_without_data_is_a_warning(cohort):
    clinical = cohort.read("clinical.tsv")
    extra = clinical.iloc[[0]].assign(patient_id="P500")
    cohort.write("clinical.tsv", pd.concat([clinical, extra], ignore_index=True))
    result = validate_inputs(cohort.config)
    assert result.errors == []
    [warning] = result.warnings
    assert (warning.file, warning.line, warning.column) == (str(cohort.path("clinical.tsv")), len(clinical) + 2, "patient_id")
    assert "patient 'P500' has no data" in warning.message


def test_clinical_patients_without_data_are_one_warning(cohort):
    clinical = cohort.read("clinical.tsv")
    extra = pd.concat([clinical.iloc[[0]].assign(patient_id=f"P5{i:02d}") for i in range(7)], ignore_index=True)
    cohort.write("clinical.tsv", pd.concat([clinical, extra], ignore_index=True))
    [warning] = validate_inputs(cohort.config).warnings
    assert warning.line == len(clinical) + 2
    assert "7 patients 'P500', 'P501', 'P502', 'P503', 'P504' and 2 more have no data" in warning.message


def test_duplicate_clinical_patient(cohort):
    cohort.set_cell("clinical.tsv", 2, "patient_id", cohort.read("clinical.tsv").loc[1, "patient_id"])
    errors = errors_of(cohort)
    assert any(e.line == 4 and e.column == "patient_id" and "appears again" in e.message for e in errors)


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("ctc_count", "-3", "-3 must be a whole number from 0 to 1000000000"),
        ("ctc_count", "many", "'many' must be a whole number from 0"),
        ("ctc_count", "2.5", "2.5 must be a whole number from 0"),
        ("blood_volume_ml", "-7.5", "-7.5 must be a number > 0"),
        ("blood_volume_ml", "seven", "'seven' must be a number > 0"),
        ("ctc_cluster_count", "-1", "-1 must be a whole number from 0"),
    ],
)
def test_bad_ctc_values(cohort, column, value, expected):
    cohort.set_cell("ctc_enumeration.tsv", 3, column, value)
    error = single_error(cohort)
    assert (error.file, error.line, error.column) == (str(cohort.path("ctc_enumeration.tsv")), 5, column)
    assert error.message.startswith(expected)


def test_duplicate_blood_draw(cohort):
    ctc = cohort.read("ctc_enumeration.tsv")
    cohort.write("ctc_enumeration.tsv", pd.concat([ctc, ctc.iloc[[0]]], ignore_index=True))
    error = single_error(cohort)
    assert error.line == len(ctc) + 2
    assert "appears again (first on line 2)" in error.message


def test_missing_blood_volume_takes_the_config_default(cohort):
    cohort.set_cell("ctc_enumeration.tsv", 0, "blood_volume_ml", "")
    cohort.raw_config["ctc"]["default_blood_volume_ml"] = 10.0
    result = validate_inputs(cohort.config)
    assert result.errors == []
    assert result.ctc.loc[0, "blood_volume_ml"] == 10.0


def test_non_numeric_clinical_covariate(cohort):
    cohort.set_cell("clinical.tsv", 4, "age", "sixty")
    error = single_error(cohort)
    assert (error.file, error.line, error.column) == (str(cohort.path("clinical.tsv")), 6, "age")
    assert error.message == "'sixty' is not a number"


def test_negative_survival_time(cohort):
    cohort.set_cell("clinical.tsv", 0, "os_months", "-2")
    error = single_error(cohort)
    assert (error.line, error.column) == (2, "os_months")
    assert "negative" in error.message


def test_bad_survival_event(cohort):
    cohort.set_cell("clinical.tsv", 1, "death", "maybe")
    error = single_error(cohort)
    assert (error.line, error.column) == (3, "death")
    assert "not a survival event" in error.message


def test_config_names_a_column_the_clinical_table_lacks(cohort):
    cohort.raw_config["clinical"]["numeric"] = ["age", "ecog"]
    error = single_error(cohort)
    assert (error.file, error.line) == (str(cohort.path("clinical.tsv")), 1)
    assert "clinical.numeric names column 'ecog'" in error.message


def test_missing_clinical_file(cohort, tmp_path):
    cohort.raw_config["clinical"]["path"] = str(tmp_path / "absent.tsv")
    errors = errors_of(cohort)
    assert [e.message for e in errors] == ["file not found"]


def test_extra_view_values_must_fit_the_likelihood(cohort):
    cohort.set_cell("mutations.tsv", 2, "TP53", "2")
    error = single_error(cohort)
    assert (error.file, error.line, error.column) == (str(cohort.path("mutations.tsv")), 4, "TP53")
    assert "is not 0 or 1 (likelihood bernoulli)" in error.message


def test_extra_view_non_numeric_value(cohort):
    cohort.set_cell("mutations.tsv", 0, "KRAS", "yes")
    cohort.raw_config["extra_views"][0]["likelihood"] = "gaussian"
    error = single_error(cohort)
    assert (error.line, error.column) == (2, "KRAS")
    assert error.message == "'yes' is not a number"


def test_extra_view_patient_absent_from_clinical(cohort):
    cohort.set_cell("mutations.tsv", 0, "patient_id", "P777")
    error = single_error(cohort)
    assert error.file == str(cohort.path("mutations.tsv"))
    assert "'P777' of extra view 'mutations' is not in the clinical table" in error.message


def test_features_by_samples_view(cohort):
    table = cohort.read("mutations.tsv").set_index("patient_id").T
    table.index.name = "gene"
    table.reset_index().to_csv(cohort.path("mutations_t.tsv"), sep="\t", index=False)
    cohort.raw_config["extra_views"][0].update(path=str(cohort.path("mutations_t.tsv")), orientation="features_by_samples")
    assert validate_inputs(cohort.config).problems == []
    bad = cohort.read("mutations_t.tsv")
    patient = bad.columns[3]
    bad.loc[1, patient] = "0.5"
    cohort.write("mutations_t.tsv", bad)
    error = single_error(cohort)
    assert (error.line, error.column) == (3, patient)


def test_every_problem_is_reported_at_once(cohort):
    """Snakemake's schema validation stops at the first bad row; ours reports them all."""
    sheet = cohort.read("samples.tsv")
    sheet.loc[0, "modality"] = "bulk"
    sheet.loc[2, "sample_id"] = "bad id"
    sheet.loc[4, "patient_id"] = "P404"
    cohort.write("samples.tsv", sheet)
    cohort.set_cell("ctc_enumeration.tsv", 1, "ctc_count", "-1")
    cohort.set_cell("clinical.tsv", 3, "age", "old")
    errors = errors_of(cohort)
    found = {(e.file.rsplit("/", 1)[-1], e.line, e.column) for e in errors}
    assert found == {
        ("samples.tsv", 2, "modality"),
        ("samples.tsv", 4, "sample_id"),
        ("samples.tsv", 6, "patient_id"),
        ("ctc_enumeration.tsv", 3, "ctc_count"),
        ("clinical.tsv", 5, "age"),
    }
    with pytest.raises(InputValidationError) as raised:
        validate_inputs(cohort.config).raise_for_errors()
    assert str(raised.value).startswith("5 error(s) in the inputs")


def test_parquet_extra_view_problems_name_the_row(cohort):
    table = cohort.read("mutations.tsv")
    table.loc[2, "TP53"] = "3"
    table.to_parquet(cohort.path("mutations.parquet"), index=False)
    cohort.raw_config["extra_views"][0]["path"] = str(cohort.path("mutations.parquet"))
    error = single_error(cohort)
    assert str(error) == f"ERROR: {cohort.path('mutations.parquet')}, row 3, column 'TP53': '3' is not 0 or 1 (likelihood bernoulli)"


def test_format_that_cannot_be_detected(cohort, tmp_path):
    (tmp_path / "empty_folder").mkdir()
    cohort.set_cell("samples.tsv", 0, "path", str(tmp_path / "empty_folder"))
    cohort.set_cell("samples.tsv", 0, "format", "auto")
    error = single_error(cohort)
    assert (error.line, error.column) == (2, "format")
    assert "cannot tell the format" in error.message


def test_mex_folder_without_features(cohort, tmp_path):
    folder = tmp_path / "mex"
    folder.mkdir()
    (folder / "matrix.mtx.gz").write_bytes(b"")
    (folder / "barcodes.tsv.gz").write_bytes(b"")
    sheet = cohort.read("samples.tsv")
    row = int((sheet["modality"] == "scrna").to_numpy().argmax())
    cohort.set_cell("samples.tsv", row, "path", str(folder))
    cohort.set_cell("samples.tsv", row, "format", "auto")
    error = single_error(cohort)
    assert (error.line, error.column) == (row + 2, "path")
    assert "lacks features.tsv[.gz] or genes.tsv" in error.message


def test_spatial_h5ad_needs_coordinates(cohort, tmp_path):
    import anndata as ad
    import numpy as np

    sheet = cohort.read("samples.tsv")
    row = int((sheet["modality"] == "spatial").to_numpy().argmax())
    adata = ad.AnnData(np.ones((3, 2), dtype=np.float32))
    adata.write_h5ad(tmp_path / "flat.h5ad")
    cohort.set_cell("samples.tsv", row, "path", str(tmp_path / "flat.h5ad"))
    cohort.set_cell("samples.tsv", row, "format", "auto")
    error = single_error(cohort)
    assert (error.line, error.column) == (row + 2, "path")
    assert "obsm['spatial']" in error.message

    adata.obsm["spatial"] = np.zeros((3, 2))
    adata.write_h5ad(tmp_path / "flat.h5ad")
    assert errors_of(cohort) == []


def test_log_normalized_h5ad_is_refused_before_any_job(cohort, tmp_path):
    """A log-normalized h5ad once passed validation and was refused only in a job; a light read of
    X, layers['counts'] and .raw tells it, and the error says what X held."""
    import anndata as ad
    import numpy as np
    import scipy.sparse as sp

    sheet = cohort.read("samples.tsv")
    row = int((sheet["modality"] == "scrna").to_numpy().argmax())
    counts = sp.random(50, 30, density=0.4, random_state=0, format="csr", dtype=np.float32)
    counts.data = np.ceil(counts.data * 20)
    lognorm = counts.copy()
    lognorm.data = np.log1p(lognorm.data / 3.7)
    var = pd.DataFrame(index=[f"GENE{i}" for i in range(30)])
    ad.AnnData(lognorm, var=var).write_h5ad(tmp_path / "lognorm.h5ad")
    cohort.set_cell("samples.tsv", row, "path", str(tmp_path / "lognorm.h5ad"))
    cohort.set_cell("samples.tsv", row, "format", "auto")
    error = single_error(cohort)
    assert (error.line, error.column) == (row + 2, "path")
    assert "X holds non-integer values" in error.message and "layers['counts']" in error.message

    ad.AnnData(lognorm, var=var, layers={"counts": counts}).write_h5ad(tmp_path / "lognorm.h5ad")
    assert errors_of(cohort) == [], "the counts layer is found"


def test_cell_metadata_checks(cohort, tmp_path):
    sheet = cohort.read("samples.tsv")
    sheet["cell_metadata"] = ""
    ctc_row = int((sheet["modality"] == "ctc_scrna").to_numpy().argmax())
    sheet.loc[0, "cell_metadata"] = "cells.csv"
    sheet.loc[ctc_row, "cell_metadata"] = "absent.csv"
    cohort.write("samples.tsv", sheet)
    errors = errors_of(cohort)
    assert [(e.line, e.column) for e in errors] == [(2, "cell_metadata"), (ctc_row + 2, "cell_metadata")]
    assert "only read for ctc_scrna samples" in errors[0].message
    assert "file not found" in errors[1].message

    (cohort.folder / "cells.csv").write_text("cell,cell_class\nCTC01,CTC\n")
    sheet.loc[0, "cell_metadata"] = ""
    sheet.loc[ctc_row, "cell_metadata"] = "cells.csv"
    cohort.write("samples.tsv", sheet)
    # A metadata table must name every cell of the count table: once only the job found out.
    [error] = errors_of(cohort)
    assert (error.line, error.column) == (ctc_row + 2, "path") and "cells are not in the cell metadata table" in error.message

    cells = pd.read_csv(sheet.loc[ctc_row, "path"], usecols=["cell_id", "cell_class"])
    cells.to_csv(cohort.folder / "cells.csv", index=False)
    result = validate_inputs(cohort.config)
    assert result.errors == []
    assert result.samples.loc[ctc_row, "cell_metadata"] == str(cohort.folder / "cells.csv")


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("ctc_count", "1e20", "100000000000000000000 must be a whole number from 0 to 1000000000"),
        ("ctc_count", "1_000", "'1_000' must be a whole number from 0"),
        ("blood_volume_ml", "inf", "'inf' must be a number > 0"),
    ],
)
def test_numbers_out_of_range_or_in_odd_notation(cohort, column, value, expected):
    cohort.set_cell("ctc_enumeration.tsv", 0, column, value)
    error = single_error(cohort)
    assert (error.line, error.column) == (2, column)
    assert error.message.startswith(expected)


def test_truncated_gzip_table_is_reported_not_crashed(cohort):
    import gzip

    data = gzip.compress(cohort.path("clinical.tsv").read_bytes())
    cohort.path("clinical.tsv.gz").write_bytes(data[: len(data) // 2])
    cohort.raw_config["clinical"]["path"] = str(cohort.path("clinical.tsv.gz"))
    errors = errors_of(cohort)
    assert len(errors) == 1 and errors[0].file == str(cohort.path("clinical.tsv.gz"))
    assert "cannot be read as a table" in errors[0].message


def test_row_with_an_extra_field(cohort):
    lines = cohort.path("samples.tsv").read_text().splitlines()
    lines[2] += "\tsurplus"
    cohort.path("samples.tsv").write_text("\n".join(lines) + "\n")
    error = single_error(cohort)
    assert error.line == 3
    assert "has 8 fields but the header has 7" in error.message


def test_stray_separator_at_line_ends_is_harmless(cohort):
    lines = cohort.path("samples.tsv").read_text().splitlines()
    cohort.path("samples.tsv").write_text("\n".join(lines[:1] + [line + "\t" for line in lines[1:]]) + "\n")
    result = validate_inputs(cohort.config)
    assert result.errors == []
    assert list(result.samples["sample_id"]) == [line.split("\t")[0] for line in lines[1:]]
    assert list(result.samples["modality"]) == [line.split("\t")[2] for line in lines[1:]]


def test_repeated_column_name(cohort):
    lines = cohort.path("samples.tsv").read_text().splitlines()
    lines[0] = lines[0].replace("batch", "sample_id")
    cohort.path("samples.tsv").write_text("\n".join(lines) + "\n")
    error = single_error(cohort)
    assert error.line == 1 and "column 'sample_id' appears 2 times in the header" in error.message


def test_line_numbers_count_blank_lines(cohort):
    lines = cohort.path("samples.tsv").read_text().splitlines()
    lines.insert(2, "")
    fields = lines[5].split("\t")
    fields[2] = "bulk"
    lines[5] = "\t".join(fields)  # the fourth data row, on line 6 of the file
    cohort.path("samples.tsv").write_text("\n".join(lines) + "\n")
    error = single_error(cohort)
    assert (error.line, error.column) == (6, "modality")


def test_clinical_id_column_beside_a_patient_id_column(cohort):
    clinical = cohort.read("clinical.tsv")
    clinical.insert(0, "subject", clinical["patient_id"])
    cohort.write("clinical.tsv", clinical)
    cohort.raw_config["clinical"]["id_column"] = "subject"
    error = single_error(cohort)
    assert error.line == 1 and "has a column 'patient_id' besides the ID column 'subject'" in error.message


def test_sample_ids_that_differ_only_in_case(cohort):
    sheet = cohort.read("samples.tsv")
    cohort.set_cell("samples.tsv", 1, "sample_id", sheet.loc[0, "sample_id"].upper().replace("SCRNA", "scRNA"))
    error = single_error(cohort)
    assert error.line == 3 and "only in letter case" in error.message


def test_na_id_is_explained(cohort):
    cohort.set_cell("samples.tsv", 0, "patient_id", "NA")
    error = single_error(cohort)
    assert (error.line, error.column) == (2, "patient_id")
    assert error.message == "is empty (or NA, which is read as missing); a value is required"


def test_extra_view_patient_absent_from_clinical_names_line_and_column(cohort):
    cohort.set_cell("mutations.tsv", 3, "patient_id", "P888")
    error = single_error(cohort)
    assert (error.line, error.column) == (5, "patient_id")
