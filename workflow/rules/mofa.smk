# MOFA+ restarts as independent jobs, then the best model and its result tables; refits on resampled
# and on permuted patients, then which of the model's factors the data support.

MOFA_SEEDS = [config["mofa"]["seed"] + i for i in range(config["mofa"]["restarts"])]
# Each resampled refit repeats the reported model's procedure: mofa.resample_restarts runs, the best ELBO kept.
SUBSAMPLES = expand(
    "results/mofa/resamples/subsample_{index}_{restart}.hdf5",
    index=range(config["mofa"]["resamples"]),
    restart=range(config["mofa"]["resample_restarts"]),
)
PERMUTED = expand("results/mofa/resamples/permuted_{index}.hdf5", index=range(config["mofa"]["null_fits"]))


rule mofa_restart:
    input:
        "results/integration/views.h5mu",
    output:
        "results/mofa/restarts/seed_{seed}.hdf5",
    params:
        settings=settings("mofa"),
    log:
        "logs/mofa/restart_{seed}.log",
    benchmark:
        "results/benchmarks/mofa_restart/{seed}.tsv"
    wildcard_constraints:
        seed=r"\d+",
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 20),
        runtime=runtime(60, 600),
    conda:
        "../../envs/mofa.yaml"
    script:
        "../scripts/mofa_restart.py"


rule mofa_model:
    input:
        views="results/integration/views.h5mu",
        restarts=expand("results/mofa/restarts/seed_{seed}.hdf5", seed=MOFA_SEEDS),
    output:
        model="results/mofa/model.hdf5",
        factors="results/mofa/factors.parquet",
        weights="results/mofa/weights.parquet",
        variance="results/mofa/variance_explained.parquet",
        top="results/mofa/top_features.parquet",
        preprocessing="results/mofa/preprocessing.parquet",
        orientation="results/mofa/factor_orientation.parquet",
        views="results/integration/views_mofa.h5mu",
        notices="results/mofa/notices.parquet",
    params:
        settings=settings("mofa"),
    log:
        "logs/mofa/model.log",
    benchmark:
        "results/benchmarks/mofa_model.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(3000, 20),
        runtime=runtime(20, 120),
    conda:
        "../../envs/mofa.yaml"
    script:
        "../scripts/mofa_model.py"


rule mofa_subsample:
    input:
        "results/integration/views.h5mu",
    output:
        "results/mofa/resamples/subsample_{index}_{restart}.hdf5",
    params:
        settings=settings("mofa"),
        kind="subsample",
    log:
        "logs/mofa/subsample_{index}_{restart}.log",
    benchmark:
        "results/benchmarks/mofa_subsample/{index}_{restart}.tsv"
    wildcard_constraints:
        index=r"\d+",
        restart=r"\d+",
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 20),
        runtime=runtime(60, 600),
    conda:
        "../../envs/mofa.yaml"
    script:
        "../scripts/mofa_resample.py"


use rule mofa_subsample as mofa_permuted with:
    output:
        "results/mofa/resamples/permuted_{index}.hdf5",
    params:
        kind="permuted",  # the other params are mofa_subsample's
    log:
        "logs/mofa/permuted_{index}.log",
    benchmark:
        "results/benchmarks/mofa_permuted/{index}.tsv"
    wildcard_constraints:
        index=r"\d+",


rule factor_support:
    input:
        factors="results/mofa/factors.parquet",
        variance="results/mofa/variance_explained.parquet",
        restarts=rules.mofa_model.input.restarts,
        subsamples=SUBSAMPLES,
        permuted=PERMUTED,
        qc="results/harmonized/qc.parquet",
        samples="results/inputs/samples.parquet",
    output:
        support="results/mofa/factor_support.parquet",
        notices="results/mofa/factor_support_notices.parquet",
    params:
        settings=settings("mofa"),
    log:
        "logs/mofa/factor_support.log",
    benchmark:
        "results/benchmarks/factor_support.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 10),
        runtime=runtime(10, 60),
    conda:
        "../../envs/mofa.yaml"
    script:
        "../scripts/factor_support.py"


rule mefisto_section:
    input:
        "results/harmonized/{sample}.h5ad",
    output:
        factors="results/mefisto/{sample}/factors.parquet",
        smoothness="results/mefisto/{sample}/smoothness.parquet",
        model="results/mefisto/{sample}/model.hdf5",
    params:
        settings=settings("mefisto"),
    log:
        "logs/mefisto/{sample}.log",
    benchmark:
        "results/benchmarks/mefisto_section/{sample}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(2000, 20),
        runtime=runtime(60, 600),
    conda:
        "../../envs/mofa.yaml"
    script:
        "../scripts/mefisto_section.py"
