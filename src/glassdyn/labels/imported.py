"""Readers for published iso-configurational data sets, returned in glassdyn's own layout.

Each reader returns a dict with the same keys and conventions as
``replicas.h5`` needs for :func:`glassdyn.labels.labels_from_positions`:
``types`` (N,) int8 (A = 0, B = 1), ``box`` (3,), ``initial_positions``
(N, 3), ``positions`` (R, n_t, N, 3) unwrapped, ``times`` (n_t,).
Errors name the offending file.

The second half makes a published data set the input of a campaign
(``source.kind: botan | glassbench``): :func:`source_files` finds the files of
one (T, c), :func:`import_labels` (rule ``import_labels``) writes them as
``labels/T{T}/c{c}.h5``, so the DAG starts at the labels and runs no MD.
"""
from __future__ import annotations

import logging
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from glassdyn import config as gcfg
from glassdyn.config.derived import GLASSBENCH_KEYS
from glassdyn.io import storage
from glassdyn.io.storage import StorageError
from glassdyn.labels import extract as glabels
from glassdyn.physics.graphs import build_graph
from glassdyn.physics.neighbors import wrap

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


# --------------------------------------------------------------------------- published data as campaign input
# A campaign with `source.kind: botan | glassbench` starts at the labels: rule
# `import_labels` turns the published files of one (T, c) into
# `labels/T{T}/c{c}.h5` (docs/architecture.md layout) instead of running MD.

log = logging.getLogger("glassdyn.datasets")

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


def _check_particles(cfg: dict, path: Path, n: int) -> None:
    if n != cfg["system"]["n_particles"]:
        raise StorageError(path, f"{n} particles but the campaign has system.n_particles = "
                                 f"{cfg['system']['n_particles']}; set it to {n}")


def import_botan(cfg: dict, T: str | float, c: int, files: list[str | Path], output: str | Path) -> Path:
    """Labels of one configuration from its BOTAN files (one per sampling time, R replicas each).

    The files' replica positions are stacked into (R, n_t, N, 3) and passed to
    :func:`glassdyn.labels.labels_from_positions`, so the labels are computed
    exactly as for the project's own MD.
    """

    times = np.asarray(gcfg.temperature(cfg, T)["times"], dtype=np.float64)
    if len(files) != len(times):
        raise ValueError(f"{len(files)} files for {len(times)} sampling times at T = {T}; "
                         "source.time_files must list one published time index per sampling time")
    L = gcfg.source_box_length(cfg)
    frames = [read_botan_npz(p, box_length=L) for p in files]
    first = frames[0]
    _check_particles(cfg, Path(files[0]), len(first["types"]))
    for p, fr in zip(files[1:], frames[1:]):
        if not (np.array_equal(fr["types"], first["types"])
                and np.allclose(fr["initial_positions"], first["initial_positions"])):
            raise StorageError(p, f"its t = 0 structure differs from {files[0]}: not the same configuration")
        if fr["positions"].shape[0] != first["positions"].shape[0]:
            raise StorageError(p, f"{fr['positions'].shape[0]} replicas, {files[0]} has {first['positions'].shape[0]}")
    positions = np.concatenate([fr["positions"] for fr in frames], axis=1)  # (R, n_t, N, 3)
    try:
        labels = glabels.labels_from_positions(first["types"], first["box"], first["initial_positions"], positions,
                                               times, cfg)
    except ValueError as exc:
        raise StorageError(files[0], str(exc)) from exc
    st = glabels.label_settings(cfg)
    attrs = {"T": float(T), "c": int(c), "source": "botan", "source_files": [str(p) for p in files],
             "file_number": gcfg.file_number(cfg, c), "time_files": gcfg.time_files(cfg, T),
             "n_replicas": int(positions.shape[0]), **{k: st[k] for k in ("cutoff", "a_in", "a_out", "k")},
             "relative_motion_cutoff": st["relative_motion_cutoff"], "sigma": st["sigma"]}
    log.info("%s: from %d BOTAN file(s) (configuration %d, time files %s): N=%d, R=%d, E=%d", output, len(files),
             attrs["file_number"], attrs["time_files"], len(first["types"]), attrs["n_replicas"],
             labels["edge_index"].shape[1])
    return storage.write_h5(output, labels, attrs)


def import_glassbench(cfg: dict, T: str | float, c: int, file: str | Path, output: str | Path) -> Path:
    """Labels of one configuration from a GlassBench-style file: node labels only.

    Writes the labels.h5 layout minus what needs replica positions:
    ``pair_distance_change``, ``relative_motion``, ``nonaffine``, ``fs_A`` and
    ``msd_A`` are absent, so only node models (NT-GNN, p = 1) can train on it
    and the per-temperature dynamics (F_s, τα, χ4) cannot be computed.
    """

    src = gcfg.source_settings(cfg)
    d = read_glassbench_npz(file, box_length=gcfg.source_box_length(cfg), keys=src["glassbench_keys"])
    _check_particles(cfg, Path(file), len(d["types"]))
    times = np.asarray(gcfg.temperature(cfg, T)["times"], dtype=np.float64)
    ks = gcfg.time_files(cfg, T)
    out = {"types": d["types"], "box": d["box"], "positions": wrap(d["initial_positions"], d["box"]), "times": times}
    for name in GLASSBENCH_KEYS:
        if name not in d:
            continue
        n_file = d[name].shape[0]
        if max(ks) >= n_file:
            raise StorageError(file, f"'{src['glassbench_keys'][name]}' has {n_file} times but the campaign needs "
                                     f"time index {max(ks)} at T = {T}; list the dataset's times in "
                                     "temperatures[].times or pick columns with source.time_files")
        out[name] = d[name][ks]
    if "inherent_positions" in d:
        out["inherent_positions"] = wrap(d["inherent_positions"], d["box"])
    edge_index, edge_vectors = build_graph(d["initial_positions"], d["box"], float(cfg["graph"]["cutoff"]))
    out["edge_index"], out["edge_vectors"] = edge_index, edge_vectors
    attrs = {"T": float(T), "c": int(c), "source": "glassbench", "source_files": [str(file)],
             "file_number": gcfg.file_number(cfg, c), "time_files": ks, "cutoff": float(cfg["graph"]["cutoff"]),
             "absent": ["pair_distance_change", "relative_motion", "nonaffine", "fs_A", "msd_A"]
             + [n for n in GLASSBENCH_KEYS if n not in d]}
    log.info("%s: from GlassBench file %s: N=%d, E=%d, node labels %s (no pair-distance labels)", output, file,
             len(d["types"]), edge_index.shape[1], [n for n in GLASSBENCH_KEYS if n in out])
    return storage.write_h5(output, out, attrs)


def import_labels(cfg: dict, T: str | float, c: int, inputs: list[str | Path], output: str | Path) -> Path:
    """Rule ``import_labels``: the labels of (T, c) from the published files of ``source.kind``."""
    kind = gcfg.source_settings(cfg)["kind"]
    if kind == "botan":
        return import_botan(cfg, T, c, inputs, output)
    if kind == "glassbench":
        if len(inputs) != 1:
            raise ValueError(f"GlassBench has one file per configuration, got {len(inputs)}")
        return import_glassbench(cfg, T, c, inputs[0], output)
    raise ValueError(f"source.kind '{kind}' has no import (md labels come from the replicas)")
