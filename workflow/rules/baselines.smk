# References beside the models (glassdyn.baselines): linear fits of simple structural quantities on
# the same fit configurations, and the published predictions of imported GlassBench test files
# (glassdyn.baselines.published), both scored like the models and written as eval CSVs
# `baseline-<name>` / `published-<NAME>` in the common layout (the report's inputs list them:
# glassdyn.campaign.targets.baseline_evaluations, published_evaluations).

BASELINE_MODELS = baselines.model_names(config)
PUBLISHED_MODELS = baselines.published.model_names(config)

if BASELINE_MODELS:

    rule baselines:
        """Every baseline fitted at one (T, time) on the fit configurations, scored on the test ones."""
        input:
            labels=lambda w: targets.baseline_labels(config, w.T),
            inherent=lambda w: targets.baseline_inherent(config, w.T),
            descriptors=lambda w: targets.baseline_descriptors(config, w.T),
        output:
            [f"{R}/eval/{m}/T{{T}}/t{{k}}.csv" for m in BASELINE_MODELS],
        params:
            cfg=step_params("baselines"),
            out=f"{R}/eval",
        log:
            f"{R}/logs/baselines/T{{T}}_t{{k}}.log",
        conda:
            f"{ENVS}/analysis.yaml"
        resources:
            mem_mb=lambda w, attempt: resources.baselines_memory_mb(config, attempt),
        shell:
            "{GD} baselines --params {params.cfg:q} --T {wildcards.T} --time-index {wildcards.k}"
            " --labels {input.labels:q} --inherent {input.inherent:q} --descriptors {input.descriptors:q}"
            " --output-dir {params.out:q} > {log:q} 2>&1"


if PUBLISHED_MODELS:

    rule published_scores:
        """The published models' predictions on the imported GlassBench test files, scored like the models."""
        input:
            lambda w: targets.test_labels(config, w.T),
        output:
            [f"{R}/eval/{m}/T{{T}}/t{{k}}.csv" for m in PUBLISHED_MODELS],
        params:
            cfg=step_params("published_scores"),
            out=f"{R}/eval",
        log:
            f"{R}/logs/published/T{{T}}_t{{k}}.log",
        conda:
            f"{ENVS}/analysis.yaml"
        shell:
            "{GD} published-scores --params {params.cfg:q} --T {wildcards.T} --time-index {wildcards.k}"
            " --labels {input:q} --output-dir {params.out:q} > {log:q} 2>&1"
