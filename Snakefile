# oncofactor: multi-modal factor analysis of cancer cohorts (scRNA-seq, spatial, CTC, clinical).
# Run: snakemake --cores all [--configfile my_config.yaml]   (README). Snakemake reads the workflow's
# settings from profiles/default (a link to workflow/profiles/default) by itself.

import sys
from datetime import datetime, timezone

from snakemake.utils import min_version

min_version("9.0")


# The example's config is the default, not a base: with --configfile the user's config stands alone,
# on top of the schema's defaults only (filled in by common.smk, as `oncofactor validate` does).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/inputs.smk"
include: "workflow/rules/harmonize.smk"
include: "workflow/rules/views.smk"
include: "workflow/rules/mofa.smk"
include: "workflow/rules/clinical.smk"
include: "workflow/rules/report.smk"


# Seconds-long steps run in the Snakemake process itself, so a cluster is not sent jobs that take
# less time than their scheduling.
localrules:
    all,
    validated_inputs,
    gene_map,
    harmonization_tables,
    ctc_enumeration,
    clinical_associations,
    patient_strata,
    feature_set_enrichment,
    provenance,
    run_notices,
    report_figures,
    html_report,


onstart:
    write_run_record(RUN_RECORD, sys.argv, RUN_STARTED)


onsuccess:
    write_run_record(RUN_RECORD, sys.argv, RUN_STARTED, datetime.now(timezone.utc).isoformat(timespec="seconds"))
    for line in run_summary([rules.run_notices.output[0]], RUN_STARTED, report=rules.html_report.output[0]):
        logger.info(line)


onerror:
    # What the steps that finished had already left out, then each failed job's own error (its
    # traceback is in its log), so that the run ends with what went wrong.
    sample_notices = expand(rules.harmonize_sample.output.notices, sample=SAMPLES.index)
    for line in run_summary(notice_files() + sample_notices, RUN_STARTED):
        logger.info(line)
    for line in failed_job_lines("logs", RUN_STARTED):
        logger.error(line)


rule all:
    input:
        rules.validated_inputs.output,
        rules.harmonization_tables.output,
        rules.views.output,
        rules.mofa_model.output,
        clinical_outputs(),
        rules.html_report.output,
        rules.report_tables.output,
        rules.batch_embedding.output if len(SCRNA_BATCHES) > 1 else [],
        expand(rules.mefisto_section.output, sample=SPATIAL_SAMPLES) if config["mefisto"]["enabled"] else [],
    default_target: True
