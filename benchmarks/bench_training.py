"""Speed and memory of the NT-GNN/BOTAN interaction network: training steps, inference, scaling with N.

Rows (each measured in a fresh subprocess, so its peak memory is its own):

- ``step botan``: one optimiser step (forward, backward, Adam) of BOTAN
  (p = 0.4, one graph per step) at N = ``--n``;
- ``step botan (plain)``: the same step of the same network written the
  plain way (concatenate [h_j, h_i, h_e, h_e⁰], one 4d → d first layer on
  every edge, index_select gathers, scatter-sum), the baseline the fast path
  is compared against under the same machine load;
- ``step ntgnn``: one NT-GNN step (p = 1, ``--ntgnn-graphs`` graphs per step);
- ``inference``: one configuration, both decoders, no gradients;
- ``load``: reading one labels.h5 (graph, targets, masks) into tensors, per
  graph: done once per training cell, the graphs then stay in memory (on the
  GPU when training there);
- ``epoch data``: the data work of one graph per epoch: its rotation drawn
  and applied to the cached edge vectors (no neighbour search per epoch);
- scaling: inference for N = 1024 … ``--max-n`` and training steps for
  N ≤ ``--max-train-n``, from boxes replicated 2×2×1, 2×2×2, 3×3×3 (N ≥ 100k).

Structures: random KA-like positions at ρ = 1.2 (80:20 types, ≈ 40 edges per
particle), or with ``--botan DIR`` the first BOTAN training file (real KA
structure, 40.6 edges per particle). Time is wall-clock (min and median of
``--repeat`` after one warm-up) and process CPU time per step (robust to
other load on a shared machine); ``load`` is the 1-minute load average.

``--precision bf16`` runs the fast training steps under bf16 autocast
(``training.precision``); ``--compile`` wraps the network in
``torch.compile`` (measured, not used by the campaign: slower on this CPU).

Reference: the published BOTAN code takes 4.8 s per BOTAN training step at
N = 4096 on this 2-core machine; target ≥ 3× faster (< 1.6 s) and inference
< 0.5 s.

    python benchmarks/bench_training.py                          # full table
    python benchmarks/bench_training.py --max-n 4096 --repeat 2  # smoke run
    python benchmarks/bench_training.py --botan ../shared/data/botan_T0.44_tc07 --json bench.json
    python benchmarks/bench_training.py --botan ../shared/data/botan_T0.44_tc07 --precision bf16 --max-n 4096
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from glassdyn.gnn.batches import decode_mode, make_batch, rotation_for
from glassdyn.gnn.data import read_cell, to_graph
from glassdyn.models.device import precision_context, resolve_device, retain_freed_memory

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- structures
def synthetic_structure(n: int, seed: int = 0, density: float = 1.2):
    rng = np.random.default_rng(seed)
    L = (n / density) ** (1 / 3)
    types = (np.arange(n) >= round(0.8 * n)).astype(np.int8)
    return types, np.full(3, L), rng.uniform(0, L, (n, 3))


def botan_structure(folder: str):
    from glassdyn.labels.imported import read_botan_npz

    p = Path(folder)
    files = [p] if p.is_file() else sorted((p / "train").glob("*.npz")) or sorted(p.rglob("*.npz"))
    d = read_botan_npz(files[0])
    return d["types"], d["box"], d["initial_positions"]


def replicate(types, box, pos, reps):
    """The box repeated reps = (kx, ky, kz) times: N · kx ky kz particles."""
    shifts = np.array([[i, j, k] for i in range(reps[0]) for j in range(reps[1]) for k in range(reps[2])], float)
    pos = np.mod(pos, box)
    big = (pos[None] + shifts[:, None] * box).reshape(-1, 3)
    return np.tile(types, len(shifts)), box * np.array(reps), big


def structure_of_size(n: int, base):
    """A structure with N = n: the base (N0) replicated, or a synthetic box when n is not N0·k."""
    types, box, pos = base
    n0 = len(types)
    for reps in ((1, 1, 1), (2, 1, 1), (2, 2, 1), (2, 2, 2), (3, 2, 2), (3, 3, 2), (3, 3, 3), (4, 4, 4)):
        if n0 * np.prod(reps) == n:
            return replicate(types, box, pos, reps)
    return synthetic_structure(n, seed=n)


# ----------------------------------------------------------------------------- the plain baseline
def plain_forward(net, x, edge_index, edge_attr, decode="both"):
    """The same network (same parameters) written without the fast path's splits and fusions."""
    import torch
    from torch_geometric.utils import scatter

    def mlp(m, z, final=True):
        y = m.lin2(torch.relu(m.lin1(z)))
        return torch.relu(y) if final else y

    src, dst = edge_index
    h0 = mlp(net.node_encoder, x)
    e0 = mlp(net.edge_encoder, edge_attr)
    h, e = h0, e0
    for _ in range(net.steps):
        e = mlp(net.edge_update, torch.cat([h[src], h[dst], e, e0], dim=1))
        agg = scatter(e, dst, dim=0, dim_size=h.shape[0], reduce="sum")
        h = mlp(net.node_update, torch.cat([h, h0, agg], dim=1))
    nodes = mlp(net.node_decoder, h, final=False).squeeze(-1) if decode != "edges" else None
    edges = mlp(net.edge_decoder, e, final=False).squeeze(-1) if decode != "nodes" else None
    return nodes, edges


