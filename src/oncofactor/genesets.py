"""Gene sets (GMT files) and their enrichment in MOFA factor weights, corrected for inter-gene correlation."""

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
    "inter_gene_correlation", "statistic", "p_value", "q_value",
]
MIN_CORRELATION = 0.01  # limma camera's default inter.gene.cor


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


def mean_correlation(residuals: np.ndarray) -> float:
    """Mean correlation over all pairs of columns of `residuals` (patients x the m >= 2 genes of a set)."""
    centered = residuals - residuals.mean(axis=0)
    norms = np.linalg.norm(centered, axis=0)
    units = centered[:, norms > 0] / norms[norms > 0]
    m = units.shape[1]
    if m < 2:
        return 0.0
    return float((np.square(units.sum(axis=1)).sum() - m) / (m * (m - 1)))


def correlated_rank_sum(values: np.ndarray, inside: np.ndarray, correlation: float) -> tuple[float, float]:
    """Two-sided rank-sum test of `values[inside]` against the rest, with the variance of the rank sum
    for genes of mean pairwise correlation `correlation` (Wu and Smyth 2012, CAMERA's rank version as
    limma's rankSumTestWithCorrelation: tie-corrected, continuity-corrected, normal tail). Returns
    (z, p); z > 0 when the set ranks above the rest (limma's U counts the other way)."""
    ranks = stats.rankdata(values)
    n = len(values)
    n1 = int(inside.sum())
    n2 = n - n1
    u = ranks[inside].sum() - n1 * (n1 + 1) / 2
    variance = (
        np.arcsin(1.0) * n1 * n2 + np.arcsin(0.5) * n1 * n2 * (n2 - 1)
        + np.arcsin(correlation / 2) * n1 * (n1 - 1) * n2 * (n2 - 1) + np.arcsin((correlation + 1) / 2) * n1 * (n1 - 1) * n2
    ) / (2 * np.pi)
    ties = np.unique(ranks, return_counts=True)[1].astype(float)
    variance *= 1 - (ties * (ties + 1) * (ties - 1)).sum() / (n * (n + 1) * (n - 1))
    mu = n1 * n2 / 2
    z = (u - mu) / np.sqrt(variance)
    correction = 0.5 / np.sqrt(variance)
    p = 2 * stats.norm.sf(max(abs(z) - correction, 0.0))
    return float(z), float(min(p, 1.0))


def enrichment(
    weights: pd.DataFrame, gene_sets: dict[str, dict[str, list[str]]], residuals: dict[str, pd.DataFrame], min_size: int, max_size: int,
) -> pd.DataFrame:
    """Competitive test of each gene set in each factor's weights, per view (ENRICHMENT_COLUMNS).

    weights: the long weight table of `mofa_model` (view, feature, factor, weight, scaled_weight) for
    the factors to test. gene_sets: source (the GMT path) -> set name -> genes. residuals: per view,
    what the model leaves unexplained (`oncofactor.mofa.model_residuals`). For each factor, view and set with
    min_size..max_size of its genes among the view's features, the ranks of the set's weights are
    compared with the view's other features by a rank-sum test whose variance allows for the set's
    genes being correlated (CAMERA): genes that move together move their weights together, and a test
    that takes them as independent calls such sets enriched far more often than its level. The
    correlation is the mean pairwise correlation of the set's residuals (floored at limma's default
    0.01: a negative estimate would make the test anti-conservative). No scverse library offers a
    correlation-adjusted competitive test; limma's is R only.

    effect: mean scaled weight inside minus outside the set (scaled weights lie in -1..1);
    statistic: the rank-sum z; direction: its sign. q-values are BH-adjusted across the table.
    """
    rows = []
    for (view, factor), table in weights.groupby(["view", "factor"], sort=False):
        features = table["feature"].to_numpy()
        values = table["scaled_weight"].to_numpy()
        residual = residuals.get(view)
        for source, sets in gene_sets.items():
            for name, genes in sets.items():
                inside = np.isin(features, genes)
                n_inside = int(inside.sum())
                if n_inside < min_size or n_inside > max_size or n_inside == len(features):
                    continue
                in_residual = [] if residual is None else [g for g in features[inside] if g in residual.columns]
                correlation = max(mean_correlation(residual[in_residual].to_numpy()) if len(in_residual) > 1 else 0.0, MIN_CORRELATION)
                statistic, p = correlated_rank_sum(values, inside, correlation)
                effect = values[inside].mean() - values[~inside].mean()
                rows.append(dict(factor=factor, view=view, feature_set=name, source=source, set_size=len(genes), n_in_view=n_inside,
                                 direction="positive" if statistic > 0 else "negative", effect=effect,
                                 inter_gene_correlation=correlation, statistic=statistic, p_value=p))
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
