"""``glassdyn predict``: a trained model applied to any structure file.

The structure is read by :mod:`glassdyn.structures` (through ASE: LAMMPS
data/dump, extended XYZ, POSCAR, CIF, ...; glassdyn's own readers: BOTAN /
GlassBench ``.npz``, glassdyn HDF5), checked against the system the model was
trained on, turned into the model's graph (:func:`glassdyn.models.predict_structure`,
any N) and the per-particle predictions are written as extended XYZ columns
(OVITO and ASE), LAMMPS dump columns, HDF5 and/or CSV.

Per-particle outputs:

- ``propensity``: Ŝ_i(t), the predicted mean displacement at the model's
  sampling time t (σ_AA), when the model trained its node decoder (p > 0);
- ``pair_distance_change_mean``: the mean of the predicted Ê_ij(t) over the
  graph neighbours j of i (r_ij(0) ≤ graph cutoff), when the model trained its
  edge decoder (p < 1). The HDF5 output also holds every edge: ``edge_index``
  and ``pair_distance_change``.

Checks (errors say what is wrong and what to do): the model file is a BOTAN
or NT-GNN ``model.pt`` (not an OGN or tGlassMLP model, not a checkpoint); no
output is the input, and no existing output is overwritten without ``force``;
the box must be longer than twice the model's graph cutoff in every direction
(minimum image), the number density within ``density_tolerance`` of the
density the model was trained at, the A fraction within
``composition_tolerance`` of its mixture (catches swapped A/B labels), and no
two particles closer than ``min_distance`` (overlapping or duplicated
particles). Types other than A/B are refused by the readers (map them with
``type_map``).
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np

from glassdyn.config import temperature_key
from glassdyn.gnn.trained import gnn_families, load_trained, predict_structure
from glassdyn.io import structures
from glassdyn.io.storage import StorageError
from glassdyn.io.structures import Structure
from glassdyn.models.files import is_user_network
from glassdyn.models.published import is_published_state_dict

log = logging.getLogger("glassdyn.predict")

#: Smallest allowed pair distance (σ_AA). The closest pairs of equilibrium KA
#: configurations are A–B pairs at 0.75–0.78 (laptop MD at T = 1.0 and 0.64, BOTAN
#: data at T = 0.44); at 0.5 the A–B pair energy 4ε_AB((σ_AB/r)¹² − (σ_AB/r)⁶) is
#: ≈ 1600 ε, unreachable at any simulated T. Closer pairs mean duplicated atoms or
#: lengths not in σ_AA.
MIN_DISTANCE = 0.5
#: The graph networks ``predict`` applies (``glassdyn.models.REGISTRY``).
PREDICTORS = tuple(gnn_families())
_OTHER_MODELS = {
    "ogn": "an OGN simulator model (a learned integrator that rolls trajectories out in the ogn rules), "
           "not a per-particle predictor",
    "tglassmlp": "a tGlassMLP ensemble member (it predicts from the structural descriptors of inherent "
                 "structures inside a campaign, rules tglassmlp_*), not a structure-file predictor",
}
_TAKES = "glassdyn predict takes a BOTAN or NT-GNN model.pt (results/train/{botan,ntgnn}/T<T>/t<k>/model.pt)"


class CompatibilityError(ValueError):
    """The structure is outside what the model was trained for; the message says what to do."""


def cell_model_path(cell: str, results: str | Path = "results") -> Path:
    """``model,T,k`` (or ``model,pretrain``) → ``<results>/train/<model>/T<T>/t<k>/model.pt``."""

    parts = [p.strip() for p in cell.split(",")]
    if parts[0] in _OTHER_MODELS:
        raise ValueError(f"--cell '{cell}': {parts[0]} is {_OTHER_MODELS[parts[0]]}; {_TAKES}, "
                         "e.g. --cell botan,0.44,7")
    if len(parts) == 2 and parts[1] == "pretrain":
        return Path(results) / "train" / parts[0] / "pretrain" / "model.pt"
    if len(parts) != 3:
        raise ValueError(f"--cell '{cell}' must be MODEL,T,K (e.g. botan,0.44,7) or MODEL,pretrain")
    try:
        T, k = temperature_key(float(parts[1])), int(parts[2])
    except ValueError:
        raise ValueError(f"--cell '{cell}': T must be a number and K an integer time index") from None
    return Path(results) / "train" / parts[0] / f"T{T}" / f"t{k}" / "model.pt"


def check_compatible(meta: dict, s: Structure, density_tolerance: float = 0.02,
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


def check_min_distance(s: Structure, min_distance: float = MIN_DISTANCE) -> float:
    """Raise :class:`CompatibilityError` naming the closest pair if it is closer than ``min_distance`` (σ_AA).

    Nearest neighbours from a periodic k-d tree (O(N log N), minimum image);
    returns the smallest pair distance.
    """
    from scipy.spatial import cKDTree

    if s.n < 2:
        return float("inf")
    dist, idx = cKDTree(s.positions, boxsize=s.box).query(s.positions, k=2)
    self_first = idx[:, 0] == np.arange(s.n)  # coincident particles may come back in either order
    partner = np.where(self_first, idx[:, 1], idx[:, 0])
    d = np.where(self_first, dist[:, 1], dist[:, 0])
    i = int(np.argmin(d))
    j = int(partner[i])
    if d[i] < min_distance:
        kinds = structures.KINDS
        raise CompatibilityError(
            f"particles id {s.ids[i]} ({kinds[s.types[i]]}) and id {s.ids[j]} ({kinds[s.types[j]]}) are "
            f"{d[i]:.4g} σ apart, closer than --min-distance {min_distance:g} (the closest pairs of a Kob–Andersen "
            "liquid are ≈ 0.75 σ): overlapping or duplicated particles, or lengths not in units of σ_AA; "
            "fix the structure (or lower --min-distance if you know it is right)")
    return float(d[i])


def open_model(path: str | Path, device: str = "cpu"):
    """The BOTAN/NT-GNN model at ``path`` (:func:`glassdyn.models.load_trained`).

    Any other torch file is refused in one line saying what it is: an OGN or
    tGlassMLP model, a training checkpoint (the model.pt beside it is meant), or
    something else.
    """

    path = Path(path)
    obj = _torch_dict(path) if path.exists() else None
    if obj is not None:
        name = obj.get("model") if isinstance(obj.get("model"), str) else None  # a checkpoint's is a state dict
        if "optimizer" in obj and "scheduler" in obj:
            raise StorageError(path, f"this is the training checkpoint of an OGN simulator, not a predictor; {_TAKES}")
        if "optimizer" in obj:
            beside = path.parent / "model.pt"
            hint = f"use {beside}" if beside.exists() else "the train rule writes model.pt beside it when it finishes"
            raise StorageError(path, f"this is a training checkpoint (resume state), not a trained model: {hint}")
        if name in _OTHER_MODELS:
            raise StorageError(path, f"this is {_OTHER_MODELS[name]}; {_TAKES}")
        if is_published_state_dict(obj):
            raise StorageError(path, f"this is a published BOTAN state dict (pyg_botan .pth): convert it first with "
                                     f"`glassdyn import-weights {path} --output model.pt`")
        if name not in PREDICTORS and not is_user_network(obj):
            raise StorageError(path, f"not a glassdyn graph-network model (model = {name!r}, keys "
                                     f"{sorted(obj)[:6]}); {_TAKES}")
    return load_trained(path, device=device)


def _torch_dict(path: Path) -> dict | None:
    """The dict in a torch file, loaded weights-only (NumPy scalars allowed); None if it is not one."""
    import torch

    allowed = [np._core.multiarray.scalar, np.dtype,
               *(getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType"))]
    try:
        with torch.serialization.safe_globals(allowed):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises many types for non-torch, truncated or foreign files
        return None  # load_trained reports them naming the file
    return obj if isinstance(obj, dict) else None


def model_tag(meta: dict) -> str:
    """``botan_T0.44_t7`` (``botan_pretrain`` for a pretraining): the model's cell, for output names."""

    if meta.get("stage") == "pretrain":
        return f"{meta['model']}_pretrain"
    return f"{meta['model']}_T{temperature_key(float(meta['T']))}_t{int(meta['time_index'])}"


