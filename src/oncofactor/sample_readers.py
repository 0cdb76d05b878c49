"""Reading one sample of any supported format into an AnnData of raw counts.

Every reader returns cells (or spots) x genes with raw counts in X (float32 CSR), the barcode as
obs index, and var with `gene_id` and `gene_symbol` as the input named them (either may be missing,
as NaN). Spatial readers add `obsm['spatial']` (x, y in full-resolution image pixels, as scanpy).

The 10x readers use h5py and scipy rather than scanpy's readers: scanpy takes about 3 s to import,
more than reading a typical sample, and a per-sample job pays it once per sample.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import zlib
from pathlib import Path
from typing import Mapping

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from oncofactor.sample_formats import check_format, visium_outs, visium_positions
from oncofactor.user_tables import read_table_as_text
from oncofactor.validated_sheet import text_value


class SampleReadError(Exception):
    """A sample could not be read as counts; the message says what was found and what to do."""


# What reading a truncated, corrupted or foreign file raises (h5py, gzip, pandas, anndata).
READ_ERRORS = (OSError, EOFError, zlib.error, ValueError, KeyError)


def _text(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def _anndata(counts: sp.spmatrix, barcodes, gene_ids, gene_symbols) -> ad.AnnData:
    var = pd.DataFrame({"gene_id": gene_ids, "gene_symbol": gene_symbols})
    var.index = pd.Index([str(i) for i in range(len(var))])
    obs = pd.DataFrame(index=pd.Index(_text(barcodes), name=None))
    return ad.AnnData(X=sp.csr_matrix(counts, dtype=np.float32), obs=obs, var=var)


def _h5_matrix_group(handle: h5py.File, path, genome: str | None):
    """The group holding the matrix, with its gene IDs, symbols and feature types."""
    if "matrix" in handle:
        group = handle["matrix"]
        features = group["features"]
        gene_ids, symbols = _text(features["id"][:]), _text(features["name"][:])
        types = _text(features["feature_type"][:]) if "feature_type" in features else ["Gene Expression"] * len(gene_ids)
        return group, gene_ids, symbols, types
    genomes = sorted(key for key in handle if isinstance(handle[key], h5py.Group) and "barcodes" in handle[key])
    if genome is None and len(genomes) == 1:
        genome = genomes[0]
    if genome not in genomes:
        wanted = "pick one" if genome is None else f"genome '{genome}' is not among them"
        raise SampleReadError(
            f"{path}: legacy Cell Ranger file with genomes {', '.join(genomes)}; {wanted} "
            "with the sample sheet's `genome` column or the config's scrna.genome"
        )
    group = handle[genome]
    gene_ids, symbols = _text(group["genes"][:]), _text(group["gene_names"][:])
    return group, gene_ids, symbols, ["Gene Expression"] * len(gene_ids)


def read_10x_h5(path: str | Path, genome: str | None = None) -> ad.AnnData:
    """Cell Ranger HDF5: v3+ (`matrix` group) or v2 (one group per genome; `genome` picks one).

    Only 'Gene Expression' features are kept from v3 files (antibody capture and CRISPR guides are not
    transcripts).
    """
    with h5py.File(path, "r") as handle:
        group, gene_ids, symbols, types = _h5_matrix_group(handle, path, genome)
        n_genes, n_cells = (int(n) for n in group["shape"][:])
        counts = sp.csc_matrix((group["data"][:], group["indices"][:], group["indptr"][:]), shape=(n_genes, n_cells)).T
        barcodes = group["barcodes"][:]
    keep = np.array([t == "Gene Expression" for t in types])
    return _anndata(counts.tocsr()[:, keep], barcodes, np.array(gene_ids)[keep], np.array(symbols)[keep])


def read_10x_h5_features(path: str | Path, genome: str | None = None) -> pd.DataFrame:
    """gene_id and gene_symbol of a Cell Ranger HDF5's gene-expression features, without the matrix."""
    with h5py.File(path, "r") as handle:
        _, gene_ids, symbols, types = _h5_matrix_group(handle, path, genome)
    keep = np.array([t == "Gene Expression" for t in types])
    return pd.DataFrame({"gene_id": np.array(gene_ids)[keep], "gene_symbol": np.array(symbols)[keep]})


