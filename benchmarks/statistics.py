"""Error rates of the pipeline's findings on simulated truth (issue 13's targets).

    .venv/bin/python benchmarks/statistics.py --patients 30 --seeds 301-310
    .venv/bin/python benchmarks/statistics.py --patients 60 --seeds 601-610
    .venv/bin/python benchmarks/statistics.py --patients 60 --seeds 601-610 --set views.n_top_genes=500

Each seed is a cohort of the hard biology (`oncofactor simulate --biology hard`: five true factors,
two of one modality each, response OR 2 per SD, batches partly following Factor1) with --genes
whole-transcriptome genes (default 20,000), simulated once under benchmarks/work/statistics/ and
run through the whole workflow with the local profile. The seeds are not the tests' seeds. Per run:

- spurious_supported: supported factors whose |r| with every true factor is below 0.3;
  partial_supported: supported factors that follow a true factor only partly (best |r| 0.3-0.8);
- false_findings: association rows at q < 0.05 for a spurious factor or a noise covariate (age, sex,
  stage: the simulator gives them no link to any factor); wrong_outcome: rows at q < 0.05 linking a
  factor that is not spurious to response or survival although the true factor it follows best has
  no such effect;
- recovered_supported: true factors followed by a supported factor at |r| >= 0.8;
- ceiling_<true factor>: how well the views carry the factor at all, the best |r| over the views
  its programme acts in of the mean of its programme genes there (standardised; the genes known from
  the truth, so no unsupervised method should beat it); a target missed where the ceiling is low
  says more about the simulator than about the pipeline;
- auroc, oracle_auroc: the factor model's cross-validated AUROC and that of the same procedure
  (oncofactor.response_model.predict_response) on the true factors; 0.5 (chance) for a run with no
  supported factor, which has no factor model;
- control_tests, control_hits: gene-set tests of the two control sets and those at q < 0.05.

`--set section.key=value` (repeatable; the value read as YAML) runs the same cohorts with a changed
config, in their own folder beside the default run's, so settings are compared on the same cohorts.

Writes benchmarks/results/statistics-<patients>[-<section.key=value,...>].parquet (one row per seed)
and a summary beside it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from oncofactor.clinical import factor_matrix
from oncofactor.config import load_config
from oncofactor.mofa import strip_view
from oncofactor.pseudobulk import VIEW_SEPARATOR
from oncofactor.recovery import SPURIOUS_BELOW, inferred_matches
from oncofactor.response_model import predict_response
from oncofactor.simulate import SimulationParams, simulate_cohort

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NOISE_COVARIATES = {"age", "sex", "stage"}
RECOVERED = 0.8


def seeds(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def setting(text: str) -> tuple[list[str], object]:
    """`views.n_top_genes=500` -> (['views', 'n_top_genes'], 500)."""
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: expected section.key=value")
    return key.split("."), yaml.safe_load(value)


def changed_config(config_file: Path, settings: list[tuple[list[str], object]], out: Path) -> Path:
    """The cohort's config with `settings` applied, written to `out`."""
    config = yaml.safe_load(config_file.read_text())
    for keys, value in settings:
        section = config
        for key in keys[:-1]:
            section = section.setdefault(key, {})
        section[keys[-1]] = value
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def run_one(patients: int, seed: int, genes: int, work: Path, settings: list, tag: str) -> dict:
    folder = work / f"{patients}-{seed}"
    cohort = folder / "cohort"
    if not cohort.exists():
        simulate_cohort(SimulationParams(patients=patients, seed=seed, genes=genes, biology="hard", quirks=()), cohort)
    run_folder = folder / tag if tag else folder
    run_folder.mkdir(parents=True, exist_ok=True)
    config_file = changed_config(cohort / "config.yaml", settings, run_folder / "config.yaml") if settings else cohort / "config.yaml"
    log = run_folder / "pipeline.log"
    command = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"),
               "--configfile", str(config_file), "--cores", "2"]
    with log.open("w") as handle:
        if subprocess.run(command, cwd=run_folder, stdout=handle, stderr=subprocess.STDOUT).returncode:
            return {"patients": patients, "seed": seed, "failed": f"the workflow failed; see {log}"}
    return measure(cohort, config_file, run_folder / "results", patients, seed)


