# tGlassMLP, the transferable GlassMLP (SCIENCE.md §6): inherent structures (glassdyn.inherent),
# descriptors (glassdyn.descriptors), state points, two-step training and the ensemble
# (glassdyn.tglassmlp, glassdyn.transfer), evaluation in the common eval layout, analyses
# (glassdyn.tglassmlp_analysis) and the transferability test.
from glassdyn.tglassmlp import train as _tg

TG = config.get("tglassmlp", {})
TG_ON = "tglassmlp" in config["models"]["enabled"]
TG_VARIANTS = ["main"] + (["transfer"] if TG.get("transfer") and len(TEMPS) >= 2 else [])
TEMPS_SORTED = sorted(TEMPS, key=float)
# the settings a trained network depends on (analysis settings do not retrain it)
TG_TRAIN_KEYS = ("descriptors", "network", "loss", "schedule", "T_min", "self_consistency", "equal_time")


def tg_params(**parts):
    """JSON of the config slices a rule depends on (so unrelated edits do not rerun it)."""
    return json.dumps(parts, sort_keys=True)


def tg_cfg(*keys, temperatures=None):
    """The slices every tGlassMLP training step depends on."""
    out = {k: config[k] for k in ("system", "configurations", "training") if k in config}
    out["tglassmlp"] = {k: TG[k] for k in keys} if keys else TG
    out["temperatures"] = temperatures if temperatures is not None else config["temperatures"]
    return out


def t0_frame(wildcards):
    """The t = 0 frame of (T, c): the equilibrated MD frame, or the labels file of imported data."""
    if SOURCE == "md":
        return f"{R}/md/T{wildcards.T}/c{wildcards.c}/equilibrated.h5"
    return f"{R}/labels/T{wildcards.T}/c{wildcards.c}.h5"


def tg_descriptors(T, indices):
    return [f"{R}/tglassmlp/descriptors/T{T}/c{conf(c)}.h5" for c in indices]


def tg_T_min(variant):
    return float(_tg.variant_T_min(config, variant))


def tg_high(variant):
    """Temperatures whose MD labels train ``variant``."""
    return [T for T in TEMPS if float(T) >= tg_T_min(variant) - 1e-9]


def tg_low(variant):
    """Temperatures below T_min of ``variant`` (distilled labels only)."""
    return [T for T in TEMPS if float(T) < tg_T_min(variant) - 1e-9]


def tg_members(variant):
    return [f"{R}/train/tglassmlp/{variant}/m{m}/model.pt" for m in range(int(TG.get("ensemble", 1)))]


def tg_analysis_indices():
    if TG.get("analysis", {}).get("chi4_set") == "all":
        return list(range(config["configurations"]["n"]))
    return gcfg.test_indices(config)


def tg_evaluated_indices():
    """Configurations predicted by the evaluation: the test ones, and those of the analyses."""
    return sorted(set(tg_analysis_indices()) | set(gcfg.test_indices(config)))


def tg_predictions():
    return [f"{R}/tglassmlp/predictions/T{T}/t{k}.h5" for T in TEMPS for k in gcfg.time_indices(config, T)]


def tg_large_source(wildcards):
    """The t = 0 frame tiled into the large system: the first test configuration."""
    return t0_frame(type("W", (), {"T": wildcards.T, "c": conf(gcfg.test_indices(config)[0])}))


TG_REPLICATE = int(TG.get("analysis", {}).get("s4", {}).get("replicate", 0))


def tg_report(name, caption):
    """An output under results/tglassmlp/ shown in the Snakemake report with its caption."""
    return report(f"{R}/tglassmlp/{name}", caption=f"../report/tglassmlp_{caption}.rst", category="tGlassMLP")


def tg_train_resources():
    peak = _tg.training_memory_bytes(config, len(TEMPS))
    return dict(runtime=gcluster.training_runtime(config),
                mem_mb=lambda w, attempt: gcluster.memory_mb(config, peak, attempt))


TG_ANALYSIS = ["chi4.csv", "chi4.png", "lengths.csv", "lengths.png", "s4.csv", "attention.csv", "attention.png",
               "bottleneck.png"]


def tglassmlp_targets():
    """Everything the tGlassMLP part of the campaign reports beyond its eval CSVs."""
    out = [f"{R}/tglassmlp/analysis/{f}" for f in TG_ANALYSIS]
    if "transfer" in TG_VARIANTS:
        out += [f"{R}/tglassmlp/transfer.csv", f"{R}/tglassmlp/transfer.png"]
    return out


wildcard_constraints:
    variant=r"main|transfer",
    m=r"\d+",


