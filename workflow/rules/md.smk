# Molecular dynamics with LAMMPS (glassdyn.md).


rule equilibrate:
    """Random start, minimise, hold at T_high, quench, Nosé–Hoover hold at T."""
    output:
        f"{R}/md/T{{T}}/c{{c}}/equilibrated.h5",
    params:
        cfg=lambda w: params_json(w, "system", "protocol"),
        ckpt=lambda w: f"{R}/md/T{w.T}/c{w.c}/checkpoints/equilibrate",
    log:
        f"{R}/logs/equilibrate/T{{T}}_c{{c}}.log",
    threads: config["parallel"]["omp_threads"] * config["parallel"]["mpi_ranks"]
    resources:
        # parallel settings go through resources, not params: changing them must not rerun finished jobs
        mpi_ranks=config["parallel"]["mpi_ranks"],
        omp_threads=config["parallel"]["omp_threads"],
        **md_resources("equilibrate"),  # scheduler request and {resources.launcher} (common.smk)
    retries: MD_RETRIES  # a run killed at its time limit resumes from its checkpoint
    shell:
        "{resources.launcher} {GD} equilibrate --params {params.cfg:q} --T {wildcards.T} --c {wildcards.c}"
        " --omp-threads {resources.omp_threads}"
        " --output {output} --checkpoint-dir {params.ckpt} > {log} 2>&1"


rule replicas:
    """R iso-configurational NVE runs with fresh Maxwell–Boltzmann velocities."""
    input:
        f"{R}/md/T{{T}}/c{{c}}/equilibrated.h5",
    output:
        f"{R}/md/T{{T}}/c{{c}}/replicas.h5",
    params:
        cfg=lambda w: params_json(w, "system", "protocol"),
        ckpt=lambda w: f"{R}/md/T{w.T}/c{w.c}/checkpoints/replicas",
    log:
        f"{R}/logs/replicas/T{{T}}_c{{c}}.log",
    threads: config["parallel"]["omp_threads"] * config["parallel"]["mpi_ranks"] * config["parallel"].get("replica_groups", 1)
    resources:
        # all MPI ranks of the job: replica_groups groups of mpi_ranks ranks each
        mpi_ranks=config["parallel"]["mpi_ranks"] * config["parallel"].get("replica_groups", 1),
        omp_threads=config["parallel"]["omp_threads"],
        replica_groups=config["parallel"].get("replica_groups", 1),
        **md_resources("replicas"),
    retries: MD_RETRIES
    shell:
        "{resources.launcher} {GD} replicas --params {params.cfg:q} --T {wildcards.T} --c {wildcards.c}"
        " --omp-threads {resources.omp_threads} --replica-groups {resources.replica_groups}"
        " --input {input} --output {output} --checkpoint-dir {params.ckpt} > {log} 2>&1"
