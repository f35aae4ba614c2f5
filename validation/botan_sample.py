"""Train BOTAN on the published BOTAN sample and report its test Pearson correlations.

The sample (Shiba et al. 2023, `small_data` of their public code): 10
training and 2 test configurations of the 3D KA mixture at T = 0.44, each
with 32 iso-configurational replicas at t = 4120 ≈ τα. This script

1. reads every file with :func:`glassdyn.datasets.read_botan_npz`,
2. computes S_i and E_ij with :func:`glassdyn.labels.labels_from_positions`
   (graph from :mod:`glassdyn.graphs`, r_e = 2.0) and writes labels.h5 files,
3. trains BOTAN (p = 0.4) with :func:`glassdyn.train_cell` on the
   10 training configurations (the last ``--validation`` of them validate and
   choose the checkpoint), for ``--epochs`` or until ``--minutes`` run out,
4. evaluates the 2 test configurations with
   :func:`glassdyn.evaluate_cell` (ρ over A particles; over A–A
   pairs with r_ij(0) < 1.35) and prints them,
5. measures how much the trained model's predictions change under random
   rotations of the test inputs (the network learns rotation invariance
   from the augmentation; it is not built in).

The model is saved as ``<out>/model.pt`` (the format of
:func:`glassdyn.load_trained`, usable by ``glassdyn predict``).

Reference: the paper reaches ρ ≈ 0.75 for nodes at this time with 400
training configurations, 2000 pretraining epochs and ≤ 1000 epochs; with 10
configurations, no pretraining (no t = 13 data in the sample) and minutes of
CPU, expect much less.

    nice python validation/botan_sample.py [DATA_DIR] --minutes 15 [--out results-validation/botan_sample]
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from glassdyn import config as gcfg
from glassdyn.gnn.batches import random_rotation
from glassdyn.gnn.evaluate import evaluate_cell
from glassdyn.gnn.train import train_cell
from glassdyn.gnn.trained import load_trained, predict_graph
from glassdyn.io import storage
from glassdyn.labels.extract import labels_from_positions
from glassdyn.labels.imported import read_botan_npz
from glassdyn.physics.correlation import pearson

ROOT = Path(__file__).resolve().parents[1]
T, TAU_ALPHA, TIME = 0.44, 4120.0, 4120.0


def sample_files(data: Path) -> tuple[list[Path], list[Path]]:
    def num(p):
        return int(p.stem.split("_")[-2])

    train = sorted((data / "train").glob("*.npz"), key=num)
    test = sorted((data / "test").glob("*.npz"), key=num)
    if not train or not test:
        raise SystemExit(f"{data}: expected train/*.npz and test/*.npz (the BOTAN sample layout)")
    return train, test


def campaign(n_train: int, n_test: int, args) -> dict:
    cfg = gcfg.load(ROOT / "config.yaml", check=False)
    cfg = copy.deepcopy(cfg)
    cfg["temperatures"] = [{"T": T, "tau_alpha": TAU_ALPHA, "times": [TIME]}]
    cfg["configurations"] = {"n": n_train + n_test, "n_train": n_train}
    cfg["training"].update(validation_fraction=args.validation / n_train, device=args.device, ranks=1)
    cfg["models"]["botan"].update(p=args.p, epochs=args.epochs, lr=args.lr, graphs_per_step=1)
    cfg["models"]["botan"]["pretrain"]["epochs"] = 0      # the sample has no t = 13 data to pretrain on
    return gcfg.validate(cfg)


def write_labels(files: list[Path], first_c: int, cfg: dict, folder: Path) -> list[Path]:
    out = []
    for c, f in enumerate(files, start=first_c):
        path = folder / f"c{c:04d}.h5"
        if not path.exists():
            d = read_botan_npz(f, time=TIME)
            lab = labels_from_positions(d["types"], d["box"], d["initial_positions"], d["positions"], d["times"], cfg)
            storage.write_h5(path, lab, {"T": T, "c": c, "source": str(f), "cutoff": cfg["graph"]["cutoff"]})
        out.append(path)
    return out


def rotation_consistency(model_file: Path, label_file: Path, n: int = 4) -> dict:
    """Pearson between predictions on the test inputs and on the same inputs rotated at random (mean of n)."""
    trained = load_trained(model_file)
    d = storage.read_h5(label_file, ["types", "edge_index", "edge_vectors"])[0]
    base = predict_graph(trained, d["types"], d["edge_index"], d["edge_vectors"])
    rng = np.random.default_rng(0)
    rho_n, rho_e = [], []
    for _ in range(n):
        R = random_rotation(rng)
        rot = predict_graph(trained, d["types"], d["edge_index"], d["edge_vectors"] @ R.T.astype(np.float32))
        rho_n.append(pearson(base["nodes"], rot["nodes"]))
        rho_e.append(pearson(base["edges"], rot["edges"]))
    return {"nodes": float(np.mean(rho_n)), "edges": float(np.mean(rho_e))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data" / "botan_T0.44_tc07"))
    ap.add_argument("--out", default=str(ROOT / "results-validation" / "botan_sample"))
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=15.0, help="wall-time budget of the training")
    ap.add_argument("--lr", type=float, default=1e-3,
                    help="Adam learning rate (the paper's 1e-4 is for ~1000 epochs after pretraining)")
    ap.add_argument("--p", type=float, default=0.4)
    ap.add_argument("--validation", type=int, default=1, help="training configurations held out for validation")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")

    data, out = Path(args.data), Path(args.out)
    train_files, test_files = sample_files(data)
    cfg = campaign(len(train_files), len(test_files), args)
    t0 = time.perf_counter()
    train_labels = write_labels(train_files, 0, cfg, out / "labels")
    test_labels = write_labels(test_files, len(train_files), cfg, out / "labels")
    t_labels = time.perf_counter() - t0
    fit, val = gcfg.split_train_validation(cfg)
    print(f"labels of {len(train_files) + len(test_files)} configurations: {t_labels:.0f} s; fit on {fit}, "
          f"validate on {val}, test on {[f.name for f in test_files]}", flush=True)

    model_file = train_cell(cfg, "botan", T, 0, train_labels, out, time_budget_s=60 * args.minutes)
    metrics = json.loads((out / "metrics.json").read_text())
    evaluate_cell(cfg, model_file, test_labels, out / "eval.csv")
    ev = pd.read_csv(out / "eval.csv")
    rot = rotation_consistency(model_file, test_labels[0])

    print(f"\ntrained {metrics['epochs_run']} epochs ({metrics['steps']} steps, {metrics['wall_time_s'] / 60:.1f} min, "
          f"{metrics['steps_per_s']:.2f} steps/s), best epoch {metrics['best_epoch'] + 1} "
          f"(validation ρ nodes {metrics['val_pearson_nodes']:.3f}, edges {metrics['val_pearson_edges']:.3f})")
    print("test configurations (ρ over A particles; over A–A pairs with r_ij(0) < 1.35):")
    for _, r in ev.iterrows():
        print(f"  {test_files[int(r['c']) - len(train_files)].name}: nodes {r['pearson_nodes']:.3f}, "
              f"edges {r['pearson_edges']:.3f}")
    print(f"  mean: nodes {ev['pearson_nodes'].mean():.3f}, edges {ev['pearson_edges'].mean():.3f} "
          f"(paper, 400 configurations: ≈ 0.75 for nodes)")
    print(f"rotation consistency (ρ between predictions on rotated and unrotated inputs): nodes {rot['nodes']:.3f}, "
          f"edges {rot['edges']:.3f}")
    print(f"model: {model_file}")
    if args.json:
        storage.write_json(args.json, {"metrics": metrics, "test": ev.to_dict(orient="records"),
                                       "test_mean": {"nodes": float(ev["pearson_nodes"].mean()),
                                                     "edges": float(ev["pearson_edges"].mean())},
                                       "rotation_consistency": rot, "label_seconds": t_labels})
    return 0


if __name__ == "__main__":
    sys.exit(main())