rule inherent:
    """Inherent structure of the t = 0 frame: LAMMPS minimisation, per-particle energy, Voronoi cells."""
    input:
        t0_frame,
    output:
        f"{R}/inherent/T{{T}}/c{{c}}.h5",
    params:
        cfg=lambda w: tg_params(system=config["system"], tglassmlp={"inherent": TG["inherent"]}),
    log:
        f"{R}/logs/inherent/T{{T}}_c{{c}}.log",
    shell:
        "{GD} inherent --params {params.cfg:q} --input {input} --output {output} > {log} 2>&1"


rule tglassmlp_descriptors:
    """Coarse-grained density, energy, Voronoi-area and energy-variance descriptors of one inherent structure."""
    input:
        f"{R}/inherent/T{{T}}/c{{c}}.h5",
    output:
        f"{R}/tglassmlp/descriptors/T{{T}}/c{{c}}.h5",
    params:
        cfg=lambda w: tg_params(tglassmlp={"descriptors": TG["descriptors"]}),
    log:
        f"{R}/logs/tglassmlp/descriptors_T{{T}}_c{{c}}.log",
    resources:
        mem_mb=lambda w, attempt: gcluster.memory_mb(config, 1.0e9 + 100.0 * TG["descriptors"]["chunk_pairs"], attempt),
    shell:
        "{GD} tglassmlp-descriptors --params {params.cfg:q} --input {input} --output {output} > {log} 2>&1"


rule tglassmlp_states:
    """c = <C_B(t)> of every (T, sampling time), from the training configurations' labels."""
    input:
        [f for T in TEMPS for f in labels_of(T, gcfg.train_indices(config))],
    output:
        f"{R}/tglassmlp/states.csv",
    params:
        cfg=lambda w: tg_params(temperatures=config["temperatures"], training=config["training"]),
    log:
        f"{R}/logs/tglassmlp/states.log",
    shell:
        "{GD} tglassmlp-states --params {params.cfg:q} --labels {input} --output {output} > {log} 2>&1"


rule tglassmlp_distill:
    """Step 1: equal-time networks at T >= T_min, self-consistency filter, distilled labels at T < T_min."""
    input:
        descriptors=lambda w: [f for T in TEMPS for f in tg_descriptors(T, gcfg.train_indices(config))],
        labels=lambda w: [f for T in tg_high(w.variant) for f in labels_of(T, gcfg.train_indices(config))],
        states=f"{R}/tglassmlp/states.csv",
    output:
        h5=f"{R}/train/tglassmlp/{{variant}}/distilled.h5",
        csv=f"{R}/train/tglassmlp/{{variant}}/distilled.csv",
    params:
        cfg=lambda w: tg_params(**tg_cfg(*TG_TRAIN_KEYS)),
    log:
        f"{R}/logs/tglassmlp/distill_{{variant}}.log",
    threads: 1
    resources:
        **tg_train_resources(),
    shell:
        "{GD} tglassmlp-distill --params {params.cfg:q} --variant {wildcards.variant}"
        " --descriptors {input.descriptors} --labels {input.labels} --states {input.states}"
        " --output {output.h5} --threads {threads} > {log} 2>&1"


rule tglassmlp_train:
    """Step 2: one seeded ensemble member on MD labels at T >= T_min (+ distilled labels below)."""
    input:
        descriptors=lambda w: [f for T in (TEMPS if tg_low(w.variant) else tg_high(w.variant))
                               for f in tg_descriptors(T, gcfg.train_indices(config))],
        labels=lambda w: [f for T in tg_high(w.variant) for f in labels_of(T, gcfg.train_indices(config))],
        states=f"{R}/tglassmlp/states.csv",
        distilled=lambda w: [f"{R}/train/tglassmlp/{w.variant}/distilled.h5"] if tg_low(w.variant) else [],
    output:
        model=f"{R}/train/tglassmlp/{{variant}}/m{{m}}/model.pt",
        metrics=f"{R}/train/tglassmlp/{{variant}}/m{{m}}/metrics.json",
        loss=f"{R}/train/tglassmlp/{{variant}}/m{{m}}/loss.csv",
    params:
        cfg=lambda w: tg_params(**tg_cfg(*TG_TRAIN_KEYS)),
        distilled=lambda w, input: f"--distilled {input.distilled}" if input.distilled else "",
    log:
        f"{R}/logs/tglassmlp/train_{{variant}}_m{{m}}.log",
    threads: 1
    resources:
        **tg_train_resources(),
    shell:
        "{GD} tglassmlp-train --params {params.cfg:q} --variant {wildcards.variant} --member {wildcards.m}"
        " --descriptors {input.descriptors} --labels {input.labels} --states {input.states} {params.distilled}"
        " --output-dir $(dirname {output.model}) --threads {threads} > {log} 2>&1"


