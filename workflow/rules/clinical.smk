# Factors and the clinic: associations, response prediction, patient strata, gene-set enrichment.

HAS_RESPONSE = bool(config["clinical"]["response"])
HAS_SURVIVAL = bool(config["clinical"]["survival_time"] and config["clinical"]["survival_event"])
HAS_FEATURE_SETS = bool(config["feature_sets"]["gmt"])


rule clinical_associations:
    input:
        factors="results/mofa/factors.parquet",
        support=rules.factor_support.output.support,
        clinical="results/inputs/clinical.parquet",
    output:
        "results/clinical/associations.parquet",
    params:
        settings=settings("clinical", "outcome"),
    log:
        "logs/clinical/associations.log",
    benchmark:
        "results/benchmarks/clinical_associations.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 10),
        runtime=runtime(10, 60),
    conda:
        "../../envs/clinical.yaml"
    script:
        "../scripts/clinical_associations.py"


rule response_prediction:
    input:
        factors="results/mofa/factors.parquet",
        support=rules.factor_support.output.support,
        clinical="results/inputs/clinical.parquet",
    output:
        performance="results/clinical/response_prediction.parquet",
        roc="results/clinical/response_roc.parquet",
        coefficients="results/clinical/response_coefficients.parquet",
        notices="results/clinical/response_notices.parquet",
    params:
        settings=settings("clinical", "outcome"),
    log:
        "logs/clinical/response_prediction.log",
    benchmark:
        "results/benchmarks/response_prediction.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 10),
        runtime=runtime(20, 600),
    conda:
        "../../envs/clinical.yaml"
    script:
        "../scripts/response_prediction.py"


rule patient_strata:
    input:
        factors="results/mofa/factors.parquet",
        support=rules.factor_support.output.support,
        clinical="results/inputs/clinical.parquet",
    output:
        strata="results/clinical/strata.parquet",
        selection="results/clinical/strata_selection.parquet",
        notices="results/clinical/strata_notices.parquet",
        curves="results/clinical/kaplan_meier.parquet" if HAS_SURVIVAL else [],
        test="results/clinical/strata_logrank.parquet" if HAS_SURVIVAL else [],
    params:
        settings=settings("clinical", "outcome"),
    log:
        "logs/clinical/patient_strata.log",
    benchmark:
        "results/benchmarks/patient_strata.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 10),
        runtime=runtime(10, 60),
    conda:
        "../../envs/clinical.yaml"
    script:
        "../scripts/patient_strata.py"


rule feature_set_enrichment:
    input:
        factors="results/mofa/factors.parquet",
        weights="results/mofa/weights.parquet",
        support=rules.factor_support.output.support,
        views="results/integration/views.h5mu",
        gmt=config["feature_sets"]["gmt"],
    output:
        table="results/clinical/feature_set_enrichment.parquet",
        notices="results/clinical/feature_set_notices.parquet",
    params:
        settings=settings("feature_sets", "mofa"),
    log:
        "logs/clinical/feature_set_enrichment.log",
    benchmark:
        "results/benchmarks/feature_set_enrichment.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10, 60),
    conda:
        "../../envs/mofa.yaml"
    script:
        "../scripts/feature_set_enrichment.py"


rule batch_confounding:
    input:
        samples="results/inputs/samples.parquet",
        clinical="results/inputs/clinical.parquet",
    output:
        table="results/clinical/batch_confounding.parquet",
        notices="results/clinical/batch_confounding_notices.parquet",
    params:
        settings=settings("clinical", "batch"),
    log:
        "logs/clinical/batch_confounding.log",
    benchmark:
        "results/benchmarks/batch_confounding.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10, 60),
    conda:
        "../../envs/clinical.yaml"
    script:
        "../scripts/batch_confounding.py"


def clinical_outputs():
    outputs = rules.clinical_associations.output + rules.patient_strata.output + rules.batch_confounding.output
    if HAS_RESPONSE:
        outputs += rules.response_prediction.output
    if HAS_FEATURE_SETS:
        outputs += rules.feature_set_enrichment.output
    return list(outputs)
