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


def read_glassbench_npz(path: str | Path, box_length: float = BOTAN_BOX_LENGTH,
                        keys: dict | None = None, require_labels: bool = True) -> dict:
    """One configuration of a GlassBench-style ``.npz`` (Jung et al. roadmap data).

    Holds ``types`` (N,), ``initial_positions`` (N, 3) and per-time labels, by
    default ``md_prop`` (propensity S_i(t)) and ``bb_prop`` (bond-breaking
    C_B^i(t)), each (n_t, N) (an (N, n_t) array is transposed). No replica
    positions: pair-distance changes cannot be computed. ``inherent_positions``
    is returned when the file has ``initial_positions_inherent``. Returns
    ``types``, ``box``, ``initial_positions`` and one (n_t, N) array per label
    (``require_labels=False`` accepts a file without labels: a bare structure).
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
            types, x0 = f["types"], f["initial_positions"]
            arrays = {name: np.asarray(f[key], dtype=np.float32) for name, key in present.items()}
            inherent = f["initial_positions_inherent"] if "initial_positions_inherent" in f.files else None
            times = f["times"] if "times" in f.files else None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise StorageError(path, f"not a readable .npz file ({exc})") from exc
    n = len(types)
    if types.ndim != 1 or x0.shape != (n, 3):
        raise StorageError(path, f"bad shapes: types {types.shape}, initial_positions {x0.shape}")
    if not set(np.unique(types).tolist()) <= {0, 1}:
        raise StorageError(path, f"types must be 0 (A) or 1 (B), found {np.unique(types).tolist()}")
    out = {"types": types.astype(np.int8), "box": np.full(3, float(box_length)),
           "initial_positions": x0.astype(np.float64)}
    for name, a in arrays.items():
        if a.ndim == 1:
            a = a[None]
        if a.ndim != 2 or n not in a.shape:
            raise StorageError(path, f"'{keys[name]}' has shape {a.shape}; expected (n_t, {n})")
        out[name] = a if a.shape[1] == n else a.T
    if inherent is not None:
        out["inherent_positions"] = np.asarray(inherent, dtype=np.float64)
    if times is not None:
        out["times"] = np.asarray(times, dtype=np.float64)
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
