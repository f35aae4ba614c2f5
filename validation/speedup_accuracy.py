"""Accuracy is not traded for speed: BOTAN on the BOTAN sample with and without the speed-ups.

Trains BOTAN (p = 0.4) on the published sample (``../shared/data/botan_T0.44_tc07``,
the same split and labels as ``validation/botan_sample.py``) for the same
number of epochs, with the same seed, shuffles and rotations, once per
variant, and evaluates the two test configurations:

- ``plain``: WITHOUT the speed-ups: the network written the plain way
  (concatenated [h_j, h_i, h_e, h_e⁰] through one 4d → d layer on every
  edge, ``index_select`` gathers, ``scatter`` sums: the baseline of
  ``benchmarks/bench_training.py``), float32;
- ``fast``: the campaign's network (split first layers, fused gather, cached
  cycle-independent terms, chunked in-place inference), float32;
- ``fast-bf16``: the same with ``training.precision: bf16`` (autocast).

Each variant is trained from ``--seeds`` K training seeds (seed k: the same
initial weights, shuffles and rotations in every variant). Identical
arithmetic up to float rounding does NOT give identical runs: the rounding
differences grow through the Adam updates until, after a few epochs, the
runs are as different as two runs of one variant with different thread
counts, so one run per variant cannot resolve 0.01. The comparison is the
mean over the K seeds (and the paired per-seed differences).

Every (variant, seed) runs in its own process (the plain one replaces the network's
``forward`` there), with the same torch thread count. The printed table
gives the test Pearson ρ (A particles; A–A pairs with r_ij(0) < 1.35), its
difference to ``plain`` and the training speed; the target is |Δρ| ≤ 0.01.

    python validation/speedup_accuracy.py [DATA_DIR] --epochs 30 --seeds 3 --threads 2 --json out.json
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

from glassdyn.gnn.evaluate import evaluate_cell
from glassdyn.gnn.train import train_cell

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "validation"), str(ROOT / "benchmarks")]

VARIANTS = ("plain", "fast", "fast-bf16")


def run_variant(variant: str, seed: int, args) -> dict:
    """Train and evaluate one variant in this process; returns its numbers."""
    import botan_sample
    import pandas as pd
    import torch

    from glassdyn.models.interaction_network import InteractionNetwork

    torch.set_num_threads(args.threads)
    if variant == "plain":
        from bench_training import plain_forward

        InteractionNetwork.forward = lambda self, x, ei, ev, decode="both": plain_forward(self, x, ei, ev, decode)
    data, out = Path(args.data), Path(args.out)
    train_files, test_files = botan_sample.sample_files(data)
    ns = argparse.Namespace(validation=1, device="cpu", p=0.4, epochs=args.epochs, lr=args.lr)
    cfg = copy.deepcopy(botan_sample.campaign(len(train_files), len(test_files), ns))
    cfg["training"]["precision"] = "bf16" if variant.endswith("bf16") else "fp32"
    cfg["training"]["seed"] = int(cfg["training"]["seed"]) + seed
    labels_dir = out / "labels"                        # shared by the variants (written by the first)
    train_labels = botan_sample.write_labels(train_files, 0, cfg, labels_dir)
    test_labels = botan_sample.write_labels(test_files, len(train_files), cfg, labels_dir)
    cell = out / variant / f"seed{seed}"
    t0 = time.perf_counter()
    model_file = train_cell(cfg, "botan", botan_sample.T, 0, train_labels, cell)
    wall = time.perf_counter() - t0
    metrics = json.loads((cell / "metrics.json").read_text())
    evaluate_cell(cfg, model_file, test_labels, cell / "eval.csv")
    ev = pd.read_csv(cell / "eval.csv")
    loss = pd.read_csv(cell / "loss.csv")
    return {"variant": variant, "seed": seed, "precision": cfg["training"]["precision"], "threads": args.threads,
            "epochs": metrics["epochs_run"], "steps": metrics["steps"], "best_epoch": metrics["best_epoch"],
            "train_time_s": metrics["train_time_s"], "s_per_step": metrics["train_time_s"] / metrics["steps"],
            "wall_s": wall, "test_pearson_nodes": float(ev["pearson_nodes"].mean()),
            "test_pearson_edges": float(ev["pearson_edges"].mean()),
            "test_per_configuration": ev[["c", "pearson_nodes", "pearson_edges"]].to_dict(orient="records"),
            "final_train_loss": float(loss["train_loss"].iloc[-1]), "best_val_loss": metrics["best_val_loss"]}


def summarise(rows: list[dict], variants: list[str]) -> tuple[list[dict], bool]:
    """Per variant: mean ± sd over seeds of ρ and s/step; Δ to plain of the means and of the paired seeds."""
    import numpy as np

    by = {v: {r["seed"]: r for r in rows if r["variant"] == v} for v in variants}
    base = by.get("plain") or by[variants[0]]
    out, ok = [], True
    for v in variants:
        seeds = sorted(by[v])
        rec = {"variant": v, "seeds": seeds, "precision": by[v][seeds[0]]["precision"]}
        for key in ("test_pearson_nodes", "test_pearson_edges", "s_per_step"):
            vals = np.array([by[v][k][key] for k in seeds])
            rec[key] = float(vals.mean())
            rec[key + "_sd"] = float(vals.std(ddof=1)) if len(vals) > 1 else float("nan")
        for key, short in (("test_pearson_nodes", "nodes"), ("test_pearson_edges", "edges")):
            paired = np.array([by[v][k][key] - base[k][key] for k in seeds if k in base])
            rec["delta_" + short] = float(paired.mean())
            rec["delta_" + short + "_se"] = (float(paired.std(ddof=1) / np.sqrt(len(paired))) if len(paired) > 1
                                             else float("nan"))
            ok &= abs(rec["delta_" + short]) <= 0.01
        rec["speedup"] = float(np.mean([base[k]["s_per_step"] for k in base]) / rec["s_per_step"])
        out.append(rec)
    return out, ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data" / "botan_T0.44_tc07"))
    ap.add_argument("--out", default=str(ROOT / "results-validation" / "speedup_accuracy"))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=3, help="training seeds per variant (seed k = training.seed + k)")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)   # one run, in a child process
    ap.add_argument("--seed-index", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.variant:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=f"%(asctime)s {a.variant} seed {a.seed_index}: %(message)s")
        print(json.dumps(run_variant(a.variant, a.seed_index, a)))
        return 0

    rows = []
    for seed in range(a.seeds):
        for v in a.variants:
            cmd = [sys.executable, __file__, a.data, f"--out={a.out}", f"--epochs={a.epochs}", f"--lr={a.lr}",
                   f"--threads={a.threads}", f"--variant={v}", f"--seed-index={seed}"]
            res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
            if res.returncode != 0:
                raise SystemExit(f"variant {v} seed {seed} failed (exit {res.returncode}); see its log above")
            rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"{v} seed {seed}: {r['steps']} steps, {r['s_per_step']:.3f} s/step, best epoch {r['best_epoch'] + 1}, "
                  f"test ρ nodes {r['test_pearson_nodes']:.4f} edges {r['test_pearson_edges']:.4f}", flush=True)
    summary, ok = summarise(rows, a.variants)
    print(f"\n{a.seeds} seed(s) x {a.epochs} epochs; mean ± sd over seeds; Δ = paired difference to 'plain' "
          f"(mean ± standard error)")
    print(f"{'variant':10s} {'s/step':>7s} {'speed-up':>8s} {'ρ nodes':>15s} {'Δ nodes':>17s} {'ρ edges':>15s} "
          f"{'Δ edges':>17s}")
    for r in summary:
        print(f"{r['variant']:10s} {r['s_per_step']:7.3f} {r['speedup']:7.1f}x "
              f"{r['test_pearson_nodes']:7.4f} ± {r['test_pearson_nodes_sd']:.4f} "
              f"{r['delta_nodes']:+8.4f} ± {r['delta_nodes_se']:.4f} "
              f"{r['test_pearson_edges']:7.4f} ± {r['test_pearson_edges_sd']:.4f} "
              f"{r['delta_edges']:+8.4f} ± {r['delta_edges_se']:.4f}")
    print(f"\n|mean Δρ| ≤ 0.01 for every variant: {'yes' if ok else 'NO'}")
    if a.json:
        Path(a.json).write_text(json.dumps({"runs": rows, "summary": summary, "within_0.01": ok}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