# ----------------------------------------------------------------------------- the data path
def measure_data(case: str, n: int, args) -> dict:
    """``load``: reading one labels.h5 into tensors (once per cell, per graph); ``epoch_data``: the per-epoch
    data work of one graph in training (its rotation, R drawn and applied to the cached edge vectors)."""
    import tempfile

    import torch

    from glassdyn.io import storage
    from glassdyn.physics.graphs import build_graph

    base = botan_structure(args.botan) if args.botan else synthetic_structure(4096)
    types, box, pos = structure_of_size(n, base)
    ei, ev = build_graph(pos, box, 2.0)
    rng = np.random.default_rng(0)
    n_t, G = 10, args.data_graphs
    device = resolve_device(args.device)
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as tmp:
        paths = [storage.write_h5(Path(tmp) / f"labels_{c}.h5", {
            "types": types, "times": np.geomspace(0.1, 100, n_t), "edge_index": ei, "edge_vectors": ev,
            "propensity": rng.random((n_t, len(types))), "pair_distance_change": rng.random((n_t, ei.shape[1]))},
            {"T": 0.44, "c": c}) for c in range(G)]

        def load():
            return [to_graph(read_cell(q, 3, True, True, 1.35)[0], c, device)
                    for c, q in enumerate(paths)]

        graphs = load()

        def epoch(i):
            for slot, g in enumerate(graphs):
                R = torch.as_tensor(rotation_for(0, i, slot), dtype=torch.float32, device=device)
                make_batch([g], [R])

        for i in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            load() if case == "load" else epoch(i)
            if device.type == "cuda":
                torch.cuda.synchronize()
            walls.append((time.perf_counter() - t0) / G)
            cpus.append((time.process_time() - c0) / G)
    return {"case": case, "N": int(len(types)), "E": int(ei.shape[1]), "graphs": G,
            "wall_min_s": min(walls), "wall_median_s": float(np.median(walls)), "cpu_s": float(np.median(cpus)),
            "peak_MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "setup_MiB": None,
            "threads": torch.get_num_threads(), "device": str(device), "load": os.getloadavg()[0]}


