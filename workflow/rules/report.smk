# Campaign tables and figures (glassdyn.report).


rule temperature:
    """Everything at one temperature: `snakemake results/summary/T0.64.csv` runs or reruns it alone."""
    input:
        evaluations=lambda w: evaluations_of(w.T, alone=True),
        dynamics=lambda w: dynamics_of(w.T),
    output:
        f"{R}/summary/T{{T}}.csv",
    params:
        cfg=lambda w: params_json(w, "temperatures"),
    log:
        f"{R}/logs/summary/T{{T}}.log",
    shell:
        "{GD} report --params {params.cfg:q} --evaluations {input.evaluations}"
        " --dynamics {input.dynamics} --output-dir {R}/summary/T{wildcards.T} > {log} 2>&1"
        " && cp {R}/summary/T{wildcards.T}/cells.csv {output}"


rule report:
    """The table of every cell and the figures of the campaign."""
    input:
        evaluations=[e for T in TEMPS for e in evaluations_of(T)],
        dynamics=[d for T in TEMPS for d in dynamics_of(T)],
    output:
        cells=report(f"{R}/report/cells.csv", caption="../report/cells.rst", category="Accuracy"),
        pearson=report(f"{R}/report/pearson_vs_time.png", caption="../report/pearson.rst", category="Accuracy"),
        fs=report(f"{R}/report/fs.png", caption="../report/fs.rst", category="Physics"),
    params:
        cfg=lambda w: json.dumps({k: config[k] for k in ("temperatures", "models", "training")}, sort_keys=True),
    log:
        f"{R}/logs/report.log",
    shell:
        "{GD} report --params {params.cfg:q} --evaluations {input.evaluations}"
        " --dynamics {input.dynamics} --output-dir {R}/report > {log} 2>&1"
