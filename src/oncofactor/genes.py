"""Gene identifiers: one namespace per cohort, Ensembl versions stripped, duplicates summed.

The symbol <-> Ensembl mapping comes from the cohort's own feature tables (Cell Ranger files name
both), so a sample that names genes only one way is mapped through the others. Every feature's fate
is reported: kept, version_stripped, mapped, summed, dropped_unmapped or dropped_ambiguous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

ENSEMBL_ID = re.compile(r"^(ENS[A-Z]*G\d{11})(\.\d+)?(_PAR_Y)?$")
HUMAN_ID, MOUSE_ID = re.compile(r"^ENSG\d{11}"), re.compile(r"^ENSMUSG\d{11}")


def _clean(values) -> pd.Series:
    series = pd.Series(values, dtype=object).map(lambda v: v.strip() if isinstance(v, str) else None)
    return series.where(series.map(lambda v: bool(v) and v.lower() not in {"nan", "none"}), None)


# An Ensembl-like value ('ENS...') given to this many features is a placeholder (e.g. 'ENSGXXXXXX'
# written for every gene), not an identifier: a real Ensembl ID names one gene.
PLACEHOLDER_MIN_FEATURES = 3


def classify_features(var: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The features of a sample as `gene_id` (Ensembl, version stripped) and `gene_symbol`, None
    where unknown, each feature classified on its own: whichever of its two names looks like an
    Ensembl ID is its ID, the other its symbol (files put IDs in the symbol column, or symbols in the
    ID column). An Ensembl-like value in the ID column given to PLACEHOLDER_MIN_FEATURES or more
    features is a placeholder and is not used; those features keep their symbols.

    Returns the table (raw_id, gene_id, gene_symbol; one row per feature, in order) and notes on
    what was refused.
    """
    first, second = _clean(var["gene_id"]).reset_index(drop=True), _clean(var["gene_symbol"]).reset_index(drop=True)
    first_is_id = first.map(lambda v: bool(v and ENSEMBL_ID.match(v)))
    second_is_id = second.map(lambda v: bool(v and ENSEMBL_ID.match(v)))
    ids = first.where(first_is_id, second.where(second_is_id, None))
    symbols = second.where(second.notna() & ~second_is_id, first.where(first.notna() & ~first_is_id, None))

    notes = []
    id_like = first[first.map(lambda v: bool(v) and v.upper().startswith("ENS"))]
    repeats = id_like.value_counts()
    for placeholder, n_features in repeats[repeats >= PLACEHOLDER_MIN_FEATURES].items():
        n_named = int(((first == placeholder) & second.notna() & ~second_is_id).sum())
        notes.append(
            f"ID '{placeholder}' is given to {n_features} features: a placeholder, not an identifier; "
            f"{n_named} of them are named by their symbols instead"
        )
        ids[ids == placeholder] = None
        symbols[symbols == placeholder] = None
    stripped = ids.map(lambda i: ENSEMBL_ID.match(i).group(1) if i else None)
    return pd.DataFrame({"raw_id": ids, "gene_id": stripped, "gene_symbol": symbols}), notes


def feature_table(var: pd.DataFrame) -> pd.DataFrame:
    """The table of `classify_features`, without its notes."""
    return classify_features(var)[0]


def detect_species(features: pd.DataFrame) -> str:
    """'human', 'mouse' or 'unknown', from Ensembl ID prefixes and mitochondrial gene symbols.

    Without either, the case of the symbols decides: human symbols are upper case (ACTB), mouse
    symbols capitalised (Actb); 'unknown' unless 90% of the symbols agree.
    """
    ids, symbols = features["gene_id"].dropna(), features["gene_symbol"].dropna()
    human = ids.str.match(HUMAN_ID).sum() + symbols.str.startswith("MT-").sum()
    mouse = ids.str.match(MOUSE_ID).sum() + symbols.str.startswith("mt-").sum()
    if human or mouse:
        return "human" if human >= mouse else "mouse"
    lettered = symbols[symbols.str.contains("[A-Za-z]{2}")]
    if lettered.empty:
        return "unknown"
    if (lettered == lettered.str.upper()).mean() > 0.9:
        return "human"
    if lettered.str.match(r"^[A-Z][a-z0-9]").mean() > 0.9:
        return "mouse"
    return "unknown"


