"""MEFISTO on one spatial section: factors that vary smoothly over the spots' coordinates.

The section's log-normalized expression of its most variable genes is one view; the spot positions
are MEFISTO's covariates, with a sparse Gaussian process on inducing points so a 3,000-spot section
trains in minutes. Each factor's smoothness (scale, 0 = not spatial, 1 = entirely spatial) and
length scale (in standard deviations of the spot coordinates) say which factors are spatial patterns.
"""

from __future__ import annotations

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from oncofactor.mofa import MofaData, read_model, train


def smooth_factors(adata: ad.AnnData, settings: dict, outfile: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train MEFISTO on a harmonized section (X log-normalized, obsm['spatial']) and save the model.

    settings: factors, n_top_genes, n_inducing, max_iterations, seed (the config's `mefisto`).
    Returns (barcode, factor, value) per spot and factor, and (factor, smoothness, length_scale).
    """
    values = adata.X.toarray() if sp.issparse(adata.X) else np.asarray(adata.X)
    variable = np.argsort(-values.var(axis=0), kind="stable")[: settings["n_top_genes"]]
    variable = variable[values[:, variable].var(axis=0) > 0]
    data = MofaData(
        views={"expression": values[:, variable].astype(float)},
        features={"expression": [str(g) for g in adata.var_names[variable]]},
        likelihoods={"expression": "gaussian"},
        samples=[str(b) for b in adata.obs_names],
        groups=["section"] * adata.n_obs,
    )
    options = {
        "scale_views": False, "float32": False, "factors": settings["factors"], "spikeslab_weights": True,
        "ard_factors": False, "ard_weights": True, "max_iterations": settings["max_iterations"],
        "convergence_mode": "medium", "drop_r2": None,
    }
    train(data, options, settings["seed"], outfile, coordinates=adata.obsm["spatial"], n_inducing=settings["n_inducing"])
    model = read_model(outfile)
    with h5py.File(outfile, "r") as handle:
        scales = handle["training_stats/scales"][:]
        length_scales = handle["training_stats/length_scales"][:]
    names = [f"Factor{i + 1}" for i in range(model.factors.shape[1])]
    factors = model.factors.set_axis(names, axis=1).rename_axis("barcode").reset_index()
    factors = factors.melt(id_vars="barcode", var_name="factor", value_name="value")
    smoothness = pd.DataFrame({"factor": names, "smoothness": np.ravel(scales)[: len(names)], "length_scale": np.ravel(length_scales)[: len(names)]})
    return factors, smoothness
