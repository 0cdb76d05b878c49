# Per-sample harmonization: one job per sample, so memory follows the largest sample, not the cohort.


def sample_path(wildcards):
    return SAMPLES.loc[wildcards.sample, "path"]


def sample_mem_mb(wildcards, input, attempt):
    """Memory grows with the sample's size on disk (compressed counts expand about 10-fold)."""
    return int(1000 + 12 * input.size_mb) * attempt


rule gene_map:
    input:
        samples="results/inputs/samples.parquet",
        data=SAMPLES["path"].tolist(),
    output:
        "results/harmonized/gene_map.parquet",
    params:
        settings=settings("genes", "scrna", "ctc"),
    log:
        "logs/harmonized/gene_map.log",
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=lambda wildcards, attempt: 20 * attempt,
    conda:
        "../../envs/harmonize.yaml"
    script:
        "../scripts/gene_map.py"


rule harmonize_sample:
    input:
        samples="results/inputs/samples.parquet",
        gene_map="results/harmonized/gene_map.parquet",
        data=sample_path,
    output:
        h5ad="results/harmonized/{sample}.h5ad",
        qc="results/harmonized/qc/{sample}.parquet",
        genes="results/harmonized/genes/{sample}.parquet",
        pseudobulk="results/harmonized/pseudobulk/{sample}.h5ad",
    params:
        settings=settings("genes", "scrna", "ctc", "qc", "cell_types", "views"),
    log:
        "logs/harmonized/{sample}.log",
    threads: 1
    resources:
        mem_mb=sample_mem_mb,
        runtime=lambda wildcards, attempt: 30 * attempt,
    conda:
        "../../envs/harmonize.yaml"
    script:
        "../scripts/harmonize_sample.py"


rule harmonization_tables:
    input:
        samples="results/inputs/samples.parquet",
        h5ad=expand("results/harmonized/{sample}.h5ad", sample=SAMPLES.index),
        qc=expand("results/harmonized/qc/{sample}.parquet", sample=SAMPLES.index),
        genes=expand("results/harmonized/genes/{sample}.parquet", sample=SAMPLES.index),
    output:
        qc="results/harmonized/qc.parquet",
        genes="results/harmonized/gene_harmonization.parquet",
    params:
        settings=settings("qc"),
    log:
        "logs/harmonized/tables.log",
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=lambda wildcards, attempt: 10 * attempt,
    conda:
        "../../envs/harmonize.yaml"
    script:
        "../scripts/harmonization_tables.py"
