# Training of the graph networks per (model, T, time) cell (glassdyn.training).


def pretrained_for(wildcards):
    pre = config["models"].get(wildcards.model, {}).get("pretrain")
    if pre and pre["epochs"] > 0:
        return [f"{R}/train/{wildcards.model}/pretrain/model.pt"]
    return []


rule pretrain:
    """BOTAN pretraining with p = 0 on the pair-distance change at one (T, t)."""
    input:
        lambda w: labels_of(gcfg.temperature_key(config["models"][w.model]["pretrain"]["T"]),
                            gcfg.train_indices(config)),
    output:
        model=f"{R}/train/{{model}}/pretrain/model.pt",
        metrics=f"{R}/train/{{model}}/pretrain/metrics.json",
        loss=f"{R}/train/{{model}}/pretrain/loss.csv",
    params:
        cfg=lambda w: json.dumps({k: config[k] for k in ("system", "graph", "labels", "network", "models", "training", "configurations")}
                                  | {"temperatures": [gcfg.temperature(config, config["models"][w.model]["pretrain"]["T"])]}, sort_keys=True),
        T=lambda w: gcfg.temperature_key(config["models"][w.model]["pretrain"]["T"]),
        k=lambda w: config["models"][w.model]["pretrain"]["time_index"],
    log:
        f"{R}/logs/train/{{model}}_pretrain.log",
    threads: TRAIN_THREADS
    resources:
        **train_resources(),  # DDP ranks, GPUs, memory; {resources.launcher} = srun on SLURM (common.smk)
    shell:
        "{resources.launcher} {GD} train --params {params.cfg:q} --model {wildcards.model} --T {params.T}"
        " --time-index {params.k} --pretrain --labels {input} --output-dir $(dirname {output.model}) > {log} 2>&1"


rule train:
    """Train one model at one (T, sampling time) on the training configurations."""
    input:
        labels=train_labels,
        pretrained=pretrained_for,
    output:
        model=f"{R}/train/{{model}}/T{{T}}/t{{k}}/model.pt",
        metrics=f"{R}/train/{{model}}/T{{T}}/t{{k}}/metrics.json",
        loss=f"{R}/train/{{model}}/T{{T}}/t{{k}}/loss.csv",
    params:
        cfg=lambda w: params_json(w, "system", "graph", "labels", "network", "models", "training", "configurations"),
        pre=lambda w, input: f"--pretrained {input.pretrained}" if input.pretrained else "",
    log:
        f"{R}/logs/train/{{model}}_T{{T}}_t{{k}}.log",
    threads: TRAIN_THREADS
    resources:
        **train_resources(),
    shell:
        "{resources.launcher} {GD} train --params {params.cfg:q} --model {wildcards.model} --T {wildcards.T}"
        " --time-index {wildcards.k} --labels {input.labels} {params.pre}"
        " --output-dir $(dirname {output.model}) > {log} 2>&1"
