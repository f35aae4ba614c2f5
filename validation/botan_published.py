"""Fine-tune the published BOTAN networks on the BOTAN sample: published recipe vs glassdyn's, one vs eight.

Inputs (``DATA`` = the folder holding both): ``botan_T0.44_tc07/`` (the
BOTAN sample: 10 training and 2 test configurations at T = 0.44, t = 4120)
and ``botan_published/`` (``model1.pth`` … ``model8.pth``, the authors'
pretrained networks, and their README's table of what the published code
reaches on the sample).

Runs, each starting from a published network (:mod:`glassdyn.models.published`,
glassdyn's interaction network with ``network.decoder: shared``,
``decoder_layers: 3``), BOTAN p = 0.4, Adam lr 1e-4, one graph per step:

- **published recipe**: raw targets, gradient-norm clipping at 1.0,
  augmentation by axis permutations and sign flips, all 10 training
  configurations, the last epoch kept (``training.validation_fraction: 0``);
- **glassdyn defaults**: standardised targets, no clipping, uniform SO(3)
  rotations, 1 of the 10 configurations held out for validation and the
  epoch of lowest validation loss kept;
- **ablations** (not run by default): the published recipe with one factor
  set to glassdyn's default — SO(3) rotations, standardised targets, no
  clipping;
- **ensemble**: model1 … model8 each fine-tuned with the published recipe
  (``--ensemble-epochs``), predictions averaged (in label units) before the
  Pearson correlation; beside it the mean of the eight members' own
  correlations;
- **scratch** (for the choice of the campaign's default network): no
  pretrained weights, glassdyn's network (two 2-layer decoders) against the
  published one (one shared 3-layer decoder), both with glassdyn's default
  recipe, ``--epochs`` at lr ``--scratch-lr`` (1e-3: no pretraining),
  ``--scratch-seeds`` seeds each; ``scratch_clip`` (not run by default):
  glassdyn's network from scratch with gradient clipping at 1.0.

Test Pearson on the two test configurations (A particles; A–A pairs with
r_ij(0) < 1.35) is printed beside the published code's numbers. Trained cells
are kept under ``--out`` and reused (a rerun only evaluates).

    OMP_NUM_THREADS=1 nice -n 10 python validation/botan_published.py ../shared/data [--epochs 20]
"""
from __future__ import annotations

import argparse
import copy
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from botan_sample import sample_files, write_labels  # noqa: E402  (the sample's labels, same as botan_sample.py)

from glassdyn import config as gcfg  # noqa: E402
from glassdyn.gnn.evaluate import read_test_configuration  # noqa: E402
from glassdyn.gnn.train import train_cell  # noqa: E402
from glassdyn.gnn.trained import load_trained, predict_graph  # noqa: E402
from glassdyn.io import storage  # noqa: E402
from glassdyn.models.published import import_weights  # noqa: E402
from glassdyn.physics.correlation import configuration_scores  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
T, TAU_ALPHA, TIME = 0.44, 4120.0, 4120.0
#: The published code on the sample (botan_published/README.md): (401 nodes, 402 nodes, 401 edges, 402 edges).
PUBLISHED = {0: (-0.017, 0.019, 0.540, 0.427), 20: (0.080, 0.033, 0.427, 0.311)}
RECIPES = {
    "published": {"network": {"targets": "raw"},
                  "training": {"augmentation_group": "signed_permutations", "gradient_clip_norm": 1.0,
                               "validation_fraction": 0.0}},
    "defaults": {"network": {"targets": "standardised"},
                 "training": {"augmentation_group": "so3", "gradient_clip_norm": None, "validation_fraction": 0.1}},
}
# One factor of the published recipe changed to glassdyn's default at a time (run family "ablations").
RECIPES["published_so3"] = {"network": RECIPES["published"]["network"],
                            "training": {**RECIPES["published"]["training"], "augmentation_group": "so3"}}
RECIPES["published_standardised"] = {"network": {"targets": "standardised"},
                                     "training": RECIPES["published"]["training"]}
RECIPES["published_noclip"] = {"network": RECIPES["published"]["network"],
                               "training": {**RECIPES["published"]["training"], "gradient_clip_norm": None}}
LABELS = {"published": "published recipe", "defaults": "glassdyn defaults",
          "published_so3": "published recipe but SO(3) rotations",
          "published_standardised": "published recipe but standardised targets",
          "published_noclip": "published recipe but no gradient clipping"}


