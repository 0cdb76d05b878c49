"""Broken and odd-but-valid variants of the small simulated cohort, the way users break data.

Each variant copies what it changes out of the read-only cohort into a folder of its own and points
the sample sheet (or the config) at the copy. A broken variant names the token its error must show;
the odd-but-valid ones must run. Used by tests/test_data_faults.py.
"""

from __future__ import annotations

import gzip
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.io import mmwrite

from oncofactor.sample_readers import CHECKED_VALUES, read_10x_h5
from oncofactor.tenx_writers import write_10x_h5

SCRNA, SPATIAL, CTC = "P002_scrna", "P003_visium", "P001_ctc_T0"


class Variant:
    """A cohort folder being changed: the sample sheet as a table, the raw config, and helpers that
    copy a sample's file before it is changed."""

    def __init__(self, editable):
        self.cohort = editable
        self.folder = editable.folder
        self.sheet = editable.read("samples.tsv")

    def row(self, sample_id: str) -> int:
        return int(np.flatnonzero(self.sheet["sample_id"] == sample_id)[0])

    def source(self, sample_id: str) -> Path:
        return Path(self.sheet.loc[self.row(sample_id), "path"])

    def point(self, sample_id: str, path: Path, file_format: str | None = None) -> None:
        self.sheet.loc[self.row(sample_id), "path"] = str(path)
        if file_format:
            self.sheet.loc[self.row(sample_id), "format"] = file_format

    def copy_of(self, sample_id: str, name: str | None = None) -> Path:
        """A copy of the sample's file or folder in this variant's folder, the sheet pointing at it."""
        source = self.source(sample_id)
        target = self.folder / "data" / sample_id / (name or source.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
        self.point(sample_id, target)
        return target

    def counts(self, sample_id: str = SCRNA) -> ad.AnnData:
        return read_10x_h5(self.source(sample_id))

    def save(self) -> None:
        self.cohort.write("samples.tsv", self.sheet)


def _replace(path: Path, key: str, values) -> None:
    with h5py.File(path, "r+") as handle:
        del handle[key]
        handle.create_dataset(key, data=values)


def _h5_values(change: Callable[[np.ndarray], np.ndarray]):
    def apply(v: Variant):
        path = v.copy_of(SCRNA)
        with h5py.File(path, "r") as handle:
            data = handle["matrix/data"][:].astype(np.float64)
        _replace(path, "matrix/data", change(data))
    return apply


def _set(values: np.ndarray, index, value) -> np.ndarray:
    values = values.copy()
    values[index] = value
    return values


def _large_h5(v: Variant, change: Callable[[np.ndarray], np.ndarray]) -> None:
    """The scRNA sample tiled to more stored values than validation's light read checks, with a
    fault among the last ones: only the job's full read can see it."""
    adata = v.counts()
    tiles = int(np.ceil(2 * CHECKED_VALUES / adata.X.nnz))
    counts = sp.vstack([adata.X] * tiles).tocsr()
    barcodes = [f"{barcode}-{tile}" for tile in range(tiles) for barcode in adata.obs_names]
    path = v.folder / "data" / SCRNA / "filtered_feature_bc_matrix.h5"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_10x_h5(path, counts, barcodes, list(adata.var["gene_id"]), list(adata.var["gene_symbol"]))
    with h5py.File(path, "r") as handle:
        data = handle["matrix/data"][:].astype(np.float64)
    _replace(path, "matrix/data", change(data))
    v.point(SCRNA, path)


def _h5_barcodes(change: Callable[[list[bytes]], list[bytes]]):
    def apply(v: Variant):
        path = v.copy_of(SCRNA)
        with h5py.File(path, "r") as handle:
            barcodes = list(handle["matrix/barcodes"][:])
        _replace(path, "matrix/barcodes", np.array(change(barcodes)))
    return apply


def _h5_no_cells(v: Variant) -> None:
    adata = v.counts()
    path = v.folder / "data" / SCRNA / "filtered_feature_bc_matrix.h5"
    path.parent.mkdir(parents=True)
    write_10x_h5(path, sp.csr_matrix((0, adata.n_vars)), [], list(adata.var["gene_id"]), list(adata.var["gene_symbol"]))
    v.point(SCRNA, path)


def _h5_short_indptr(v: Variant) -> None:
    path = v.copy_of(SCRNA)
    with h5py.File(path, "r") as handle:
        indptr = handle["matrix/indptr"][:]
    _replace(path, "matrix/indptr", indptr[:-5])


def _h5_truncated(v: Variant) -> None:
    path = v.copy_of(SCRNA)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _h5_text(v: Variant) -> None:
    path = v.folder / "data" / "P002.h5"
    path.parent.mkdir(parents=True)
    path.write_text("barcode,gene,count\nAAAC,CD3E,4\n")
    v.point(SCRNA, path, "10x_h5")


def _h5_foreign(v: Variant) -> None:
    path = v.folder / "data" / "P002.h5"
    path.parent.mkdir(parents=True)
    with h5py.File(path, "w") as handle:
        handle.create_dataset("expression", data=np.ones((3, 3)))
    v.point(SCRNA, path, "10x_h5")


def _h5_fewer_features(v: Variant) -> None:
    path = v.copy_of(SCRNA)
    for key in ("id", "name", "feature_type", "genome"):
        with h5py.File(path, "r") as handle:
            values = handle[f"matrix/features/{key}"][:]
        _replace(path, f"matrix/features/{key}", values[:-3])


def _mex_folder(v: Variant, counts: sp.spmatrix | None = None, field: str = "integer") -> Path:
    """The scRNA sample as a Cell Ranger 3 MEX folder (gzipped); the sheet points at it."""
    adata = v.counts()
    folder = v.folder / "data" / SCRNA / "filtered_feature_bc_matrix"
    folder.mkdir(parents=True)
    mmwrite(folder / "matrix.mtx", sp.coo_matrix((adata.X if counts is None else counts).T), field=field)
    features = pd.DataFrame({"id": adata.var["gene_id"], "name": adata.var["gene_symbol"], "type": "Gene Expression"})
    features.to_csv(folder / "features.tsv", sep="\t", header=False, index=False)
    (folder / "barcodes.tsv").write_text("".join(f"{b}\n" for b in adata.obs_names))
    for name in ("matrix.mtx", "features.tsv", "barcodes.tsv"):
        with (folder / name).open("rb") as raw, gzip.GzipFile(folder / f"{name}.gz", "wb", mtime=0) as packed:
            shutil.copyfileobj(raw, packed)
        (folder / name).unlink()
    v.point(SCRNA, folder, "10x_mtx")
    return folder


def _rewrite_gz(path: Path, change: Callable[[str], str]) -> None:
    text = gzip.decompress(path.read_bytes()).decode()
    path.write_bytes(gzip.compress(change(text).encode(), mtime=0))


def _mex_corrupt(name: str, keep: float):
    def apply(v: Variant):
        path = _mex_folder(v) / name
        data = bytearray(path.read_bytes())
        if keep < 1:  # truncated copy
            path.write_bytes(bytes(data[: int(len(data) * keep)]))
        else:  # bytes flipped in the middle of the stream
            middle = len(data) // 2
            data[middle:middle + 64] = bytes(255 - b for b in data[middle:middle + 64])
            path.write_bytes(bytes(data))
    return apply


def _mex_without_features(v: Variant) -> None:
    (_mex_folder(v) / "features.tsv.gz").unlink()


def _mex_one_barcode_less(v: Variant) -> None:
    _rewrite_gz(_mex_folder(v) / "barcodes.tsv.gz", lambda text: "".join(text.splitlines(keepends=True)[:-1]))


def _mex_duplicate_barcode(v: Variant) -> None:
    lines = lambda text: text.splitlines(keepends=True)  # noqa: E731
    _rewrite_gz(_mex_folder(v) / "barcodes.tsv.gz", lambda text: lines(text)[0] + "".join(lines(text)[:-1]))


def _mex_values(change: Callable[[sp.csr_matrix], sp.csr_matrix], field: str):
    def apply(v: Variant):
        _mex_folder(v, change(v.counts().X.astype(np.float64)), field)
    return apply


def _mex_empty(v: Variant) -> None:
    n_genes = v.counts().n_vars
    folder = _mex_folder(v)
    (folder / "matrix.mtx.gz").write_bytes(gzip.compress(f"%%MatrixMarket matrix coordinate integer general\n{n_genes} 0 0\n".encode(), mtime=0))
    (folder / "barcodes.tsv.gz").write_bytes(gzip.compress(b"", mtime=0))


def _h5ad(v: Variant, adata: ad.AnnData, sample_id: str = SCRNA) -> Path:
    path = v.folder / "data" / f"{sample_id} sample.h5ad"
    path.parent.mkdir(parents=True, exist_ok=True)
    adata.write_h5ad(path)
    v.point(sample_id, path, "h5ad")
    return path


def _log_normalized(counts: sp.csr_matrix) -> sp.csr_matrix:
    totals = np.asarray(counts.sum(axis=1)).ravel()
    return sp.csr_matrix(sp.diags(1e4 / totals) @ counts).log1p()


def _h5ad_log_only(v: Variant) -> None:
    adata = v.counts()
    adata.X = _log_normalized(adata.X)
    _h5ad(v, adata)


def _h5ad_nan(v: Variant) -> None:
    adata = v.counts()
    dense = adata.X.toarray()
    dense[0, :10] = np.nan
    adata.X = dense
    _h5ad(v, adata)


def _h5ad_negative_layer(v: Variant) -> None:
    adata = v.counts()
    negative = adata.X.copy()
    negative.data[:20] = -1
    adata.layers["counts"] = negative
    adata.X = _log_normalized(adata.X)
    _h5ad(v, adata)


def _h5ad_without_var(v: Variant) -> None:
    path = _h5ad(v, v.counts())
    with h5py.File(path, "r+") as handle:
        del handle["var"]


def _h5ad_spatial_without_coordinates(v: Variant) -> None:
    from oncofactor.sample_readers import read_visium

    adata = read_visium(v.source(SPATIAL))
    del adata.obsm["spatial"]
    _h5ad(v, adata, SPATIAL)


def _visium(change: Callable[[Path], None]):
    def apply(v: Variant):
        change(v.copy_of(SPATIAL))
    return apply


def _visium_h5(change: Callable[[Path], None]):
    return _visium(lambda outs: change(outs / "filtered_feature_bc_matrix.h5"))


def _visium_negative(path: Path) -> None:
    with h5py.File(path, "r") as handle:
        data = handle["matrix/data"][:].astype(np.float64)
    _replace(path, "matrix/data", _set(data, 3, -5.0))


def _visium_duplicate(path: Path) -> None:
    with h5py.File(path, "r") as handle:
        barcodes = list(handle["matrix/barcodes"][:])
    _replace(path, "matrix/barcodes", np.array([barcodes[0]] + barcodes[:-1]))


def _positions(outs: Path) -> Path:
    return next(p for p in (outs / "spatial").iterdir() if p.name.startswith("tissue_positions"))


def _visium_positions_missing(outs: Path) -> None:
    path = _positions(outs)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:1] + lines[len(lines) // 2:]))


def _ctc(change: Callable[[pd.DataFrame], pd.DataFrame], suffix: str = ".csv"):
    def apply(v: Variant):
        source = v.source(CTC)
        table = pd.read_csv(source, index_col=0)
        path = v.folder / "data" / f"{CTC}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        change(table).to_csv(path)
        v.point(CTC, path)
    return apply


def _ctc_negative(table: pd.DataFrame) -> pd.DataFrame:
    numbers = table.select_dtypes("number")
    table.loc[numbers.index[0], numbers.columns[0]] = -4
    return table


def _ctc_log(table: pd.DataFrame) -> pd.DataFrame:
    numbers = table.select_dtypes("number").columns
    table[numbers] = np.log1p(table[numbers].astype(float) / table[numbers].sum().clip(lower=1) * 1e4)
    return table


def _ctc_empty(v: Variant) -> None:
    path = v.folder / "data" / f"{CTC}.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n")
    v.point(CTC, path)


