"""Factor recovery on simulated cohorts: MOFA finds the factors the simulator put in."""

from __future__ import annotations

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from conftest import views_in_process
from oncofactor.mofa import prepare_views, read_model, regress_batches, summarize_factors, train, view_batches
from oncofactor.recovery import factor_recovery
from oncofactor.simulate import SimulationParams, simulate_cohort


def recovery_of(cohort, tmp_path, restarts: int) -> pd.Series:
    """Simulated cohort -> views -> MOFA (best of `restarts` by ELBO) -> recovery per true factor."""
    config, *_, mdata = views_in_process(cohort)
    settings = config["mofa"]
    data = prepare_views(mdata, settings)
    if settings["batch_correction"] == "regress":
        regress_batches(data, view_batches(mdata, data.views))
    models = []
    with threadpool_limits(limits=1):
        for seed in range(settings["seed"], settings["seed"] + restarts):
            train(data, settings, seed, str(tmp_path / f"seed_{seed}.hdf5"))
            models.append(read_model(str(tmp_path / f"seed_{seed}.hdf5")))
    best = max(models, key=lambda model: model.elbo)
    summary = summarize_factors(best, settings["min_r2"])
    factors = best.factors[list(summary.mapping.values())].set_axis(list(summary.mapping), axis=1)
    long = factors.rename_axis("sample").reset_index().melt(id_vars="sample", var_name="factor", value_name="value")
    return factor_recovery(pd.read_parquet(cohort / "truth" / "factors.parquet"), long)


@pytest.mark.workflow
def test_default_example_cohort(example_run):
    """The example run's reported factors (the workflow's own, best of its restarts) follow the
    simulator's; 0.95, 0.99 and 0.99 measured."""
    truth = pd.read_parquet(example_run / "resources/example_cohort/truth/factors.parquet")
    scores = factor_recovery(truth, pd.read_parquet(example_run / "results/mofa/factors.parquet"))
    assert len(scores) == 3 and scores.min() >= 0.8, scores.to_dict()


@pytest.mark.slow
def test_hundred_patient_cohort(tmp_path):
    cohort = simulate_cohort(SimulationParams(patients=100), tmp_path / "cohort")
    scores = recovery_of(cohort, tmp_path, restarts=2)
    assert scores.mean() >= 0.9, scores.to_dict()
