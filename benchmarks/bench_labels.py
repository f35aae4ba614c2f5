"""Time the label extraction of one configuration (all sampling times, R replicas).

Measures each kernel of :mod:`glassdyn.labels` on one configuration and the
whole :func:`glassdyn.labels_from_positions` (graph, S, E on every
edge, C_B, relative motion, D²_min, F_s, MSD), and its peak memory.

Data:
- synthetic (default): N particles placed at random at ρ = 1.2 (80:20 A:B),
  R replicas of Gaussian displacements with a time-dependent width, n_t
  times; unwrapped coordinates leave the box;
- ``--botan DIR``: the first BOTAN file in DIR (or DIR itself, a .npz):
  its one published time, and a 10-time series made from its displacements
  scaled by factors (same structure and pair statistics, synthetic times).

Reference: the BOTAN public code takes 2.8 s to build one graph plus targets
for ONE time point at N = 4096 on a 2-core machine.

    python benchmarks/bench_labels.py --n 4096 --replicas 32 --times 10
    python benchmarks/bench_labels.py --botan /path/to/botan_T0.44_tc07 --json out.json
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from glassdyn import config as gcfg
from glassdyn.labels.extract import extract_labels, label_settings, labels_from_positions
from glassdyn.physics.neighbors import neighbor_pairs
from glassdyn.physics.observables import (
    bond_breaking,
    displacements,
    mean_squared_displacement,
    nonaffine,
    pair_cutoffs,
    pair_distances,
    propensity,
    relative_motion,
    self_intermediate_scattering,
)

ROOT = Path(__file__).resolve().parents[1]


def synthetic(n: int, n_rep: int, n_t: int, seed: int = 0, density: float = 1.2) -> dict:
    """Random KA-like composition at density ρ with Gaussian displacements growing in time."""
    rng = np.random.default_rng(seed)
    L = (n / density) ** (1 / 3)
    box = np.full(3, L)
    x0 = rng.uniform(0, L, (n, 3))
    types = (np.arange(n) >= round(0.8 * n)).astype(np.int8)
    widths = np.geomspace(0.05, 3.0, n_t)
    steps = rng.normal(size=(n_rep, n_t, n, 3)) * widths[None, :, None, None] / np.sqrt(3)
    return {"types": types, "box": box, "initial_positions": x0, "positions": x0 + steps,
            "times": np.geomspace(0.1, 1000.0, n_t)}


def botan(path: Path, n_t: int) -> tuple[dict, dict]:
    from glassdyn.labels.imported import read_botan_npz

    if path.suffix == ".npz":
        f = path
    else:
        files = list((path / "train").glob("*.npz")) or list(path.glob("*.npz"))
        # numeric order: isoconfig_N4096T0.44_1_tc07.npz before ..._10_...
        f = min(files, key=lambda p: [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", p.name)])
    print(f"BOTAN file: {f}")
    one = read_botan_npz(f, time=4120.0)
    dr = one["positions"][:, 0] - one["initial_positions"]
    scales = np.geomspace(0.05, 1.5, n_t)
    series = dict(one, positions=one["initial_positions"] + scales[None, :, None, None] * dr[:, None],
                  times=np.geomspace(0.13, 1.3e5, n_t))
    return one, series


def best_of(fn, repeat: int) -> tuple[float, float]:
    """(wall, CPU) seconds, each the best of ``repeat`` runs. On a shared machine CPU time is the steadier."""
    wall, cpu = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def kernels(d: dict, cfg: dict, repeat: int) -> list[tuple[str, tuple[float, float]]]:
    """Per-kernel times for the whole configuration (summed over sampling times)."""
    st = label_settings(cfg)
    x0, box, types = d["initial_positions"], d["box"], d["types"]
    pos = d["positions"]
    n_t = pos.shape[1]
    r_max = max(st["cutoff"], st["a_in"] * max(st["sigma"].values()), st["relative_motion_cutoff"])
    rows = [("neighbour search (r = %.2f)" % r_max, best_of(lambda: neighbor_pairs(x0, box, r_max), repeat))]
    i, j, vec, dist = neighbor_pairs(x0, box, r_max)
    half = np.flatnonzero((i < j) & (dist <= st["cutoff"]))
    nn = np.flatnonzero(dist <= st["relative_motion_cutoff"])
    cut_in = pair_cutoffs(types, i, j, st["sigma"], st["a_in"])
    cut_out = pair_cutoffs(types, i, j, st["sigma"], st["a_out"])
    bc = np.flatnonzero(dist < cut_in)
    drs = [displacements(pos[:, t], x0) for t in range(n_t)]
    a = types == 0

    def each(fn):
        return best_of(lambda: [fn(dr) for dr in drs], repeat)

    rows += [
        ("propensity S", each(propensity)),
        ("pair distances |r_ij(t)| (i<j, shared by E and C_B)", each(
            lambda dr: pair_distances(dr, vec[half], box, i[half], j[half]))),
        ("bond breaking C_B (own distances)", each(
            lambda dr: bond_breaking(dist[bc], pair_distances(dr, vec[bc], box, i[bc], j[bc]),
                                            i[bc], cut_in[bc], cut_out[bc], len(types)))),
        ("relative motion R", each(lambda dr: relative_motion(dr, i[nn], j[nn]))),
        ("non-affine D2min", each(lambda dr: nonaffine(dr, i[nn], j[nn], vec[nn]))),
        ("F_s^A and MSD_A", each(lambda dr: (self_intermediate_scattering(dr, st["k"], a),
                                             mean_squared_displacement(dr, a)))),
    ]
    return rows


def whole(d: dict, cfg: dict, repeat: int) -> tuple[tuple[float, float], float, dict]:
    def run():
        return labels_from_positions(d["types"], d["box"], d["initial_positions"], d["positions"],
                                            d["times"], cfg)
    t = best_of(run, repeat)
    tracemalloc.start()
    out = run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return t, peak / 2**20, out


def rule(d: dict, cfg: dict, repeat: int) -> tuple[float, float]:
    """The labels rule end to end: read a replicas.h5, compute, write labels.h5 (atomic, as the campaign does)."""
    import tempfile

    from glassdyn.io import storage

    with tempfile.TemporaryDirectory() as tmp:
        src = storage.write_h5(Path(tmp) / "replicas.h5",
                               {k: d[k] for k in ("types", "box", "initial_positions", "times", "positions")},
                               {"T": 0.44, "c": 0})
        return best_of(lambda: extract_labels(cfg, src, Path(tmp) / "labels.h5"), repeat)


def report(name: str, d: dict, cfg: dict, repeat: int, rows_out: list) -> None:
    n_rep, n_t, n, _ = d["positions"].shape
    (t, cpu), peak, out = whole(d, cfg, repeat)
    rule_wall, rule_cpu = rule(d, cfg, repeat)
    print(f"\n## {name}: N = {n}, R = {n_rep}, n_t = {n_t}, E = {out['edge_index'].shape[1]}")
    print(f"{'step (all sampling times)':55s} {'wall s':>8s} {'CPU s':>8s}")
    ks = kernels(d, cfg, repeat)
    for k, (w, c) in ks:
        print(f"{k:55s} {w:8.3f} {c:8.3f}")
    print(f"{'labels_from_positions (whole configuration)':55s} {t:8.3f} {cpu:8.3f}")
    print(f"{'  per sampling time':55s} {t / n_t:8.3f} {cpu / n_t:8.3f}")
    print(f"{'labels rule: read replicas.h5, labels, write labels.h5':55s} {rule_wall:8.3f} {rule_cpu:8.3f}")
    print(f"peak traced memory of labels_from_positions: {peak:.0f} MiB (input positions: "
          f"{d['positions'].nbytes / 2**20:.0f} MiB)")
    rows_out.append({"data": name, "N": n, "R": n_rep, "n_t": n_t, "E": int(out["edge_index"].shape[1]),
                     "wall_seconds": t, "cpu_seconds": cpu, "wall_seconds_per_time": t / n_t, "peak_MiB": peak,
                     "rule_wall_seconds": rule_wall, "rule_cpu_seconds": rule_cpu,
                     "kernels": {k: {"wall": w, "cpu": c} for k, (w, c) in ks}})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096, help="particles of the synthetic configuration")
    ap.add_argument("--replicas", type=int, default=32)
    ap.add_argument("--times", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    ap.add_argument("--botan", type=Path, help="BOTAN data folder (or one .npz file)")
    ap.add_argument("--json", type=Path, help="write the results here")
    a = ap.parse_args(argv)

    cfg = gcfg.load(ROOT / "config.yaml")
    rows: list = []
    print(f"# label extraction benchmark ({platform.processor() or platform.machine()}, "
          f"{len(__import__('os').sched_getaffinity(0))} cores available)")
    if a.botan:
        one, series = botan(a.botan, a.times)
        report("BOTAN sample, published time t = 4120", one, cfg, a.repeat, rows)
        report(f"BOTAN structure, {a.times} scaled-displacement times", series, cfg, a.repeat, rows)
    else:
        report("synthetic", synthetic(a.n, a.replicas, a.times), cfg, a.repeat, rows)
    print(f"\nprocess max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
