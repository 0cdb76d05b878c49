# Patient-level views for MOFA: CTC burden and the cohort's views (per-section Moran's I comes from
# harmonize_sample).

SPATIAL_SAMPLES = SAMPLES.index[SAMPLES["modality"] == "spatial"].tolist()


rule ctc_enumeration:
    input:
        "results/inputs/ctc_enumeration.parquet",
    output:
        "results/harmonized/ctc_enumeration.parquet",
    params:
        settings=settings("ctc"),
    log:
        "logs/harmonized/ctc_enumeration.log",
    benchmark:
        "results/benchmarks/ctc_enumeration.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 10),
        runtime=runtime(10),
    conda:
        "../../envs/harmonize.yaml"
    script:
        "../scripts/ctc_enumeration.py"


rule views:
    input:
        samples="results/inputs/samples.parquet",
        clinical="results/inputs/clinical.parquet",
        ctc="results/harmonized/ctc_enumeration.parquet",
        qc="results/harmonized/qc.parquet",
        pseudobulk=expand("results/harmonized/pseudobulk/{sample}.h5ad", sample=SAMPLES.index),
        patterns=expand("results/harmonized/spatial_pattern/{sample}.parquet", sample=SPATIAL_SAMPLES),
        extra=[view["path"] for view in config["extra_views"]],
    output:
        views="results/integration/views.h5mu",
        long="results/integration/views_long.parquet",
        coverage="results/integration/coverage.parquet",
        genes="results/integration/view_genes.parquet",
        notices="results/integration/notices.parquet",
    params:
        # Only the key the views use, so that other MOFA options do not rerun them.
        settings=settings("views", "ctc", "extra_views") | {"mofa": {k: config["mofa"][k] for k in ("batch_correction", "batch_groups_modality")}},
    log:
        "logs/integration/views.log",
    benchmark:
        "results/benchmarks/views.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(3000, 3),
        runtime=runtime(30, 30),
    conda:
        "../../envs/views.yaml"
    script:
        "../scripts/views.py"


SCRNA_SAMPLES = SAMPLES.index[SAMPLES["modality"] == "scrna"].tolist()
SCRNA_BATCHES = SAMPLES.loc[SCRNA_SAMPLES, "batch"].dropna().unique() if SCRNA_SAMPLES else []


rule batch_embedding:
    input:
        expand("results/harmonized/{sample}.h5ad", sample=SCRNA_SAMPLES),
    output:
        embedding="results/harmonized/batch_embedding.parquet",
        mixing="results/harmonized/batch_mixing.parquet",
        notices="results/harmonized/batch_notices.parquet",
    params:
        settings=settings("batch"),
    log:
        "logs/harmonized/batch_embedding.log",
    benchmark:
        "results/benchmarks/batch_embedding.tsv"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: (2000 + 2 * config["batch"]["cells_per_sample"] * len(SCRNA_SAMPLES) // 100) * attempt,
        runtime=lambda wildcards, attempt: 30 * attempt,
    conda:
        "../../envs/views.yaml"
    script:
        "../scripts/batch_embedding.py"
