"""Input file formats: detecting them from a path and checking, cheaply, that a path holds one.

The checks open HDF5 files and list folders but never load a matrix, so validating a cohort
takes seconds even when its samples take gigabytes.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import h5py

FORMATS_BY_MODALITY = {
    "scrna": ("10x_h5", "10x_mtx", "h5ad", "zarr"),
    "spatial": ("visium", "h5ad", "zarr"),
    "ctc_scrna": ("csv", "h5ad", "zarr"),
}

TEXT_TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")


def _first_existing(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / name for name in names if (folder / name).exists()), None)


def visium_outs(path: Path) -> Path:
    """The Space Ranger outs/ folder: the path itself, or its outs/ subfolder when it has one."""
    return path / "outs" if (path / "outs").is_dir() else path


def visium_positions(outs: Path) -> Path | None:
    """Spot positions of a Space Ranger output: tissue_positions.csv (v2+) or tissue_positions_list.csv (v1)."""
    spatial = outs / "spatial"
    return _first_existing(
        spatial, ("tissue_positions.csv", "tissue_positions_list.csv", "tissue_positions.parquet")
    )


# Filtered matrices of a Cell Ranger outs/ folder, most preferred first: `count` v3+, `multi`'s
# per-sample count folder, and Cell Ranger 2.
CELLRANGER_MATRICES = (
    "filtered_feature_bc_matrix.h5",
    "per_sample_outs/*/count/sample_filtered_feature_bc_matrix.h5",
    "filtered_gene_bc_matrices_h5.h5",
    "filtered_feature_bc_matrix",
    "filtered_gene_bc_matrices/*",
)


def cellranger_matrix(path: Path) -> Path | None:
    """The filtered gene-barcode matrix of a Cell Ranger outs/ folder or of the run folder above it:
    an HDF5 file, else a MEX folder; None when the folder holds none or several (e.g. two genomes)."""
    outs = path / "outs" if (path / "outs").is_dir() else path
    if (outs / "spatial").is_dir():  # a Space Ranger folder
        return None
    for pattern in CELLRANGER_MATRICES:
        found = sorted(outs.glob(pattern))
        if len(found) == 1 and (found[0].is_file() or (found[0] / "barcodes.tsv.gz").exists() or (found[0] / "barcodes.tsv").exists()):
            return found[0]
    return None


def detect_format(path: Path) -> str | None:
    """Guess the format of an existing path; None when it cannot be told."""
    name = path.name.lower()
    if path.is_dir():
        if name.endswith(".zarr"):
            return "zarr"
        if (visium_outs(path) / "spatial").is_dir():
            return "visium"
        if _first_existing(path, ("matrix.mtx", "matrix.mtx.gz")):
            return "10x_mtx"
        return None
    if name.endswith(".h5ad"):
        return "h5ad"
    if name.endswith(".h5"):
        return "10x_h5"
    if name.endswith(TEXT_TABLE_SUFFIXES):
        return "csv"
    return None


def _hdf5_keys(path: Path) -> tuple[set[str] | None, str | None]:
    try:
        with h5py.File(path, "r") as handle:
            return set(handle.keys()), None
    except OSError as error:
        return None, f"cannot be opened as HDF5 ({error})"


def _check_10x_h5(path: Path) -> list[str]:
    keys, error = _hdf5_keys(path)
    if error:
        return [error]
    if "matrix" in keys:
        return []
    # Cell Ranger 2 files hold one group per genome, each with the matrix arrays.
    with h5py.File(path, "r") as handle:
        genomes = [key for key in keys if isinstance(handle[key], h5py.Group) and "barcodes" in handle[key]]
    if genomes:
        return []
    return ["is HDF5 but not a Cell Ranger matrix: no 'matrix' group (v3) and no genome groups (v2)"]


def _check_10x_mtx(path: Path) -> list[str]:
    if not path.is_dir():
        return ["must be a Cell Ranger matrix folder (matrix.mtx[.gz], barcodes.tsv[.gz], features.tsv[.gz])"]
    missing = []
    if not _first_existing(path, ("matrix.mtx", "matrix.mtx.gz")):
        missing.append("matrix.mtx[.gz]")
    if not _first_existing(path, ("barcodes.tsv", "barcodes.tsv.gz")):
        missing.append("barcodes.tsv[.gz]")
    if not _first_existing(path, ("features.tsv", "features.tsv.gz", "genes.tsv", "genes.tsv.gz")):
        missing.append("features.tsv[.gz] or genes.tsv")
    if missing:
        return [f"Cell Ranger matrix folder lacks {', '.join(missing)}"]
    return [problem for file in sorted(path.glob("*.gz")) if (problem := gzip_problem(file))]


def gzip_problem(path: Path) -> str | None:
    """Why `path` is not a whole gzip stream (None when it is), read to the end: a truncated or
    corrupted copy often opens and shows its first lines, and fails only when a job reads on."""
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(1 << 22):
                pass
    except (OSError, EOFError, zlib.error) as error:
        return f"{path.name} is not a whole gzip stream ({error}): the file is truncated or corrupted; copy it again from its source"
    return None


def _check_h5ad(path: Path, need_spatial: bool) -> list[str]:
    keys, error = _hdf5_keys(path)
    if error:
        return [error]
    missing = [key for key in ("X", "obs", "var") if key not in keys]
    if missing:
        return [f"is HDF5 but not AnnData .h5ad: lacks {', '.join(missing)}"]
    if need_spatial:
        with h5py.File(path, "r") as handle:
            if "obsm" not in keys or "spatial" not in handle["obsm"]:
                return ["spatial .h5ad needs spot coordinates in obsm['spatial']"]
    return []


def _check_zarr(path: Path, need_spatial: bool) -> list[str]:
    if not path.is_dir():
        return ["must be an AnnData .zarr folder"]
    missing = [key for key in ("X", "obs", "var") if not (path / key).exists()]
    if missing:
        return [f"is not an AnnData .zarr store: lacks {', '.join(missing)}"]
    if need_spatial and not (path / "obsm" / "spatial").exists():
        return ["spatial .zarr needs spot coordinates in obsm['spatial']"]
    return []


def _check_visium(path: Path) -> list[str]:
    if not path.is_dir():
        return ["must be a Space Ranger outs/ folder"]
    outs = visium_outs(path)
    problems = []
    matrix = outs / "filtered_feature_bc_matrix.h5"
    if matrix.exists():
        problems += [f"{matrix.name} {problem}" for problem in _check_10x_h5(matrix)]
    elif (outs / "filtered_feature_bc_matrix").is_dir():
        problems += [f"filtered_feature_bc_matrix/: {problem}" for problem in _check_10x_mtx(outs / "filtered_feature_bc_matrix")]
    else:
        problems.append("Space Ranger folder lacks filtered_feature_bc_matrix.h5 (or the filtered_feature_bc_matrix/ folder)")
    if visium_positions(outs) is None:
        problems.append("Space Ranger folder lacks spatial/tissue_positions.csv (or tissue_positions_list.csv)")
    return problems


def _check_csv(path: Path) -> list[str]:
    if path.is_dir():
        return ["must be a count table file (.csv, .tsv, optionally gzipped), not a folder"]
    if not path.name.lower().endswith(TEXT_TABLE_SUFFIXES):
        return ["count table must end in .csv, .tsv or .txt (optionally .gz)"]
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt") as handle:
            header = handle.readline()
    except (OSError, UnicodeDecodeError, EOFError, zlib.error) as error:
        return [f"cannot be read as text ({error})"]
    if not header.strip():
        return ["count table is empty"]
    problem = gzip_problem(path) if path.name.lower().endswith(".gz") else None
    return [problem] if problem else []


def check_format(path: Path, file_format: str, modality: str) -> list[str]:
    """Problems (empty when none) with `path` as input of the given format and modality."""
    if file_format == "10x_h5":
        return _check_10x_h5(path) if path.is_file() else ["must be a Cell Ranger .h5 file"]
    if file_format == "10x_mtx":
        return _check_10x_mtx(path)
    if file_format == "h5ad":
        return _check_h5ad(path, need_spatial=modality == "spatial") if path.is_file() else ["must be a .h5ad file"]
    if file_format == "zarr":
        return _check_zarr(path, need_spatial=modality == "spatial")
    if file_format == "visium":
        return _check_visium(path)
    if file_format == "csv":
        return _check_csv(path)
    raise ValueError(f"unknown format {file_format!r}")
