rule validated_inputs:
    input:
        # Validation reads each sample's features and first values (species, namespace, counts), the
        # gene annotations and the GMT files: a change to any of them reruns it.
        tables=input_tables(),
        samples=SAMPLE_FILES,
        annotation=config["genes"]["annotation"],
        gmt=config["feature_sets"]["gmt"],
    output:
        samples="results/inputs/samples.parquet",
        clinical="results/inputs/clinical.parquet",
        ctc="results/inputs/ctc_enumeration.parquet",
        notices="results/inputs/notices.parquet",
    params:
        settings=settings("samples", "clinical", "ctc", "extra_views", "feature_sets", "outcome", "genes", "scrna"),
    log:
        "logs/validated_inputs.log",
    benchmark:
        "results/benchmarks/validated_inputs.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 10),
        runtime=runtime(10, 30),
    conda:
        "../../envs/inputs.yaml"
    script:
        "../scripts/validated_inputs.py"
