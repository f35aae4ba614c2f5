"""Wall-clock of LAMMPS against the Fast-OGN learned simulator for the same simulated time.

The N = 265 KA liquid of the OGN box (L = 6.038, Δt = 0.005, T ≈ 3) is
prepared with LAMMPS and replicated nx × ny × nz times (N = 265 … 11 925 by
default). Both engines then advance the same state by ``--steps`` MD steps
of Δt: LAMMPS with velocity Verlet (``run``), the network with steps/k
predictions of k MD steps each, rebuilding its graph (cKDTree, r ≤ 3.0)
every prediction. Printed: seconds of wall clock per simulated τ, atom-steps
per second, and the ratio. The network's weights do not change its cost; a
trained ``--model`` can be given, otherwise an untrained one of the
configured size is timed (its standardisation has seen nothing, so its
predicted changes are ~1e-8 and the graph stays that of the liquid).

    python benchmarks/bench_ogn.py                       # CPU, default sizes
    python benchmarks/bench_ogn.py --max-n 3000 --steps 20   # smoke run
    python benchmarks/bench_ogn.py --device cuda --json out.json

Threads: ``--threads`` for both (LAMMPS via OpenMP ``package omp``, torch
intra-op threads). On a GPU only the network moves (graph construction stays
on the CPU); LAMMPS runs on the CPU in either case.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from glassdyn import config as gcfg
from glassdyn.md import native
from glassdyn.md.engine import Engine, potential_commands
from glassdyn.models import ogn as ognmod
from glassdyn.models.device import resolve_device
from glassdyn.ogn import trajectories
from glassdyn.ogn.rollout import rollout
from glassdyn.ogn.train import graph_tensors, load_ogn
from glassdyn.physics.neighbors import wrap
from glassdyn.physics.protocol import box_vector

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REPS = ["1x1x1", "2x2x2", "3x3x3", "3x3x5"]


def base_state(cfg: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(types, box, positions, velocities) of a prepared liquid of the OGN box."""
    sysc = trajectories.state_system(cfg)
    eng = Engine(sysc)
    try:
        types = trajectories.prepare_state(eng, cfg, "liquid", "bench")
        x, v = eng.positions(), eng.velocities()
    finally:
        eng.close()
    return types, box_vector(sysc), wrap(x, box_vector(sysc)), v


def replicate(types, box, x, v, reps):
    """The state tiled (nx, ny, nz) times: N·nx·ny·nz particles in a box of edges (nx, ny, nz)·L."""
    shifts = np.array([(i, j, k) for i in range(reps[0]) for j in range(reps[1]) for k in range(reps[2])], float)
    xs = (x[None] + shifts[:, None, :] * box).reshape(-1, 3)
    return np.tile(types, len(shifts)), box * np.array(reps, float), xs, np.tile(v, (len(shifts), 1))


def time_lammps(cfg: dict, types, box, x, v, steps: int, threads: int) -> float:
    """Seconds for ``steps`` velocity-Verlet steps of the (replicated) state (setup excluded)."""
    n = len(types)
    system = dict(cfg["system"], n_particles=n, density=n / float(np.prod(box)),
                  timestep=float(cfg["ogn"]["system"]["timestep"]))
    eng = Engine({"system": system}, omp_threads=threads)
    try:
        eng._header()
        eng.command(f"region box block 0 {float(box[0])!r} 0 {float(box[1])!r} 0 {float(box[2])!r}")
        eng.command("create_box 2 box")
        eng.lmp.create_atoms(n, list(range(1, n + 1)), (types.astype(int) + 1).tolist(), x.ravel().tolist(),
                             v.ravel().tolist())
        for c in potential_commands({"system": system}):
            eng.command(c)
        eng.command("fix integrate all nve")
        eng.run(0, pre=True)
        t0 = time.perf_counter()
        eng.run(steps, pre=False)
        return time.perf_counter() - t0
    finally:
        eng.close()


