"""Published data sets as files: the BOTAN and GlassBench ``.npz`` layouts, and where a configuration's files are.

Layouts (checked against the files and the code that reads them):
BOTAN ``isoconfig_N{N}T{T}_{i}_tc{k:02d}.npz`` — ``types``, ``initial_positions``,
``positions`` (R, N, 3) of the replicas at one time ``k``;
GlassBench ``N{N}T{T}_{i}.npz`` — ``types``, ``initial_positions``, per-time
labels (n_t, N). Neither stores the box (a cube of ``source.box_length``).
"""
from __future__ import annotations

import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from glassdyn import config as gcfg
from glassdyn.config.derived import GLASSBENCH_KEYS
from glassdyn.io.storage import StorageError

#: Box edge of the BOTAN data: N = 4096 at ρ = 1.2 (not stored in their files).
BOTAN_BOX_LENGTH = 15.05658


def read_botan_npz(path: str | Path, box_length: float = BOTAN_BOX_LENGTH, time: float | None = None) -> dict:
    """One configuration of the BOTAN public data (``isoconfig_N4096T0.44_*_tc07.npz``).

    The file holds ``types`` (N,), ``initial_positions`` (N, 3) and
    ``positions`` (R, N, 3), the unwrapped positions of R replicas at ONE
    sampling time (time index 7, t = 4120 = τα at T = 0.44, in the sample).
    ``time`` is that time (σ_AA √(m/ε) units; NaN when not given), ``box_length``
    the cubic box edge. Returns ``positions`` with a time axis, (R, 1, N, 3).
    """
    path = Path(path)
    if not path.exists():
        raise StorageError(path, "file does not exist")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("types", "initial_positions", "positions") if k not in f.files]
            if missing:
                raise StorageError(path, f"missing key(s) {missing}; expected the BOTAN layout "
                                         "types (N,), initial_positions (N, 3), positions (R, N, 3)")
            types, x0, x = f["types"], f["initial_positions"], f["positions"]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise StorageError(path, f"not a readable .npz file ({exc})") from exc
    n = types.shape[0] if types.ndim == 1 else -1
    if types.ndim != 1 or x0.shape != (n, 3) or x.ndim != 3 or x.shape[1:] != (n, 3) or x.shape[0] < 1:
        raise StorageError(path, f"bad shapes: types {types.shape}, initial_positions {x0.shape}, "
                                 f"positions {x.shape}; expected (N,), (N, 3), (R, N, 3)")
    if not set(np.unique(types).tolist()) <= {0, 1}:
        raise StorageError(path, f"types must be 0 (A) or 1 (B), found {np.unique(types).tolist()}")
    return {
        "types": types.astype(np.int8),
        "box": np.full(3, float(box_length)),
        "initial_positions": x0.astype(np.float64),
        "positions": x.astype(np.float64)[:, None],
        "times": np.array([np.nan if time is None else float(time)]),
    }


def glassbench_types(types: np.ndarray, path: str | Path) -> tuple[np.ndarray, str]:
    """Types mapped to A = 0, B = 1, and how: GlassBench readers report 0/1 or 1/2 encodings, so A is the
    value held by the majority (80 %) of the particles, whatever the two values are."""
    values, counts = np.unique(np.asarray(types), return_counts=True)
    if len(values) != 2:
        raise StorageError(path, f"'types' holds {len(values)} distinct values {values.tolist()}; a binary "
                                 "(Kob–Andersen A/B) mixture has two")
    a = values[np.argmax(counts)]
    b = values[np.argmin(counts)]
    if counts.max() == counts.min():
        raise StorageError(path, f"types {values.tolist()} are equally frequent: cannot tell A (the 80 % majority) "
                                 "from B")
    note = (f"types {values.tolist()}: A = {a.item()} ({counts.max()} of {len(types)}, "
            f"{100.0 * counts.max() / len(types):.1f} %), B = {b.item()}")
    return (np.asarray(types) != a).astype(np.int8), note


def _per_time(a: np.ndarray, n: int, n_a: int, a_mask: np.ndarray, path, key: str) -> np.ndarray:
    """A per-time, per-particle array as (n_t, N): (n_t, N) or (N, n_t) as given; (n_t, N_A) or (N_A, n_t)
    (A particles only, in file order) scattered to the A particles with NaN for B; (N,) or (N_A,) as one time."""
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2:
        raise StorageError(path, f"'{key}' has shape {a.shape}; expected (n_t, {n}) or (n_t, {n_a})")
    for width in (n, n_a):
        if width in a.shape:
            a = a if a.shape[1] == width else a.T
            if width == n:
                return a
            full = np.full((a.shape[0], n), np.nan, np.float32)
            full[:, a_mask] = a
            return full
    raise StorageError(path, f"'{key}' has shape {a.shape}; expected (n_t, {n}) or (n_t, {n_a})")


