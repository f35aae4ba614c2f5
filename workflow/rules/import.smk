# Published data sets as campaign input (glassdyn.labels.imported): with source.kind botan or
# glassbench the DAG starts at the labels and no MD runs.
from glassdyn.io import published

if SOURCE != "md":

    rule import_labels:
        """Labels of one configuration from published files (BOTAN: computed from the replica positions)."""
        input:
            lambda w: [str(p) for p in published.source_files(config, w.T, int(w.c))],
        output:
            f"{R}/labels/T{{T}}/c{{c}}.h5",
        params:
            cfg=step_params("import_labels"),
        log:
            f"{R}/logs/import_labels/T{{T}}_c{{c}}.log",
        conda:
            f"{ENVS}/analysis.yaml"
        resources:
            mem_mb=lambda w, attempt: resources.labels_memory_mb(config, w.T, attempt),
        shell:
            "{GD} import-labels --params {params.cfg:q} --T {wildcards.T} --c {wildcards.c}"
            " --input {input:q} --output {output:q} > {log:q} 2>&1"
