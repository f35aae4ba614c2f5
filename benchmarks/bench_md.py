"""Throughput of the MD layer in each parallel mode, and its overhead over plain LAMMPS.

    python benchmarks/bench_md.py [--n 4096] [--steps 3000] [--T 0.64] [--repeat 1] [--json out.json]

Prepares one short-equilibrated configuration (cached in --workdir), then times
``glassdyn.run_replicas`` with R = 2 replicas of ``--steps`` NVE steps each
(sampling times of Table I up to the end, thermo every protocol.thermo_every)
in four modes — serial, 2 MPI ranks in one LAMMPS run, 2 OpenMP threads, and
2 replica groups side by side — and the plain ``lmp`` executable running the
equivalent deck (``glassdyn.write_replica_deck``) for one replica. Prints a
table of atom-steps per second (by wall time) and the CPU seconds used (all
ranks and threads). The overhead compares the serial workflow's time per
replica with ``lmp``'s for the same replica, by CPU time (robust on a shared,
oversubscribed machine) and by wall time (meaningful on an idle one).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from glassdyn.md.deck import write_replica_deck
from glassdyn.md.equilibrate import equilibrate
from glassdyn.md.parallel import Execution
from glassdyn.md.replicas import run_replicas

ROOT = Path(__file__).resolve().parents[1]

MODES = {  # name -> (MPI ranks, parallel section)
    "serial": (0, {"mpi_ranks": 1, "omp_threads": 1, "replica_groups": 1}),
    "mpi2": (2, {"mpi_ranks": 2, "omp_threads": 1, "replica_groups": 1}),
    "omp2": (0, {"mpi_ranks": 1, "omp_threads": 2, "replica_groups": 1}),
    "replicas2": (2, {"mpi_ranks": 1, "omp_threads": 1, "replica_groups": 2}),
}
REPLICAS = 2


def bench_config(n: int, steps: int, T: float) -> dict:
    from glassdyn import config as gcfg

    cfg = gcfg.load(ROOT / "config.yaml", check=False)
    cfg["system"]["n_particles"] = n
    dt = cfg["system"]["timestep"]
    end = steps * dt
    entry = copy.deepcopy(gcfg.temperature(cfg, T))
    entry["times"] = [t for t in entry["times"] if t < end - dt / 2] + [end]
    cfg["temperatures"] = [entry]
    # preparation only: a short quench gives a dense liquid at T (speed, not equilibrium, is measured)
    cfg["protocol"].update(t_high=1.0, t_cool=1.0, hold_tau_alpha=0.05, replicas=REPLICAS)
    return cfg


def prepare(cfg: dict, T: float, workdir: Path) -> Path:

    eq = workdir / f"equilibrated_N{cfg['system']['n_particles']}.h5"
    if not eq.exists():
        equilibrate(cfg, T, 0, eq, checkpoint_dir=workdir / "ck_eq")
    return eq


def worker(a) -> None:
    """One timed run_replicas (possibly under mpiexec); rank 0 writes the timing JSON."""
    from glassdyn.md import native

    cfg = json.loads(Path(a.cfg_file).read_text())
    native.preload_mpi()
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    out = Path(a.out)
    shutil.rmtree(out.parent / "ck", ignore_errors=True)
    comm.Barrier()
    t0, c0 = time.perf_counter(), time.process_time()
    run = Execution(**{k: int(v) for k, v in cfg["parallel"].items()})
    run_replicas(cfg, a.T, 0, a.equilibrated, out, checks=cfg["protocol"]["checks"], run=run,
                 checkpoint_dir=out.parent / "ck")
    cpu = time.process_time() - c0
    comm.Barrier()
    wall = time.perf_counter() - t0
    cpu = comm.allreduce(cpu)
    if comm.Get_rank() == 0:
        (out.parent / "timing.json").write_text(json.dumps({"wall": wall, "cpu": cpu, "ranks": comm.Get_size()}))


def run_mode(name: str, cfg: dict, T: float, eq: Path, workdir: Path) -> dict:
    from glassdyn.md import native

    ranks, par = MODES[name]
    c = copy.deepcopy(cfg)
    c["parallel"] = par
    d = workdir / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    (d / "cfg.json").write_text(json.dumps(c))
    cmd = [sys.executable, __file__, "--worker", "--cfg-file", str(d / "cfg.json"), "--T", str(T),
           "--equilibrated", str(eq), "--out", str(d / "replicas.h5")]
    if ranks:
        cmd = [native.mpiexec(), "-n", str(ranks)] + cmd
    env = dict(os.environ, OMP_NUM_THREADS=str(par["omp_threads"]))
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode:
        raise RuntimeError(f"mode {name} failed:\n{res.stderr[-3000:]}")
    return json.loads((d / "timing.json").read_text())


def _lmp(deck: str, cwd: Path) -> dict:
    """Wall and CPU seconds of one ``lmp -in deck`` process."""
    exe = Path(sys.prefix) / "bin" / "lmp"
    env = dict(os.environ, LD_LIBRARY_PATH=f"{Path(sys.prefix) / 'lib'}:{os.environ.get('LD_LIBRARY_PATH', '')}",
               OMP_NUM_THREADS="1", OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    res = subprocess.run([str(exe), "-in", deck, "-log", "log.lammps", "-screen", "none", "-nocite"],
                         cwd=cwd, capture_output=True, text=True, env=env)
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode:
        raise RuntimeError(f"lmp failed: {res.stderr[-2000:]}")
    return {"wall": wall, "cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), "ranks": 1}


def run_plain_lmp(cfg: dict, T: float, eq: Path, workdir: Path) -> dict:
    """``lmp -in in.replica`` for replica 0 (the same NVE run, dumps and thermo), minus the
    executable's start-up (an empty deck), which the workflow's timing excludes too."""

    d = workdir / "lmp"
    shutil.rmtree(d, ignore_errors=True)
    deck = write_replica_deck(cfg, T, 0, 0, eq, d)
    (d / "in.empty").write_text("units lj\n")
    empty = _lmp("in.empty", d)
    full = _lmp(deck.name, d)
    return {"wall": full["wall"] - empty["wall"], "cpu": full["cpu"] - empty["cpu"], "ranks": 1,
            "startup_wall": empty["wall"], "startup_cpu": empty["cpu"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096, help="particles")
    ap.add_argument("--steps", type=int, default=3000, help="NVE steps per replica")
    ap.add_argument("--T", type=float, default=0.64)
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma list of {list(MODES)}")
    ap.add_argument("--repeat", type=int, default=1, help="timings per mode (the fastest is kept)")
    ap.add_argument("--workdir", help="keep the prepared configuration and runs here (default: a temporary folder)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--cfg-file", help=argparse.SUPPRESS)
    ap.add_argument("--equilibrated", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        worker(a)
        return 0

    tmp = None if a.workdir else tempfile.TemporaryDirectory(prefix="bench_md_")
    workdir = Path(a.workdir or tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = bench_config(a.n, a.steps, a.T)
    eq = prepare(cfg, a.T, workdir)
    work = REPLICAS * a.steps * a.n
    modes = a.modes.split(",")
    timings: dict[str, list[dict]] = {m: [] for m in modes + ["lmp"]}
    for _ in range(a.repeat):  # interleaved, so that a change of machine load hits every mode alike
        for name in modes:
            timings[name].append(run_mode(name, cfg, a.T, eq, workdir))
            print(f"  {name}: {timings[name][-1]}", file=sys.stderr)
        timings["lmp"].append(run_plain_lmp(cfg, a.T, eq, workdir))
        print(f"  lmp: {timings['lmp'][-1]}", file=sys.stderr)
    rows = []
    for name in modes + ["lmp"]:
        wall = min(t["wall"] for t in timings[name])
        cpu = min(t["cpu"] for t in timings[name])
        steps = a.steps * a.n if name == "lmp" else work
        ranks, par = MODES.get(name, (1, {"omp_threads": 1}))
        rows.append({"mode": "plain lmp (1 replica)" if name == "lmp" else name, "ranks": max(1, ranks),
                     "omp_threads": par["omp_threads"], "wall_s": wall, "cpu_s": cpu,
                     "atom_steps_per_s": steps / wall, "atom_steps_per_cpu_s": steps / cpu})
    by = {r["mode"]: r for r in rows}
    lmp = by["plain lmp (1 replica)"]
    overhead = None
    if "serial" in by:
        overhead = {"cpu": by["serial"]["cpu_s"] / REPLICAS / lmp["cpu_s"] - 1.0,
                    "wall": by["serial"]["wall_s"] / REPLICAS / lmp["wall_s"] - 1.0}

    print(f"MD throughput, N = {a.n}, T = {a.T}, {a.steps} NVE steps x {REPLICAS} replicas "
          f"(thermo every {cfg['protocol']['thermo_every']}, {len(cfg['temperatures'][0]['times'])} sampling times), "
          f"best of {a.repeat}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"{'mode':<24}{'ranks':>6}{'threads':>8}{'wall s':>9}{'CPU s':>9}{'atom-steps/s':>14}{'per CPU s':>12}")
    for r in rows:
        print(f"{r['mode']:<24}{r['ranks']:>6}{r['omp_threads']:>8}{r['wall_s']:>9.2f}{r['cpu_s']:>9.2f}"
              f"{r['atom_steps_per_s']:>14.3e}{r['atom_steps_per_cpu_s']:>12.3e}")
    if overhead is not None:
        print(f"workflow overhead vs plain lmp (serial, per replica): CPU {100 * overhead['cpu']:+.1f}%, "
              f"wall {100 * overhead['wall']:+.1f}% (target within 2%)")
    if a.json:
        Path(a.json).write_text(json.dumps({"n": a.n, "steps": a.steps, "T": a.T, "replicas": REPLICAS,
                                            "rows": rows, "overhead": overhead,
                                            "load_average": os.getloadavg()[0]}, indent=2))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