rule tglassmlp_evaluate:
    """Ensemble Pearson over A particles per test configuration at one (T, time): the common eval CSV."""
    input:
        models=tg_members("main"),
        descriptors=lambda w: tg_descriptors(w.T, tg_evaluated_indices()),
        labels=lambda w: labels_of(w.T, tg_evaluated_indices()),
        states=f"{R}/tglassmlp/states.csv",
    output:
        csv=f"{R}/eval/tglassmlp/T{{T}}/t{{k}}.csv",
        predictions=f"{R}/tglassmlp/predictions/T{{T}}/t{{k}}.h5",
    params:
        cfg=lambda w: tg_params(**tg_cfg("self_consistency", temperatures=[gcfg.temperature(config, w.T)])),
    log:
        f"{R}/logs/tglassmlp/evaluate_T{{T}}_t{{k}}.log",
    threads: 1
    shell:
        "{GD} tglassmlp-evaluate --params {params.cfg:q} --T {wildcards.T} --time-index {wildcards.k}"
        " --models {input.models} --descriptors {input.descriptors} --labels {input.labels}"
        " --states {input.states} --output {output.csv} --predictions {output.predictions}"
        " --threads {threads} > {log} 2>&1"


rule tglassmlp_large_system:
    """One configuration tiled replicate^3 times, decorrelated by NVT MD, minimised: S4 at small q."""
    input:
        tg_large_source,
    output:
        f"{R}/tglassmlp/large/T{{T}}.h5",
    params:
        cfg=lambda w: tg_params(system=config["system"], temperatures=[gcfg.temperature(config, w.T)],
                                protocol={"thermostat_damping": config["protocol"]["thermostat_damping"]},
                                tglassmlp={k: TG[k] for k in ("inherent", "descriptors", "analysis")}),
    log:
        f"{R}/logs/tglassmlp/large_T{{T}}.log",
    shell:
        "{GD} tglassmlp-large-system --params {params.cfg:q} --T {wildcards.T} --input {input}"
        " --output {output} > {log} 2>&1"


rule tglassmlp_analysis:
    """chi4 (MD and predicted), S4 and xi4, chord lengths, attention length xi_int, bottleneck plane."""
    input:
        predictions=tg_predictions(),
        models=tg_members("main"),
        descriptors=[f for T in TEMPS for f in tg_descriptors(T, tg_analysis_indices())],
        large=[f"{R}/tglassmlp/large/T{T}.h5" for T in TEMPS] if TG_REPLICATE > 0 else [],
        states=f"{R}/tglassmlp/states.csv",
    output:
        chi4_csv=tg_report("analysis/chi4.csv", "chi4"),
        chi4=tg_report("analysis/chi4.png", "chi4"),
        lengths_csv=tg_report("analysis/lengths.csv", "lengths"),
        lengths=tg_report("analysis/lengths.png", "lengths"),
        s4=f"{R}/tglassmlp/analysis/s4.csv",
        attention_csv=tg_report("analysis/attention.csv", "attention"),
        attention=tg_report("analysis/attention.png", "attention"),
        bottleneck=tg_report("analysis/bottleneck.png", "bottleneck"),
    params:
        cfg=lambda w: tg_params(**tg_cfg("self_consistency", "analysis")),
        large=lambda w, input: f"--large {input.large}" if input.large else "",
    log:
        f"{R}/logs/tglassmlp/analysis.log",
    threads: 1
    shell:
        "{GD} tglassmlp-analysis --params {params.cfg:q} --predictions {input.predictions} --models {input.models}"
        " --descriptors {input.descriptors} {params.large} --states {input.states}"
        " --output-dir $(dirname {output.chi4}) --threads {threads} > {log} 2>&1"


rule tglassmlp_transfer:
    """Transferability: Pearson at the held-out lowest T, trained without it vs trained with it."""
    input:
        transfer=tg_members("transfer"),
        direct=tg_members("main"),
        descriptors=lambda w: tg_descriptors(TEMPS_SORTED[0], gcfg.test_indices(config)),
        labels=lambda w: labels_of(TEMPS_SORTED[0], gcfg.test_indices(config)),
        states=f"{R}/tglassmlp/states.csv",
    output:
        csv=tg_report("transfer.csv", "transfer"),
        png=tg_report("transfer.png", "transfer"),
    params:
        cfg=lambda w: tg_params(**tg_cfg("self_consistency")),
    log:
        f"{R}/logs/tglassmlp/transfer.log",
    threads: 1
    shell:
        "{GD} tglassmlp-transfer --params {params.cfg:q} --transfer-models {input.transfer}"
        " --direct-models {input.direct} --descriptors {input.descriptors} --labels {input.labels}"
        " --states {input.states} --output-csv {output.csv} --output-png {output.png}"
        " --threads {threads} > {log} 2>&1"