def default_outputs(structure: str | Path, meta: dict) -> list[Path]:
    """``<structure file name>.<model tag>.xyz`` and ``.h5`` beside the structure.

    The whole input name (suffix included) and the model's cell are in the name,
    so inputs ``conf.data`` and ``conf.dump``, or two models, never share an output.
    """
    src = Path(structure)
    tag = model_tag(meta)
    return [src.with_name(f"{src.name}.{tag}{ext}") for ext in (".xyz", ".h5")]


def check_outputs(structure: str | Path, outputs: list[Path], force: bool = False) -> None:
    """Refuse an output that is the input, repeated, of an unknown kind, or existing (unless ``force``)."""
    src = Path(structure).resolve()
    seen = set()
    for out in outputs:
        res = out.resolve()
        if res == src or (out.exists() and src.exists() and os.path.samefile(out, src)):
            raise ValueError(f"output '{out}' is the input structure; give another --output name")
        if out.suffix.lower() not in structures.OUTPUTS:
            raise ValueError(f"output '{out}': use a .xyz (OVITO, ASE), .dump (LAMMPS, OVITO), .h5 or .csv name")
        if res in seen:
            raise ValueError(f"output '{out}' is named twice")
        seen.add(res)
        if out.exists() and not force:
            raise ValueError(f"output '{out}' exists; pass --force to overwrite it or choose another --output")


