"""Reading one sample of any supported format into an AnnData of raw counts.

Every reader returns cells (or spots) x genes with raw counts in X (float32 CSR), the barcode as
obs index, and var with `gene_id` and `gene_symbol` as the input named them (either may be missing,
as NaN). Spatial readers add `obsm['spatial']` (x, y in full-resolution image pixels, as scanpy).

The 10x readers use h5py and scipy rather than scanpy's readers: scanpy takes about 3 s to import,
more than reading a typical sample, and a per-sample job pays it once per sample.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from oncofactor.sample_formats import visium_outs, visium_positions


class SampleReadError(Exception):
    """A sample could not be read as counts; the message says what was found and what to do."""


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
    return next(folder / name for name in names if (folder / name).exists())


def read_10x_mtx(folder: str | Path) -> ad.AnnData:
    """Cell Ranger MEX folder: v3 (features.tsv.gz with id, name, type) or v2 (genes.tsv with id, name)."""
    # Imported here: scipy.io costs every harmonization job ~50 ms to import, and only MEX needs it.
    from scipy.io import mmread

    folder = Path(folder)
    with _open_text(_first(folder, ("matrix.mtx.gz", "matrix.mtx"))) as handle:
        counts = mmread(handle)
    features = pd.read_csv(
        _first(folder, ("features.tsv.gz", "features.tsv", "genes.tsv.gz", "genes.tsv")), sep="\t", header=None, dtype=str
    )
    barcodes = pd.read_csv(_first(folder, ("barcodes.tsv.gz", "barcodes.tsv")), sep="\t", header=None, dtype=str)[0]
    symbols = features[1] if features.shape[1] > 1 else features[0]
    keep = (features[2] == "Gene Expression").to_numpy() if features.shape[1] > 2 else np.ones(len(features), bool)
    return _anndata(sp.csr_matrix(counts.T)[:, keep], barcodes, features[0][keep].to_numpy(), symbols[keep].to_numpy())


def _whole_and_non_negative(matrix) -> tuple[bool, str]:
    values = matrix.data if sp.issparse(matrix) else np.asarray(matrix).ravel()
    if values.size == 0:
        return True, ""
    sample = values[: 1_000_000]
    if np.any(sample < 0):
        return False, f"negative values (minimum {sample.min():.3g})"
    fractional = sample[np.abs(sample - np.round(sample)) > 1e-6]
    if fractional.size:
        return False, f"non-integer values (e.g. {fractional[0]:.4g}; maximum {sample.max():.3g}, as after normalization or log)"
    return True, ""


def counts_from_anndata(adata: ad.AnnData, source: str) -> ad.AnnData:
    """Raw counts of an AnnData: X if it holds counts, else layers['counts'], else .raw.

    Raises SampleReadError saying what X held when none of them holds whole non-negative numbers.
    """
    ok, found = _whole_and_non_negative(adata.X)
    if ok:
        counts, var = adata.X, adata.var
    elif "counts" in adata.layers and _whole_and_non_negative(adata.layers["counts"])[0]:
        counts, var = adata.layers["counts"], adata.var
    elif adata.raw is not None and _whole_and_non_negative(adata.raw.X)[0]:
        counts, var = adata.raw.X, adata.raw.var
    else:
        raise SampleReadError(
            f"{source}: X holds {found}, and neither layers['counts'] nor .raw holds raw counts; "
            "save the unnormalized UMI counts in X or layers['counts']"
        )
    symbols = var["gene_symbol"] if "gene_symbol" in var else (var["gene_symbols"] if "gene_symbols" in var else var.index)
    gene_ids = var["gene_ids"] if "gene_ids" in var else (var["gene_id"] if "gene_id" in var else var.index)
    out = _anndata(counts, adata.obs_names, np.asarray(gene_ids, dtype=object), np.asarray(symbols, dtype=object))
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


def read_visium(path: str | Path) -> ad.AnnData:
    """Space Ranger outs/: in-tissue spots of the filtered matrix with their positions.

    Reads tissue_positions.csv (Space Ranger 2+, with header) or tissue_positions_list.csv (1.x,
    without); images are not needed. obsm['spatial'] holds (x, y) = (pxl_col, pxl_row) in
    full-resolution pixels; uns['spatial'][sample]['scalefactors'] the scale factors when present.
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
        raise SampleReadError(f"{positions_file}: {len(missing)} barcodes of the matrix have no position (e.g. {missing[0]})")
    positions = positions.loc[adata.obs_names]
    adata = adata[positions["in_tissue"].to_numpy() == 1].copy()
    positions = positions.loc[adata.obs_names]
    adata.obs[["array_row", "array_col"]] = positions[["array_row", "array_col"]].to_numpy()
    adata.obsm["spatial"] = positions[["pxl_col_in_fullres", "pxl_row_in_fullres"]].to_numpy(dtype=float)
    scalefactors = outs / "spatial" / "scalefactors_json.json"
    if scalefactors.exists():
        adata.uns["spatial"] = {"section": {"scalefactors": json.loads(scalefactors.read_text())}}
    return adata


def read_count_table(
    path: str | Path, orientation: str = "auto", class_column: str = "cell_class", metadata: pd.DataFrame | None = None
) -> ad.AnnData:
    """A single-cell count table (CSV/TSV, optionally gzipped), genes x cells or cells x genes.

    Text columns are metadata: in a cells x genes table the first is the cell ID and `class_column`
    (if present) separates CTCs from white-blood-cell controls; in a genes x cells table the first
    column holds the genes. With orientation 'auto', a table with `class_column` is cells x genes and
    otherwise the longer side is taken as genes (single-cell tables hold far more genes than cells).
    Non-integer values (expected counts from RSEM and similar) are rounded to the nearest integer and
    the rounding is recorded in uns['oncofactor_notes']. `metadata` (indexed by cell ID) adds columns
    to obs, e.g. the class of each cell when the table itself has none; every cell must be in it.
    """
    path = Path(path)
    separator = "\t" if any(s in (".tsv", ".txt") for s in path.suffixes) else ","
    table = pd.read_csv(path, sep=separator)
    # From the dtypes, in one pass: a full-length CTC table has tens of thousands of gene columns.
    is_numeric = table.dtypes.map(pd.api.types.is_numeric_dtype).to_numpy(dtype=bool)
    numeric, text = table.columns[is_numeric].tolist(), table.columns[~is_numeric].tolist()
    if not text:
        raise SampleReadError(f"{path}: no column of gene or cell names (every column is numeric)")
    if orientation == "auto":
        orientation = "cells_by_genes" if class_column in text or len(table) < len(numeric) else "genes_by_cells"
    if orientation == "genes_by_cells":
        if len(text) > 1:
            raise SampleReadError(f"{path}: genes x cells table with several text columns ({', '.join(text)}); only the gene column may be text")
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
    gene_ids = np.where(pd.Series(genes).str.match(r"^ENS[A-Z]*G\d+"), genes, None)
    symbols = np.where(gene_ids == None, genes, None)  # noqa: E711 (element-wise)
    adata = _anndata(sp.csr_matrix(values), obs.index, gene_ids, symbols)
    if metadata is not None:
        metadata = metadata.set_axis(metadata.index.astype(str))
        absent = obs.index.difference(metadata.index)
        if len(absent):
            raise SampleReadError(f"{path}: {len(absent)} cells are not in the cell metadata table (e.g. {absent[0]})")
        obs = obs.join(metadata[[c for c in metadata.columns if c not in obs.columns]])
    adata.obs = obs
    adata.uns["oncofactor_notes"] = notes
    return adata