def read_glassbench_npz(path: str | Path, box_length: float = BOTAN_BOX_LENGTH,
                        keys: dict | None = None, require_labels: bool = True,
                        published: list[str] | tuple = ()) -> dict:
    """One configuration of a GlassBench ``.npz`` (Zenodo 10.5281/zenodo.10118191, Jung et al. roadmap data).

    Holds ``types`` (N,) (0/1 or 1/2: A is the majority value,
    :func:`glassbench_types`), ``initial_positions`` (N, 3) (wrapped to
    [−L/2, L/2) in the published files), per-time labels ``md_prop``
    (propensity S_i(t)) and ``bb_prop`` (bond breaking C_B^i(t)), each
    (n_t, N) (an (N, n_t) array is transposed), and where present
    ``initial_positions_inherent`` (N, 3), ``initial_positions_cage`` (N, 3)
    (configurations 1–100 and 401–500 only) and, on test files, the published
    models' predictions (``published``: names such as BOTAN, SE3, DEN; each
    (n_t, N)). No replica positions: pair-distance changes cannot be computed.
    Returns ``types``, ``box``, ``initial_positions``, one (n_t, N) array per
    label, ``inherent_positions``, ``cage_positions``, ``published`` {name:
    (n_t, N)} and ``type_note`` (``require_labels=False``: a bare structure).
    """
    path = Path(path)
    keys = dict(GLASSBENCH_KEYS if keys is None else keys)
    if not path.exists():
        raise StorageError(path, "file does not exist")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("types", "initial_positions") if k not in f.files]
            present = {name: key for name, key in keys.items() if key in f.files}
            if missing or (require_labels and not present):
                raise StorageError(path, f"missing {missing or [*keys.values()]}; a GlassBench file has types (N,), "
                                         f"initial_positions (N, 3) and at least one of {list(keys.values())} (n_t, N)")
            types, x0 = f["types"], np.asarray(f["initial_positions"], dtype=np.float64)
            arrays = {name: np.asarray(f[key], dtype=np.float32) for name, key in present.items()}
            extra_keys = (("inherent_positions", "initial_positions_inherent"),
                          ("cage_positions", "initial_positions_cage"), ("times", "times"))
            extra = {name: np.asarray(f[key], dtype=np.float64) for name, key in extra_keys if key in f.files}
            preds = {name: np.asarray(f[name]) for name in published if name in f.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise StorageError(path, f"not a readable .npz file ({exc})") from exc
    n = len(types)
    if types.ndim != 1 or x0.shape != (n, 3):
        raise StorageError(path, f"bad shapes: types {types.shape}, initial_positions {x0.shape}")
    for name in ("inherent_positions", "cage_positions"):
        if name in extra and extra[name].shape != (n, 3):
            raise StorageError(path, f"'{name}' has shape {extra[name].shape}; expected ({n}, 3)")
    span = x0.max(axis=0) - x0.min(axis=0)
    if np.any(span > float(box_length) * (1 + 1e-6)):
        raise StorageError(path, f"initial_positions span {np.round(span, 4).tolist()}, more than the box "
                                 f"{float(box_length):.5f}; set source.box_length (or system.n_particles/density)")
    t, note = glassbench_types(types, path)
    out = {"types": t, "box": np.full(3, float(box_length)), "initial_positions": x0, "type_note": note, **extra}
    for name, a in arrays.items():
        out[name] = _per_time(a, n, int((t == 0).sum()), t == 0, path, keys[name])
    out["published"] = {name: _per_time(a, n, int((t == 0).sum()), t == 0, path, name) for name, a in preds.items()}
    return out


def _index(directory: str) -> dict[str, Path]:
    """File name -> path of every ``.npz`` below ``directory`` (the data sets split train/ and test/).

    Cached while the folder and its sub-folders are unchanged (Snakemake asks once per job).
    """
    d = Path(directory)
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in [d, *sorted(q for q in d.iterdir() if q.is_dir())])
    return _scan(directory, stamp)


@lru_cache(maxsize=8)
def _scan(directory: str, stamp: tuple) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in sorted(Path(directory).rglob("*.npz")):
        out.setdefault(p.name, p)
    return out


def source_files(cfg: dict, T: str | float, c: int) -> list[Path]:
    """Published files of campaign configuration ``c`` at T, one per time file (BOTAN) or one (GlassBench).

    A file not found below ``source.path`` is returned as ``source.path/<name>``
    so that Snakemake reports it as a missing input.
    """

    src = gcfg.source_settings(cfg)
    if src["kind"] == "md":
        raise ValueError("source.kind is md: labels come from the MD replicas, not from published files")
    if not src["path"]:
        raise ValueError(f"source.path is not set: say where the {src['kind']} files are")
    names = dict(N=cfg["system"]["n_particles"], T=gcfg.temperature_key(float(T)), i=gcfg.file_number(cfg, c))
    ks = gcfg.time_files(cfg, T) if src["kind"] == "botan" else [0]
    found = _index(str(Path(src["path"]).resolve())) if Path(src["path"]).is_dir() else {}
    files = []
    for k in ks:
        name = src["pattern"].format(k=k, **names)
        files.append(found.get(name, Path(src["path"]) / name))
    return files