# ----------------------------------------------------------------------------- one row (in a subprocess)
def measure(case: str, n: int, args) -> dict:
    import torch

    from glassdyn.models.interaction_network import InteractionNetwork
    from glassdyn.physics.graphs import build_graph, node_inputs

    if case.startswith("step"):
        retain_freed_memory()   # as train_cell does; inference (predict) keeps glibc's defaults
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    base = botan_structure(args.botan) if args.botan else synthetic_structure(4096)
    n_graphs = args.ntgnn_graphs if case == "step_ntgnn" else 1
    graphs = []
    for g in range(n_graphs):
        types, box, pos = structure_of_size(n, base) if g == 0 else synthetic_structure(n, seed=100 + g)
        ei, ev = build_graph(pos, box, 2.0)
        graphs.append((torch.as_tensor(node_inputs(types), device=device), torch.as_tensor(ei, device=device),
                       torch.as_tensor(ev, device=device)))
    torch.manual_seed(0)
    net = InteractionNetwork(args.hidden, args.steps).to(device)
    p = 1.0 if case == "step_ntgnn" else 0.4
    decode = decode_mode(p)
    if p >= 1.0:
        net.edge_decoder.requires_grad_(False)
    opt = torch.optim.Adam([q for q in net.parameters() if q.requires_grad], lr=1e-4)
    off = np.cumsum([0] + [g[0].shape[0] for g in graphs[:-1]])
    x = torch.cat([g[0] for g in graphs])
    ei = torch.cat([g[1] + int(o) for g, o in zip(graphs, off)], dim=1)
    ev = torch.cat([g[2] for g in graphs])
    S = torch.randn(x.shape[0], device=device)
    E = torch.randn(ei.shape[1], device=device)
    forward = (lambda *a, **k: plain_forward(net, *a, **k)) if case == "step_plain" else net
    if args.compile and case != "step_plain":
        forward = torch.compile(net)
    # The plain baseline is the float32 reference; --precision applies to the fast path.
    autocast = precision_context("fp32" if case == "step_plain" else args.precision, device)

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast:
            nodes, edges = forward(x, ei, ev, decode=decode)
        loss = p * torch.mean((nodes - S) ** 2) if p > 0 else 0.0
        if p < 1:
            loss = loss + (1 - p) * torch.mean((edges - E) ** 2)
        loss.backward()
        opt.step()

    def infer():
        with torch.no_grad():
            net(x, ei, ev)

    fn = infer if case == "inference" else step

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    walls, cpus = [], []
    for i in range(args.repeat + 1):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        sync()
        if i:
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
    peak = (torch.cuda.max_memory_allocated() / 2 ** 20 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"case": case, "N": int(x.shape[0]), "E": int(ei.shape[1]), "graphs": n_graphs,
            "precision": "fp32" if case in ("step_plain", "inference") else args.precision,
            "wall_min_s": min(walls), "wall_median_s": float(np.median(walls)), "cpu_s": float(np.median(cpus)),
            "peak_MiB": peak, "setup_MiB": rss0 if device.type == "cpu" else None, "threads": torch.get_num_threads(),
            "device": str(device), "load": os.getloadavg()[0]}


