"""tGlassMLP on the published BOTAN sample (KA 3D, N = 4096, T = 0.44, t = 4120 ≈ τα).

For every file of the sample: C_B^i(t) from its 32 replicas (glassdyn.labels),
the inherent structure of ``initial_positions`` (LAMMPS, glassdyn.inherent),
and the 132 descriptors (glassdyn.descriptors). An ensemble of tGlassMLP
networks is trained on the training files (the last ``--validation`` of them
only scored) at the single state point (T = 0.44, c = ⟨C̄_B⟩ of the training
files), with the schedule and loss of config.yaml, and the Pearson
correlation over the A particles of each test file (401, 402) is printed, per
member and for the ensemble mean. The community benchmark quotes GlassMLP
≈ 0.76 on the full 400-configuration training set at this state point; ten
training configurations give less.

    python validation/tglassmlp_botan_sample.py /path/to/botan_T0.44_tc07 [--workdir DIR] [--json out.json]

Inherent structures and descriptors are cached in ``--workdir`` (N = 4096 with
r_max = 20 costs ~1 min per configuration).
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
from glassdyn.io import storage
from glassdyn.labels.extract import labels_from_positions
from glassdyn.labels.imported import read_botan_npz
from glassdyn.md import inherent
from glassdyn.physics.correlation import pearson
from glassdyn.physics.descriptors import coarse_grained_descriptors, descriptor_lengths, descriptor_names
from glassdyn.tglassmlp.data import DescriptorCache, Descriptors, fit_standardization, md_batches
from glassdyn.tglassmlp.fitting import build_model, fit, loss_weights, predict

ROOT = Path(__file__).resolve().parents[1]
T, TIME = 0.44, 4120.0


def prepare(path: Path, cfg: dict, workdir: Path) -> Path:
    """Cached file with C_B, the inherent structure and the descriptors of one BOTAN configuration."""
    out = workdir / f"{path.stem}.h5"
    if out.exists():
        return out
    t0 = time.perf_counter()
    d = read_botan_npz(path, time=TIME)
    lab = labels_from_positions(d["types"], d["box"], d["initial_positions"], d["positions"], d["times"], cfg)
    res = inherent.minimize_structure(cfg, d["initial_positions"], d["types"], d["box"], cfg["tglassmlp"]["inherent"])
    dc = cfg["tglassmlp"]["descriptors"]
    x = coarse_grained_descriptors(res["positions"], d["types"], d["box"], res["energy"], res["voronoi_area"],
                                     dc["lengths"], dc["cutoff"], dc["chunk_pairs"])
    storage.write_h5(out, {"descriptors": x.astype(np.float32), "types": d["types"], "positions": res["positions"],
                           "box": d["box"], "lengths": descriptor_lengths(dc["lengths"]),
                           "names": np.array(descriptor_names(dc["lengths"]), dtype="S"),
                           "bond_breaking": lab["bond_breaking"], "times": d["times"]},
                     attrs={"T": T, "c": -1, "source": str(path), "E_IS": res["energy_per_particle"],
                            "fnorm": res["fnorm"]})
    print(f"  {path.name}: C_B(A) = {lab['bond_breaking'][0][d['types'] == 0].mean():.3f}, "
          f"E_IS/N = {res['energy_per_particle']:.4f}, {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def load(path: Path, index: int) -> tuple[Descriptors, np.ndarray]:
    data, _ = storage.read_h5(path)
    s = Descriptors("0.44", index, data["descriptors"].astype(np.float64), data["types"].astype(np.int64),
                     data["positions"], data["box"], data["lengths"], [n.decode() for n in data["names"]])
    return s, data["bond_breaking"].astype(np.float64)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", help="folder with train/ and test/ .npz files")
    ap.add_argument("--workdir", default="/tmp/glassdyn_tglassmlp_botan", help="cache of IS + descriptors")
    ap.add_argument("--config", action="append", help="config YAML(s) (default: config.yaml)")
    ap.add_argument("--ensemble", type=int, default=None, help="members (default: tglassmlp.ensemble)")
    ap.add_argument("--validation", type=int, default=2, help="training files only scored, not trained on")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the results as JSON")
    a = ap.parse_args(argv)
    cfg = gcfg.load(*(a.config or [ROOT / "config.yaml"]))
    torch.set_num_threads(a.threads)
    data = Path(a.data)
    train_files = sorted((data / "train").glob("*.npz"), key=lambda p: int(p.stem.split("_")[-2]))
    test_files = sorted((data / "test").glob("*.npz"), key=lambda p: int(p.stem.split("_")[-2]))
    if not train_files or not test_files:
        print(f"no .npz files under {data}/train and {data}/test", file=sys.stderr)
        return 2
    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    print(f"preparing {len(train_files) + len(test_files)} configurations (labels, inherent structure, descriptors)")
    prepared = [prepare(p, cfg, work) for p in train_files + test_files]
    items = [load(p, i) for i, p in enumerate(prepared)]
    n_tr = len(train_files)
    fit_items, val_items, test_items = items[: n_tr - a.validation], items[n_tr - a.validation: n_tr], items[n_tr:]
    c = float(np.mean([cb[0][s.a_mask].mean() for s, cb in fit_items + val_items]))
    states = __import__("pandas").DataFrame([{"T": T, "time_index": 0, "time": TIME, "c": c, "c_std": 0.0,
                                              "n_configurations": n_tr}])
    tc = cfg["tglassmlp"]
    st = fit_standardization([s for s, _ in fit_items])
    cache = DescriptorCache(st, tc["loss"])
    as_dict = lambda its: ({(s.T, s.c): s for s, _ in its}, {(s.T, s.c): cb for s, cb in its})  # noqa: E731
    train = md_batches(cache, *as_dict(fit_items), states)
    val = md_batches(cache, *as_dict(val_items), states)
    n_members = a.ensemble or int(tc["ensemble"])
    preds, members = [], []
    truths = [cb[0][s.a_mask] for s, cb in test_items]
    for m in range(n_members):
        torch.manual_seed(gcfg.derive_seed("tglassmlp", "botan_sample", m, "init"))
        model = build_model(st.mean.size, tc["network"])
        t0 = time.perf_counter()
        hist = fit(model, train, val, tc["schedule"], loss_weights(tc),
                      gcfg.derive_seed("tglassmlp", "botan_sample", m, "shuffle"))
        model.eval()
        p, c_in = predict(model, [cache.x(s) for s, _ in test_items], T, c, tc["self_consistency"])
        r = [pearson(pi, ti) for pi, ti in zip(p, truths)]
        preds.append(p)
        members.append({"member": m, "test_pearson": r, "validation_pearson": hist[-1]["validation_pearson"],
                        "c_in": c_in, "seconds": time.perf_counter() - t0})
        print(f"member {m}: test Pearson {np.round(r, 3).tolist()} (mean {np.mean(r):.3f}), validation "
              f"{hist[-1]['validation_pearson']:.3f}, {len(hist)} epochs in {time.perf_counter() - t0:.0f} s", flush=True)
    ens = [pearson(np.mean([p[i] for p in preds], axis=0), truths[i]) for i in range(len(test_items))]
    member_means = [np.mean(m["test_pearson"]) for m in members]
    result = {"c": c, "n_train": len(fit_items), "n_validation": len(val_items), "test_files": [p.name for p in test_files],
              "ensemble_test_pearson": ens, "ensemble_mean": float(np.mean(ens)),
              "member_mean": float(np.mean(member_means)), "member_std": float(np.std(member_means)),
              "members": members, "descriptor_cutoff": tc["descriptors"]["cutoff"]}
    print(f"\nT = 0.44, t = 4120 (c = <C_B> = {c:.3f}); trained on {len(fit_items)} configurations")
    print(f"ensemble of {n_members}: test Pearson {np.round(ens, 3).tolist()} -> mean {np.mean(ens):.3f}; "
          f"members {np.mean(member_means):.3f} ± {np.std(member_means):.3f}")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