def programme_ceiling(effects: pd.DataFrame, results: Path, truth: pd.DataFrame) -> dict[str, float]:
    """Per true factor, the best |r| with it of a view's mean standardised programme gene (see the
    module docstring); NaN where no view keeps a gene of its programme. effects: the cohort's
    truth/effects.parquet."""
    import mudata

    mudata.set_options(pull_on_update=False)
    expression = effects[effects["target"].str.endswith("expression")]
    views = mudata.read_h5mu(results / "integration/views.h5mu")
    # Which effect rows act in which view: a cell type's programme in its rna view, spatial and ctc programmes in theirs.
    acting = {"spatial": {"expression", "spatial_expression"}, "ctc_rna": {"ctc_expression"}}
    ceiling = {}
    for factor in truth.columns:
        programme = expression[expression["factor"] == factor]
        best = np.nan
        for name, view in views.mod.items():
            if name.startswith(f"rna{VIEW_SEPARATOR}"):
                rows = programme[(programme["cell_type"] == name.partition(VIEW_SEPARATOR)[2]) & programme["target"].isin({"expression", "scrna_expression"})]
            elif name in acting:
                rows = programme[programme["target"].isin(acting[name])]
            else:
                continue
            values = pd.DataFrame(np.asarray(view.X, dtype=float), index=view.obs_names, columns=[strip_view(f, name) for f in view.var_names])
            genes = values.columns.intersection(rows["feature"].unique())
            values = values.loc[values[genes].notna().any(axis=1), genes] if len(genes) else values.iloc[:0]
            if values.shape[0] < 3:
                continue
            score = ((values - values.mean()) / values.std()).mean(axis=1)
            best = np.nanmax([best, abs(score.corr(truth.loc[score.index, factor]))])
        ceiling[factor] = best
    return ceiling


def measure(cohort: Path, config_file: Path, results: Path, patients: int, seed: int) -> dict:
    truth = pd.read_parquet(cohort / "truth/factors.parquet")
    effects = pd.read_parquet(cohort / "truth/effects.parquet")
    factors_long = pd.read_parquet(results / "mofa/factors.parquet")
    support = pd.read_parquet(results / "mofa/factor_support.parquet")
    matches = inferred_matches(truth, factors_long, support).set_index("factor")
    spurious = set(matches.index[matches["spurious"]])
    follows = matches.loc[matches["best_abs_corr"] >= SPURIOUS_BELOW, "true_factor"]

    associations = pd.read_parquet(results / "clinical/associations.parquet")
    hits = associations[associations["q_value"] < 0.05]
    false = hits[hits["factor"].isin(spurious) | hits["covariate"].isin(NOISE_COVARIATES)]
    drivers = {target: set(effects.loc[effects["target"] == target, "factor"]) for target in ("response", "survival")}
    outcome_hits = hits[hits["covariate"].isin({"response", "survival"}) & hits["factor"].isin(follows.index)]
    wrong = outcome_hits[[follows[f] not in drivers["response" if c == "response" else "survival"]
                          for f, c in zip(outcome_hits["factor"], outcome_hits["covariate"])]]

    true = truth.pivot(index="patient_id", columns="factor", values="value")
    inferred = factor_matrix(factors_long)
    supported = inferred[support.loc[support["supported"], "factor"]]
    common = true.index.intersection(supported.index)
    recovered = {name: bool(len(supported.columns) and supported.loc[common].corrwith(true.loc[common, name]).abs().max() >= RECOVERED)
                 for name in true.columns}

    prediction = pd.read_parquet(results / "clinical/response_prediction.parquet").set_index("model")
    config = load_config(config_file)
    clinical = pd.read_parquet(results / "inputs/clinical.parquet")
    oracle = predict_response(true.loc[inferred.index], clinical, {"clinical": config["clinical"], "outcome": {**config["outcome"], "bootstrap": 20}})
    oracle_auroc = oracle.performance.set_index("model").loc["factors", "auroc"]

    enrichment = pd.read_parquet(results / "clinical/feature_set_enrichment.parquet")
    controls = enrichment[enrichment["feature_set"].str.endswith("_control")]
    return {
        "patients": patients, "seed": seed, "failed": "",
        "factors": len(support), "supported": int(support["supported"].sum()),
        "spurious_supported": len(spurious & set(support.loc[support["supported"], "factor"])),
        "partial_supported": int((matches["supported"] & ~matches["spurious"] & (matches["best_abs_corr"] < RECOVERED)).sum()),
        "false_findings": len(false), "false_detail": "; ".join(f"{r.factor}~{r.covariate} q={r.q_value:.3g}" for r in false.itertuples()),
        "wrong_outcome": len(wrong), "wrong_detail": "; ".join(f"{r.factor}({follows[r.factor]})~{r.covariate} q={r.q_value:.3g}" for r in wrong.itertuples()),
        **{f"recovered_{name}": value for name, value in recovered.items()},
        **{f"ceiling_{name}": value for name, value in programme_ceiling(effects, results, true).items()},
        "all_recovered_supported": all(recovered.values()),
        "auroc": prediction.loc["factors", "auroc"] if "factors" in prediction.index else 0.5,
        "oracle_auroc": oracle_auroc,
        "control_tests": len(controls), "control_hits": int((controls["q_value"] < 0.05).sum()),
    }