def run_row(case: str, n: int, argv: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--row", case, str(n), *argv]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        return {"case": case, "N": n, "error": (res.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(res.stdout.strip().splitlines()[-1])


LABELS = {"step_botan": "step botan (p=0.4, 1 graph)", "step_plain": "step botan, plain baseline",
          "step_ntgnn": "step ntgnn (p=1, {g} graphs)", "inference": "inference (1 config)",
          "load": "load labels.h5 (per graph, once)", "epoch_data": "epoch data: rotate (per graph)"}


def table(rows: list[dict]) -> str:
    head = f"{'case':32s} {'N':>7s} {'E':>9s} {'wall min s':>10s} {'median s':>9s} {'cpu s':>7s} {'peak MiB':>9s} {'load':>5s}"
    lines = [head, "-" * len(head)]
    for r in rows:
        name = LABELS.get(r["case"], r["case"]).format(g=r.get("graphs", ""))
        if r.get("precision", "fp32") != "fp32":
            name += f" {r['precision']}"
        if "error" in r:
            lines.append(f"{name:32s} {r['N']:>7d}   error: {r['error']}")
            continue
        lines.append(f"{name:32s} {r['N']:>7d} {r['E']:>9d} {r['wall_min_s']:>10.3f} {r['wall_median_s']:>9.3f} "
                     f"{r['cpu_s']:>7.2f} {r['peak_MiB']:>9.0f} {r['load']:>5.1f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--botan", help="BOTAN data folder (or one .npz): real KA structure instead of random positions")
    ap.add_argument("--n", type=int, default=4096, help="system size of the main rows")
    ap.add_argument("--max-n", type=int, default=110592, help="largest N of the inference scaling rows")
    ap.add_argument("--max-train-n", type=int, default=16384, help="largest N of the training-step scaling rows")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--steps", type=int, default=7, help="message-passing cycles")
    ap.add_argument("--ntgnn-graphs", type=int, default=5)
    ap.add_argument("--data-graphs", type=int, default=10, help="labels.h5 files of the data-path rows")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16"],
                    help="training.precision of the fast training steps (inference and the baseline: fp32)")
    ap.add_argument("--compile", action="store_true",
                    help="torch.compile the network of the fast rows (measured slower on this CPU; see README)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the plain baseline row")
    ap.add_argument("--json", help="write the rows (and plan figures) here")
    ap.add_argument("--row", nargs=2, metavar=("CASE", "N"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.row:
        fn = measure_data if a.row[0] in ("load", "epoch_data") else measure
        print(json.dumps(fn(a.row[0], int(a.row[1]), a)))
        return 0

    passthrough = [f"--repeat={a.repeat}", f"--threads={a.threads}", f"--device={a.device}", f"--hidden={a.hidden}",
                   f"--steps={a.steps}", f"--ntgnn-graphs={a.ntgnn_graphs}",
                   f"--data-graphs={a.data_graphs}", f"--precision={a.precision}"]
    passthrough += (["--compile"] if a.compile else []) + ([f"--botan={a.botan}"] if a.botan else [])
    plan = [("step_botan", a.n)] + ([] if a.no_baseline else [("step_plain", a.n)])
    plan += [("step_ntgnn", a.n), ("inference", a.n), ("load", a.n), ("epoch_data", a.n)]
    base_n = 4096
    sizes = [s for s in (1024, base_n, 4 * base_n, 8 * base_n, 27 * base_n) if s <= a.max_n]
    plan += [("inference", s) for s in sizes if s != a.n]
    plan += [("step_botan", s) for s in sizes if s != a.n and s <= a.max_train_n]
    rows = []
    for case, n in plan:
        r = run_row(case, n, passthrough)
        rows.append(r)
        print(table([r]).splitlines()[-1], flush=True)
    print()
    print(table(sorted(rows, key=lambda r: (r["case"], r["N"]))))
    by = {(r["case"], r["N"]): r for r in rows if "error" not in r}
    fast, plain = by.get(("step_botan", a.n)), by.get(("step_plain", a.n))
    summary = {}
    if fast:
        summary["botan_step_s"] = fast["wall_min_s"]
        summary["speedup_vs_reference_4.8s"] = 4.8 / fast["wall_min_s"]
        ref = f"; reference 4.8 s -> {4.8 / fast['wall_min_s']:.1f}x" if a.n == 4096 else ""
        print(f"\nBOTAN step at N={a.n}: {fast['wall_min_s']:.3f} s wall (min), {fast['cpu_s']:.2f} s CPU{ref}")
    if fast and plain:
        summary["speedup_vs_plain_cpu"] = plain["cpu_s"] / fast["cpu_s"]
        summary["speedup_vs_plain_wall"] = plain["wall_min_s"] / fast["wall_min_s"]
        print(f"plain baseline: {plain['wall_min_s']:.3f} s wall, {plain['cpu_s']:.2f} s CPU -> fast path "
              f"{summary['speedup_vs_plain_wall']:.1f}x (wall), {summary['speedup_vs_plain_cpu']:.1f}x (CPU)")
    inf = by.get(("inference", a.n))
    if inf:
        summary["inference_s"] = inf["wall_min_s"]
        print(f"inference at N={a.n}: {inf['wall_min_s']:.3f} s")
    if a.json:
        out = {"rows": rows, "summary": summary, "machine": {"platform": platform.platform(),
                                                              "cpus": os.cpu_count(), "python": sys.version.split()[0]}}
        if fast and a.n == base_n:
            dev = fast["device"]
            key = "train_gpu_seconds_per_graph_epoch" if dev.startswith("cuda") else "train_core_seconds_per_graph_epoch"
            out["plan"] = {key: fast["wall_min_s"] * (1 if dev.startswith("cuda") else fast["threads"])}
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
