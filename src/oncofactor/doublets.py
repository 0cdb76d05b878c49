"""Doublet detection in one scRNA-seq sample with scanpy's Scrublet (Wolock et al., Cell Systems 2019).

Scrublet simulates doublets by adding pairs of the sample's own cells, embeds real and simulated
cells together and scores each real cell by the share of simulated doublets among its neighbours.
scanpy is imported only here, so per-sample jobs of other modalities do not pay its 3 s import.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import anndata as ad
import numpy as np

# Calls of more than this many times the expected doublet rate are not applied (see detect_doublets):
# on simulated samples of 200-350 cells with 5% doublets, samples with cell-type structure got calls
# for 0-6.7% of their cells, the one measuring no marker gene 14-17% (two simulations).
MAX_RATE_FACTOR = 2.0


@dataclass
class DoubletCalls:
    """Per cell (in the order given) Scrublet's doublet score (0-1) and call; `note` says why
    detection was skipped or how the threshold was set; `rejected` when Scrublet's calls were not
    credible and none is applied."""

    scores: np.ndarray
    predicted: np.ndarray
    ran: bool
    note: str
    rejected: bool = False


def detect_doublets(counts: ad.AnnData, settings: dict) -> DoubletCalls:
    """Scrublet on a sample's raw counts (cells x genes, X holding counts).

    settings: enabled, min_cells, expected_rate, seed. Returns NaN scores and no calls when detection
    is off, the sample has fewer than min_cells cells, or Scrublet cannot embed it (e.g. a panel of
    a few genes); the note says which.
    """
    n_cells = counts.n_obs
    skipped = DoubletCalls(np.full(n_cells, np.nan), np.zeros(n_cells, dtype=bool), False, "")
    if not settings["enabled"]:
        skipped.note = "doublet detection off (qc.scrna.doublets.enabled)"
        return skipped
    if n_cells < settings["min_cells"]:
        skipped.note = f"doublet detection skipped: {n_cells} cells, fewer than qc.scrna.doublets.min_cells = {settings['min_cells']}"
        return skipped
    import scanpy as sc

    cells = ad.AnnData(X=counts.X.copy(), obs=counts.obs[[]].copy(), var=counts.var[[]].copy())
    # Scrublet's PCA needs fewer components than cells and genes.
    n_components = int(min(30, n_cells - 1, cells.n_vars - 1))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Exact neighbours: scanpy 1.11's approximate path (chosen by default for large samples)
            # fails with scipy 1.17 ('csr_array' object has no attribute 'getnnz'); exact takes 6-7 s
            # for 4,300 cells x 20,000 genes here.
            sc.pp.scrublet(
                cells, expected_doublet_rate=settings["expected_rate"], n_prin_comps=max(n_components, 2),
                random_state=settings["seed"], verbose=False, use_approx_neighbors=False,
            )
    except (ValueError, IndexError, np.linalg.LinAlgError) as error:
        skipped.note = f"doublet detection failed, no cell called a doublet: {error}"
        return skipped
    scores = cells.obs["doublet_score"].to_numpy(dtype=float)
    predicted = cells.obs["predicted_doublet"].fillna(False).to_numpy(dtype=bool)
    threshold = cells.uns.get("scrublet", {}).get("threshold")
    note = f"Scrublet: {int(predicted.sum())} of {n_cells} cells called doublets"
    note += f" (score threshold {threshold:.3f})" if threshold is not None and np.isfinite(threshold) else " (no threshold found: none called)"
    if predicted.mean() > MAX_RATE_FACTOR * settings["expected_rate"]:
        # Scrublet's threshold sits at a dip between the simulated doublets' scores; without cell-type
        # structure (a panel without markers) there is no dip, and the threshold it finds called 14-17%
        # of a simulated sample's cells for 5% true doublets, 1 in 20 of them right.
        note += (
            f"; not applied: {predicted.mean():.0%} is over {MAX_RATE_FACTOR:g} times the expected rate "
            f"(qc.scrna.doublets.expected_rate = {settings['expected_rate']:g}), so the threshold is not credible"
        )
        return DoubletCalls(scores, np.zeros(n_cells, dtype=bool), True, note, rejected=True)
    return DoubletCalls(scores, predicted, True, note)
