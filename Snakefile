# oncofactor: multi-modal factor analysis of cancer cohorts (scRNA-seq, spatial, CTC, clinical).
# Run: snakemake --cores all   (local; workflow/profiles/default is picked up automatically)

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/inputs.smk"
include: "workflow/rules/harmonize.smk"
include: "workflow/rules/views.smk"
include: "workflow/rules/mofa.smk"
include: "workflow/rules/clinical.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        rules.validated_inputs.output,
        rules.harmonization_tables.output,
        rules.views.output,
        rules.mofa_model.output,
        clinical_outputs(),
        rules.html_report.output,
        rules.batch_embedding.output if len(SCRNA_BATCHES) > 1 else [],
        expand(rules.mefisto_section.output, sample=SPATIAL_SAMPLES) if config["mefisto"]["enabled"] else [],
    default_target: True
