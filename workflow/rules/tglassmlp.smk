# tGlassMLP, the transferable GlassMLP (SCIENCE.md §6): inherent structures (glassdyn.md.inherent),
# descriptors, state points, two-step training and the ensemble, evaluation in the common eval
# layout, analyses and the transferability test (glassdyn.tglassmlp.*).

TG_VARIANTS = targets.tglassmlp_variants(config) if "tglassmlp" in config["models"]["enabled"] else ["main"]
TG_THREADS = 1


def tg_train_resources():
    peak = resources.tglassmlp_training_bytes(config)
    return dict(runtime=resources.training_runtime(config),
                mem_mb=lambda w, attempt: resources.memory_mb(config, peak, attempt))


def tg_report(name, caption):
    """An output under results/tglassmlp/ shown in the Snakemake report with its caption."""
    return report(f"{R}/tglassmlp/{name}", caption=f"../report/tglassmlp_{caption}.rst", category="tGlassMLP")


wildcard_constraints:
    variant=r"main|transfer",
    m=r"\d+",


rule inherent:
    """Inherent structure of the t = 0 frame: LAMMPS minimisation, per-particle energy, Voronoi cells."""
    input:
        lambda w: targets.t0_frame(config, w.T, w.c),
    output:
        f"{R}/inherent/T{{T}}/c{{c}}.h5",
    params:
        cfg=step_params("inherent"),
    log:
        f"{R}/logs/inherent/T{{T}}_c{{c}}.log",
    conda:
        f"{ENVS}/md.yaml"
    shell:
        "{GD} inherent --params {params.cfg:q} --input {input:q} --output {output:q} > {log:q} 2>&1"


rule tglassmlp_descriptors:
    """Coarse-grained density, energy, Voronoi-area and energy-variance descriptors of one inherent structure."""
    input:
        f"{R}/inherent/T{{T}}/c{{c}}.h5",
    output:
        f"{R}/tglassmlp/descriptors/T{{T}}/c{{c}}.h5",
    params:
        cfg=step_params("tglassmlp_descriptors"),
    log:
        f"{R}/logs/tglassmlp/descriptors_T{{T}}_c{{c}}.log",
    conda:
        f"{ENVS}/analysis.yaml"
    resources:
        chunk_pairs=config["tglassmlp"]["descriptors"]["chunk_pairs"],
        mem_mb=lambda w, attempt: resources.descriptors_memory_mb(config, attempt),
    shell:
        "{GD} tglassmlp-descriptors --params {params.cfg:q} --chunk-pairs {resources.chunk_pairs}"
        " --input {input:q} --output {output:q} > {log:q} 2>&1"


rule tglassmlp_states:
    """c = <C_B(t)> of every (T, sampling time), from the training configurations' labels."""
    input:
        targets.training_labels(config, TEMPS),
    output:
        f"{R}/tglassmlp/states.csv",
    params:
        cfg=step_params("tglassmlp_states"),
    log:
        f"{R}/logs/tglassmlp/states.log",
    conda:
        f"{ENVS}/analysis.yaml"
    shell:
        "{GD} tglassmlp-states --params {params.cfg:q} --labels {input:q} --output {output:q} > {log:q} 2>&1"


rule tglassmlp_distill:
    """Step 1: equal-time networks at T >= T_min, self-consistency filter, distilled labels at T < T_min."""
    input:
        descriptors=lambda w: targets.training_descriptors(config, TEMPS),
        labels=lambda w: targets.training_labels(config, targets.md_temperatures(config, w.variant)),
        states=f"{R}/tglassmlp/states.csv",
    output:
        h5=f"{R}/train/tglassmlp/{{variant}}/distilled.h5",
        csv=f"{R}/train/tglassmlp/{{variant}}/distilled.csv",
    params:
        cfg=step_params("tglassmlp_distill"),
    log:
        f"{R}/logs/tglassmlp/distill_{{variant}}.log",
    conda:
        f"{ENVS}/torch.yaml"
    threads: TG_THREADS
    resources:
        **tg_train_resources(),
    shell:
        "{GD} tglassmlp-distill --params {params.cfg:q} --variant {wildcards.variant}"
        " --descriptors {input.descriptors:q} --labels {input.labels:q} --states {input.states:q}"
        " --output {output.h5:q} --threads {threads} > {log:q} 2>&1"


rule tglassmlp_train:
    """Step 2: one seeded ensemble member on MD labels at T >= T_min (+ distilled labels below)."""
    input:
        descriptors=lambda w: targets.member_descriptors(config, w.variant),
        labels=lambda w: targets.training_labels(config, targets.md_temperatures(config, w.variant)),
        states=f"{R}/tglassmlp/states.csv",
        distilled=lambda w: targets.distilled_file(config, w.variant),
    output:
        model=f"{R}/train/tglassmlp/{{variant}}/m{{m}}/model.pt",
        metrics=f"{R}/train/tglassmlp/{{variant}}/m{{m}}/metrics.json",
        loss=f"{R}/train/tglassmlp/{{variant}}/m{{m}}/loss.csv",
    params:
        cfg=step_params("tglassmlp_train"),
        distilled=lambda w, input: f"--distilled {shlex.quote(input.distilled[0])}" if input.distilled else "",
        out=lambda w, output: os.path.dirname(output.model),
    log:
        f"{R}/logs/tglassmlp/train_{{variant}}_m{{m}}.log",
    conda:
        f"{ENVS}/torch.yaml"
    threads: TG_THREADS
    resources:
        **tg_train_resources(),
    shell:
        "{GD} tglassmlp-train --params {params.cfg:q} --variant {wildcards.variant} --member {wildcards.m}"
        " --descriptors {input.descriptors:q} --labels {input.labels:q} --states {input.states:q}"
        " {params.distilled} --output-dir {params.out:q} --threads {threads} > {log:q} 2>&1"