def campaign(recipe: str, epochs: int, seed_offset: int, device: str) -> dict:
    """The configuration of one fine-tuning run on the sample (10 training, 2 test configurations)."""
    cfg = copy.deepcopy(gcfg.load(ROOT / "config.yaml", check=False))
    cfg["temperatures"] = [{"T": T, "tau_alpha": TAU_ALPHA, "times": [TIME]}]
    cfg["configurations"] = {"n": 12, "n_train": 10}
    cfg["network"].update(decoder="shared", decoder_layers=3, **RECIPES[recipe]["network"])
    cfg["training"].update(device=device, ranks=1, rotation_augmentation=True, precision="fp32",
                           seed=cfg["training"]["seed"] + seed_offset, **RECIPES[recipe]["training"])
    cfg["models"]["enabled"] = ["botan"]
    cfg["models"]["botan"].update(p=0.4, epochs=epochs, lr=1e-4, graphs_per_step=1)
    cfg["models"]["botan"]["pretrain"] = {"T": T, "time_index": 0, "epochs": 0}
    return gcfg.validate(cfg)


def load_weights(path: Path, cfg: dict):
    """A published network (``.pth``) as a trained cell, through ``glassdyn import-weights``."""
    with tempfile.TemporaryDirectory() as tmp:
        return load_trained(import_weights(path, Path(tmp) / "model.pt", cfg), device="cpu")


def fine_tune(cfg: dict, weights: Path, train_labels: list[Path], out: Path) -> Path:
    """Train (or reuse) one cell starting from ``weights``; returns its model.pt."""
    if (out / "model.pt").exists() and (out / "metrics.json").exists():
        return out / "model.pt"
    t0 = time.perf_counter()
    path = train_cell(cfg, "botan", T, 0, train_labels, out, pretrained=weights)
    print(f"  {out.name}: {time.perf_counter() - t0:.0f} s", flush=True)
    return path


def test_predictions(trained, configs: list[dict]) -> list[dict]:
    """Per test configuration: the model's predictions ``nodes``, ``edges`` (label units)."""
    return [predict_graph(trained, d["types"], d["edge_index"], d["edge_vectors"]) for d in configs]


def scores(configs: list[dict], preds: list[dict], cutoff: float) -> tuple[float, float, float, float]:
    """(401 nodes, 402 nodes, 401 edges, 402 edges) Pearson of ``preds`` (one per test configuration)."""
    rows = [configuration_scores(d["types"], d["edge_index"], d["edge_vectors"], d["propensity"],
                                 p["nodes"], d["pair_distance_change"], p["edges"], cutoff)
            for d, p in zip(configs, preds)]
    return rows[0][0], rows[1][0], rows[0][1], rows[1][1]


def mean_prediction(runs: list[list[dict]]) -> list[dict]:
    """Average over models of their per-configuration predictions."""
    return [{k: np.mean([r[i][k] for r in runs], axis=0) for k in ("nodes", "edges")}
            for i in range(len(runs[0]))]


def row(label: str, v) -> str:
    return f"| {label} | " + " | ".join(f"{x:.3f}" for x in v) + f" | {np.mean(v[:2]):.3f} | {np.mean(v[2:]):.3f} |"


def single_runs(args, weights, train_labels, configs, cutoff, out) -> dict:
    """model1 fine-tuned with the published recipe and with glassdyn's defaults (``--runs published defaults``)."""
    table = {}
    recipes = [r for r in ("published", "defaults") if r in args.runs]
    recipes += ["published_so3", "published_standardised", "published_noclip"] if "ablations" in args.runs else []
    for recipe in recipes:
        label = LABELS[recipe]
        print(f"fine-tuning model1 ({label}, {args.epochs} epochs)", flush=True)
        m = fine_tune(campaign(recipe, args.epochs, 0, args.device), weights[0], train_labels,
                      out / f"{recipe}_e{args.epochs}_m1")
        table[f"glassdyn, model1, {label}, {args.epochs} epochs"] = scores(
            configs, test_predictions(load_trained(m, "cpu"), configs), cutoff)
    return table


def ensemble_runs(args, weights, train_labels, configs, cutoff, out) -> dict:
    """model1 … model8 each fine-tuned with the published recipe; averaged predictions vs the members' mean."""
    ep = args.ensemble_epochs
    print(f"fine-tuning the ensemble (published recipe, {ep} epochs each)", flush=True)
    runs = []
    for i, w in enumerate(weights, start=1):
        m = fine_tune(campaign("published", ep, i - 1, args.device), w, train_labels, out / f"published_e{ep}_m{i}")
        runs.append(test_predictions(load_trained(m, "cpu"), configs))
    member = np.array([scores(configs, r, cutoff) for r in runs])
    return {f"glassdyn, mean of the {len(runs)} members, published recipe, {ep} epochs": tuple(member.mean(axis=0)),
            f"glassdyn, ensemble of {len(runs)} (averaged predictions), published recipe, {ep} epochs":
                scores(configs, mean_prediction(runs), cutoff)}


