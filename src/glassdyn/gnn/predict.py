"""``glassdyn predict``: a trained model applied to any structure file.

The structure is read by :mod:`glassdyn.formats` (LAMMPS data/dump, extended
XYZ, BOTAN/GlassBench ``.npz``, glassdyn HDF5, CSV), checked against the
system the model was trained on, turned into the model's graph
(:func:`glassdyn.models.predict_structure`, any N) and the per-particle
predictions are written as extended XYZ columns (open it in OVITO and colour
by ``propensity``), HDF5 and/or CSV.

Per-particle outputs:

- ``propensity``: Ŝ_i(t), the predicted mean displacement at the model's
  sampling time t (σ_AA), when the model trained its node decoder (p > 0);
- ``pair_distance_change_mean``: the mean of the predicted Ê_ij(t) over the
  graph neighbours j of i (r_ij(0) ≤ graph cutoff), when the model trained its
  edge decoder (p < 1). The HDF5 output also holds every edge: ``edge_index``
  and ``pair_distance_change``.

Compatibility checks (errors say what is wrong and what to do): the box must
be longer than twice the model's graph cutoff in every direction (minimum
image), the number density must be within ``density_tolerance`` of the
density the model was trained at and the A fraction within
``composition_tolerance`` of its mixture (catches swapped A/B labels). Types
other than A/B are refused by the readers (map them with ``type_map``).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from glassdyn.io import structures as formats

log = logging.getLogger("glassdyn.predict")


class CompatibilityError(ValueError):
    """The structure is outside what the model was trained for; the message says what to do."""


def cell_model_path(cell: str, results: str | Path = "results") -> Path:
    """``model,T,k`` (or ``model,pretrain``) → ``<results>/train/<model>/T<T>/t<k>/model.pt``."""
    from glassdyn.config import temperature_key

    parts = [p.strip() for p in cell.split(",")]
    if len(parts) == 2 and parts[1] == "pretrain":
        return Path(results) / "train" / parts[0] / "pretrain" / "model.pt"
    if len(parts) != 3:
        raise ValueError(f"--cell '{cell}' must be MODEL,T,K (e.g. botan,0.44,7) or MODEL,pretrain")
    try:
        T, k = temperature_key(float(parts[1])), int(parts[2])
    except ValueError:
        raise ValueError(f"--cell '{cell}': T must be a number and K an integer time index") from None
    return Path(results) / "train" / parts[0] / f"T{T}" / f"t{k}" / "model.pt"


def check_compatible(meta: dict, s: formats.Structure, density_tolerance: float = 0.02,
                     composition_tolerance: float = 0.1) -> list[str]:
    """Raise :class:`CompatibilityError` if ``s`` cannot be predicted by the model described by ``meta``.

    Checks the box (longer than twice the graph cutoff), the number density
    (relative difference ≤ ``density_tolerance``) and the A fraction
    (difference ≤ ``composition_tolerance``; swapped A/B labels give 0.2
    instead of 0.8). Returns warnings that do not stop the prediction.
    """
    cutoff = float(meta["graph_cutoff"])
    short = [f"{ax} = {L:.4g}" for ax, L in zip("xyz", s.box) if not L > 2 * cutoff]
    if short:
        raise CompatibilityError(
            f"box length(s) {', '.join(short)} not larger than twice the model's graph cutoff "
            f"(2 × {cutoff:g} = {2 * cutoff:g}): a particle would meet its own periodic image. "
            "Replicate the structure periodically (e.g. LAMMPS 'replicate 2 2 2') and predict on the larger box")
    system = meta.get("system") or {}
    warnings = []
    rho = system.get("density")
    if rho is not None:
        rel = abs(s.density - float(rho)) / float(rho)
        if rel > density_tolerance:
            raise CompatibilityError(
                f"number density {s.density:.4g} differs by {100 * rel:.1f}% from the density {float(rho):g} the "
                f"model was trained at (tolerance {100 * density_tolerance:g}%): the model only knows that system. "
                "Check the box and units (LJ σ_AA), rescale the structure, train a model at this density, "
                "or raise --density-tolerance if you know what you are doing")
    xa = system.get("fraction_a")
    if xa is not None and s.n:
        diff = abs(s.fraction_a - float(xa))
        if diff > composition_tolerance:
            raise CompatibilityError(
                f"A fraction {s.fraction_a:.3f} ({int((s.types == 0).sum())} A, {int((s.types == 1).sum())} B) "
                f"differs from the {float(xa):g} of the mixture the model was trained on: are A and B swapped? "
                "Map the file's types with --type-map (A is the majority species of the Kob–Andersen mixture), "
                "or raise --composition-tolerance for a deliberately different composition")
        if diff > 0.01:
            warnings.append(f"A fraction {s.fraction_a:.3f} differs from the training system's {float(xa):g}")
    return warnings


def edge_mean_per_particle(values: np.ndarray, edge_index: np.ndarray, n: int) -> np.ndarray:
    """Mean of per-edge ``values`` over the edges whose target is i (NaN for a particle without edges)."""
    target = np.asarray(edge_index[1])
    s = np.bincount(target, weights=values, minlength=n)
    c = np.bincount(target, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / np.maximum(c, 1), np.nan)


def predict_file(structure: str | Path, model: str | Path, outputs: list[str | Path] | None = None,
                 fmt: str | None = None, frame: int = 0, type_map: dict | None = None, box=None,
                 density_tolerance: float = 0.02, composition_tolerance: float = 0.1, device: str = "cpu") -> dict:
    """Read ``structure``, predict with the model.pt at ``model``, write ``outputs`` (.xyz/.h5/.csv).

    Returns ``structure`` (the :class:`~glassdyn.formats.Structure`), ``columns``
    (per-particle predictions), ``edges`` (edge_index and Ê), ``info``,
    ``outputs`` and ``warnings``.
    """
    from glassdyn.models import load_trained, predict_structure

    trained = load_trained(model, device=device)
    s = formats.read_structure(structure, fmt=fmt, frame=frame, type_map=type_map, box=box)
    warnings = check_compatible(trained.meta, s, density_tolerance, composition_tolerance)
    for w in warnings:
        log.warning("%s", w)
    t0 = time.perf_counter()
    pred = predict_structure(trained, s.types, s.positions, s.box)
    seconds = time.perf_counter() - t0
    columns = {}
    if trained.predicts_nodes:
        columns["propensity"] = pred["nodes"]
    if trained.predicts_edges:
        columns["pair_distance_change_mean"] = edge_mean_per_particle(pred["edges"], pred["edge_index"], s.n)
    meta = trained.meta
    info = {"model": trained.name, "T": float(meta["T"]), "time": float(meta["time"]),
            "time_index": int(meta["time_index"]), "graph_cutoff": trained.graph_cutoff,
            "model_file": str(model), "structure_file": str(structure)}
    outputs = [Path(p) for p in (outputs or default_outputs(structure))]
    for out in outputs:
        if out.suffix.lower() in (".h5", ".hdf5"):
            extra = {"edge_index": pred["edge_index"]}
            if trained.predicts_edges:
                extra["pair_distance_change"] = pred["edges"].astype(np.float32)
            formats.write_h5(out, s, columns, extra=extra, attrs=info)
        elif out.suffix.lower() in (".xyz", ".extxyz", ".csv"):
            formats.write_structure(out, s, columns, info)
        else:
            raise ValueError(f"output '{out}': use a .xyz, .h5 or .csv name")
    log.info("%s: N = %d, E = %d, %s at T = %g, t = %g: %.2f s -> %s", structure, s.n, pred["edge_index"].shape[1],
             trained.name, info["T"], info["time"], seconds, ", ".join(map(str, outputs)))
    return {"structure": s, "columns": columns, "edges": {"edge_index": pred["edge_index"], "values": pred["edges"]},
            "info": info, "outputs": outputs, "warnings": warnings, "seconds": seconds}


def default_outputs(structure: str | Path) -> list[Path]:
    """``<stem>.pred.xyz`` and ``<stem>.pred.h5`` in the current folder."""
    stem = Path(structure).name.split(".")[0]
    return [Path(f"{stem}.pred.xyz"), Path(f"{stem}.pred.h5")]


def predict_cli(a) -> None:
    """``glassdyn predict`` (arguments from :func:`glassdyn.cli.build_parser`)."""
    model = Path(a.model) if a.model else cell_model_path(a.cell, a.results)
    box = None
    if a.box:
        if len(a.box) not in (1, 3):
            raise ValueError("--box takes one length (cubic) or three")
        box = a.box if len(a.box) == 3 else a.box * 3
    res = predict_file(a.structure, model, a.output, fmt=a.format, frame=a.frame,
                       type_map=formats.parse_type_map(a.type_map), box=box,
                       density_tolerance=a.density_tolerance, composition_tolerance=a.composition_tolerance,
                       device=a.device)
    s = res["structure"]
    print(f"{s.n} particles (box {' x '.join(f'{L:.4g}' for L in s.box)}, ρ = {s.density:.4g}), "
          f"model {res['info']['model']} T = {res['info']['T']:g} t = {res['info']['time']:g}, "
          f"{res['seconds']:.2f} s")
    for name, v in res["columns"].items():
        a_mask = s.types == 0
        print(f"  {name}: mean A {np.nanmean(v[a_mask]):.4g}, B {np.nanmean(v[~a_mask]) if (~a_mask).any() else float('nan'):.4g}")
    for out in res["outputs"]:
        print(f"  wrote {out}")
