"""Labels of the published BOTAN sample against the facts quoted in its README.

For each file: mean propensity of A and B particles, the number of directed
edges with r_ij(0) <= 2.0, the number of A–A pairs with r_ij(0) < 1.35, and
the ensemble F_s^A(2π) and MSD_A at the published time (t = 4120 ≈ τα).

    python validation/botan_sanity.py /path/to/botan_T0.44_tc07 [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from glassdyn import config as gcfg
from glassdyn.labels.extract import labels_from_positions
from glassdyn.labels.imported import read_botan_npz

ROOT = Path(__file__).resolve().parents[1]
README = {"S_A": 0.70, "S_B": 1.26, "edges": 166_000, "AA_pairs_1.35": 36_000}


def sanity(path: Path, cfg: dict) -> dict:
    d = read_botan_npz(path, time=4120.0)
    lab = labels_from_positions(d["types"], d["box"], d["initial_positions"], d["positions"], d["times"], cfg)
    ty = lab["types"]
    src, tgt = lab["edge_index"]
    r = np.linalg.norm(lab["edge_vectors"].astype(np.float64), axis=1)
    aa = (ty[src] == 0) & (ty[tgt] == 0) & (r < cfg["labels"]["edge_eval_cutoff"])
    return {"file": path.name, "S_A": float(lab["propensity"][0][ty == 0].mean()),
            "S_B": float(lab["propensity"][0][ty == 1].mean()), "edges": int(len(r)),
            "AA_pairs_1.35": int(aa.sum()), "fs_A": float(lab["fs_A"].mean()), "fs_A_std": float(lab["fs_A"].std()),
            "msd_A": float(lab["msd_A"].mean()), "E_mean": float(lab["pair_distance_change"].mean()),
            "C_B_mean_A": float(lab["bond_breaking"][0][ty == 0].mean())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    cfg = gcfg.load(ROOT / "config.yaml")
    files = sorted(a.folder.rglob("*.npz"), key=lambda p: int(p.stem.split("_")[-2]))
    rows = [sanity(f, cfg) for f in files]
    cols = ["S_A", "S_B", "edges", "AA_pairs_1.35", "fs_A", "msd_A", "E_mean", "C_B_mean_A"]
    print(f"{'file':40s} " + " ".join(f"{c:>13s}" for c in cols))
    print(f"{'README':40s} " + " ".join(f"{README.get(c, ''):>13}" for c in cols))
    for r in rows:
        print(f"{r['file']:40s} " + " ".join(f"{r[c]:13.4g}" if isinstance(r[c], float) else f"{r[c]:13d}"
                                              for c in cols))
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