def scratch_runs(args, train_labels, configs, cutoff, out, clip: float | None = None) -> dict:
    """No pretrained weights: glassdyn's network (two 2-layer decoders) vs the published one (one shared
    3-layer decoder), both with glassdyn's default recipe at lr ``--scratch-lr``, ``--scratch-seeds`` seeds each
    (one row per seed, then their mean). ``clip``: with gradient clipping (run family ``scratch_clip``:
    glassdyn's network only)."""
    table = {}
    archs = (("separate", 2), ("shared", 3)) if clip is None else (("separate", 2),)
    for decoder, layers in archs:
        rows = []
        for seed in range(args.scratch_seeds):
            cfg = campaign("defaults", args.epochs, seed, args.device)
            cfg["network"].update(decoder=decoder, decoder_layers=layers)
            cfg["models"]["botan"]["lr"] = args.scratch_lr
            cfg["training"]["gradient_clip_norm"] = clip
            print(f"training from scratch ({decoder} decoder, {layers} layers, {args.epochs} epochs, seed {seed}, "
                  f"clipping {clip})", flush=True)
            tag = "" if clip is None else f"_clip{clip:g}"
            folder = out / f"scratch_{decoder}{layers}{tag}_e{args.epochs}{f'_s{seed}' if seed else ''}"
            if not (folder / "model.pt").exists():
                train_cell(gcfg.validate(cfg), "botan", T, 0, train_labels, folder)
            rows.append(scores(configs, test_predictions(load_trained(folder / "model.pt", "cpu"), configs),
                               cutoff))
            recipe = "defaults" if clip is None else f"defaults + clipping at {clip:g}"
            table[f"glassdyn, from scratch, {decoder} decoder ({layers} layers), {recipe}, lr {args.scratch_lr:g}, "
                  f"{args.epochs} epochs, seed {seed}"] = rows[-1]
        if len(rows) > 1:
            table[f"glassdyn, from scratch, {decoder} decoder ({layers} layers), mean of {len(rows)} seeds"] = \
                tuple(np.mean(rows, axis=0))
    return table


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", help="folder with botan_T0.44_tc07/ and botan_published/ (../shared/data)")
    ap.add_argument("--out", default=str(ROOT / "results-validation" / "botan_published"))
    ap.add_argument("--epochs", type=int, default=20, help="epochs of the single-model runs (published table: 20)")
    ap.add_argument("--ensemble-epochs", type=int, default=20, help="epochs of each ensemble member")
    ap.add_argument("--members", type=int, default=8, help="published networks in the ensemble (model1 …)")
    ap.add_argument("--runs", nargs="*", default=["published", "defaults", "ensemble", "scratch"],
                    choices=["published", "defaults", "ablations", "ensemble", "scratch", "scratch_clip"],
                    help="run families (default: all but ablations and scratch_clip)")
    ap.add_argument("--scratch-lr", type=float, default=1e-3, help="Adam lr of the from-scratch runs")
    ap.add_argument("--scratch-seeds", type=int, default=2, help="seeds of each from-scratch network")
    ap.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--json", help="also write the table here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")

    data, out = Path(args.data), Path(args.out)
    weights = [data / "botan_published" / f"model{i}.pth" for i in range(1, args.members + 1)]
    train_files, test_files = sample_files(data / "botan_T0.44_tc07")
    base = campaign("published", args.epochs, 0, args.device)
    train_labels = write_labels(train_files, 0, base, out / "labels")
    test_labels = write_labels(test_files, len(train_files), base, out / "labels")
    cutoff = float(base["labels"]["edge_eval_cutoff"])
    configs = [read_test_configuration(path, 0) for path in test_labels]
    as_published = [test_predictions(load_weights(w, base), configs) for w in weights]
    table = {"glassdyn, model1 as published (0 epochs)": scores(configs, as_published[0], cutoff),
             f"glassdyn, ensemble of {len(weights)} as published (averaged predictions)":
                 scores(configs, mean_prediction(as_published), cutoff)}
    table |= single_runs(args, weights, train_labels, configs, cutoff, out)
    if "ensemble" in args.runs:
        table |= ensemble_runs(args, weights, train_labels, configs, cutoff, out)
    if "scratch" in args.runs:
        table |= scratch_runs(args, train_labels, configs, cutoff, out)
    if "scratch_clip" in args.runs:
        table |= scratch_runs(args, train_labels, configs, cutoff, out, clip=1.0)

    print("\ntest Pearson on the BOTAN sample (nodes: A particles; edges: A–A pairs with r_ij(0) < 1.35)\n")
    print("| run | 401 nodes | 402 nodes | 401 edges | 402 edges | nodes mean | edges mean |")
    print("|---|---|---|---|---|---|---|")
    print(row("published code, model1 as published (0 epochs)", PUBLISHED[0]))
    print(row("published code, model1, its recipe, 20 epochs", PUBLISHED[20]))
    for label, v in table.items():
        print(row(label, v))
    if args.json:
        storage.write_json(args.json, {"published_code": {str(k): v for k, v in PUBLISHED.items()},
                                       "glassdyn": {k: list(map(float, v)) for k, v in table.items()},
                                       "epochs": args.epochs, "ensemble_epochs": args.ensemble_epochs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
