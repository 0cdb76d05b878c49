"""Readers: every supported format loads as raw counts, on simulated and on real public data."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
import scipy.sparse as sp

from oncofactor.sample_readers import (
    SampleReadError,
    counts_from_anndata,
    read_10x_h5,
    read_10x_mtx,
    read_count_table,
    read_h5ad,
    read_visium,
    read_zarr,
)

SCANPY = "scverse_scanpy/tests/_data"


def dense(adata) -> np.ndarray:
    return adata.X.toarray() if sp.issparse(adata.X) else np.asarray(adata.X)


def test_simulated_10x_h5_matches_scanpy(small_cohort):
    sheet = pd.read_csv(small_cohort / "samples.tsv", sep="\t")
    path = small_cohort / sheet.query("modality == 'scrna'")["path"].iloc[0]
    ours, reference = read_10x_h5(path), sc.read_10x_h5(path)
    assert list(ours.obs_names) == list(reference.obs_names)
    assert list(ours.var["gene_symbol"]) == list(reference.var_names)
    assert list(ours.var["gene_id"]) == list(reference.var["gene_ids"])
    assert np.array_equal(dense(ours), dense(reference))
    assert ours.X.dtype == np.float32 and sp.isspmatrix_csr(ours.X)


def test_simulated_visium_keeps_in_tissue_spots_with_coordinates(small_cohort):
    sheet = pd.read_csv(small_cohort / "samples.tsv", sep="\t")
    outs = small_cohort / sheet.query("modality == 'spatial'")["path"].iloc[0]
    adata = read_visium(outs)
    positions = pd.read_csv(outs / "spatial" / "tissue_positions.csv").set_index("barcode")
    assert list(adata.obs_names) == list(positions.index[positions["in_tissue"] == 1])
    expected = positions.loc[adata.obs_names, ["pxl_col_in_fullres", "pxl_row_in_fullres"]].to_numpy()
    assert np.array_equal(adata.obsm["spatial"], expected)
    library = adata.uns["spatial"][outs.parent.name]
    assert library["scalefactors"]["spot_diameter_fullres"] > 0
    assert set(library["images"]) == {"hires", "lowres"} and library["images"]["hires"].ndim == 3


def test_simulated_ctc_table_separates_ctcs_from_blood_cells(tmp_path):
    table = pd.DataFrame({"cell_id": ["c1", "c2", "w1"], "cell_class": ["CTC", "CTC", "WBC"], "EPCAM": [5.0, 2.5, 0], "PTPRC": [0, 1, 9]})
    table.to_csv(tmp_path / "ctc.csv", index=False)
    adata = read_count_table(tmp_path / "ctc.csv")
    assert list(adata.obs_names) == ["c1", "c2", "w1"]
    assert list(adata.obs["cell_class"]) == ["CTC", "CTC", "WBC"]
    assert list(adata.var["gene_symbol"]) == ["EPCAM", "PTPRC"]
    assert dense(adata).tolist() == [[5, 0], [2, 1], [0, 9]]  # 2.5 rounds half to even
    assert adata.uns["oncofactor_notes"] == ["1 of 4 non-zero values were not whole numbers (expected counts); rounded to the nearest integer"]


def test_count_table_orientation_can_be_forced(tmp_path):
    table = pd.DataFrame({"gene": ["EPCAM", "KRT8"], "cellA": [1, 2], "cellB": [3, 4], "cellC": [0, 0]})
    table.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    auto = read_count_table(tmp_path / "t.tsv")
    assert auto.shape == (2, 3), "the longer side (3 cells here) is taken as genes"
    forced = read_count_table(tmp_path / "t.tsv", orientation="genes_by_cells")
    assert forced.shape == (3, 2) and list(forced.var["gene_symbol"]) == ["EPCAM", "KRT8"]


@pytest.mark.parametrize(
    ("values", "message"),
    [([[1, -2]], "negative counts"), ([[1, None]], "empty count cells")],
)
def test_count_table_errors(tmp_path, values, message):
    pd.DataFrame(values, columns=["A", "B"]).assign(cell_id=["c1"]).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(SampleReadError, match=message):
        read_count_table(tmp_path / "t.csv", orientation="cells_by_genes")


def test_h5ad_counts_found_in_layers_or_raw(tmp_path):
    counts = sp.csr_matrix(np.array([[1, 0, 3], [0, 2, 5]], dtype=np.float32))
    adata = ad.AnnData(X=counts.copy(), var=pd.DataFrame(index=["A", "B", "C"]))
    adata.layers["counts"] = counts.copy()
    adata.X = sp.csr_matrix(np.log1p(counts.toarray()))
    assert np.array_equal(dense(counts_from_anndata(adata, "x")), counts.toarray())

    del adata.layers["counts"]
    adata.raw = ad.AnnData(X=counts.copy(), var=pd.DataFrame(index=["A", "B", "C"]))
    adata.write_h5ad(tmp_path / "raw.h5ad")
    assert np.array_equal(dense(read_h5ad(tmp_path / "raw.h5ad")), counts.toarray())

    adata.raw = None
    with pytest.raises(SampleReadError, match=r"X holds non-integer values \(e.g. 0.6931.*layers\['counts'\]"):
        counts_from_anndata(adata, "x")
    adata.X = sp.csr_matrix(-counts.toarray())
    with pytest.raises(SampleReadError, match="X holds negative values"):
        counts_from_anndata(adata, "x")


def test_legacy_h5_with_two_genomes_needs_one_picked(shared_data):
    path = shared_data / SCANPY / "10x_data/1.2.0/multiple_genomes.h5"
    with pytest.raises(SampleReadError, match="genomes another_genome, hg19_chr21; pick one"):
        read_10x_h5(path)
    assert read_10x_h5(path, genome="hg19_chr21").shape == (12, 343)
    with pytest.raises(SampleReadError, match="genome 'mm10' is not among them"):
        read_10x_h5(path, genome="mm10")


@pytest.mark.parametrize(
    ("h5", "mex"),
    [
        ("10x_data/3.0.0/filtered_feature_bc_matrix.h5", "10x_data/3.0.0/filtered_feature_bc_matrix"),
        ("10x_data/1.2.0/filtered_gene_bc_matrices_h5.h5", "10x_data/1.2.0/filtered_gene_bc_matrices/hg19_chr21"),
    ],
)
def test_real_10x_h5_and_mex_give_the_same_matrix(shared_data, h5, mex):
    from_h5, from_mex = read_10x_h5(shared_data / SCANPY / h5), read_10x_mtx(shared_data / SCANPY / mex)
    assert from_h5.n_obs > 0 and from_h5.shape == from_mex.shape
    assert list(from_h5.obs_names) == list(from_mex.obs_names)
    assert list(from_h5.var["gene_id"]) == list(from_mex.var["gene_id"])
    assert (from_h5.X != from_mex.X).nnz == 0
    assert np.array_equal(dense(from_h5), dense(sc.read_10x_h5(shared_data / SCANPY / h5)))


@pytest.mark.filterwarnings("ignore:Use `squidpy.read.visium`:FutureWarning")
def test_real_visium_sections_load_with_coordinates(shared_data):
    cytassist = read_visium(shared_data / "Perik-Zavodskii_CoexpressDeconvolve")
    assert cytassist.shape == (2898, 19465)
    assert cytassist.obsm["spatial"].shape == (2898, 2) and np.isfinite(cytassist.obsm["spatial"]).all()
    assert cytassist.var["gene_id"].str.startswith("ENSMUSG").all()

    v1 = read_visium(shared_data / SCANPY / "visium_data/1.0.0")
    reference = sc.read_visium(shared_data / SCANPY / "visium_data/1.0.0")
    assert sorted(v1.obs_names) == sorted(reference.obs_names)
    aligned = v1[reference.obs_names]
    assert np.array_equal(aligned.obsm["spatial"], reference.obsm["spatial"])
    assert np.array_equal(dense(aligned), dense(reference))
    ours, theirs = v1.uns["spatial"]["1.0.0"], next(iter(reference.uns["spatial"].values()))
    assert ours["scalefactors"] == theirs["scalefactors"]
    for resolution in ("hires", "lowres"):
        assert np.array_equal(ours["images"][resolution], theirs["images"][resolution])


def test_real_single_ctc_tables_load(shared_data):
    poonia = read_count_table(shared_data / "SaritaPoonia_unCTC/converted/Poonia_et_al._CountData.csv.gz")
    assert poonia.shape == (72, 23732)
    assert "rounded to the nearest integer" in poonia.uns["oncofactor_notes"][0]
    metadata = pd.read_csv(shared_data / "SaritaPoonia_unCTC/converted/Poonia_et_al._metaData.csv.gz")
    assert set(poonia.obs_names) == set(metadata["cell"])
    assert dense(poonia).min() >= 0 and np.array_equal(dense(poonia), np.round(dense(poonia)))

    blood = read_count_table(shared_data / "krishan57gupta_iCTC/converted/raw_test_data__test_blood_sample.csv.gz")
    assert blood.shape == (500, 2545)


def test_real_anndata_zarr_loads_as_counts(shared_data):
    adata = read_zarr(shared_data / SCANPY / "10x-10k-subset.zarr")
    assert adata.shape == (10000, 1000)
    assert adata.var["gene_id"].str.startswith("ENSMUSG").all()
    assert np.array_equal(adata.X.data, np.round(adata.X.data))


def test_visium_matrix_barcodes_need_positions(small_cohort, tmp_path):
    import shutil

    sheet = pd.read_csv(small_cohort / "samples.tsv", sep="\t")
    outs = shutil.copytree(small_cohort / sheet.query("modality == 'spatial'")["path"].iloc[0], tmp_path / "outs")
    positions = pd.read_csv(outs / "spatial" / "tissue_positions.csv")
    in_tissue = positions[positions["in_tissue"] == 1]
    positions.drop(index=in_tissue.index[:2]).to_csv(outs / "spatial" / "tissue_positions.csv", index=False)
    with pytest.raises(SampleReadError, match="2 barcodes of the matrix have no position") as raised:
        read_visium(outs)
    assert any(barcode in str(raised.value) for barcode in in_tissue["barcode"].iloc[:2])
