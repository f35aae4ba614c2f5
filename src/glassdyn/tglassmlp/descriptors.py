"""Rule ``tglassmlp_descriptors``: the structural descriptors of one inherent structure.

The kernel is :mod:`glassdyn.physics.descriptors`.
"""
from __future__ import annotations

import numpy as np

from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.physics.descriptors import coarse_grained_descriptors, descriptor_lengths, descriptor_names

#: What the descriptors read: the coarse-graining lengths and the pair cutoff (``chunk_pairs`` only bounds
#: memory and is an execution setting).
READS = reads("tglassmlp.descriptors.lengths", "tglassmlp.descriptors.cutoff")


def descriptors_file(cfg: dict, inherent_path: str, output: str, chunk_pairs: int = 5_000_000) -> None:
    """Rule ``tglassmlp_descriptors``: descriptors of one inherent structure into ``output`` (HDF5).

    Writes ``descriptors`` (N, M) float32 (raw, not standardised), ``names``,
    ``lengths`` (M,), and the inherent structure's ``types``, ``positions``,
    ``box`` (the loss and the analyses need the geometry); attrs ``cutoff``,
    ``lengths``, ``T``, ``c``.
    """
    cfg = config_slice(cfg, READS)
    d = cfg["tglassmlp"]["descriptors"]
    data, attrs = storage.read_h5(inherent_path, ["positions", "types", "box", "energy", "voronoi_area"])
    x = coarse_grained_descriptors(data["positions"], data["types"], data["box"], data["energy"],
                                   data["voronoi_area"], d["lengths"], d["cutoff"], chunk_pairs)
    storage.write_h5(output, {
        "descriptors": x.astype(np.float32),
        "names": np.array(descriptor_names(d["lengths"]), dtype="S"),
        "lengths": descriptor_lengths(d["lengths"]),
        "types": data["types"],
        "positions": data["positions"],
        "box": data["box"],
    }, attrs={"cutoff": float(d["cutoff"]), "lengths": [float(v) for v in d["lengths"]],
              "T": attrs.get("T", float("nan")), "c": attrs.get("c", -1)})
