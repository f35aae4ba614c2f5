# Campaign tables and figures: glassdyn.campaign.report.


rule temperature:
    """Everything at one temperature: `snakemake results/summary/T0.64.csv` runs or reruns it alone."""
    input:
        evaluations=lambda w: targets.evaluations_of(config, w.T, alone=True),
        dynamics=lambda w: targets.dynamics_of(config, w.T),
    output:
        cells=f"{R}/summary/T{{T}}.csv",
        folder=directory(f"{R}/summary/T{{T}}"),
    params:
        cfg=step_params("temperature"),
    log:
        f"{R}/logs/summary/T{{T}}.log",
    conda:
        f"{ENVS}/analysis.yaml"
    shell:
        "{GD} report --params {params.cfg:q} --evaluations {input.evaluations:q}"
        " --dynamics {input.dynamics:q} --output-dir {output.folder:q} > {log:q} 2>&1"
        " && cp {output.folder:q}/cells.csv {output.cells:q}"


rule report:
    """The table of every cell and the figures of the campaign."""
    input:
        evaluations=[e for T in TEMPS for e in targets.evaluations_of(config, T)],
        dynamics=[d for T in TEMPS for d in targets.dynamics_of(config, T)],
    output:
        cells=report(f"{R}/report/cells.csv", caption="../report/cells.rst", category="Accuracy"),
        pearson=report(f"{R}/report/pearson_vs_time.png", caption="../report/pearson.rst", category="Accuracy"),
        fs=report(f"{R}/report/fs.png", caption="../report/fs.rst", category="Physics"),
    params:
        cfg=step_params("report"),
        out=f"{R}/report",
    log:
        f"{R}/logs/report.log",
    conda:
        f"{ENVS}/analysis.yaml"
    shell:
        "{GD} report --params {params.cfg:q} --evaluations {input.evaluations:q}"
        " --dynamics {input.dynamics:q} --output-dir {params.out:q} > {log:q} 2>&1"