def time_network(model: ognmod.OGN, types, box, x, v, steps: int, cutoff: float, device) -> tuple[float, float]:
    """(total seconds, seconds in graph construction) for steps/k network steps (one warm-up step excluded)."""
    k = model.k
    rollout(model, types, box, x, v, 1, cutoff, device)  # warm-up (allocations, thread pools)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t_graph = 0.0
    t0 = time.perf_counter()
    pos, vel = np.asarray(x, float), np.asarray(v, float)
    types_t = torch.as_tensor(types, dtype=torch.long, device=device)
    with torch.no_grad():
        for _ in range(steps // k):
            tg = time.perf_counter()
            ei, ev = graph_tensors(wrap(pos, box), box, cutoff, device)
            t_graph += time.perf_counter() - tg
            y = model.predict(types_t, torch.as_tensor(vel, dtype=torch.float32, device=device), ei, ev)
            y = y.cpu().numpy().astype(np.float64)
            pos, vel = pos + y[:, :3], vel + y[:, 3:]
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, t_graph


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", action="append", help="config file(s) (default: config.yaml)")
    ap.add_argument("--reps", nargs="+", default=DEFAULT_REPS, help="replications nx x ny x nz of the N = 265 box")
    ap.add_argument("--max-n", type=int, help="skip sizes above this N (smoke runs)")
    ap.add_argument("--steps", type=int, default=100, help="MD steps of Δt simulated by each engine")
    ap.add_argument("--variants", nargs="+", default=["fast_ogn"], help="OGN variants (keys of ogn.variants)")
    ap.add_argument("--model", help="trained model.pt to time instead of an untrained network (its variant)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu | cuda | auto (network only)")
    ap.add_argument("--json", help="write the rows as JSON")
    a = ap.parse_args(argv)

    cfg = gcfg.load(*(a.config or [ROOT / "config.yaml"]))
    o = cfg["ogn"]
    torch.set_num_threads(a.threads)
    device = resolve_device(a.device)
    dt = float(o["system"]["timestep"])
    models = {}
    if a.model:
        m, meta = load_ogn(a.model, device)
        models[meta["variant"]] = m
    for name in a.variants:
        if name not in models:
            var = o["variants"][name]
            models[name] = ognmod.OGN(hidden=int(o["hidden"]), layers=int(var["layers"]), k=int(var["k"])).to(device).eval()
    for name, m in models.items():
        if a.steps % m.k:
            ap.error(f"--steps {a.steps} is not a multiple of k = {m.k} ({name})")

    types0, box0, x0, v0 = base_state(cfg)
    rows = []
    lmp = native.lammps()
    version = lmp.version()
    lmp.close()
    print(f"# LAMMPS {version} vs OGN; {a.steps} MD steps of dt = {dt} "
          f"({a.steps * dt:g} tau) per engine; threads = {a.threads}; network device = {device}; "
          f"torch {torch.__version__}; cuda available: {torch.cuda.is_available()}", flush=True)
    header = f"{'N':>7} {'engine':>10} {'L':>3} {'k':>3} {'wall_s':>9} {'s_per_tau':>10} {'atom_steps/s':>13} {'graph%':>7} {'LAMMPS/engine':>14}"
    print(header)
    for rep in a.reps:
        reps = tuple(int(r) for r in rep.lower().split("x"))
        n = len(types0) * int(np.prod(reps))
        if a.max_n and n > a.max_n:
            continue
        types, box, x, v = replicate(types0, box0, x0, v0, reps)
        t_md = time_lammps(cfg, types, box, x, v, a.steps, a.threads)
        row = {"N": n, "reps": rep, "engine": "lammps", "layers": None, "k": 1, "wall_s": t_md,
               "s_per_tau": t_md / (a.steps * dt), "atom_steps_per_s": n * a.steps / t_md, "graph_fraction": None,
               "speedup_vs_lammps": 1.0}
        rows.append(row)
        print(f"{n:>7} {'lammps':>10} {'-':>3} {1:>3} {t_md:>9.3f} {row['s_per_tau']:>10.3f} "
              f"{row['atom_steps_per_s']:>13.3g} {'-':>7} {1.0:>14.2f}", flush=True)
        for name, m in models.items():
            t, tg = time_network(m, types, box, x, v, a.steps, float(o["graph_cutoff"]), device)
            row = {"N": n, "reps": rep, "engine": name, "layers": len(m.layers), "k": m.k, "wall_s": t,
                   "s_per_tau": t / (a.steps * dt), "atom_steps_per_s": n * a.steps / t, "graph_fraction": tg / t,
                   "speedup_vs_lammps": t_md / t}
            rows.append(row)
            print(f"{n:>7} {name:>10} {len(m.layers):>3} {m.k:>3} {t:>9.3f} {row['s_per_tau']:>10.3f} "
                  f"{row['atom_steps_per_s']:>13.3g} {100 * tg / t:>6.0f}% {t_md / t:>14.3f}", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps({"steps": a.steps, "timestep": dt, "threads": a.threads, "device": str(device),
                                            "cuda_available": torch.cuda.is_available(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
