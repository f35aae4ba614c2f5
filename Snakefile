# glassdyn: predicting glassy dynamics from static structure.
# What depends on what lives in workflow/rules/<family>.smk; how each step is
# computed lives in src/glassdyn/ (each rule calls `glassdyn <rule name>`; the
# table in docs/architecture.md names each rule's module).
import os

configfile: os.path.join(workflow.basedir, "config.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/md.smk"
include: "workflow/rules/labels.smk"
include: "workflow/rules/import.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/ogn.smk"
include: "workflow/rules/tglassmlp.smk"


report: "workflow/report/workflow.rst"


rule all:
    input:
        targets.campaign_targets(config),
    default_target: True