def _open_text(path: Path):
    return gzip.open(path, "rt") if path.name.endswith(".gz") else path.open()


def _first(folder: Path, names: tuple[str, ...]) -> Path:
    found = next((folder / name for name in names if (folder / name).exists()), None)
    if found is None:
        raise SampleReadError(f"{folder}: holds none of {', '.join(names)}")
    return found


def _mex_features(folder: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """A MEX folder's features (gene_id, gene_symbol) and which of them are gene expression."""
    features = pd.read_csv(
        _first(folder, ("features.tsv.gz", "features.tsv", "genes.tsv.gz", "genes.tsv")), sep="\t", header=None, dtype=str
    )
    symbols = features[1] if features.shape[1] > 1 else features[0]
    keep = (features[2] == "Gene Expression").to_numpy() if features.shape[1] > 2 else np.ones(len(features), bool)
    return pd.DataFrame({"gene_id": features[0].to_numpy(), "gene_symbol": symbols.to_numpy()}), keep


def read_10x_mtx_features(folder: str | Path) -> pd.DataFrame:
    """gene_id and gene_symbol of a MEX folder's gene-expression features, without the matrix."""
    features, keep = _mex_features(Path(folder))
    return features[keep].reset_index(drop=True)


def read_10x_mtx(folder: str | Path) -> ad.AnnData:
    """Cell Ranger MEX folder: v3 (features.tsv.gz with id, name, type) or v2 (genes.tsv with id, name)."""
    # Imported here: scipy.io costs every harmonization job ~50 ms to import, and only MEX needs it.
    from scipy.io import mmread

    folder = Path(folder)
    with _open_text(_first(folder, ("matrix.mtx.gz", "matrix.mtx"))) as handle:
        counts = mmread(handle)
    features, keep = _mex_features(folder)
    barcodes = pd.read_csv(_first(folder, ("barcodes.tsv.gz", "barcodes.tsv")), sep="\t", header=None, dtype=str)[0]
    return _anndata(sp.csr_matrix(counts.T)[:, keep], barcodes, features["gene_id"][keep].to_numpy(), features["gene_symbol"][keep].to_numpy())


# Whether a matrix holds counts is judged on its first stored values, the same number in a light
# read of the file (validation) and in a job's full read.
CHECKED_VALUES = 200_000


def _whole_and_non_negative(values: np.ndarray) -> tuple[bool, str]:
    if values.size == 0:
        return True, ""
    if not np.isfinite(values).all():
        return False, f"{int((~np.isfinite(values)).sum())} missing or infinite values (NaN, inf)"
    if np.any(values < 0):
        return False, f"negative values (minimum {values.min():.3g})"
    fractional = values[np.abs(values - np.round(values)) > 1e-6]
    if fractional.size:
        return False, f"non-integer values (e.g. {fractional[0]:.4g}; maximum {values.max():.3g}, as after normalization or log)"
    return True, ""


def _first_values(matrix) -> np.ndarray:
    """The first CHECKED_VALUES stored values of a matrix: in memory (sparse or dense), or a node of
    an open .h5ad (h5py) or .zarr store (the data array of a sparse matrix, else the first rows)."""
    if sp.issparse(matrix):
        return np.asarray(matrix.data[:CHECKED_VALUES])
    if hasattr(matrix, "keys") and "data" in matrix:
        return np.asarray(matrix["data"][:CHECKED_VALUES])
    rows = max(1, CHECKED_VALUES // max(1, int(matrix.shape[1]))) if len(matrix.shape) > 1 else CHECKED_VALUES
    return np.asarray(matrix[:rows]).ravel()


ANNDATA_COUNT_SOURCES = ("X", "layers/counts", "raw/X")


def _counts_source(matrices: dict, source: str) -> str:
    """Which of ANNDATA_COUNT_SOURCES (the keys of `matrices` present) holds raw counts: the first
    whose first values are whole and non-negative. Raises SampleReadError saying what X held."""
    found = "no matrix"
    for key in ANNDATA_COUNT_SOURCES:
        if key in matrices:
            ok, problem = _whole_and_non_negative(_first_values(matrices[key]))
            if ok:
                return key
            if key == "X":
                found = problem
    raise SampleReadError(
        f"{source}: X holds {found}, and neither layers['counts'] nor .raw holds raw counts; "
        "save the unnormalized UMI counts in X or layers['counts']"
    )


def anndata_counts_source(store, source: str) -> str:
    """`_counts_source` of an open AnnData store (h5py file or zarr group), without loading a matrix."""
    return _counts_source({key: store[key] for key in ANNDATA_COUNT_SOURCES if key in store}, source)


def _var_names(var: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """gene IDs and symbols of an AnnData var table, from the columns 10x readers and scanpy write."""
    symbols = var["gene_symbol"] if "gene_symbol" in var else (var["gene_symbols"] if "gene_symbols" in var else var.index)
    gene_ids = var["gene_ids"] if "gene_ids" in var else (var["gene_id"] if "gene_id" in var else var.index)
    return np.asarray(gene_ids, dtype=object), np.asarray(symbols, dtype=object)


def _open_anndata_store(path: Path):
    if path.is_dir():
        import zarr

        return contextlib.nullcontext(zarr.open_group(str(path), mode="r"))
    return h5py.File(path, "r")


def anndata_features(path: str | Path) -> pd.DataFrame:
    """gene_id and gene_symbol of an .h5ad or .zarr's counts (var, or raw's var when .raw holds the
    counts), read without the matrix."""
    path = Path(path)
    with _open_anndata_store(path) as store:
        source = anndata_counts_source(store, str(path))
        var = ad.io.read_elem(store["raw/var"] if source == "raw/X" else store["var"])
    if not isinstance(var, pd.DataFrame):  # stores written before anndata 0.7 hold var as a record array
        var = pd.DataFrame(var)
        var = var.set_index(var.columns[0])
    gene_ids, symbols = _var_names(var)
    return pd.DataFrame({"gene_id": gene_ids, "gene_symbol": symbols})


def counts_from_anndata(adata: ad.AnnData, source: str) -> ad.AnnData:
    """Raw counts of an AnnData: X if it holds counts, else layers['counts'], else .raw (see
    `_counts_source`). Raises SampleReadError saying what X held when none holds counts."""
    matrices = {"X": (adata.X, adata.var)}
    if "counts" in adata.layers:
        matrices["layers/counts"] = (adata.layers["counts"], adata.var)
    if adata.raw is not None:
        matrices["raw/X"] = (adata.raw.X, adata.raw.var)
    counts, var = matrices[_counts_source({key: matrix for key, (matrix, _) in matrices.items()}, source)]
    gene_ids, symbols = _var_names(var)
    out = _anndata(counts, adata.obs_names, gene_ids, symbols)
    out.obs = adata.obs.copy()
    for key in ("spatial",):
        if key in adata.obsm:
            out.obsm[key] = np.asarray(adata.obsm[key], dtype=float)[:, :2]
    return out


def read_h5ad(path: str | Path) -> ad.AnnData:
    """AnnData .h5ad: counts found as in `counts_from_anndata`; obs and obsm['spatial'] kept."""
    return counts_from_anndata(ad.read_h5ad(path), str(path))


def read_zarr(path: str | Path) -> ad.AnnData:
    """AnnData .zarr store, read as `read_h5ad` reads .h5ad."""
    return counts_from_anndata(ad.read_zarr(path), str(path))


POSITION_COLUMNS = ["barcode", "in_tissue", "array_row", "array_col", "pxl_row_in_fullres", "pxl_col_in_fullres"]


def read_visium(path: str | Path, library_id: str | None = None) -> ad.AnnData:
    """Space Ranger outs/: in-tissue spots of the filtered matrix with their positions and images.

    Reads tissue_positions.csv (Space Ranger 2+, with header) or tissue_positions_list.csv (1.x,
    without). obsm['spatial'] holds (x, y) = (pxl_col, pxl_row) in full-resolution pixels. As
    scanpy's read_visium lays them out, so that sc.pl.spatial and squidpy use them as they are:
    uns['spatial'][library_id] holds 'scalefactors' and 'images' ('hires', 'lowres': RGB arrays as
    matplotlib reads the PNGs), each when Space Ranger wrote it. library_id: the sample's name
    (default: the name of the folder, or of the one above it when that is outs/).
    """
    outs = visium_outs(Path(path))
    matrix = outs / "filtered_feature_bc_matrix.h5"
    adata = read_10x_h5(matrix) if matrix.exists() else read_10x_mtx(outs / "filtered_feature_bc_matrix")
    positions_file = visium_positions(outs)
    if positions_file.suffix == ".parquet":
        positions = pd.read_parquet(positions_file)
    else:
        with positions_file.open() as handle:
            has_header = handle.readline().startswith("barcode")
        positions = pd.read_csv(positions_file, header=0 if has_header else None)
        if not has_header:
            positions.columns = POSITION_COLUMNS
    positions = positions.set_index("barcode")
    missing = adata.obs_names.difference(positions.index)
    if len(missing):
        raise SampleReadError(f"{positions_file}: {len(missing)} barcodes of the matrix have no position (e.g. {missing[0]}); "
                              "give the positions file of the same Space Ranger run as the matrix")
    positions = positions.loc[adata.obs_names]
    adata = adata[positions["in_tissue"].to_numpy() == 1].copy()
    positions = positions.loc[adata.obs_names]
    adata.obs[["array_row", "array_col"]] = positions[["array_row", "array_col"]].to_numpy()
    adata.obsm["spatial"] = positions[["pxl_col_in_fullres", "pxl_row_in_fullres"]].to_numpy(dtype=float)
    library = {}
    scalefactors = outs / "spatial" / "scalefactors_json.json"
    if scalefactors.exists():
        library["scalefactors"] = json.loads(scalefactors.read_text())
    images = {resolution: outs / "spatial" / f"tissue_{resolution}_image.png" for resolution in ("hires", "lowres")}
    if any(image.exists() for image in images.values()):
        from matplotlib.image import imread

        library["images"] = {resolution: imread(image) for resolution, image in images.items() if image.exists()}
    if library:
        adata.uns["spatial"] = {library_id or (outs.parent.name if outs.name == "outs" else outs.name): library}
    return adata


def _separator(path: Path) -> str:
    return "\t" if any(s in (".tsv", ".txt") for s in path.suffixes) else ","


def _orientation(path: Path, text: list[str], n_rows: int, n_numeric: int, orientation: str, class_column: str) -> str:
    """genes_by_cells or cells_by_genes; 'auto': a table with `class_column` is cells x genes,
    otherwise the longer side is genes (single-cell tables hold far more genes than cells)."""
    if not text:
        raise SampleReadError(f"{path}: no column of gene or cell names (every column is numeric)")
    if orientation == "auto":
        return "cells_by_genes" if class_column in text or n_rows < n_numeric else "genes_by_cells"
    return orientation


def _check_cell_classes(path: Path, orientation: str, text: list[str], metadata: pd.DataFrame | None, class_column: str) -> None:
    """A table or metadata that describes its cells must say their class in `class_column`:
    otherwise every cell would be taken for a CTC without a word."""
    described = text[1:] if orientation == "cells_by_genes" else []
    if metadata is not None:
        if class_column not in metadata.columns:
            raise SampleReadError(
                f"{path}: its cell metadata has no column '{class_column}' (ctc.cell_class_column); the columns are: "
                f"{', '.join(map(str, metadata.columns))}; set ctc.cell_class_column to the one that marks CTCs"
            )
    elif described and class_column not in described:
        raise SampleReadError(
            f"{path}: cells x genes table with text column(s) {', '.join(map(str, described))} but no '{class_column}' "
            "(ctc.cell_class_column); set ctc.cell_class_column to the column that marks CTCs"
        )


def _gene_names(genes) -> tuple[np.ndarray, np.ndarray]:
    """A count table names each gene once; genes.classify_features tells IDs from symbols."""
    names = np.array([str(g) for g in genes], dtype=object)
    return names, names.copy()


def count_table_layout(
    path: str | Path, orientation: str = "auto", class_column: str = "cell_class", metadata: pd.DataFrame | None = None
) -> tuple[np.ndarray, pd.DataFrame]:
    """A count table's gene names and its cells' obs (text columns, joined with `metadata`), from its
    first rows, line count and gene column or text columns, with the checks `read_count_table` makes
    of the layout and of the cells' classes, but without reading the counts."""
    path = Path(path)
    head = pd.read_csv(path, sep=_separator(path), nrows=200)
    is_numeric = head.dtypes.map(pd.api.types.is_numeric_dtype).to_numpy(dtype=bool)
    numeric, text = head.columns[is_numeric].tolist(), head.columns[~is_numeric].tolist()
    with (gzip.open(path, "rt") if path.name.endswith(".gz") else path.open()) as handle:
        n_rows = sum(1 for _ in handle) - 1
    orientation = _orientation(path, text, n_rows, len(numeric), orientation, class_column)
    _check_layout(path, orientation, text)
    _check_cell_classes(path, orientation, text, metadata, class_column)
    if orientation == "genes_by_cells":
        genes = pd.read_csv(path, sep=_separator(path), usecols=[text[0]], dtype=str)[text[0]].to_numpy()
        obs = pd.DataFrame(index=pd.Index([str(c) for c in numeric]))
    else:
        genes = np.array([str(c) for c in numeric])
        obs = pd.read_csv(path, sep=_separator(path), usecols=text, dtype=str)[text].set_index(text[0])
        obs.index.name = None
    return genes, _with_metadata(path, obs, metadata)


def count_table_features(
    path: str | Path, orientation: str = "auto", class_column: str = "cell_class", metadata: pd.DataFrame | None = None
) -> pd.DataFrame:
    """gene_id and gene_symbol of a count table, from `count_table_layout`."""
    gene_ids, symbols = _gene_names(count_table_layout(path, orientation, class_column, metadata)[0])
    return pd.DataFrame({"gene_id": gene_ids, "gene_symbol": symbols})


def _check_layout(path: Path, orientation: str, text: list[str]) -> None:
    if orientation == "genes_by_cells" and len(text) > 1:
        raise SampleReadError(f"{path}: genes x cells table with several text columns ({', '.join(text)}); only the gene column may be text")


def _with_metadata(path: Path, obs: pd.DataFrame, metadata: pd.DataFrame | None) -> pd.DataFrame:
    """obs joined with the cell metadata, which must name every cell."""
    if metadata is None:
        return obs
    metadata = metadata.set_axis(metadata.index.astype(str))
    absent = obs.index.difference(metadata.index)
    if len(absent):
        raise SampleReadError(f"{path}: {len(absent)} cells are not in the cell metadata table (e.g. {absent[0]})")
    return obs.join(metadata[[c for c in metadata.columns if c not in obs.columns]])


def patient_cells(obs: pd.DataFrame, sample: Mapping, patient_column: str | None) -> np.ndarray | None:
    """Which cells of a single-CTC table are the sample's patient's, by `patient_column` of the table
    or its cell metadata (obs); None when every cell is (no such column and no metadata to hold it).

    Raises SampleReadError when the metadata lacks the column or names no cell of the patient.
    """
    if not patient_column or (patient_column not in obs and not text_value(sample, "cell_metadata")):
        return None
    path = sample["path"]
    if patient_column not in obs:
        raise SampleReadError(
            f"{path}: no column '{patient_column}' (ctc.patient_column) in the table or its cell metadata; "
            f"the columns are: {', '.join(map(str, obs.columns)) or 'none'}"
        )
    patients = obs[patient_column].astype(str).str.strip()
    if not (patients == sample["patient_id"]).any():
        raise SampleReadError(
            f"{path}: no cell of patient '{sample['patient_id']}' in column '{patient_column}' "
            f"(ctc.patient_column); it holds {', '.join(sorted(patients.unique())[:10])}"
        )
    return (patients == sample["patient_id"]).to_numpy()


def read_count_table(
    path: str | Path, orientation: str = "auto", class_column: str = "cell_class", metadata: pd.DataFrame | None = None
) -> ad.AnnData:
    """A single-cell count table (CSV/TSV, optionally gzipped), genes x cells or cells x genes.

    Text columns are metadata: in a cells x genes table the first is the cell ID and `class_column`
    separates CTCs from white-blood-cell controls; in a genes x cells table the first column holds the
    genes. With orientation 'auto', a table with `class_column` is cells x genes and otherwise the
    longer side is taken as genes. Non-integer values (expected counts from RSEM and similar) are
    rounded to the nearest integer and the rounding is recorded in uns['oncofactor_notes'].
    `metadata` (indexed by cell ID) adds columns to obs, e.g. the class of each cell when the table
    itself has none; every cell must be in it. A table or metadata that describes its cells without
    `class_column` is refused (SampleReadError listing the columns it has).
    """
    path = Path(path)
    table = pd.read_csv(path, sep=_separator(path))
    # From the dtypes, in one pass: a full-length CTC table has tens of thousands of gene columns.
    is_numeric = table.dtypes.map(pd.api.types.is_numeric_dtype).to_numpy(dtype=bool)
    numeric, text = table.columns[is_numeric].tolist(), table.columns[~is_numeric].tolist()
    orientation = _orientation(path, text, len(table), len(numeric), orientation, class_column)
    _check_layout(path, orientation, text)
    _check_cell_classes(path, orientation, text, metadata, class_column)
    if orientation == "genes_by_cells":
        values = table[numeric].to_numpy(dtype=float).T
        obs = pd.DataFrame(index=pd.Index([str(c) for c in numeric]))
        genes = table[text[0]].astype(str).to_numpy()
    else:
        values = table[numeric].to_numpy(dtype=float)
        obs = table[text].astype(str).set_index(text[0])
        obs.index.name = None
        genes = np.array([str(c) for c in numeric])
    if np.isnan(values).any():
        raise SampleReadError(f"{path}: {int(np.isnan(values).sum())} empty count cells; fill them with 0")
    if (values < 0).any():
        raise SampleReadError(f"{path}: negative counts (minimum {values.min():g}); the table must hold raw counts")
    notes = []
    fractional = np.abs(values - np.round(values)) > 1e-6
    if fractional.any():
        notes.append(
            f"{int(fractional.sum())} of {int((values > 0).sum())} non-zero values were not whole numbers "
            "(expected counts); rounded to the nearest integer"
        )
        values = np.round(values)
    gene_ids, symbols = _gene_names(genes)
    adata = _anndata(sp.csr_matrix(values), obs.index, gene_ids, symbols)
    adata.obs = _with_metadata(path, obs, metadata)
    adata.uns["oncofactor_notes"] = notes
    return adata


# --- one sample-sheet row, any format -----------------------------------------------------------


def _genome(sample: Mapping, config: dict) -> str | None:
    return text_value(sample, "genome") or config["scrna"]["genome"]


def cell_metadata(sample: Mapping) -> pd.DataFrame | None:
    """The sample's cell metadata table (cell ID as index), or None when it has none."""
    path = text_value(sample, "cell_metadata")
    if path is None:
        return None
    table = read_table_as_text(path)
    return table.set_index(table.columns[0])


def read_sample(sample: Mapping, config: dict) -> ad.AnnData:
    """Raw counts of one sample-sheet row (a row of results/inputs/samples.parquet).

    For single-CTC samples with `ctc.patient_column` set, only the cells of the sample's patient are
    kept when the table or its cell metadata names the cells' patients (one table may hold several
    patients' cells); SampleReadError when the metadata lacks the column or names no cell of the patient.
    Raises SampleReadError, naming the file, when it cannot be read to the end (truncated or corrupted)
    or its matrix fails `check_counts`.
    """
    path, file_format = Path(sample["path"]), sample["format"]
    # The light checks validation made: a job refuses what validation refused (or, under
    # on_sample_error: drop, forecast as left out).
    problems = check_format(path, file_format, sample["modality"])
    if problems:
        raise SampleReadError(f"{path} ({file_format}) {problems[0]}")
    try:
        problem = counts_problem(sample, config)
        if problem:
            raise SampleReadError(f"{path}: {problem}")
        adata = _read_sample(sample, config)
    except READ_ERRORS as error:
        raise SampleReadError(
            f"{sample['path']}: cannot be read to the end ({type(error).__name__}: {error}); the file is truncated or "
            "corrupted: copy it again from its source"
        ) from error
    # Expected counts (RSEM, as single-cell tables often hold) are fractional; the 10x and AnnData
    # formats hold UMI counts.
    check_counts(adata, sample["path"], whole=sample["format"] != "csv")
    return adata


def check_counts(adata: ad.AnnData, path, whole: bool) -> None:
    """Raise SampleReadError, naming `path`, when the matrix read from it is not a sample's counts:
    no observation or no feature, a barcode twice, or values (all of them, not a sample) that are
    missing, infinite, negative or, with `whole`, fractional."""
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise SampleReadError(f"{path}: the matrix has {adata.n_obs} barcodes and {adata.n_vars} features; give the sample's "
                              "filtered matrix, or remove the sample from the sample sheet")
    duplicated = adata.obs_names[adata.obs_names.duplicated()]
    if len(duplicated):
        raise SampleReadError(f"{path}: {len(duplicated)} barcode(s) appear more than once (e.g. '{duplicated[0]}'); a matrix names "
                              "each barcode once: give the file as Cell Ranger wrote it")
    values = adata.X.data if sp.issparse(adata.X) else np.asarray(adata.X).ravel()
    ok, problem = _whole_and_non_negative(values if whole else np.round(values))
    if not ok:
        expected = "raw UMI counts" if whole else "raw or expected counts, never negative"
        raise SampleReadError(f"{path}: the matrix holds {problem}; it must hold {expected}")


def _read_sample(sample: Mapping, config: dict) -> ad.AnnData:
    path, file_format = sample["path"], sample["format"]
    if file_format == "10x_h5":
        return read_10x_h5(path, genome=_genome(sample, config))
    if file_format == "10x_mtx":
        return read_10x_mtx(path)
    if file_format == "h5ad":
        return read_h5ad(path)
    if file_format == "zarr":
        return read_zarr(path)
    if file_format == "visium":
        return read_visium(path, library_id=sample["sample_id"])
    if file_format == "csv":
        ctc = config["ctc"]
        adata = read_count_table(
            path, orientation=ctc["count_orientation"], class_column=ctc["cell_class_column"], metadata=cell_metadata(sample)
        )
        mine = patient_cells(adata.obs, sample, ctc["patient_column"])
        if mine is not None:
            adata = adata[mine].copy()
        return adata
    raise ValueError(f"unknown format {file_format!r}")


def read_sample_features(sample: Mapping, config: dict) -> pd.DataFrame:
    """A sample's features (gene_id, gene_symbol) as the file names them, without reading its matrix."""
    path, file_format = Path(sample["path"]), sample["format"]
    if file_format == "10x_h5":
        return read_10x_h5_features(path, genome=_genome(sample, config))
    if file_format == "10x_mtx":
        return read_10x_mtx_features(path)
    if file_format == "visium":
        outs = visium_outs(path)
        h5 = outs / "filtered_feature_bc_matrix.h5"
        return read_10x_h5_features(h5) if h5.exists() else read_10x_mtx_features(outs / "filtered_feature_bc_matrix")
    if file_format in ("h5ad", "zarr"):
        return anndata_features(path)
    if file_format == "csv":
        ctc = config["ctc"]
        return count_table_features(path, ctc["count_orientation"], ctc["cell_class_column"], cell_metadata(sample))
    raise ValueError(f"unknown format {file_format!r}")


def _barcodes_problem(barcodes: list[str], name: str) -> str | None:
    seen = pd.Index(barcodes)
    duplicated = seen[seen.duplicated()]
    if len(duplicated):
        return f"{name}: {len(duplicated)} barcode(s) appear more than once (e.g. '{duplicated[0]}'); give the matrix as Cell Ranger wrote it"
    return None


def _h5_counts_problem(path: Path, genome: str | None) -> str | None:
    with h5py.File(path, "r") as handle:
        group, gene_ids = _h5_matrix_group(handle, path, genome)[:2]
        n_genes, n_cells = (int(n) for n in group["shape"][:])
        barcodes = _text(group["barcodes"][:])
        sizes = {"barcodes": (len(barcodes), n_cells), "features": (len(gene_ids), n_genes), "indptr": (len(group["indptr"]), n_cells + 1)}
        wrong = [f"{key} has {found} entries where its shape ({n_genes} x {n_cells}) needs {needed}" for key, (found, needed) in sizes.items() if found != needed]
        if wrong:
            return f"{path.name} is inconsistent: {'; '.join(wrong)}; the file is damaged or was written by another tool: export it again"
        if n_cells == 0:
            return f"{path.name} holds no barcodes; give the sample's filtered matrix, or remove the sample from the sample sheet"
        ok, problem = _whole_and_non_negative(np.asarray(group["data"][:CHECKED_VALUES]))
    if not ok:
        return f"{path.name} holds {problem}; Cell Ranger files hold raw UMI counts"
    return _barcodes_problem(barcodes, path.name)


def _mtx_counts_problem(folder: Path) -> str | None:
    matrix = _first(folder, ("matrix.mtx.gz", "matrix.mtx"))
    barcodes_file = _first(folder, ("barcodes.tsv.gz", "barcodes.tsv"))
    with _open_text(barcodes_file) as handle:
        barcodes = [line.rstrip("\r\n").split("\t")[0] for line in handle if line.strip()]
    n_features = len(_mex_features(folder)[0])
    with _open_text(matrix) as handle:
        header = handle.readline()
        integer = "integer" in header.lower()
        size, values = None, []
        for line in handle:
            if line.startswith("%"):
                continue
            fields = line.split()
            if size is None:
                size = tuple(int(float(f)) for f in fields[:2])
                continue
            if integer:
                break
            if len(fields) == 3:
                values.append(float(fields[2]))
            if len(values) >= CHECKED_VALUES:
                break
    if size is not None and size != (n_features, len(barcodes)):
        return (f"{matrix.name} is {size[0]} features x {size[1]} barcodes but the folder lists {n_features} features and "
                f"{len(barcodes)} barcodes; the files come from different runs or one is damaged: export the folder again")
    if not barcodes:
        return f"{barcodes_file.name} lists no barcodes; give the sample's filtered matrix, or remove the sample from the sample sheet"
    ok, problem = _whole_and_non_negative(np.asarray(values))
    if not ok:
        return f"{matrix.name} holds {problem}; a MEX folder holds raw UMI counts"
    return _barcodes_problem(barcodes, barcodes_file.name)


# A count table whose sampled non-zero values are nearly all fractional and all below this is logged
# or normalized expression, not counts: expected counts reach thousands, and in the real tables seen
# (Poonia et al. RSEM, iCTC) 17-27% of non-zero values are whole; log-normalized scM&T RNA: none.
LOG_SCALE_MAXIMUM = 30.0
LOG_SCALE_MAX_WHOLE_FRACTION = 0.05


def _table_counts_problem(path: Path) -> str | None:
    head = pd.read_csv(path, sep=_separator(path), nrows=200)
    values = head.select_dtypes("number").to_numpy(dtype=float)
    values = values[np.isfinite(values) & (values != 0)]
    if values.size == 0:
        return None
    if (values < 0).any():
        return f"negative values (minimum {values.min():g}) in its first rows; a count table holds raw counts"
    whole = np.mean(np.abs(values - np.round(values)) <= 1e-6)
    if whole <= LOG_SCALE_MAX_WHOLE_FRACTION and values.max() <= LOG_SCALE_MAXIMUM:
        return (
            f"{100 * (1 - whole):.0f}% fractional values, none above {values.max():.3g}, in its first rows, as in "
            "log-normalized data; "
            "give raw (or expected) counts"
        )
    return None


def counts_problem(sample: Mapping, config: dict) -> str | None:
    """What is wrong with a sample's values as counts, judged on its first values without reading
    the matrix (None when they look like counts). AnnData stores are checked by `anndata_features`."""
    path, file_format = Path(sample["path"]), sample["format"]
    if file_format == "10x_h5":
        return _h5_counts_problem(path, _genome(sample, config))
    if file_format == "10x_mtx":
        return _mtx_counts_problem(path)
    if file_format == "visium":
        outs = visium_outs(path)
        h5 = outs / "filtered_feature_bc_matrix.h5"
        return _h5_counts_problem(h5, None) if h5.exists() else _mtx_counts_problem(outs / "filtered_feature_bc_matrix")
    if file_format == "csv":
        return _table_counts_problem(path)
    return None