def predict_file(structure: str | Path, model: str | Path, outputs: list[str | Path] | None = None,
                 fmt: str | None = None, frame: int = 0, type_map: dict | None = None, box=None,
                 density_tolerance: float = 0.02, composition_tolerance: float = 0.1,
                 min_distance: float = MIN_DISTANCE, species: dict | None = None, force: bool = False,
                 device: str = "cpu") -> dict:
    """Read ``structure``, predict with the model.pt at ``model``, write ``outputs`` (.xyz/.dump/.h5/.csv).

    ``species`` are the chemical placeholders written for A/B (and read as A/B);
    default outputs: :func:`default_outputs`. Returns ``structure`` (the
    :class:`~glassdyn.structures.Structure`), ``columns`` (per-particle
    predictions), ``edges`` (edge_index and Ê), ``info``, ``outputs`` and ``warnings``.
    """

    trained = open_model(model, device=device)
    outputs = [Path(p) for p in (outputs or default_outputs(structure, trained.meta))]
    check_outputs(structure, outputs, force)
    s = structures.read_structure(structure, fmt=fmt, frame=frame, type_map=type_map, box=box, species=species)
    warnings = check_compatible(trained.meta, s, density_tolerance, composition_tolerance)
    check_min_distance(s, min_distance)
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
    for out in outputs:
        if structures.OUTPUTS[out.suffix.lower()] == "h5":
            extra = {"edge_index": pred["edge_index"]}
            if trained.predicts_edges:
                extra["pair_distance_change"] = pred["edges"].astype(np.float32)
            structures.write_h5(out, s, columns, extra=extra, attrs=info)
        else:
            structures.write_structure(out, s, columns, info, species)
    log.info("%s: N = %d, E = %d, %s at T = %g, t = %g: %.2f s -> %s", structure, s.n, pred["edge_index"].shape[1],
             trained.name, info["T"], info["time"], seconds, ", ".join(map(str, outputs)))
    return {"structure": s, "columns": columns, "edges": {"edge_index": pred["edge_index"], "values": pred["edges"]},
            "info": info, "outputs": outputs, "warnings": warnings, "seconds": seconds}


def predict_cli(a) -> None:
    """``glassdyn predict`` (arguments from :func:`glassdyn.cli.build_parser`)."""
    model = Path(a.model) if a.model else cell_model_path(a.cell, a.results)
    box = None
    if a.box:
        if len(a.box) not in (1, 3):
            raise ValueError("--box takes one length (cubic) or three")
        box = a.box if len(a.box) == 3 else a.box * 3
    min_distance = MIN_DISTANCE if a.min_distance is None else a.min_distance
    if not min_distance >= 0:
        raise ValueError(f"--min-distance {min_distance}: must be a length ≥ 0 (σ_AA)")
    res = predict_file(a.structure, model, a.output, fmt=a.format, frame=a.frame,
                       type_map=structures.parse_type_map(a.type_map), box=box,
                       density_tolerance=a.density_tolerance, composition_tolerance=a.composition_tolerance,
                       min_distance=min_distance, species=structures.parse_species(a.species), force=a.force,
                       device=a.device)
    s = res["structure"]
    print(f"{s.n} particles (box {' x '.join(f'{L:.4g}' for L in s.box)}, ρ = {s.density:.4g}), "
          f"model {res['info']['model']} T = {res['info']['T']:g} t = {res['info']['time']:g}, "
          f"{res['seconds']:.2f} s")
    for name, v in res["columns"].items():
        a_mask = s.types == 0
        mean_b = np.nanmean(v[~a_mask]) if (~a_mask).any() else float("nan")
        print(f"  {name}: mean A {np.nanmean(v[a_mask]):.4g}, B {mean_b:.4g}")
    for out in res["outputs"]:
        print(f"  wrote {out}")
