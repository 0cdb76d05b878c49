# Provenance, report figures (snakemake --report) and the standalone HTML report.


rule provenance:
    input:
        tables=input_tables() + config["feature_sets"]["gmt"] + config["genes"]["annotation"],
        samples=SAMPLE_FILES,
    output:
        config="results/provenance/config.yaml",
        inputs="results/provenance/input_checksums.parquet",
        packages="results/provenance/packages.parquet",
        pipeline="results/provenance/pipeline.yaml",
    params:
        settings=config,
    log:
        "logs/provenance.log",
    benchmark:
        "results/benchmarks/provenance.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(500),
        runtime=runtime(10, 2),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/provenance.py"


def notice_files():
    """Every notices table this run writes (what each step left out or warns about)."""
    files = [rules.validated_inputs.output.notices, rules.harmonization_tables.output.notices, rules.views.output.notices, rules.mofa_model.output.notices, rules.factor_support.output.notices, rules.patient_strata.output.notices,
             rules.batch_confounding.output.notices]
    if len(SCRNA_BATCHES) > 1:
        files.append(rules.batch_embedding.output.notices)
    if HAS_FEATURE_SETS:
        files.append(rules.feature_set_enrichment.output.notices)
    if HAS_RESPONSE:
        files.append(rules.response_prediction.output.notices)
    return files


rule run_notices:
    input:
        notice_files(),
    output:
        "results/notices.parquet",
    params:
        settings=settings(),
    log:
        "logs/report/notices.log",
    benchmark:
        "results/benchmarks/run_notices.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(500),
        runtime=runtime(5),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/run_notices.py"


def figure(key, category):
    return report(f"results/report/figures/{key}.png", caption=f"../report/{key}.rst", category=category)


def report_inputs(wildcards):
    inputs = {
        "coverage": "results/integration/coverage.parquet",
        "qc": "results/harmonized/qc.parquet",
        "variance": "results/mofa/variance_explained.parquet",
        "top": "results/mofa/top_features.parquet",
        "factor_support": rules.factor_support.output.support,
        "factors": "results/mofa/factors.parquet",
        "orientation": "results/mofa/factor_orientation.parquet",
        "clinical": "results/inputs/clinical.parquet",
        "associations": "results/clinical/associations.parquet",
        "strata": "results/clinical/strata.parquet",
        "strata_selection": "results/clinical/strata_selection.parquet",
    }
    if HAS_SURVIVAL:
        # The survival figures fit Kaplan-Meier curves from strata and clinical (censoring marks, numbers at risk).
        inputs["strata_logrank"] = "results/clinical/strata_logrank.parquet"
    if HAS_RESPONSE:
        inputs |= {name: f"results/clinical/{name}.parquet" for name in ("response_prediction", "response_roc", "response_coefficients")}
    if HAS_FEATURE_SETS:
        inputs["feature_set_enrichment"] = "results/clinical/feature_set_enrichment.parquet"
    if len(SCRNA_BATCHES) > 1:
        inputs |= {"batch_mixing": "results/harmonized/batch_mixing.parquet", "batch_embedding": "results/harmonized/batch_embedding.parquet"}
    return inputs


rule report_figures:
    input:
        unpack(report_inputs),
    output:
        coverage=figure("coverage", "Inputs and QC"),
        qc=figure("qc", "Inputs and QC"),
        qc_distributions=figure("qc_distributions", "Inputs and QC"),
        cell_types=figure("cell_types", "Harmonization"),
        batch_embedding=figure("batch_embedding", "Harmonization") if len(SCRNA_BATCHES) > 1 else [],
        variance_explained=figure("variance_explained", "Integration"),
        top_weights=figure("top_weights", "Integration"),
        factor_support=figure("factor_support", "Integration"),
        factors_by_covariates=figure("factors_by_covariates", "Clinical"),
        associations=figure("associations", "Clinical"),
        kaplan_meier=figure("kaplan_meier", "Clinical") if HAS_SURVIVAL else [],
        roc=figure("roc", "Clinical") if HAS_RESPONSE else [],
        factor_cards=report(directory("results/report/figures/factors"), patterns=["{factor}.png"], caption="../report/factor_card.rst", category="Factors"),
    params:
        settings=settings("clinical", "mofa", "qc"),
    log:
        "logs/report/figures.log",
    benchmark:
        "results/benchmarks/report_figures.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10, 30),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_figures.py"


def report_table_sources():
    """The result tables `snakemake --report` shows, each as an HTML page (it previews HTML, not
    Parquet): name -> (Parquet file, report category, page title). Captions are
    ../report/<name>_table.rst."""
    sources = {
        "notices": (rules.run_notices.output[0], "Inputs and QC", "Left out of this run, and warnings"),
        "qc": ("results/harmonized/qc.parquet", "Inputs and QC", "QC per sample"),
        "variance_explained": ("results/mofa/variance_explained.parquet", "Integration", "Variance explained per factor and view"),
        "top_features": ("results/mofa/top_features.parquet", "Integration", "Top features per factor and view"),
        "factor_support": (rules.factor_support.output.support, "Integration", "Factor support"),
        "associations": ("results/clinical/associations.parquet", "Clinical", "Factor associations with the clinic"),
        "strata": ("results/clinical/strata.parquet", "Clinical", "Patient groups"),
        "batch_confounding": (rules.batch_confounding.output.table, "Clinical", "Batch against outcome and covariates"),
    }
    if HAS_RESPONSE:
        sources["response_prediction"] = ("results/clinical/response_prediction.parquet", "Clinical", "Response prediction")
    if HAS_FEATURE_SETS:
        sources["feature_set_enrichment"] = ("results/clinical/feature_set_enrichment.parquet", "Clinical", "Gene-set enrichment in factor weights")
    return sources


REPORT_TABLES = report_table_sources()


rule report_tables:
    input:
        **{name: source for name, (source, _, _) in REPORT_TABLES.items()},
    output:
        **{name: report(f"results/report/tables/{name}.html", caption=f"../report/{name}_table.rst", category=category)
           for name, (_, category, _) in REPORT_TABLES.items()},
    params:
        captions=str(REPO / "workflow" / "report"),
        titles={name: title for name, (_, _, title) in REPORT_TABLES.items()},
    log:
        "logs/report/tables.log",
    benchmark:
        "results/benchmarks/report_tables.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(500, 10),
        runtime=runtime(5, 30),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_tables.py"


rule html_report:
    input:
        unpack(report_inputs),
        figures=rules.report_figures.output,
        provenance_config=rules.provenance.output.config,
        provenance_inputs=rules.provenance.output.inputs,
        provenance_packages=rules.provenance.output.packages,
        provenance_pipeline=rules.provenance.output.pipeline,
        notices=rules.run_notices.output[0],
    output:
        report("results/report/oncofactor_report.html", caption="../report/oncofactor_report.rst", category="Report"),
    params:
        captions=str(REPO / "workflow" / "report"),
        settings=settings("clinical", "outcome"),
        # Written by the Snakefile's onstart handler (command line, start time), so not a rule input.
        run_record=RUN_RECORD,
    log:
        "logs/report/html.log",
    benchmark:
        "results/benchmarks/html_report.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 3),
        runtime=runtime(10, 30),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/html_report.py"
