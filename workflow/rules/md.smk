# Molecular dynamics with LAMMPS: glassdyn.md.equilibrate, glassdyn.md.replicas.


rule equilibrate:
    """Random start, minimise, hold at T_high, quench, Nosé–Hoover hold at T."""
    output:
        f"{R}/md/T{{T}}/c{{c}}/equilibrated.h5",
    params:
        cfg=step_params("equilibrate"),
        ckpt=lambda w: f"{R}/md/T{w.T}/c{w.c}/checkpoints/equilibrate",
    log:
        f"{R}/logs/equilibrate/T{{T}}_c{{c}}.log",
    conda:
        f"{ENVS}/md.yaml"
    threads: MD_THREADS
    resources:
        **md_resources("equilibrate"),  # ranks, threads, segment length, scheduler request, {resources.launcher}
    retries: MD_RETRIES  # a run killed at its time limit resumes from its checkpoint
    shell:
        "{resources.launcher} {GD} equilibrate --params {params.cfg:q} --T {wildcards.T} --c {wildcards.c}"
        " --mpi-ranks {resources.mpi_ranks} --omp-threads {resources.omp_threads}"
        " --segment-steps {resources.segment_steps}"
        " --output {output:q} --checkpoint-dir {params.ckpt:q} > {log:q} 2>&1"


rule replicas:
    """R iso-configurational NVE runs with fresh Maxwell–Boltzmann velocities."""
    input:
        f"{R}/md/T{{T}}/c{{c}}/equilibrated.h5",
    output:
        f"{R}/md/T{{T}}/c{{c}}/replicas.h5",
    params:
        cfg=step_params("replicas"),
        ckpt=lambda w: f"{R}/md/T{w.T}/c{w.c}/checkpoints/replicas",
    log:
        f"{R}/logs/replicas/T{{T}}_c{{c}}.log",
    conda:
        f"{ENVS}/md.yaml"
    threads: MD_THREADS * config["parallel"].get("replica_groups", 1)
    resources:
        **md_resources("replicas"),
    retries: MD_RETRIES
    shell:
        "{resources.launcher} {GD} replicas --params {params.cfg:q} --T {wildcards.T} --c {wildcards.c}"
        " --mpi-ranks {resources.mpi_ranks} --omp-threads {resources.omp_threads}"
        " --replica-groups {resources.replica_groups} --segment-steps {resources.segment_steps}"
        " --max-energy-drift {CHECKS[max_energy_drift]} --temperature-tolerance {CHECKS[temperature_tolerance]}"
        " --input {input:q} --output {output:q} --checkpoint-dir {params.ckpt:q} > {log:q} 2>&1"
