# Dynamical labels and per-temperature dynamics (glassdyn.labels, glassdyn.dynamics).


# With a published data set (source.kind botan/glassbench) rule import_labels makes the labels instead.
if SOURCE == "md":

    rule labels:
        """S_i(t), E_ij(t) on every edge, C_B^i(t), relative motion, F_s and MSD of one configuration."""
        input:
            f"{R}/md/T{{T}}/c{{c}}/replicas.h5",
        output:
            f"{R}/labels/T{{T}}/c{{c}}.h5",
        params:
            cfg=lambda w: params_json(w, "system", "graph", "labels"),
        log:
            f"{R}/logs/labels/T{{T}}_c{{c}}.log",
        resources:
            # from N, replicas and pairs (glassdyn.cluster); a retry asks for attempt x as much
            mem_mb=lambda w, attempt: gcluster.labels_memory_mb(config, w.T, attempt),
            runtime=lambda w, attempt: gcluster.labels_runtime(config, attempt),
        shell:
            "{GD} labels --params {params.cfg:q} --input {input} --output {output} > {log} 2>&1"


rule dynamics:
    """F_s^A(k, t) with fitted tau_alpha, MSD, chi4 and the MD checks of one temperature."""
    input:
        labels=lambda w: labels_of(w.T, range(config["configurations"]["n"])),
        replicas=lambda w: replicas_of(w.T) if SOURCE == "md" else [],  # imported data: no MD checks
    output:
        csv=f"{R}/physics/T{{T}}/dynamics.csv",
        json=f"{R}/physics/T{{T}}/dynamics.json",
        png=report(f"{R}/physics/T{{T}}/dynamics.png", caption="../report/dynamics.rst", category="Physics"),
    params:
        cfg=lambda w: params_json(w, "system", "protocol", "labels", "dynamics"),
    log:
        f"{R}/logs/dynamics/T{{T}}.log",
    shell:
        "{GD} dynamics --params {params.cfg:q} --T {wildcards.T} --labels {input.labels}"
        " --replicas {input.replicas} --output-csv {output.csv} --output-json {output.json}"
        " --output-png {output.png} > {log} 2>&1"
