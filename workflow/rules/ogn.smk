# The OGN learned simulator (SCIENCE.md §6): its own trajectory data (glassdyn.ogn.trajectories),
# one training job per (variant, source) (glassdyn.ogn.train), rollouts against MD
# (glassdyn.ogn.rollout) and their summary (glassdyn.ogn.summary).

OGN_SOURCE = r"[a-z][a-z_]*|T\d+(\.\d+)?"
OGN_THREADS = config["ogn"]["training"]["threads"] if "ogn" in config else 1


rule ogn_trajectories:
    """NVE trajectories of one small-box state (random start, velocity rescaling, quench), every step."""
    output:
        f"{R}/ogn/data/{{state}}/{{split}}.h5",
    wildcard_constraints:
        state=r"[a-z][a-z_]*",
        split=r"train|test",
    params:
        cfg=step_params("ogn_trajectories"),
    log:
        f"{R}/logs/ogn/trajectories_{{state}}_{{split}}.log",
    conda:
        f"{ENVS}/md.yaml"
    shell:
        "{GD} ogn-trajectories --params {params.cfg:q} --state {wildcards.state} --split {wildcards.split}"
        " --output {output:q} > {log:q} 2>&1"


rule ogn_campaign_trajectories:
    """NVE continuations of the campaign's equilibrated configurations at one temperature."""
    input:
        lambda w: targets.ogn_campaign_inputs(config, w.T, w.split),
    output:
        f"{R}/ogn/data/T{{T}}/{{split}}.h5",
    wildcard_constraints:
        split=r"train|test",
    params:
        cfg=step_params("ogn_campaign_trajectories"),
    log:
        f"{R}/logs/ogn/trajectories_T{{T}}_{{split}}.log",
    conda:
        f"{ENVS}/md.yaml"
    shell:
        "{GD} ogn-campaign-trajectories --params {params.cfg:q} --T {wildcards.T} --split {wildcards.split}"
        " --inputs {input:q} --output {output:q} > {log:q} 2>&1"


rule ogn_train:
    """Train one OGN variant (layers, k) on one source's training trajectories."""
    input:
        lambda w: targets.ogn_data(config, w.source, "train"),
    output:
        model=f"{R}/ogn/train/{{variant}}/{{source}}/model.pt",
        metrics=f"{R}/ogn/train/{{variant}}/{{source}}/metrics.json",
        loss=f"{R}/ogn/train/{{variant}}/{{source}}/loss.csv",
    wildcard_constraints:
        variant=r"[a-z][a-z_]*",
        source=OGN_SOURCE,
    params:
        cfg=step_params("ogn_train"),
        out=lambda w, output: os.path.dirname(output.model),
    threads: OGN_THREADS
    resources:
        device=config["training"]["device"],
        checkpoint_every=config["ogn"]["training"]["checkpoint_every"] if "ogn" in config else 1000,
    log:
        f"{R}/logs/ogn/train_{{variant}}_{{source}}.log",
    conda:
        f"{ENVS}/torch.yaml"
    shell:
        "{GD} ogn-train --params {params.cfg:q} --variant {wildcards.variant} --source {wildcards.source}"
        " --input {input:q} --output-dir {params.out:q} --threads {threads} --device {resources.device}"
        " --checkpoint-every {resources.checkpoint_every} > {log:q} 2>&1"


rule ogn_rollout:
    """Rollout of a trained OGN from the test trajectories against MD at Δt and at k·Δt."""
    input:
        model=f"{R}/ogn/train/{{variant}}/{{source}}/model.pt",
        data=lambda w: targets.ogn_data(config, w.source, "test"),
    output:
        csv=report(f"{R}/ogn/rollout/{{variant}}/{{source}}.csv", caption="../report/ogn_rollout_csv.rst",
                   category="OGN"),
        png=report(f"{R}/ogn/rollout/{{variant}}/{{source}}.png", caption="../report/ogn_rollout.rst", category="OGN"),
    wildcard_constraints:
        variant=r"[a-z][a-z_]*",
        source=OGN_SOURCE,
    params:
        cfg=step_params("ogn_rollout"),
    threads: OGN_THREADS
    log:
        f"{R}/logs/ogn/rollout_{{variant}}_{{source}}.log",
    conda:
        f"{ENVS}/torch.yaml"
    shell:
        "{GD} ogn-rollout --params {params.cfg:q} --model-file {input.model:q} --input {input.data:q}"
        " --output-csv {output.csv:q} --output-png {output.png:q} --threads {threads} > {log:q} 2>&1"


rule ogn_summary:
    """Final-step rollout errors, energy change and momentum of every (variant, source), beside Liu et al."""
    input:
        rollouts=targets.ogn_rollouts(config) if "ogn" in config else [],
        metrics=targets.ogn_metrics(config) if "ogn" in config else [],
    output:
        report(f"{R}/ogn/summary.csv", caption="../report/ogn_summary.rst", category="OGN"),
    params:
        cfg=step_params("ogn_summary"),
    log:
        f"{R}/logs/ogn/summary.log",
    conda:
        f"{ENVS}/torch.yaml"
    shell:
        "{GD} ogn-summary --params {params.cfg:q} --rollouts {input.rollouts:q} --metrics {input.metrics:q}"
        " --output {output:q} > {log:q} 2>&1"
