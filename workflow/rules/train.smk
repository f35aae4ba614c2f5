# Training of the graph networks per (model, T, time) cell: glassdyn.gnn.train.


rule pretrain:
    """BOTAN pretraining with p = 0 on the pair-distance change at one (T, t)."""
    input:
        lambda w: targets.pretrain_labels(config, w.model),
    output:
        model=f"{R}/train/{{model}}/pretrain/model.pt",
        metrics=f"{R}/train/{{model}}/pretrain/metrics.json",
        loss=f"{R}/train/{{model}}/pretrain/loss.csv",
    params:
        cfg=step_params("pretrain"),
        T=lambda w: gcfg.temperature_key(config["models"][w.model]["pretrain"]["T"]),
        k=lambda w: config["models"][w.model]["pretrain"]["time_index"],
        out=lambda w, output: os.path.dirname(output.model),
    log:
        f"{R}/logs/train/{{model}}_pretrain.log",
    conda:
        f"{ENVS}/torch.yaml"
    threads: TRAIN_THREADS
    resources:
        **train_resources(),  # DDP ranks, GPUs, memory, device; {resources.launcher} = srun on SLURM
    shell:
        "{resources.launcher} {GD} train --params {params.cfg:q} --model {wildcards.model} --T {params.T}"
        " --time-index {params.k} --pretrain --labels {input:q} --device {resources.device}"
        " --output-dir {params.out:q} > {log:q} 2>&1"


rule train:
    """Train one model at one (T, sampling time) on the training configurations."""
    input:
        labels=lambda w: targets.train_labels(config, w.T),
        pretrained=lambda w: targets.pretrained_model(config, w.model),
    output:
        model=f"{R}/train/{{model}}/T{{T}}/t{{k}}/model.pt",
        metrics=f"{R}/train/{{model}}/T{{T}}/t{{k}}/metrics.json",
        loss=f"{R}/train/{{model}}/T{{T}}/t{{k}}/loss.csv",
    params:
        cfg=step_params("train"),
        pre=lambda w, input: f"--pretrained {shlex.quote(input.pretrained[0])}" if input.pretrained else "",
        out=lambda w, output: os.path.dirname(output.model),
    log:
        f"{R}/logs/train/{{model}}_T{{T}}_t{{k}}.log",
    conda:
        f"{ENVS}/torch.yaml"
    threads: TRAIN_THREADS
    resources:
        **train_resources(),
    shell:
        "{resources.launcher} {GD} train --params {params.cfg:q} --model {wildcards.model} --T {wildcards.T}"
        " --time-index {wildcards.k} --labels {input.labels:q} {params.pre} --device {resources.device}"
        " --output-dir {params.out:q} > {log:q} 2>&1"
