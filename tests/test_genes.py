"""Gene identifier harmonization: namespaces, version stripping, mapping, summing, species."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from oncofactor.genes import build_gene_map, classify_features, detect_species, feature_table, harmonize_genes, read_annotation
from oncofactor.sample_readers import read_10x_h5, read_count_table, read_visium


def sample(ids, symbols, counts) -> ad.AnnData:
    var = pd.DataFrame({"gene_id": ids, "gene_symbol": symbols}, index=[str(i) for i in range(len(ids))])
    return ad.AnnData(X=sp.csr_matrix(np.array(counts, dtype=np.float32)), var=var)


REFERENCE = sample(
    ["ENSG00000111640", "ENSG00000075624", "ENSG00000198804", "ENSG00000000001", "ENSG00000000002"],
    ["GAPDH", "ACTB", "MT-CO1", "DUP", "DUP"],
    [[1, 2, 3, 4, 5]],
)


def gene_map(*samples) -> pd.DataFrame:
    return build_gene_map({f"s{i}": feature_table(s.var) for i, s in enumerate(samples)})


def test_feature_table_strips_versions_and_moves_ids_out_of_the_symbol_column():
    table = feature_table(pd.DataFrame({"gene_id": ["ENSG00000111640.15", None, " "], "gene_symbol": ["GAPDH", "ENSG00000075624.3", "ACTB "]}))
    assert table["gene_id"].tolist() == ["ENSG00000111640", "ENSG00000075624", None]
    assert table["gene_symbol"].tolist() == ["GAPDH", None, "ACTB"]
    assert table["raw_id"].tolist() == ["ENSG00000111640.15", "ENSG00000075624.3", None]


def test_symbol_namespace_maps_ids_through_other_samples():
    ids_only = sample(["ENSG00000111640.15", "ENSG00000075624", "ENSG00000099999"], [None, None, None], [[7, 8, 9]])
    harmonized, report = harmonize_genes(ids_only, "symbol", gene_map(REFERENCE, ids_only))
    assert list(harmonized.var_names) == ["GAPDH", "ACTB"]
    assert harmonized.X.toarray().tolist() == [[7, 8]]
    assert report.to_dict("list") == {
        "original_id": ["ENSG00000111640.15", "ENSG00000075624", "ENSG00000099999"],
        "harmonized_id": ["GAPDH", "ACTB", None],
        "action": ["mapped", "mapped", "dropped_unmapped"],
    }
    assert harmonized.var.loc["GAPDH", "gene_id"] == "ENSG00000111640"


def test_duplicated_genes_are_summed():
    harmonized, report = harmonize_genes(REFERENCE, "symbol", gene_map(REFERENCE))
    assert list(harmonized.var_names) == ["GAPDH", "ACTB", "MT-CO1", "DUP"]
    assert harmonized.X.toarray().tolist() == [[1, 2, 3, 9]]
    assert report["action"].tolist() == ["kept", "kept", "kept", "summed", "summed"]


def test_ensembl_namespace_strips_versions_and_drops_ambiguous_symbols():
    versioned = sample(["ENSG00000111640.15", None, None, None], ["GAPDH", "ACTB", "DUP", "NOVEL"], [[1, 2, 3, 4]])
    harmonized, report = harmonize_genes(versioned, "ensembl", gene_map(REFERENCE, versioned))
    assert list(harmonized.var_names) == ["ENSG00000111640", "ENSG00000075624"]
    assert report["action"].tolist() == ["version_stripped", "mapped", "dropped_ambiguous", "dropped_unmapped"]
    assert harmonized.var["gene_symbol"].tolist() == ["GAPDH", "ACTB"]


def test_species_detection():
    assert detect_species(feature_table(REFERENCE.var)) == "human"
    mouse = pd.DataFrame({"gene_id": [None, None], "gene_symbol": ["mt-Co1", "Actb"]})
    assert detect_species(feature_table(mouse)) == "mouse"
    by_case = lambda symbols: detect_species(feature_table(pd.DataFrame({"gene_id": [None] * len(symbols), "gene_symbol": symbols})))  # noqa: E731
    assert by_case(["CDH2", "SIGLEC14", "GNPDA1"]) == "human"
    assert by_case(["Cdh2", "Siglec14", "Gnpda1"]) == "mouse"
    assert by_case(["Cdh2", "SIGLEC14"]) == "unknown"
    assert by_case(["1", "2"]) == "unknown"


def test_bad_namespace():
    with pytest.raises(ValueError, match="namespace"):
        harmonize_genes(REFERENCE, "entrez", gene_map(REFERENCE))


def test_real_inputs_species(shared_data):
    scanpy = shared_data / "scverse_scanpy/tests/_data"
    human = read_10x_h5(scanpy / "10x_data/3.0.0/filtered_feature_bc_matrix.h5")
    assert detect_species(feature_table(human.var)) == "human"
    mouse = read_visium(shared_data / "Perik-Zavodskii_CoexpressDeconvolve")
    assert detect_species(feature_table(mouse.var)) == "mouse"
    ctc = read_count_table(shared_data / "krishan57gupta_iCTC/converted/raw_test_data__Clearcell_Polaris_sample_test.csv.gz")
    harmonized, report = harmonize_genes(ctc, "symbol", gene_map(human, ctc))
    assert harmonized.n_vars == report["harmonized_id"].nunique()
    assert np.isclose(harmonized.X.sum(), ctc.X.sum())


def test_each_feature_is_classified_on_its_own_and_placeholders_are_refused():
    var = pd.DataFrame({
        "gene_id": ["ENSG00000111640.15", "DSCAM", "ENSG00000243485", "ENSGXXXXXX", "ENSGXXXXXX", "ENSGXXXXXX", "Y_RNA", "Y_RNA", "Y_RNA"],
        "gene_symbol": ["GAPDH", "DSCAM", "ENSG00000243485", "A", "B", "C", "ENSG00000000001", "ENSG00000000002", "ENSG00000000003"],
    })
    table, notes = classify_features(var)
    # An Ensembl ID in the symbol column is an ID; a symbol in the ID column is a symbol.
    assert table["gene_id"].tolist() == [
        "ENSG00000111640", None, "ENSG00000243485", None, None, None, "ENSG00000000001", "ENSG00000000002", "ENSG00000000003",
    ]
    assert table["gene_symbol"].tolist() == ["GAPDH", "DSCAM", None, "A", "B", "C", "Y_RNA", "Y_RNA", "Y_RNA"]
    # A repeated symbol in a swapped ID column is no placeholder; an Ensembl-like value for many genes is.
    assert notes == ["ID 'ENSGXXXXXX' is given to 3 features: a placeholder, not an identifier; 3 of them are named by their symbols instead"]
    # Under the ensembl namespace the placeholder's features are not summed into one.
    harmonized, report = harmonize_genes(sample(list(var["gene_id"]), list(var["gene_symbol"]), [[1] * 9]), "ensembl", gene_map(REFERENCE))
    assert "ENSGXXXXXX" not in set(harmonized.var_names)
    assert report.loc[3:5, "action"].tolist() == ["dropped_unmapped"] * 3


def test_gene_annotation_tables(tmp_path):
    (tmp_path / "biomart.tsv").write_text("gene_id\tgene_symbol\nENSG00000111640.15\tGAPDH\nENSG00000075624\tACTB\n")
    (tmp_path / "features.tsv.gz").write_bytes(__import__("gzip").compress(b"ENSG00000198804\tMT-CO1\tGene Expression\n"))
    assert read_annotation(tmp_path / "biomart.tsv").to_dict("list") == {"gene_id": ["ENSG00000111640", "ENSG00000075624"], "gene_symbol": ["GAPDH", "ACTB"]}
    assert read_annotation(tmp_path / "features.tsv.gz").to_dict("list") == {"gene_id": ["ENSG00000198804"], "gene_symbol": ["MT-CO1"]}
    (tmp_path / "bad.tsv").write_text("id\tname\nx\ty\n")
    with pytest.raises(ValueError, match="needs columns gene_id and gene_symbol"):
        read_annotation(tmp_path / "bad.tsv")
