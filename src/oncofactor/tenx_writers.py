"""Writers for 10x Genomics file layouts: Cell Ranger v3 HDF5 matrices and Space Ranger outs/ folders.

The layouts follow 10x's published specification ("Feature-barcode matrices: HDF5 file format" and
"Space Ranger spatial outputs"), so the files open in scanpy, Seurat and 10x's own tools.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp


def _strings(values) -> np.ndarray:
    return np.array([str(v).encode() for v in values], dtype=bytes)


def write_10x_h5(
    path: str | Path,
    counts: sp.csr_matrix,
    barcodes: list[str],
    gene_ids: list[str],
    gene_names: list[str],
    genome: str = "GRCh38",
) -> None:
    """Write a Cell Ranger v3 filtered_feature_bc_matrix.h5.

    counts: cells x genes integer UMI counts (CSR). The file stores the same numbers as a
    genes x cells CSC matrix, which is the CSR matrix of cells x genes read column-wise.
    Written without HDF5 timestamps so the same input gives the same bytes.
    """
    counts = sp.csr_matrix(counts)
    counts.sort_indices()
    n_cells, n_genes = counts.shape
    if len(barcodes) != n_cells or len(gene_ids) != n_genes or len(gene_names) != n_genes:
        raise ValueError("barcodes must match rows and gene IDs/names columns of counts")

    def dataset(group, name, data):
        # gzip as Cell Ranger does; shuffle helps integer arrays compress.
        group.create_dataset(name, data=data, track_times=False, compression="gzip", shuffle=True)

    with h5py.File(path, "w") as handle:
        handle.attrs["filetype"] = "matrix"
        handle.attrs["version"] = 2
        handle.attrs["chemistry_description"] = "Single Cell 3' v3"
        handle.attrs["library_ids"] = _strings(["oncofactor_simulated"])
        handle.attrs["original_gem_groups"] = np.array([1], dtype=np.int64)
        matrix = handle.create_group("matrix")
        dataset(matrix, "barcodes", _strings(barcodes))
        dataset(matrix, "data", counts.data.astype(np.int32))
        dataset(matrix, "indices", counts.indices.astype(np.int64))
        dataset(matrix, "indptr", counts.indptr.astype(np.int64))
        dataset(matrix, "shape", np.array([n_genes, n_cells], dtype=np.int32))
        features = matrix.create_group("features")
        dataset(features, "_all_tag_keys", _strings(["genome"]))
        dataset(features, "feature_type", _strings(["Gene Expression"] * n_genes))
        dataset(features, "genome", _strings([genome] * n_genes))
        dataset(features, "id", _strings(gene_ids))
        dataset(features, "name", _strings(gene_names))


def write_spaceranger_outs(
    outs: str | Path,
    counts: sp.csr_matrix,
    positions: pd.DataFrame,
    gene_ids: list[str],
    gene_names: list[str],
    scalefactors: dict,
) -> None:
    """Write a Space Ranger (v2+) outs/ folder without images.

    positions: one row per spot on the slide (in and out of tissue) with columns barcode, in_tissue,
    array_row, array_col, pxl_row_in_fullres, pxl_col_in_fullres (pixels of the full-resolution image).
    counts: in-tissue spots x genes, rows in the order of the in-tissue rows of `positions`, as Space
    Ranger's filtered matrix holds only spots under tissue.
    """
    outs = Path(outs)
    (outs / "spatial").mkdir(parents=True, exist_ok=True)
    in_tissue = positions.loc[positions["in_tissue"] == 1, "barcode"].tolist()
    write_10x_h5(outs / "filtered_feature_bc_matrix.h5", counts, in_tissue, gene_ids, gene_names)
    columns = ["barcode", "in_tissue", "array_row", "array_col", "pxl_row_in_fullres", "pxl_col_in_fullres"]
    positions[columns].to_csv(outs / "spatial" / "tissue_positions.csv", index=False)
    with (outs / "spatial" / "scalefactors_json.json").open("w") as handle:
        json.dump(scalefactors, handle, indent=2, sort_keys=True)
        handle.write("\n")
    for name, scale in (("tissue_hires_image.png", scalefactors["tissue_hires_scalef"]), ("tissue_lowres_image.png", scalefactors["tissue_lowres_scalef"])):
        _tissue_image(positions, scale, scalefactors["spot_diameter_fullres"]).save(outs / "spatial" / name)


def _tissue_image(positions: pd.DataFrame, scale: float, spot_diameter: float):
    """A plain stand-in for the H&E image: pink where spots lie on tissue, white elsewhere.

    Space Ranger always writes tissue_hires_image.png and tissue_lowres_image.png, and readers such as
    scanpy's read_visium expect them.
    """
    from PIL import Image, ImageDraw

    width = int((positions["pxl_col_in_fullres"].max() + 600) * scale) + 1
    height = int((positions["pxl_row_in_fullres"].max() + 600) * scale) + 1
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    radius = max(1.0, spot_diameter * scale)
    for row in positions.loc[positions["in_tissue"] == 1].itertuples():
        x, y = row.pxl_col_in_fullres * scale, row.pxl_row_in_fullres * scale
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(222, 150, 190))
    return image