def build_gene_map(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """gene_id, gene_symbol, n_samples: every ID-symbol pair named together in a sample's features."""
    pairs = [
        t.loc[t["gene_id"].notna() & t["gene_symbol"].notna(), ["gene_id", "gene_symbol"]].drop_duplicates().assign(sample=name)
        for name, t in tables.items()
    ]
    if not pairs:
        return pd.DataFrame(columns=["gene_id", "gene_symbol", "n_samples"])
    table = pd.concat(pairs, ignore_index=True)
    counted = table.groupby(["gene_id", "gene_symbol"], sort=True)["sample"].nunique().rename("n_samples")
    return counted.reset_index()


def read_annotation(path) -> pd.DataFrame:
    """gene_id, gene_symbol pairs of a gene annotation table: a TSV/CSV with columns gene_id and
    gene_symbol (e.g. a BioMart export, renamed), or a Cell Ranger reference's features.tsv[.gz] /
    genes.tsv (no header: Ensembl ID, symbol[, feature type]). Raises ValueError naming the file."""
    from oncofactor.user_tables import TableReadError, read_table_as_text

    try:
        table = read_table_as_text(path)
    except TableReadError as error:
        raise ValueError(str(error)) from None
    if ENSEMBL_ID.match(str(table.columns[0])):  # no header: the first line is a feature
        table = pd.concat([table.columns.to_frame().T, table], ignore_index=True)
        table.columns = ["gene_id", "gene_symbol", *[f"column_{i}" for i in range(3, table.shape[1] + 1)]][: table.shape[1]]
    missing = [c for c in ("gene_id", "gene_symbol") if c not in table.columns]
    if missing:
        raise ValueError(
            f"{path}: a gene annotation needs columns gene_id and gene_symbol (or the headerless layout of a Cell "
            f"Ranger features.tsv); the header has: {', '.join(map(str, table.columns))}"
        )
    features = feature_table(table[["gene_id", "gene_symbol"]])
    pairs = features.dropna(subset=["gene_id", "gene_symbol"])[["gene_id", "gene_symbol"]]
    if pairs.empty:
        raise ValueError(f"{path}: no row pairs an Ensembl ID (ENSG..., ENSMUSG...) with a symbol")
    return pairs.drop_duplicates().reset_index(drop=True)


def cohort_species(species: pd.Series) -> tuple[str, str]:
    """The cohort's species from its samples' (sample ID -> 'human', 'mouse' or 'unknown'): the one
    most samples have, and '' or an explanation when it cannot be told (a tie)."""
    known = species[species != "unknown"].value_counts()
    if known.empty:
        return "unknown", ""
    if len(known) > 1 and known.iloc[0] == known.iloc[1]:
        listing = ", ".join(f"{n} {name}" for name, n in known.items())
        return "unknown", f"as many samples of one species as of another ({listing})"
    return str(known.index[0]), ""


@dataclass(frozen=True)
class GeneLookup:
    """The cohort's gene map as lookups: gene_id -> symbol and symbol -> gene_id where the map names
    exactly one, and the symbols it gives several IDs. Built once per cohort (`gene_lookup`), not per
    sample: building it is a pass over the whole map, which made validating N samples cost N passes."""

    id_to_symbol: pd.Series
    symbol_to_id: pd.Series
    ambiguous_symbols: pd.Index


def _single_targets(gene_map: pd.DataFrame, source: str, target: str) -> tuple[pd.Series, pd.Index]:
    """source -> target where the map names exactly one target (index unique); and the ambiguous sources."""
    pairs = gene_map[[source, target]].drop_duplicates()
    n_targets = pairs[source].map(pairs[source].value_counts())
    single = pairs[n_targets == 1]
    return pd.Series(single[target].to_numpy(), index=single[source].to_numpy(), dtype=object), pd.Index(pairs.loc[n_targets > 1, source].unique())


def gene_lookup(gene_map: pd.DataFrame) -> GeneLookup:
    """The lookups of a `build_gene_map` table (gene_id, gene_symbol, ...)."""
    id_to_symbol, _ = _single_targets(gene_map, "gene_id", "gene_symbol")
    symbol_to_id, ambiguous_symbols = _single_targets(gene_map, "gene_symbol", "gene_id")
    return GeneLookup(id_to_symbol, symbol_to_id, ambiguous_symbols)


def gene_identifiers(features: pd.DataFrame, namespace: str, lookup: GeneLookup) -> pd.DataFrame:
    """Each feature's name in `namespace` ('symbol' or 'ensembl'), from its own names or the map.

    features: a `feature_table` (raw_id, gene_id, gene_symbol; None where unknown). Returns one row
    per feature: original_id (the name the file used in that namespace, else the other),
    harmonized_id (None when no name is known) and action (kept, version_stripped, mapped,
    dropped_unmapped, dropped_ambiguous).
    """
    if namespace not in ("symbol", "ensembl"):
        raise ValueError(f"namespace must be 'symbol' or 'ensembl', got {namespace!r}")
    raw, ids, symbols = (features[column].reset_index(drop=True).astype(object) for column in ("raw_id", "gene_id", "gene_symbol"))
    has_id, has_symbol = ids.notna(), symbols.notna()
    if namespace == "symbol":
        original = symbols.where(has_symbol, raw)
        mapped = ids.map(lookup.id_to_symbol)
        target = symbols.where(has_symbol, mapped)
        action = np.select([has_symbol, mapped.notna()], ["kept", "mapped"], "dropped_unmapped")
    else:
        original = raw.where(raw.notna(), symbols)
        ambiguous = ~has_id & symbols.isin(lookup.ambiguous_symbols)
        mapped = symbols.map(lookup.symbol_to_id)
        target = ids.where(has_id, mapped)
        action = np.select([has_id & (ids == raw), has_id, ambiguous, mapped.notna()],
                           ["kept", "version_stripped", "dropped_ambiguous", "mapped"], "dropped_unmapped")
    return pd.DataFrame({
        "original_id": original.where(original.notna(), None),
        "harmonized_id": target.where(target.notna(), None),
        "action": action.astype(object),
    })


def harmonize_genes(
    adata: ad.AnnData, namespace: str, gene_map: pd.DataFrame, features: pd.DataFrame | None = None
) -> tuple[ad.AnnData, pd.DataFrame]:
    """Rename a sample's genes into `namespace` ('symbol' or 'ensembl') and sum duplicates.

    adata: cells x genes counts with var columns gene_id and gene_symbol (as the readers return).
    features: its `feature_table`, when the caller has it. Returns the harmonized AnnData (var index
    = harmonized ID; var gene_id and gene_symbol as known from the sample or the map, categorical)
    and the report of `gene_identifiers`, with action 'summed' for features sharing a name.
    """
    features = feature_table(adata.var) if features is None else features
    lookup = gene_lookup(gene_map)
    report = gene_identifiers(features, namespace, lookup)
    kept = report["harmonized_id"].notna().to_numpy()
    repeated = report["harmonized_id"].duplicated(keep=False) & report["harmonized_id"].notna()
    report.loc[repeated, "action"] = "summed"

    names = pd.Index(pd.unique(report.loc[kept, "harmonized_id"]))
    if kept.all() and not repeated.any():  # nothing to drop or sum: the usual case, no matrix product needed
        counts = sp.csr_matrix(adata.X)
    else:
        columns = names.get_indexer(report.loc[kept, "harmonized_id"])
        aggregate = sp.csr_matrix((np.ones(kept.sum(), dtype=np.float32), (np.flatnonzero(kept), columns)), shape=(len(report), len(names)))
        counts = sp.csr_matrix(adata.X) @ aggregate

    first = features[kept].groupby(report.loc[kept, "harmonized_id"].to_numpy(), sort=False).first()
    var = pd.DataFrame(index=names)
    var["gene_id"] = first["gene_id"].reindex(names)
    var["gene_symbol"] = first["gene_symbol"].reindex(names)
    if namespace == "symbol":
        var["gene_symbol"] = names
        known = var["gene_id"].notna()
        var["gene_id"] = var["gene_id"].where(known, lookup.symbol_to_id.reindex(names))
    else:
        var["gene_id"] = names
        known = var["gene_symbol"].notna()
        var["gene_symbol"] = var["gene_symbol"].where(known, lookup.id_to_symbol.reindex(names))
    for column in ("gene_id", "gene_symbol"):  # categorical: anndata writes missing values in them
        var[column] = pd.Categorical(var[column].astype(object).where(var[column].notna(), None))
    out = ad.AnnData(X=counts.tocsr(), obs=adata.obs.copy(), var=var, obsm=dict(adata.obsm), uns=dict(adata.uns))
    return out, report
