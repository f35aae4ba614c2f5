# Evaluation of trained cells on the test configurations: glassdyn.gnn.evaluate.


rule evaluate:
    """Pearson over A particles (nodes) and A–A pairs with r_ij(0) < 1.35 (edges), per test configuration."""
    input:
        model=f"{R}/train/{{model}}/T{{T}}/t{{k}}/model.pt",
        labels=lambda w: targets.test_labels(config, w.T),
    output:
        f"{R}/eval/{{model}}/T{{T}}/t{{k}}.csv",
    params:
        cfg=step_params("evaluate"),
    log:
        f"{R}/logs/evaluate/{{model}}_T{{T}}_t{{k}}.log",
    conda:
        f"{ENVS}/torch.yaml"
    shell:
        "{GD} evaluate --params {params.cfg:q} --T {wildcards.T} --model-file {input.model:q}"
        " --labels {input.labels:q} --output {output:q} > {log:q} 2>&1"