rule tglassmlp_evaluate:
    """Ensemble Pearson over A particles per test configuration at one (T, time): the common eval CSV."""
    input:
        models=targets.tglassmlp_members(config, "main") if "tglassmlp" in config else [],
        descriptors=lambda w: targets.descriptors_of(config, w.T, targets.evaluated_indices(config)),
        labels=lambda w: targets.labels_of(config, w.T, targets.evaluated_indices(config)),
        states=f"{R}/tglassmlp/states.csv",
    output:
        csv=f"{R}/eval/tglassmlp/T{{T}}/t{{k}}.csv",
        predictions=f"{R}/tglassmlp/predictions/T{{T}}/t{{k}}.h5",
    params:
        cfg=step_params("tglassmlp_evaluate"),
    log:
        f"{R}/logs/tglassmlp/evaluate_T{{T}}_t{{k}}.log",
    conda:
        f"{ENVS}/torch.yaml"
    threads: TG_THREADS
    shell:
        "{GD} tglassmlp-evaluate --params {params.cfg:q} --T {wildcards.T} --time-index {wildcards.k}"
        " --models {input.models:q} --descriptors {input.descriptors:q} --labels {input.labels:q}"
        " --states {input.states:q} --output {output.csv:q} --predictions {output.predictions:q}"
        " --threads {threads} > {log:q} 2>&1"


rule tglassmlp_large_system:
    """One configuration tiled replicate^3 times, decorrelated by NVT MD, minimised: S4 at small q."""
    input:
        lambda w: targets.large_source(config, w.T),
    output:
        f"{R}/tglassmlp/large/T{{T}}.h5",
    params:
        cfg=step_params("tglassmlp_large_system"),
    log:
        f"{R}/logs/tglassmlp/large_T{{T}}.log",
    conda:
        f"{ENVS}/md.yaml"
    resources:
        chunk_pairs=config["tglassmlp"]["descriptors"]["chunk_pairs"],
    shell:
        "{GD} tglassmlp-large-system --params {params.cfg:q} --T {wildcards.T} --chunk-pairs {resources.chunk_pairs}"
        " --input {input:q} --output {output:q} > {log:q} 2>&1"


rule tglassmlp_analysis:
    """chi4 (MD and predicted), S4 and xi4, chord lengths, attention length xi_int, bottleneck plane."""
    input:
        predictions=targets.tglassmlp_predictions(config),
        models=targets.tglassmlp_members(config, "main") if "tglassmlp" in config else [],
        descriptors=[f for T in TEMPS for f in targets.descriptors_of(config, T, targets.analysis_indices(config))],
        large=targets.large_systems(config),
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
        cfg=step_params("tglassmlp_analysis"),
        large=lambda w, input: "--large " + " ".join(shlex.quote(p) for p in input.large) if input.large else "",
        out=f"{R}/tglassmlp/analysis",
    log:
        f"{R}/logs/tglassmlp/analysis.log",
    conda:
        f"{ENVS}/torch.yaml"
    threads: TG_THREADS
    shell:
        "{GD} tglassmlp-analysis --params {params.cfg:q} --predictions {input.predictions:q}"
        " --models {input.models:q} --descriptors {input.descriptors:q} {params.large} --states {input.states:q}"
        " --output-dir {params.out:q} --threads {threads} > {log:q} 2>&1"


rule tglassmlp_transfer:
    """Transferability: Pearson at the held-out lowest T, trained without it vs trained with it."""
    input:
        transfer=targets.tglassmlp_members(config, "transfer") if "tglassmlp" in config else [],
        direct=targets.tglassmlp_members(config, "main") if "tglassmlp" in config else [],
        descriptors=lambda w: targets.descriptors_of(config, targets.lowest_temperature(config),
                                                     gcfg.test_indices(config)),
        labels=lambda w: targets.test_labels(config, targets.lowest_temperature(config)),
        states=f"{R}/tglassmlp/states.csv",
    output:
        csv=tg_report("transfer.csv", "transfer"),
        png=tg_report("transfer.png", "transfer"),
    params:
        cfg=step_params("tglassmlp_transfer"),
    log:
        f"{R}/logs/tglassmlp/transfer.log",
    conda:
        f"{ENVS}/torch.yaml"
    threads: TG_THREADS
    shell:
        "{GD} tglassmlp-transfer --params {params.cfg:q} --transfer-models {input.transfer:q}"
        " --direct-models {input.direct:q} --descriptors {input.descriptors:q} --labels {input.labels:q}"
        " --states {input.states:q} --output-csv {output.csv:q} --output-png {output.png:q}"
        " --threads {threads} > {log:q} 2>&1"
