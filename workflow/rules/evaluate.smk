# Evaluation of trained cells on the test configurations (glassdyn.evaluation).


rule evaluate:
    """Pearson over A particles (nodes) and A–A pairs with r_ij(0) < 1.35 (edges), per test configuration."""
    input:
        model=f"{R}/train/{{model}}/T{{T}}/t{{k}}/model.pt",
        labels=test_labels,
    output:
        f"{R}/eval/{{model}}/T{{T}}/t{{k}}.csv",
    params:
        cfg=lambda w: params_json(w, "system", "graph", "labels"),
    log:
        f"{R}/logs/evaluate/{{model}}_T{{T}}_t{{k}}.log",
    shell:
        "{GD} evaluate --params {params.cfg:q} --model-file {input.model} --labels {input.labels}"
        " --output {output} > {log} 2>&1"
