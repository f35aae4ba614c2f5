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
from pathlib import Path

import numpy as np

from glassdyn import config as gcfg
from glassdyn.config.derived import GLASSBENCH_KEYS
from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.io.published import read_botan_npz, read_glassbench_npz
from glassdyn.io.storage import StorageError
from glassdyn.labels import extract as glabels
from glassdyn.labels.extract import READS as LABEL_READS
from glassdyn.physics.graphs import build_graph
from glassdyn.physics.neighbors import wrap

# --------------------------------------------------------------------------- published data as campaign input
# A campaign with `source.kind: botan | glassbench` starts at the labels: rule
# `import_labels` turns the published files of one (T, c) into
# `labels/T{T}/c{c}.h5` (docs/architecture.md layout) instead of running MD.

log = logging.getLogger("glassdyn.datasets")


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
    """Labels of one configuration from a GlassBench file: node labels only.

    Adds ``inherent_positions`` and ``cage_positions`` (wrapped into [0, L))
    when the file has them, and ``published/<NAME>`` (n_t, N) for each
    prediction of ``source.published`` the file holds (test files), at the
    campaign's time indices. Writes the labels.h5 layout minus what needs replica positions:
    ``pair_distance_change``, ``relative_motion``, ``nonaffine``, ``fs_A`` and
    ``msd_A`` are absent, so only node models (NT-GNN, p = 1) can train on it
    and the per-temperature dynamics (F_s, τα, χ4) cannot be computed.
    """

    src = gcfg.source_settings(cfg)
    d = read_glassbench_npz(file, box_length=gcfg.source_box_length(cfg), keys=src["glassbench_keys"],
                            published=list(src["published"] or {}))
    _check_particles(cfg, Path(file), len(d["types"]))
    log.info("%s: %s", file, d["type_note"])
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
    for name in ("inherent_positions", "cage_positions"):
        if name in d:
            out[name] = wrap(d[name], d["box"])
    for name, a in d["published"].items():   # the published models' predictions (test files)
        if max(ks) >= a.shape[0]:
            raise StorageError(file, f"'{name}' has {a.shape[0]} times but the campaign needs time index {max(ks)}")
        out[f"published/{name}"] = a[ks]
    edge_index, edge_vectors = build_graph(d["initial_positions"], d["box"], float(cfg["graph"]["cutoff"]))
    out["edge_index"], out["edge_vectors"] = edge_index, edge_vectors
    attrs = {"T": float(T), "c": int(c), "source": "glassbench", "source_files": [str(file)],
             "file_number": gcfg.file_number(cfg, c), "time_files": ks, "cutoff": float(cfg["graph"]["cutoff"]),
             "absent": ["pair_distance_change", "relative_motion", "nonaffine", "fs_A", "msd_A"]
             + [n for n in GLASSBENCH_KEYS if n not in d], "types_note": d["type_note"],
             "published": sorted(d["published"])}
    log.info("%s: from GlassBench file %s: N=%d, E=%d, node labels %s (no pair-distance labels)", output, file,
             len(d["types"]), edge_index.shape[1], [n for n in GLASSBENCH_KEYS if n in out])
    return storage.write_h5(output, out, attrs)


#: What importing reads: what the labels read, the published files' layout (``source``), the particle
#: number and density (box of files without one) and the sampling times of T (one published time each).
READS = LABEL_READS + reads("system.n_particles", "system.density", "source", "temperatures[T].times")


def import_labels(cfg: dict, T: str | float, c: int, inputs: list[str | Path], output: str | Path) -> Path:
    """Rule ``import_labels``: the labels of (T, c) from the published files of ``source.kind``."""
    cfg = config_slice(cfg, READS, T=T)
    kind = gcfg.source_settings(cfg)["kind"]
    if kind == "botan":
        return import_botan(cfg, T, c, inputs, output)
    if kind == "glassbench":
        if len(inputs) != 1:
            raise ValueError(f"GlassBench has one file per configuration, got {len(inputs)}")
        return import_glassbench(cfg, T, c, inputs[0], output)
    raise ValueError(f"source.kind '{kind}' has no import (md labels come from the replicas)")
