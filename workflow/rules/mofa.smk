# MOFA+ restarts as independent jobs, then the best model and its result tables.

MOFA_SEEDS = [config["mofa"]["seed"] + i for i in range(config["mofa"]["restarts"])]


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
        variance=report("results/mofa/variance_explained.parquet", caption="../report/variance_explained_table.rst", category="Integration"),
        top=report("results/mofa/top_features.parquet", caption="../report/top_features_table.rst", category="Integration"),
        stability="results/mofa/stability.parquet",
        preprocessing="results/mofa/preprocessing.parquet",
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
