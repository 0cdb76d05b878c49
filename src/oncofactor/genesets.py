"""Gene sets (GMT files) and their enrichment in MOFA factor weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from oncofactor.clinical import benjamini_hochberg
from oncofactor.notices import LEFT_OUT, Notice

ENRICHMENT_COLUMNS = [
    "factor", "view", "feature_set", "source", "set_size", "n_in_view", "direction", "effect",
    "statistic", "p_value", "q_value",
]


@dataclass
class GmtProblem:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}, line {self.line}" if self.line else self.path
        return f"{where}: {self.message}"


def read_gmt(path: str | Path) -> tuple[dict[str, list[str]], list[GmtProblem]]:
    """Gene sets of a GMT file (name -> genes in file order, duplicates dropped) and the problems found.

    Each line: set name, description, then at least one gene, tab-separated. A problem names the file
    and line; sets on bad lines are left out.
    """
    path = Path(path)
    problems: list[GmtProblem] = []
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}, [GmtProblem(str(path), None, "file not found; fix feature_sets.gmt in the config")]
    except (OSError, UnicodeDecodeError) as error:
        return {}, [GmtProblem(str(path), None, f"cannot be read as text ({error})")]
    sets: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.rstrip("\r").split("\t")
        genes = [gene.strip() for gene in fields[2:] if gene.strip()]
        name = fields[0].strip()
        if len(fields) < 3 or not name or not genes:
            problems.append(GmtProblem(str(path), number, "needs a set name, a description and at least one gene, separated by tabs"))
        elif name in sets:
            problems.append(GmtProblem(str(path), number, f"set '{name}' is defined again; set names must be unique within a file"))
        else:
            sets[name] = list(dict.fromkeys(genes))
    if not sets and not problems:
        problems.append(GmtProblem(str(path), None, "holds no gene sets"))
    return sets, problems


def enrichment(weights: pd.DataFrame, gene_sets: dict[str, dict[str, list[str]]], min_size: int, max_size: int) -> pd.DataFrame:
    """Enrichment of each gene set in each factor's weights, per view (ENRICHMENT_COLUMNS).

    weights: the long weight table of `mofa_model` (view, feature, factor, weight, scaled_weight).
    gene_sets: source (the GMT path) -> set name -> genes. For each factor, view and set with
    min_size..max_size of its genes among the view's features, the scaled weights of the set's genes are
    compared with the view's other features by a two-sided Mann-Whitney test (a rank version of MOFA2's
    feature-set test on weights). effect: mean scaled weight inside minus outside the set (scaled weights
    lie in -1..1); direction: its sign. q-values are BH-adjusted across the table.
    """
    rows = []
    for (view, factor), table in weights.groupby(["view", "factor"], sort=False):
        features = table["feature"].to_numpy()
        values = table["scaled_weight"].to_numpy()
        for source, sets in gene_sets.items():
            for name, genes in sets.items():
                inside = np.isin(features, genes)
                n_inside = int(inside.sum())
                if n_inside < min_size or n_inside > max_size or n_inside == len(features):
                    continue
                statistic, p = stats.mannwhitneyu(values[inside], values[~inside], alternative="two-sided")
                effect = values[inside].mean() - values[~inside].mean()
                rows.append(dict(factor=factor, view=view, feature_set=name, source=source, set_size=len(genes), n_in_view=n_inside,
                                 direction="positive" if effect > 0 else "negative", effect=effect, statistic=statistic, p_value=p))
    result = pd.DataFrame(rows, columns=ENRICHMENT_COLUMNS)
    result["q_value"] = benjamini_hochberg(result["p_value"])
    return result


def untested_sets(gene_sets: dict[str, dict[str, list[str]]], tested: pd.DataFrame, min_size: int, max_size: int) -> list[Notice]:
    """A notice for each gene set that `enrichment` tested in no view (too few or too many of its
    genes among any view's features)."""
    done = set(zip(tested["source"], tested["feature_set"]))
    return [
        Notice(
            "feature_set_enrichment", "feature_set", name, LEFT_OUT,
            f"not tested in any view: no view holds between feature_sets.min_size = {min_size} and max_size = {max_size} "
            f"of its {len(genes)} genes (from {source}) without it holding the view's every feature",
            "check that its gene names match the cohort's namespace (genes.namespace), or lower feature_sets.min_size",
        )
        for source, sets in gene_sets.items() for name, genes in sets.items() if (source, name) not in done
    ]
