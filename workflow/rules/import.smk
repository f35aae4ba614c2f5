# Published data sets as campaign input (glassdyn.datasets): with source.kind
# botan or glassbench the DAG starts at the labels and no MD runs.
from glassdyn.labels import imported as gdata

if SOURCE != "md":

    rule import_labels:
        """Labels of one configuration from published files (BOTAN: computed from the replica positions)."""
        input:
            lambda w: [str(p) for p in gdata.source_files(config, w.T, int(w.c))],
        output:
            f"{R}/labels/T{{T}}/c{{c}}.h5",
        params:
            cfg=lambda w: params_json(w, "system", "graph", "labels", "source"),
        log:
            f"{R}/logs/import_labels/T{{T}}_c{{c}}.log",
        resources:
            mem_mb=lambda w, attempt: gcluster.labels_memory_mb(config, w.T, attempt),
        shell:
            "{GD} import-labels --params {params.cfg:q} --T {wildcards.T} --c {wildcards.c}"
            " --input {input} --output {output} > {log} 2>&1"
