# The OGN learned simulator (glassdyn.trajectories, glassdyn.simulator; SCIENCE.md §6):
# its own trajectory data, one training job per (variant, source), rollouts against MD.
from glassdyn.ogn.trajectories import campaign_configurations as _ogn_campaign_configurations

OGN = config.get("ogn", {})
OGN_SOURCE = r"[a-z][a-z_]*|T\d+(\.\d+)?"


def ogn_sources():
    """Trained sources: the small-box states in ogn.sources, and T<key> for every campaign
    temperature if 'campaign' is listed."""
    out = [s for s in OGN.get("sources", []) if s != "campaign"]
    if "campaign" in OGN.get("sources", []):
        out += [f"T{T}" for T in TEMPS]
    return out


def ogn_data(source, split):
    return f"{R}/ogn/data/{source}/{split}.h5"


def ogn_rollouts():
    return [f"{R}/ogn/rollout/{v}/{s}.csv" for v in OGN.get("variants", {}) for s in ogn_sources()]


def ogn_metrics():
    return [f"{R}/ogn/train/{v}/{s}/metrics.json" for v in OGN.get("variants", {}) for s in ogn_sources()]


def ogn_targets():
    """Everything the OGN part of the campaign reports (rollout figures and tables, the summary)."""
    return ogn_rollouts() + [f"{R}/ogn/rollout/{v}/{s}.png" for v in OGN.get("variants", {}) for s in ogn_sources()] \
        + [f"{R}/ogn/summary.csv"]


def ogn_params(**parts):
    """JSON of the config slices a rule depends on (so unrelated edits do not rerun it)."""
    return json.dumps(parts, sort_keys=True)


rule ogn_trajectories:
    """NVE trajectories of one small-box state (random start, velocity rescaling, quench), every step."""
    output:
        f"{R}/ogn/data/{{state}}/{{split}}.h5",
    wildcard_constraints:
        state=r"[a-z][a-z_]*",
        split=r"train|test",
    params:
        cfg=lambda w: ogn_params(system=config["system"], protocol={"minimize": config["protocol"]["minimize"]},
                                 ogn={"system": OGN["system"], "thermostat_damping": OGN["thermostat_damping"],
                                      "states": {w.state: OGN["states"][w.state]},
                                      "data": {w.split: OGN["data"][w.split], "spacing": OGN["data"]["spacing"]}}),
    log:
        f"{R}/logs/ogn/trajectories_{{state}}_{{split}}.log",
    shell:
        "{GD} ogn-trajectories --params {params.cfg:q} --state {wildcards.state} --split {wildcards.split}"
        " --output {output} > {log} 2>&1"


rule ogn_campaign_trajectories:
    """NVE continuations of the campaign's equilibrated configurations at one temperature."""
    input:
        lambda w: [f"{R}/md/T{w.T}/c{conf(c)}/equilibrated.h5" for c in _ogn_campaign_configurations(config, w.split)],
    output:
        f"{R}/ogn/data/T{{T}}/{{split}}.h5",
    wildcard_constraints:
        split=r"train|test",
    params:
        cfg=lambda w: ogn_params(system=config["system"], ogn={"campaign": OGN["campaign"]}),
    log:
        f"{R}/logs/ogn/trajectories_T{{T}}_{{split}}.log",
    shell:
        "{GD} ogn-campaign-trajectories --params {params.cfg:q} --T {wildcards.T} --split {wildcards.split}"
        " --inputs {input} --output {output} > {log} 2>&1"


rule ogn_train:
    """Train one OGN variant (layers, k) on one source's training trajectories."""
    input:
        lambda w: ogn_data(w.source, "train"),
    output:
        model=f"{R}/ogn/train/{{variant}}/{{source}}/model.pt",
        metrics=f"{R}/ogn/train/{{variant}}/{{source}}/metrics.json",
        loss=f"{R}/ogn/train/{{variant}}/{{source}}/loss.csv",
    wildcard_constraints:
        variant=r"[a-z][a-z_]*",
        source=OGN_SOURCE,
    params:
        cfg=lambda w: ogn_params(system=config["system"], training={"device": config["training"]["device"]},
                                 ogn={"graph_cutoff": OGN["graph_cutoff"], "hidden": OGN["hidden"],
                                      "variants": {w.variant: OGN["variants"][w.variant]}, "training": OGN["training"]}),
    threads: OGN.get("training", {}).get("threads", 1)
    log:
        f"{R}/logs/ogn/train_{{variant}}_{{source}}.log",
    shell:
        "{GD} ogn-train --params {params.cfg:q} --variant {wildcards.variant} --source {wildcards.source}"
        " --input {input} --output-dir $(dirname {output.model}) --threads {threads} > {log} 2>&1"


rule ogn_rollout:
    """Rollout of a trained OGN from the test trajectories against MD at Δt and at k·Δt."""
    input:
        model=f"{R}/ogn/train/{{variant}}/{{source}}/model.pt",
        data=lambda w: ogn_data(w.source, "test"),
    output:
        csv=report(f"{R}/ogn/rollout/{{variant}}/{{source}}.csv", caption="../report/ogn_rollout_csv.rst", category="OGN"),
        png=report(f"{R}/ogn/rollout/{{variant}}/{{source}}.png", caption="../report/ogn_rollout.rst", category="OGN"),
    wildcard_constraints:
        variant=r"[a-z][a-z_]*",
        source=OGN_SOURCE,
    params:
        cfg=lambda w: ogn_params(system=config["system"], ogn={"rollout": OGN["rollout"], "reference": OGN["reference"]}),
    threads: OGN.get("training", {}).get("threads", 1)
    log:
        f"{R}/logs/ogn/rollout_{{variant}}_{{source}}.log",
    shell:
        "{GD} ogn-rollout --params {params.cfg:q} --model-file {input.model} --input {input.data}"
        " --output-csv {output.csv} --output-png {output.png} --threads {threads} > {log} 2>&1"


rule ogn_summary:
    """Final-step rollout errors, energy drift and momentum of every (variant, source), beside Liu et al."""
    input:
        rollouts=ogn_rollouts(),
        metrics=ogn_metrics(),
    output:
        report(f"{R}/ogn/summary.csv", caption="../report/ogn_summary.rst", category="OGN"),
    params:
        cfg=lambda w: ogn_params(ogn={"reference": OGN["reference"]}),
    log:
        f"{R}/logs/ogn/summary.log",
    shell:
        "{GD} ogn-summary --params {params.cfg:q} --rollouts {input.rollouts} --metrics {input.metrics}"
        " --output {output} > {log} 2>&1"
