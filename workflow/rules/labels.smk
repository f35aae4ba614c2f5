# Dynamical labels and per-temperature dynamics: glassdyn.labels.extract, glassdyn.labels.dynamics.


# With a published data set (source.kind botan/glassbench) rule import_labels makes the labels instead.
if SOURCE == "md":

    rule labels:
        """S_i(t), E_ij(t) on every edge, C_B^i(t), relative motion, F_s and MSD of one configuration."""
        input:
            f"{R}/md/T{{T}}/c{{c}}/replicas.h5",
        output:
            f"{R}/labels/T{{T}}/c{{c}}.h5",
        params:
            cfg=step_params("labels"),
        log:
            f"{R}/logs/labels/T{{T}}_c{{c}}.log",
        conda:
            f"{ENVS}/analysis.yaml"
        resources:
            # from N, replicas and pairs; a retry asks for attempt x as much
            mem_mb=lambda w, attempt: resources.labels_memory_mb(config, w.T, attempt),
            runtime=lambda w, attempt: resources.labels_runtime(config, attempt),
        shell:
            "{GD} labels --params {params.cfg:q} --input {input:q} --output {output:q} > {log:q} 2>&1"


rule dynamics:
    """F_s^A(k, t) with fitted tau_alpha, MSD, chi4 and the MD checks of one temperature."""
    input:
        labels=lambda w: targets.all_labels(config, w.T),
        replicas=lambda w: targets.replicas_of(config, w.T) if SOURCE == "md" else [],  # imported: no MD checks
    output:
        csv=f"{R}/physics/T{{T}}/dynamics.csv",
        json=f"{R}/physics/T{{T}}/dynamics.json",
        png=report(f"{R}/physics/T{{T}}/dynamics.png", caption="../report/dynamics.rst", category="Physics"),
    params:
        cfg=step_params("dynamics"),
    log:
        f"{R}/logs/dynamics/T{{T}}.log",
    conda:
        f"{ENVS}/analysis.yaml"
    shell:
        "{GD} dynamics --params {params.cfg:q} --T {wildcards.T} --labels {input.labels:q}"
        " --replicas {input.replicas:q} --output-csv {output.csv:q} --output-json {output.json:q}"
        " --output-png {output.png:q} > {log:q} 2>&1"
