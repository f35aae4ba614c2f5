"""Subcommands of the MD rules (``equilibrate``, ``replicas``) and the plain-deck tool ``md-deck``."""
from __future__ import annotations

from glassdyn.cli.common import add_config, full_config, step_config
from glassdyn.md import deck, equilibrate, replicas
from glassdyn.md.checkpoint import segment_steps
from glassdyn.md.parallel import Execution


def _execution_args(p) -> None:
    """How an MD job runs; not part of --params (changing it reruns nothing)."""
    p.add_argument("--mpi-ranks", type=int, help="MPI ranks per LAMMPS run (start with `mpiexec -n`)")
    p.add_argument("--omp-threads", type=int, help="OpenMP threads per MPI rank (LAMMPS `package omp`)")
    p.add_argument("--replica-groups", type=int, help="replica groups run side by side (replicas only)")
    p.add_argument("--segment-steps", type=int, help="MD steps per restart segment")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep the restart segments after success")


def execution(a) -> Execution:
    """The job's execution settings: the options given, else the configuration's ``parallel`` and segment length."""
    cfg = full_config(a)
    par = cfg["parallel"]
    return Execution(mpi_ranks=a.mpi_ranks or par["mpi_ranks"], omp_threads=a.omp_threads or par["omp_threads"],
                     replica_groups=a.replica_groups or par.get("replica_groups", 1),
                     segment_steps=a.segment_steps or segment_steps(cfg), keep_checkpoints=a.keep_checkpoints)


def cmd_equilibrate(a):
    cfg = step_config(a, equilibrate.READS, T=a.T)
    equilibrate.equilibrate(cfg, a.T, a.c, a.output, run=execution(a), checkpoint_dir=a.checkpoint_dir)


def cmd_replicas(a):
    cfg = step_config(a, replicas.READS, T=a.T)
    checks = full_config(a)["protocol"]["checks"]
    checks = {"max_energy_drift": a.max_energy_drift or checks["max_energy_drift"],
              "temperature_tolerance": a.temperature_tolerance or checks["temperature_tolerance"]}
    replicas.run_replicas(cfg, a.T, a.c, a.input, a.output, checks=checks, run=execution(a),
                          checkpoint_dir=a.checkpoint_dir)


def cmd_md_deck(a):
    cfg = full_config(a)
    omp = a.omp_threads or cfg["parallel"]["omp_threads"]
    path = (deck.write_replica_deck(cfg, a.T, a.c, a.replica, a.input, a.output_dir, omp_threads=omp) if a.input
            else deck.write_input_deck(cfg, a.T, a.c, a.output_dir, omp_threads=omp))
    print(path)


def register(sub) -> None:
    p = sub.add_parser("equilibrate", help="random start -> T_high hold -> quench -> Nosé–Hoover hold (LAMMPS)")
    add_config(p)
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--c", required=True, type=int, help="configuration index")
    p.add_argument("--output", required=True)
    p.add_argument("--checkpoint-dir", help="restart segments (default: beside the output)")
    _execution_args(p)
    p.set_defaults(func=cmd_equilibrate)

    p = sub.add_parser("replicas", help="iso-configurational NVE replicas from an equilibrated frame")
    add_config(p)
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--c", required=True, type=int)
    p.add_argument("--input", required=True, help="equilibrated.h5")
    p.add_argument("--output", required=True)
    p.add_argument("--checkpoint-dir")
    p.add_argument("--max-energy-drift", type=float, help="gate: protocol.checks.max_energy_drift")
    p.add_argument("--temperature-tolerance", type=float, help="gate: protocol.checks.temperature_tolerance")
    _execution_args(p)
    p.set_defaults(func=cmd_replicas)

    p = sub.add_parser("md-deck", help="write a plain LAMMPS input deck (+ data files) equivalent to an MD step")
    p.add_argument("--config", action="append", help="config YAML file(s) merged over the defaults")
    p.add_argument("--T", required=True, type=float)
    p.add_argument("--c", required=True, type=int)
    p.add_argument("--input", help="equilibrated.h5 of (T, c): write the deck of one replica instead")
    p.add_argument("--replica", type=int, default=0)
    p.add_argument("--output-dir", required=True)
    p.add_argument("--omp-threads", type=int, help="OpenMP threads the deck asks LAMMPS for")
    p.set_defaults(func=cmd_md_deck)