def summary(table: pd.DataFrame, tag: str = "") -> str:
    done = table[table["failed"] == ""]
    runs = len(done)
    lines = [
        f"# Findings on simulated truth: {int(table['patients'].iloc[0])} patients, hard biology, seeds {', '.join(map(str, table['seed']))}"
        + (f", config changed: {tag}" if tag else ""),
        "",
        f"- runs: {runs} of {len(table)} finished" + (f"; failed: {', '.join(map(str, table.loc[table['failed'] != '', 'seed']))}" if runs < len(table) else ""),
        f"- runs with a spurious supported factor: {int((done['spurious_supported'] > 0).sum())} of {runs} (target at most 1 in 10)",
        f"- supported factors that follow a true factor only partly (best |r| {SPURIOUS_BELOW}-{RECOVERED}): "
        f"{int(done['partial_supported'].sum())} in {runs} runs",
        f"- runs with a false finding (spurious factor or noise covariate at q < 0.05): {int((done['false_findings'] > 0).sum())} of {runs} (target at most 1 in 10)",
        f"- runs linking a factor to an outcome its true factor does not drive (q < 0.05): {int((done['wrong_outcome'] > 0).sum())} of {runs}",
        f"- runs with every true factor recovered (|r| >= {RECOVERED}) by a supported factor: {int(done['all_recovered_supported'].sum())} of {runs} (target 9 of 10 at 60 patients)",
    ]
    for column in [c for c in done.columns if c.startswith("recovered_")]:
        name = column.removeprefix("recovered_")
        lines.append(f"  - {name}: {int(done[column].sum())} of {runs} (ceiling from its programme genes: median "
                     f"{done[f'ceiling_{name}'].median():.2f}, min {done[f'ceiling_{name}'].min():.2f})")
    gap = done["oracle_auroc"] - done["auroc"]
    lines += [
        f"- response AUROC: median {done['auroc'].median():.3f} against the oracle's {done['oracle_auroc'].median():.3f} "
        f"(gap median {gap.median():.3f}, max {gap.max():.3f}; target within 0.05 at 60 patients)",
        f"- control gene sets at q < 0.05: {int(done['control_hits'].sum())} of {int(done['control_tests'].sum())} tests "
        f"({done['control_hits'].sum() / max(done['control_tests'].sum(), 1):.1%}; target at most 5%)",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--seeds", type=seeds, required=True, help="first-last, e.g. 301-310")
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--set", dest="settings", type=setting, action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="a config change for every run, e.g. views.n_top_genes=500")
    args = parser.parse_args()
    tag = ",".join(".".join(keys) + f"={value}" for keys, value in args.settings)
    work = REPO / "benchmarks/work/statistics"
    work.mkdir(parents=True, exist_ok=True)
    out = REPO / "benchmarks/results"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in args.seeds:  # the tables are rewritten after each run, so a stopped harness keeps what it measured
        rows.append(run_one(args.patients, seed, args.genes, work, args.settings, tag))
        print({k: v for k, v in rows[-1].items() if not k.endswith("_detail")}, flush=True)
        table = pd.DataFrame(rows)
        name = f"statistics-{args.patients}" + (f"-{tag}" if tag else "")
        table.to_parquet(out / f"{name}.parquet", index=False)
        (out / f"{name}.md").write_text(summary(table, tag))
    print(summary(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
