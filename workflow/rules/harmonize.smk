# Per-sample harmonization: one job per sample, so memory follows the largest sample, not the cohort.


def sample_files(wildcards):
    return files_of_sample(SAMPLES.loc[wildcards.sample])


rule gene_map:
    input:
        samples="results/inputs/samples.parquet",
        data=SAMPLE_FILES,
        annotation=config["genes"]["annotation"],
    output:
        "results/harmonized/gene_map.parquet",
    params:
        settings=settings("genes", "scrna", "ctc"),
    log:
        "logs/harmonized/gene_map.log",
    benchmark:
        "results/benchmarks/gene_map.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime(20, 10),
    conda:
        "../../envs/harmonize.yaml"
    script:
        "../scripts/gene_map.py"


rule harmonize_sample:
    input:
        samples="results/inputs/samples.parquet",
        gene_map="results/harmonized/gene_map.parquet",
        data=sample_files,
    output:
        h5ad="results/harmonized/{sample}.h5ad",
        qc="results/harmonized/qc/{sample}.parquet",
        genes="results/harmonized/genes/{sample}.parquet",
        notices="results/harmonized/notices/{sample}.parquet",
        pseudobulk="results/harmonized/pseudobulk/{sample}.h5ad",
        # Moran's I per gene for spatial sections (no rows for other samples): computed here, as the
        # section is in memory, instead of in a job of its own that starts Python and reads it again.
        pattern="results/harmonized/spatial_pattern/{sample}.parquet",
    params:
        settings=settings("genes", "scrna", "ctc", "qc", "cell_types", "views"),
    log:
        "logs/harmonized/{sample}.log",
    benchmark:
        "results/benchmarks/harmonize_sample/{sample}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 12),  # compressed counts expand about 10-fold in memory
        runtime=runtime(20, 60),
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
        notices=expand("results/harmonized/notices/{sample}.parquet", sample=SAMPLES.index),
    output:
        qc="results/harmonized/qc.parquet",
        genes="results/harmonized/gene_harmonization.parquet",
        notices="results/harmonized/notices.parquet",
    params:
        settings=settings("qc"),
    log:
        "logs/harmonized/tables.log",
    benchmark:
        "results/benchmarks/harmonization_tables.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(2000, 0.2),
        runtime=runtime(10, 5),
    conda:
        "../../envs/harmonize.yaml"
    script:
        "../scripts/harmonization_tables.py"