def _ctc_gz_truncated(v: Variant) -> None:
    source = v.source(CTC)
    path = v.folder / "data" / f"{CTC}.csv.gz"
    path.parent.mkdir(parents=True)
    packed = gzip.compress(source.read_bytes(), mtime=0)
    path.write_bytes(packed[: len(packed) * 2 // 3])
    v.point(CTC, path)


def _ctc_suffix(v: Variant) -> None:
    target = v.folder / "data" / f"{CTC}.xlsx"
    target.parent.mkdir(parents=True)
    shutil.copy(v.source(CTC), target)
    v.point(CTC, target)


def _sheet(column: str, value: str, sample_id: str = SCRNA):
    def apply(v: Variant):
        v.sheet.loc[v.row(sample_id), column] = value
    return apply


def _sheet_duplicate_id(v: Variant) -> None:
    v.sheet.loc[v.row("P003_scrna"), "sample_id"] = SCRNA.lower()


def _table_cell(name: str, column: str, value: str, row: int = 0):
    def apply(v: Variant):
        v.cohort.set_cell(name, row, column, value)
    return apply


def _config(change: Callable[[dict], None]):
    def apply(v: Variant):
        change(v.cohort.raw_config)
    return apply


@dataclass(frozen=True)
class Fault:
    """A broken variant: what it does to the cohort and the token its one-line error must show.
    `light`: validation's light read refuses it; otherwise only the job's full read can."""

    name: str
    apply: Callable[[Variant], None]
    token: str
    light: bool = True


def _late(index: int):
    return lambda values: _set(values, index, -1.0)


FAULTS = [
    Fault("h5_negative_counts", _h5_values(lambda d: _set(d, 5, -2.0)), "negative values"),
    Fault("h5_nan_counts", _h5_values(lambda d: _set(d, slice(0, 4), np.nan)), "missing or infinite"),
    Fault("h5_infinite_counts", _h5_values(lambda d: _set(d, 7, np.inf)), "missing or infinite"),
    Fault("h5_normalized_values", _h5_values(lambda d: np.log1p(d) * 0.37), "non-integer values"),
    Fault("h5_duplicate_barcodes", _h5_barcodes(lambda b: [b[0]] + b[:-1]), "appear more than once"),
    Fault("h5_barcodes_missing", _h5_barcodes(lambda b: b[:-2]), "is inconsistent"),
    Fault("h5_no_cells", _h5_no_cells, "holds no barcodes"),
    Fault("h5_short_indptr", _h5_short_indptr, "is inconsistent"),
    Fault("h5_fewer_features", _h5_fewer_features, "is inconsistent"),
    Fault("h5_truncated_file", _h5_truncated, "cannot be opened as HDF5"),
    Fault("h5_text_file", _h5_text, "cannot be opened as HDF5"),
    Fault("h5_not_cell_ranger", _h5_foreign, "not a Cell Ranger matrix"),
    Fault("mex_corrupted_matrix_gz", _mex_corrupt("matrix.mtx.gz", 1.0), "not a whole gzip stream"),
    Fault("mex_truncated_matrix_gz", _mex_corrupt("matrix.mtx.gz", 0.6), "not a whole gzip stream"),
    Fault("mex_truncated_barcodes_gz", _mex_corrupt("barcodes.tsv.gz", 0.5), "not a whole gzip stream"),
    Fault("mex_no_features_file", _mex_without_features, "lacks features.tsv"),
    Fault("mex_barcode_count_mismatch", _mex_one_barcode_less, "different runs"),
    Fault("mex_duplicate_barcodes", _mex_duplicate_barcode, "appear more than once"),
    Fault("mex_negative_counts", _mex_values(lambda m: _negative_first(m), "real"), "negative values"),
    Fault("mex_fractional_counts", _mex_values(lambda m: m * 0.5, "real"), "non-integer values"),
    Fault("mex_empty_matrix", _mex_empty, "lists no barcodes"),
    Fault("h5ad_log_normalized_only", _h5ad_log_only, "neither layers['counts'] nor .raw holds raw counts"),
    Fault("h5ad_nan_in_x", _h5ad_nan, "missing or infinite"),
    Fault("h5ad_negative_counts_layer", _h5ad_negative_layer, "neither layers['counts'] nor .raw holds raw counts"),
    Fault("h5ad_without_var", _h5ad_without_var, "lacks var"),
    Fault("h5ad_spatial_without_coordinates", _h5ad_spatial_without_coordinates, "obsm['spatial']"),
    Fault("visium_without_positions", _visium(lambda outs: _positions(outs).unlink()), "lacks spatial/tissue_positions"),
    Fault("visium_without_matrix", _visium(lambda outs: (outs / "filtered_feature_bc_matrix.h5").unlink()), "lacks filtered_feature_bc_matrix"),
    Fault("visium_negative_counts", _visium_h5(_visium_negative), "negative values"),
    Fault("visium_duplicate_barcodes", _visium_h5(_visium_duplicate), "appear more than once"),
    Fault("visium_truncated_matrix", _visium_h5(lambda p: p.write_bytes(p.read_bytes()[:4000])), "cannot be opened as HDF5"),
    Fault("ctc_negative_counts", _ctc(_ctc_negative), "negative values"),
    Fault("ctc_log_normalized", _ctc(_ctc_log), "log-normalized"),
    Fault("ctc_empty_table", _ctc_empty, "count table is empty"),
    Fault("ctc_truncated_gzip", _ctc_gz_truncated, "not a whole gzip stream"),
    Fault("ctc_spreadsheet_suffix", _ctc_suffix, "must end in .csv"),
    Fault("sheet_missing_file", _sheet("path", "/nonexistent/P002.h5"), "does not exist"),
    Fault("sheet_format_for_other_modality", _sheet("format", "visium"), "does not fit modality"),
    Fault("sheet_unknown_modality", _sheet("modality", "proteomics"), "modality"),
    Fault("sheet_duplicate_sample_id", _sheet_duplicate_id, "sample ID"),
    Fault("sheet_unsafe_sample_id", _sheet("sample_id", "P002/../scrna"), "sample_id"),
    Fault("sheet_unknown_patient", _sheet("patient_id", "P999"), "not in the clinical table"),
    Fault("clinical_negative_survival", _table_cell("clinical.tsv", "os_months", "-3"), "os_months"),
    Fault("clinical_event_not_binary", _table_cell("clinical.tsv", "death", "maybe"), "death"),
    Fault("enumeration_negative_count", _table_cell("ctc_enumeration.tsv", "ctc_count", "-1"), "ctc_count"),
    Fault("config_unknown_key", _config(lambda c: c.update(mofa_factors=5)), "mofa_factors"),
    Fault("config_wrong_policy", _config(lambda c: c.update(on_sample_error="skip")), "on_sample_error"),
    # Beyond validation's light read (its first CHECKED_VALUES stored values): the job's full read.
    Fault("h5_negative_count_late", lambda v: _large_h5(v, _late(-1)), "negative values", light=False),
    Fault("h5_nan_count_late", lambda v: _large_h5(v, lambda d: _set(d, -3, np.nan)), "missing or infinite", light=False),
    Fault("visium_positions_missing_barcodes", _visium(_visium_positions_missing), "have no position", light=False),
    Fault("h5_fractional_count_late", lambda v: _large_h5(v, lambda d: _set(d, -2, 2.5)), "non-integer values", light=False),
]


def _negative_first(matrix: sp.csr_matrix) -> sp.csr_matrix:
    matrix = matrix.tocsr(copy=True)
    matrix.data[0] = -3
    return matrix


def _rewrite_table(name: str, change: Callable[[str], str], encoding: str = "utf-8"):
    def apply(v: Variant):
        v.save()
        path = v.cohort.path(name)
        path.write_bytes(change(path.read_text()).encode(encoding))
        v.sheet = v.cohort.read("samples.tsv")
    return apply


def _crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def _unicode_path(v: Variant) -> None:
    source = v.source(SCRNA)
    target = v.folder / "données brutes" / "Patiënt 2 (re-run)" / "filtered matrix.h5"
    target.parent.mkdir(parents=True)
    shutil.copy(source, target)
    v.point(SCRNA, target)


def _padded_ids(v: Variant) -> None:
    rows = v.sheet["patient_id"] == "P002"
    v.sheet.loc[rows, "patient_id"] = "  P002 "
    v.sheet.loc[v.row(SCRNA), "sample_id"] = f" {SCRNA}\t"


def _numeric_ids(v: Variant) -> None:
    """Patients named 1..8 (P001 -> 1) in every table; 1 and 01 stay distinct text, never numbers."""
    number = {f"P{i:03d}": str(i) for i in range(1, 100)}
    v.sheet["patient_id"] = v.sheet["patient_id"].map(number)
    for name, column in (("clinical.tsv", "patient_id"), ("ctc_enumeration.tsv", "patient_id"), ("mutations.tsv", "patient_id")):
        table = v.cohort.read(name)
        table[column] = table[column].map(number)
        v.cohort.write(name, table)


def _duplicated_gene_names(v: Variant) -> None:
    adata = v.counts()
    symbols = list(adata.var["gene_symbol"])
    symbols[-1] = symbols[-2] = "TBCE"  # as Cell Ranger references name a few loci twice (TBCE, HSPA14)
    path = v.folder / "data" / SCRNA / "filtered_feature_bc_matrix.h5"
    path.parent.mkdir(parents=True)
    write_10x_h5(path, adata.X, list(adata.obs_names), list(adata.var["gene_id"]), symbols)
    v.point(SCRNA, path)


def _h5ad_counts_in(where: str):
    def apply(v: Variant):
        adata = v.counts()
        adata.var_names = list(adata.var["gene_symbol"])
        adata.var_names_make_unique()
        if where == "layer":
            adata.layers["counts"] = adata.X.copy()
        else:
            adata.raw = adata.copy()
        adata.X = _log_normalized(adata.X)
        _h5ad(v, adata)
    return apply


def _cellranger_run_folder(v: Variant) -> None:
    target = v.folder / "data" / "cellranger" / SCRNA / "outs" / "filtered_feature_bc_matrix.h5"
    target.parent.mkdir(parents=True)
    shutil.copy(v.source(SCRNA), target)
    v.point(SCRNA, target.parents[1], "auto")


def _ctc_gzipped(v: Variant) -> None:
    path = v.folder / "data" / f"{CTC}.csv.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(v.source(CTC).read_bytes(), mtime=0))
    v.point(CTC, path)


def _legacy_mex(v: Variant) -> None:
    adata = v.counts()
    folder = v.folder / "data" / SCRNA / "filtered_gene_bc_matrices" / "GRCh38"
    folder.mkdir(parents=True)
    mmwrite(folder / "matrix.mtx", sp.coo_matrix(adata.X.T), field="integer")
    (folder / "genes.tsv").write_text("".join(f"{i}\t{s}\n" for i, s in zip(adata.var["gene_id"], adata.var["gene_symbol"])))
    (folder / "barcodes.tsv").write_text("".join(f"{b}\n" for b in adata.obs_names))
    v.point(SCRNA, folder, "10x_mtx")


@dataclass(frozen=True)
class Oddity:
    """An odd but valid variant: it must validate and its sample (when it changes one) must be
    harmonized with its cells."""

    name: str
    apply: Callable[[Variant], None]
    sample: str | None = None


ODDITIES = [
    Oddity("crlf_sample_sheet", _rewrite_table("samples.tsv", _crlf)),
    Oddity("bom_clinical_table", _rewrite_table("clinical.tsv", lambda t: "\ufeff" + t)),
    Oddity("bom_crlf_ctc_enumeration", _rewrite_table("ctc_enumeration.tsv", lambda t: "\ufeff" + _crlf(t))),
    Oddity("unicode_and_spaces_in_path", _unicode_path, SCRNA),
    Oddity("padded_ids", _padded_ids, SCRNA),
    Oddity("numeric_patient_ids", _numeric_ids),
    Oddity("duplicated_gene_names", _duplicated_gene_names, SCRNA),
    Oddity("mex_folder", lambda v: _mex_folder(v) and None, SCRNA),
    Oddity("legacy_mex_v2_folder", _legacy_mex, SCRNA),
    Oddity("h5ad_counts_in_layer", _h5ad_counts_in("layer"), SCRNA),
    Oddity("h5ad_counts_in_raw", _h5ad_counts_in("raw"), SCRNA),
    Oddity("cellranger_run_folder", _cellranger_run_folder, SCRNA),
    Oddity("gzipped_ctc_table", _ctc_gzipped, CTC),
]
