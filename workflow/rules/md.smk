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
        mpi_ranks=config["parallel"]["mpi_ranks"],
    shell:
        "{GD} equilibrate --params {params.cfg:q} --T {wildcards.T} --c {wildcards.c}"
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
    threads: config["parallel"]["omp_threads"] * config["parallel"]["mpi_ranks"]
    resources:
        mpi_ranks=config["parallel"]["mpi_ranks"],
    shell:
        "{GD} replicas --params {params.cfg:q} --T {wildcards.T} --c {wildcards.c}"
        " --input {input} --output {output} --checkpoint-dir {params.ckpt} > {log} 2>&1"
