"""Structures written by the real tools users bring them from (OVITO, ASE) and a KA-like test structure."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from glassdyn.io.structures import Structure
from glassdyn.physics.neighbors import minimum_image


def ka_structure(cells: int = 3, seed: int = 0, density: float = 1.2, jitter: float = 0.05) -> Structure:
    """An fcc crystal of 4·cells³ particles at ``density``, jittered, 20 % B: no pair closer than ≈ 0.65 σ."""
    rng = np.random.default_rng(seed)
    n = 4 * cells**3
    a = (4 / density) ** (1 / 3)
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    grid = np.array([[i, j, k] for i in range(cells) for j in range(cells) for k in range(cells)], float)
    pos = ((grid[:, None] + basis[None]).reshape(-1, 3) + rng.normal(0, jitter, (n, 3))) * a
    types = np.zeros(n, np.int8)
    types[rng.permutation(n)[: n // 5]] = 1
    L = a * cells
    return Structure(types=types, positions=np.mod(pos, L), box=np.full(3, L))


def assert_same(a: Structure, b: Structure, atol: float = 1e-7, ids: bool = True) -> None:
    """Same types, box, ids and positions (compared modulo the box)."""
    np.testing.assert_array_equal(a.types, b.types)
    np.testing.assert_allclose(a.box, b.box, rtol=1e-9)
    assert np.abs(minimum_image(a.positions - b.positions, a.box)).max() < atol
    if ids:
        np.testing.assert_array_equal(a.ids, b.ids)


def ovito_data(s: Structure, origin=(0.0, 0.0, 0.0), names: tuple[str, str] | None = None):
    """An OVITO DataCollection of ``s`` with its cell at ``origin`` (positions shifted with it).

    ``names`` gives the particle types names (e.g. ('Ar', 'Ne')); else they are unnamed (LAMMPS types 1, 2).
    """
    from ovito.data import DataCollection, ParticleType

    dc = DataCollection()
    cell = np.column_stack([np.diag(s.box), origin])
    dc.create_cell(cell, pbc=(True, True, True))
    p = dc.create_particles(count=s.n)
    p.create_property("Position", data=s.positions + np.asarray(origin))
    tp = p.create_property("Particle Type", data=s.types.astype(int) + 1)
    if names:
        for i, name in enumerate(names):
            tp.types.append(ParticleType(id=i + 1, name=name))
    p.create_property("Particle Identifier", data=s.ids)
    return dc


def ovito_write(path: Path, s: Structure, fmt: str, origin=(0.0, 0.0, 0.0), names=None) -> Path:
    """Export ``s`` with ``ovito.io.export_file`` (``lammps/dump``, ``lammps/data`` or ``xyz``)."""
    from ovito.io import export_file

    dc = ovito_data(s, origin, names)
    kw = {}
    if fmt == "lammps/dump":
        kw["columns"] = ["Particle Identifier", "Particle Type", "Position.X", "Position.Y", "Position.Z"]
    elif fmt == "xyz":
        kw["columns"] = ["Particle Identifier", "Particle Type", "Position.X", "Position.Y", "Position.Z"]
    export_file(dc, str(path), fmt, **kw)
    return Path(path)


def ase_atoms(s: Structure, symbols: tuple[str, str] = ("Ni", "P")):
    """``ase.Atoms`` of ``s`` with ``symbols`` for A/B (``id`` kept as an array)."""
    import ase

    atoms = ase.Atoms(symbols=np.array(symbols)[s.types], positions=s.positions, cell=np.diag(s.box), pbc=True)
    atoms.new_array("id", np.asarray(s.ids))
    return atoms


def ase_write(path: Path, s: Structure, fmt: str, symbols: tuple[str, str] = ("Ni", "P"), **kw) -> Path:
    """``ase.io.write`` of ``s`` (lammps-data: types in the order of ``symbols``, atom style atomic)."""
    import ase.io

    atoms = ase_atoms(s, symbols)
    if fmt == "lammps-data":
        kw.setdefault("specorder", list(symbols))
    ase.io.write(path, atoms, format=fmt, **kw)
    return Path(path)


def ovito_read(path: Path):
    """``ovito.io.import_file(path).compute()``."""
    from ovito.io import import_file

    return import_file(str(path)).compute()
