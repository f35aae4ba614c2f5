# Baselines beside the models (glassdyn.baselines): linear fits of simple structural quantities on
# the same fit configurations, scored like the models, written as eval CSVs `baseline-<name>` in the
# common layout (the report's inputs list them: glassdyn.campaign.targets.baseline_evaluations).

BASELINE_MODELS = baselines.model_names(config)

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
