"""The `oncofactor` command: workflow steps usable without Snakemake."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from oncofactor import __version__


def _positive(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _quirk_list(text: str) -> tuple[str, ...]:
    return () if text.strip() == "none" else tuple(q.strip() for q in text.split(",") if q.strip())


def _run_simulate(args: argparse.Namespace) -> int:
    from oncofactor.simulate import SimulationParams, simulate_cohort

    try:
        params = SimulationParams(
            patients=args.patients,
            seed=args.seed,
            cells_per_sample=args.cells_per_sample,
            spots_per_section=args.spots_per_section,
            genes=args.genes,
            quirks=args.quirks,
            biology=args.biology,
        )
        out = simulate_cohort(params, args.out)
    except (ValueError, FileExistsError) as error:
        print(f"oncofactor simulate: {error}", file=sys.stderr)
        return 2
    print(f"Wrote a cohort of {params.patients} patients to {out}; run it with: snakemake --configfile {out}/config.yaml")
    return 0


def _run_init(args: argparse.Namespace) -> int:
    import re

    from oncofactor.sample_scan import config_text, sample_sheet, scan_folder

    if not args.scan.is_dir():
        print(f"oncofactor init: {args.scan} is not a folder", file=sys.stderr)
        return 2
    try:
        scan = scan_folder(args.scan, args.patient_pattern, args.timepoint_pattern)
    except re.error as error:
        print(f"oncofactor init: not a regular expression: {error}", file=sys.stderr)
        return 2
    sheet_path, config_path = args.out / "samples.tsv", args.out / "config.yaml"
    existing = [str(p) for p in (sheet_path, config_path) if p.exists()]
    if existing:
        print(f"oncofactor init: {', '.join(existing)} exist; give another --out or move them", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    sheet = sample_sheet(scan)
    sheet.to_csv(sheet_path, sep="\t", index=False)
    config_path.write_text(config_text(scan, sheet_path.resolve()))
    counts = ", ".join(f"{n} {m}" for m, n in sorted(sheet["modality"].value_counts().items())) or "none"
    print(f"Wrote {sheet_path} ({len(sheet)} samples: {counts}) and {config_path}.")
    no_patient = sheet.loc[sheet["patient_id"] == "", "sample_id"].tolist()
    if no_patient:
        print(f"  patient_id empty (the pattern {args.patient_pattern!r} matched nothing in their paths): {', '.join(no_patient)}")
    for name, found in [("clinical table", scan.clinical), ("CTC enumeration table", scan.enumeration)]:
        print(f"  {name}: {found if found else 'none found'}")
    for view in scan.extra_views:
        print(f"  extra view {view['name']}: {view['path']} ({view['orientation']}, {view['likelihood']})")
    for path, reason in scan.unused:
        print(f"  not used: {path}: {reason}")
    print(f"Fill in what the config marks (FILL_IN, or columns it did not recognise), timepoints and batches in the sheet, "
          f"then: oncofactor validate --config {config_path}")
    return 0


def _run_validate(args: argparse.Namespace) -> int:
    from oncofactor.config import ConfigError, load_config
    from oncofactor.validation import factor_count_warning, validate_inputs

    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    result = validate_inputs(config, samples=args.samples, clinical=args.clinical, ctc=args.ctc)
    for problem in result.problems:
        print(problem, file=sys.stderr)
    factors = factor_count_warning(config, result)
    if factors:
        print(f"WARNING: {args.config}: {factors}", file=sys.stderr)
    if result.errors:
        print(f"{len(result.errors)} error(s), {len(result.warnings)} warning(s): fix the errors above and run again.", file=sys.stderr)
        return 1
    samples = result.samples
    if samples is not None:
        counts = samples["modality"].value_counts().to_dict()
        details = ", ".join(f"{n} {modality}" for modality, n in sorted(counts.items()))
        sample_summary = f", {len(samples)} samples ({details})"
    else:
        sample_summary = ", no sample sheet"
    ctc = f", {len(result.ctc)} CTC blood draws" if result.ctc is not None else ""
    views = "".join(f", view {name} ({len(p)} patients)" for name, p in result.view_patients.items())
    print(f"OK: {len(result.clinical)} patients{sample_summary}{ctc}{views}; {len(result.warnings) + bool(factors)} warning(s).")
    return 0


def _run_score_recovery(args: argparse.Namespace) -> int:
    import pandas as pd

    from oncofactor.recovery import factor_recovery, inferred_matches

    try:
        truth, factors = pd.read_parquet(args.truth), pd.read_parquet(args.factors)
        scores = factor_recovery(truth, factors)
        matches = inferred_matches(truth, factors, pd.read_parquet(args.support)) if args.support else None
    except (OSError, KeyError, ValueError) as error:
        print(f"oncofactor score-recovery: {error}", file=sys.stderr)
        return 2
    for factor, score in scores.items():
        print(f"{factor} {score:.4f}")
    print(f"mean_recovery {scores.mean():.4f}")
    if matches is not None:
        for row in matches.itertuples():
            status = ("supported" if row.supported else "not_supported") + (" spurious" if row.spurious else "")
            print(f"{row.factor} {row.true_factor} {row.best_abs_corr:.4f} {status}")
        print(f"spurious_supported {int((matches['supported'] & matches['spurious']).sum())}")
    return 0


def _run_project(args: argparse.Namespace) -> int:
    import mudata
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp

    from oncofactor.mofa import project, strip_view, view_batches

    mudata.set_options(pull_on_update=False)
    try:
        weights = pd.read_parquet(args.model / "weights.parquet")
        preprocessing = pd.read_parquet(args.model / "preprocessing.parquet")
        mdata = mudata.read_h5mu(args.views)
    except (OSError, FileNotFoundError) as error:
        print(f"oncofactor project: {error}", file=sys.stderr)
        return 2
    views = {}
    for name, view in mdata.mod.items():
        values = view.X.toarray() if sp.issparse(view.X) else np.asarray(view.X)
        views[name] = pd.DataFrame(values, index=view.obs_names, columns=[strip_view(f, name) for f in view.var_names])
    try:
        scores = project(views, weights, preprocessing, batches=view_batches(mdata, views), group=args.group)
    except ValueError as error:
        print(f"oncofactor project: {error}", file=sys.stderr)
        return 2
    table = scores.rename_axis("sample").reset_index().melt(id_vars="sample", var_name="factor", value_name="value")
    table.to_parquet(args.out, index=False)
    print(f"Projected {len(scores)} patients onto {scores.shape[1]} factors: {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oncofactor",
        description="Steps of the oncofactor workflow that run without Snakemake.",
    )
    parser.add_argument("--version", action="version", version=f"oncofactor {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from oncofactor.simulate import minimum_genes

    simulate = commands.add_parser(
        "simulate",
        help="write a simulated cohort with known latent factors",
        description=(
            "Write a cancer cohort in real formats (Cell Ranger HDF5, Space Ranger outs/, CTC tables, "
            "clinical table, sample sheet, config) generated from known patient-level factors, which are "
            "saved under truth/. The same arguments always give the same bytes."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    simulate.add_argument("--out", required=True, type=Path, help="new or empty folder to write the cohort to")
    simulate.add_argument("--patients", type=_positive(4), default=30, help="number of patients")
    simulate.add_argument("--seed", type=_positive(0), default=1, help="random seed; same seed, same cohort")
    simulate.add_argument(
        "--cells-per-sample", type=_positive(20), default=300, help="mean cells per scRNA sample (each varies from 0.75 to 1.3 times it)"
    )
    simulate.add_argument(
        "--spots-per-section", type=_positive(20), default=300, help="approximate in-tissue spots per Visium section"
    )
    simulate.add_argument(
        "--genes",
        type=_positive(minimum_genes()),
        default=1000,
        help=f"genes measured (at least {minimum_genes()}: markers, mitochondrial, housekeeping and program genes)",
    )
    from oncofactor.simulate import BIOLOGIES, EXAMPLE_QUIRKS, QUIRKS

    simulate.add_argument(
        "--biology", choices=list(BIOLOGIES), default="example",
        help="the true factors: example (three, strong) or hard (five, two of one modality each, weaker effects, "
        "more noise, batches partly following Factor1; for testing the statistics)",
    )

    simulate.add_argument(
        "--quirks",
        type=_quirk_list,
        default=",".join(EXAMPLE_QUIRKS),
        help="comma-separated shapes of real data to write (or 'none'): "
        + "; ".join(f"{name}: {about}" for name, about in QUIRKS.items()).replace("%", "%%"),
    )
    simulate.set_defaults(run=_run_simulate)

    init = commands.add_parser(
        "init",
        help="write a sample sheet and config from a folder of a cohort's files",
        description=(
            "Scan a folder for Cell Ranger and Space Ranger outputs, AnnData files, CTC count and cell tables, a CTC "
            "enumeration table, a clinical table, extra views (patients x features) and GMT files, and write "
            "samples.tsv and config.yaml to --out. Patient IDs come from --patient-pattern, matched against each "
            "file's path below the folder. What cannot be told from the files is left for you to fill in; "
            "`oncofactor validate` then checks the result."
        ),
    )
    init.add_argument("--scan", required=True, type=Path, help="folder holding the cohort's files (searched recursively)")
    init.add_argument("--patient-pattern", required=True,
                      help="regular expression finding the patient ID in a path (its 'patient' group, else its first group, else "
                      "the match), e.g. '(P\\d+)'; also used to recognise patient IDs in tables")
    init.add_argument("--timepoint-pattern", help="regular expression finding the timepoint in a path, e.g. '_(T\\d)'")
    init.add_argument("--out", required=True, type=Path, help="folder to write samples.tsv and config.yaml to")
    init.set_defaults(run=_run_init)

    validate = commands.add_parser(
        "validate",
        help="check a config and every table and file it names",
        description=(
            "Check a config against workflow/schemas/config.schema.yaml, then the sample sheet, clinical "
            "table, CTC enumeration table and extra views it names, and the files the sample sheet points "
            "to. Every problem is reported with its file, line and column. Exit status 1 when there are "
            "errors; warnings alone exit 0. Nothing is written."
        ),
    )
    validate.add_argument("--config", required=True, type=Path, help="config YAML file")
    validate.add_argument("--samples", type=Path, help="sample sheet to check instead of the config's `samples`")
    validate.add_argument("--clinical", type=Path, help="clinical table to check instead of the config's `clinical.path`")
    validate.add_argument("--ctc", type=Path, help="CTC enumeration table to check instead of the config's `ctc.enumeration`")
    validate.set_defaults(run=_run_validate)

    recovery = commands.add_parser(
        "score-recovery",
        help="score how well inferred factors recover a simulated cohort's true factors",
        description=(
            "For each true factor, the largest absolute Pearson correlation across patients with any inferred "
            "factor; one line per true factor, then `mean_recovery <value>`. With --support, then one line per "
            "inferred factor (its best true factor, |r|, supported or not, spurious when |r| < 0.3 with every "
            "true factor) and `spurious_supported <count>`."
        ),
    )
    recovery.add_argument("--truth", required=True, type=Path, help="truth/factors.parquet of a simulated cohort (patient_id, factor, value)")
    recovery.add_argument("--factors", required=True, type=Path, help="results/mofa/factors.parquet (sample, group, factor, value)")
    recovery.add_argument("--support", type=Path, help="results/mofa/factor_support.parquet: also score the inferred factors the run supports")
    recovery.set_defaults(run=_run_score_recovery)

    projection = commands.add_parser(
        "project",
        help="score new patients on a trained model's factors",
        description=(
            "Factor scores of new patients from a trained model's weights, as MOFAcell's project_data does: "
            "each gaussian view the model knows is corrected for the patient's batch (if the model saw it), "
            "centred and scaled as in training, and solved for the factors by least squares."
        ),
    )
    projection.add_argument("--model", required=True, type=Path, help="the trained run's results/mofa folder (weights.parquet, preprocessing.parquet)")
    projection.add_argument("--views", required=True, type=Path, help="views.h5mu of the new patients, built by the same harmonization")
    projection.add_argument("--group", help="training group whose feature means centre the new patients (default: the mean over groups)")
    projection.add_argument("--out", required=True, type=Path, help="Parquet file to write: sample, factor, value")
    projection.set_defaults(run=_run_project)

    commands.add_parser(
        "run",
        help="run the workflow (Snakemake), after checking the config files and removing a stale lock",
        description=(
            "oncofactor run [SNAKEMAKE ARGUMENTS]: Snakemake with this checkout's Snakefile (unless --snakefile "
            "is given; Snakemake reads the workflow profile beside it) and the arguments given, e.g. "
            "`oncofactor run --configfile my.yaml --cores 8`. First every --configfile is checked to be valid YAML "
            "(file, line and column named), and a lock left by a killed run is removed when no Snakemake process "
            "of this machine works in the folder."
        ),
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"] and argv[1:2] not in (["-h"], ["--help"]):
        # Everything after `run` is Snakemake's: argparse would take its options for ours.
        from oncofactor.run_workflow import run

        return run(argv[1:])
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
