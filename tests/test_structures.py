"""Structure files through the tools users bring them from and open them with: OVITO, ASE, LAMMPS.

Inputs are written by OVITO (``ovito.io.export_file``), ASE (``ase.io.write``)
and LAMMPS itself; outputs are opened again by OVITO and ASE. Every format has
a round trip.
"""
from __future__ import annotations

import ase.io
import numpy as np
import pytest
import structure_helpers as sh

from glassdyn.io import storage
from glassdyn.io import structures as S
from glassdyn.physics.neighbors import minimum_image


def random_structure(n=60, seed=0, box=(5.0, 6.0, 7.5)) -> S.Structure:
    rng = np.random.default_rng(seed)
    box = np.asarray(box)
    types = (rng.random(n) < 0.2).astype(np.int8)
    return S.Structure(types=types, positions=rng.random((n, 3)) * box, box=box, ids=np.arange(1, n + 1))


# --------------------------------------------------------------------------- inputs written by OVITO and ASE
def test_ovito_dump_with_the_general_triclinic_header(tmp_path):
    """OVITO 3.x writes 'ITEM: BOX BOUNDS abc origin pp pp pp'; the origin is honoured."""
    s = random_structure()
    path = sh.ovito_write(tmp_path / "ovito.dump", s, "lammps/dump", origin=(-2.5, 1.0, 3.25))
    assert "ITEM: BOX BOUNDS abc origin pp pp pp" in path.read_text().splitlines()
    r = S.read_structure(path)
    sh.assert_same(s, r, atol=1e-8)
    assert r.info["format"] == "lammps-dump-text"


@pytest.mark.parametrize("fmt, name", [("lammps/data", "ovito.data"), ("xyz", "ovito.xyz")])
def test_ovito_data_and_xyz(tmp_path, fmt, name):
    """OVITO's data file (avec/bvec/cvec/abc origin header) and its XYZ (Origin=, numeric types)."""
    s = random_structure()
    path = sh.ovito_write(tmp_path / name, s, fmt, origin=(1.0, -3.0, 0.5))
    sh.assert_same(s, S.read_structure(path), atol=1e-8)


@pytest.mark.parametrize("fmt, name", [("lammps-data", "ase.data"), ("extxyz", "ase.xyz"), ("vasp", "POSCAR"),
                                       ("cif", "ase.cif")])
def test_ase_written_inputs(tmp_path, fmt, name):
    """ASE-written LAMMPS data, extended XYZ and two formats only ASE reads here (POSCAR, CIF), species Ni/P."""
    s = random_structure()
    path = sh.ase_write(tmp_path / name, s, fmt)
    r = S.read_structure(path)
    # POSCAR and CIF have no particle ids and group by element: compare as sets of (type, position)
    keep_ids = fmt in ("lammps-data", "extxyz")
    if not keep_ids:
        order = np.lexsort((s.positions[:, 0], s.types))
        s = S.Structure(types=s.types[order], positions=s.positions[order], box=s.box)
        order = np.lexsort((r.positions[:, 0], r.types))
        r = S.Structure(types=r.types[order], positions=r.positions[order], box=r.box)
    sh.assert_same(s, r, atol=1e-5, ids=keep_ids)


def test_other_species_are_listed_with_counts_and_a_mapping(tmp_path):
    s = random_structure(n=50)
    path = sh.ase_write(tmp_path / "argon.xyz", s, "extxyz", symbols=("Ar", "Ne"))
    n_b = int(s.types.sum())
    with pytest.raises(S.FormatError, match=rf"species Ar \({50 - n_b}\), Ne \({n_b}\) found.*--type-map 'Ar=A,Ne=B'"):
        S.read_structure(path)
    sh.assert_same(s, S.read_structure(path, type_map=S.parse_type_map("Ar=A,Ne=B")))
    # the same symbols declared as the placeholders are read without a map
    sh.assert_same(s, S.read_structure(path, species=S.parse_species("A=Ar,B=Ne")))
    # LAMMPS types beyond 1/2
    data = sh.ovito_write(tmp_path / "three.data", s, "lammps/data")
    text = data.read_text().replace("2 atom types", "3 atom types").splitlines()
    k = next(i for i, line in enumerate(text) if line.startswith("Atoms")) + 2
    text[k] = " ".join(text[k].split()[:1] + ["3"] + text[k].split()[2:])
    data.write_text("\n".join(text) + "\n")
    with pytest.raises(S.FormatError, match=r"LAMMPS types 1 \(\d+\), 2 \(\d+\), 3 \(1\) found.*'1=A,2=B,3=B'"):
        S.read_structure(data)


def test_data_file_with_an_offset_box_is_the_same_periodic_configuration(tmp_path):
    """ASE ignores 'xlo xhi' offsets: the configuration comes back translated as a whole, nothing else."""
    s = random_structure()
    lines = sh.ase_write(tmp_path / "zero.data", s, "lammps-data").read_text().splitlines()
    for k, line in enumerate(lines):
        w = line.split()
        if w[2:] in (["xlo", "xhi"], ["ylo", "yhi"], ["zlo", "zhi"]):
            lines[k] = f"{float(w[0]) - 2.0} {float(w[1]) - 2.0} {w[2]} {w[3]}"
    (tmp_path / "offset.data").write_text("\n".join(lines) + "\n")
    assert "-2.0 3.0 xlo xhi" in lines
    r = S.read_structure(tmp_path / "offset.data")
    d = minimum_image(r.positions - s.positions, s.box)
    np.testing.assert_allclose(d, np.broadcast_to(d[0], d.shape), atol=1e-9)
    np.testing.assert_array_equal(r.types, s.types)


def test_files_written_by_lammps_read_back_identically(tmp_path):
    """LAMMPS' own write_data and write_dump (x and scaled xs) give the structure LAMMPS read from ASE's file."""
    from glassdyn.md import native

    s = random_structure(n=40, box=(6.0, 6.5, 7.0))
    ours = sh.ase_write(tmp_path / "ase.data", s, "lammps-data")
    lmp = native.lammps()
    try:
        dump = "modify sort id format float %.15g"
        for cmd in ("units lj", "atom_style atomic", f"read_data {ours}", "mass * 1.0",
                    f"write_data {tmp_path / 'lmp.data'}",
                    f"write_dump all custom {tmp_path / 'lmp.dump'} id type x y z {dump}",
                    f"write_dump all custom {tmp_path / 'lmp_s.dump'} id type xs ys zs {dump}"):
            lmp.command(cmd)
    finally:
        lmp.close()
    for name in ("lmp.data", "lmp.dump", "lmp_s.dump"):
        sh.assert_same(s, S.read_structure(tmp_path / name), atol=1e-6)


def test_dump_frames_unwrapped_and_scaled(tmp_path):
    p = tmp_path / "traj.lammpstrj"
    frame = "ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS pp pp pp\n-1 3\n-1 3\n-1 3\n"
    p.write_text(frame.format(step=0) + "ITEM: ATOMS id type xs ys zs\n2 2 0.5 0.5 0.5\n1 1 0.25 0.0 0.75\n"
                 + frame.format(step=100) + "ITEM: ATOMS id type xu yu zu vx\n1 1 4.5 -1.5 0.0 0.1\n2 2 1 1 1 0.2\n")
    s0 = S.read_structure(p)
    np.testing.assert_allclose(s0.positions, [[1.0, 0.0, 3.0], [2.0, 2.0, 2.0]])
    np.testing.assert_array_equal(s0.types, [0, 1])
    s1 = S.read_structure(p, frame=-1)
    assert s1.info["timestep"] == 100
    np.testing.assert_allclose(s1.positions, [[1.5, 3.5, 1.0], [2.0, 2.0, 2.0]])


# --------------------------------------------------------------------------- outputs opened by OVITO and ASE
def test_xyz_output_opens_in_ovito_and_ase(tmp_path):
    s = random_structure()
    prop = np.linspace(0.1, 2.0, s.n)
    path = S.write_xyz(tmp_path / "p.xyz", s, {"propensity": prop}, info={"T": 0.44, "model": "botan x"},
                       species=S.parse_species("B=Cu"))
    atoms = ase.io.read(path)
    assert set(atoms.get_chemical_symbols()) == {"Ni", "Cu"}
    np.testing.assert_array_equal(atoms.arrays["type"], s.types + 1)
    np.testing.assert_allclose(atoms.arrays["propensity"], prop, rtol=1e-7)
    np.testing.assert_allclose(atoms.positions, s.positions, atol=1e-7)
    np.testing.assert_allclose(atoms.cell.lengths(), s.box)
    assert atoms.info["T"] == 0.44 and atoms.info["model"] == "botan x"
    d = sh.ovito_read(path)
    np.testing.assert_allclose(d.particles["propensity"][...], prop, rtol=1e-7)
    np.testing.assert_allclose(d.particles.positions[...], s.positions, atol=1e-7)
    np.testing.assert_allclose(np.diag(d.cell[...][:, :3]), s.box)
    names = {t.id: t.name for t in d.particles.particle_types.types}
    assert [names[t] for t in d.particles.particle_types[...]] == list(np.array(["Ni", "Cu"])[s.types])
    assert d.attributes["model"] == "botan x"


def test_dump_output_opens_in_ovito_and_ase(tmp_path):
    s = random_structure()
    prop = np.linspace(0.1, 2.0, s.n)
    path = S.write_dump(tmp_path / "p.dump", s, {"propensity": prop})
    d = sh.ovito_read(path)
    np.testing.assert_allclose(d.particles["d_propensity"][...], prop, rtol=1e-6)
    np.testing.assert_array_equal(d.particles.particle_types[...], s.types + 1)
    np.testing.assert_allclose(d.particles.positions[...], s.positions, atol=1e-8)
    atoms = ase.io.read(path, format="lammps-dump-text")
    np.testing.assert_allclose(atoms.arrays["d_propensity"], prop, rtol=1e-6)
    np.testing.assert_allclose(atoms.cell.lengths(), s.box)


@pytest.mark.parametrize("suffix", [".xyz", ".dump", ".h5"])
def test_round_trip(tmp_path, suffix):
    s = random_structure()
    cols = {"propensity": np.linspace(0.1, 2.0, s.n)}
    r = S.read_structure(S.write_structure(tmp_path / f"s{suffix}", s, cols, info={"T": 0.44}))
    sh.assert_same(s, r, atol=1e-7)
    assert np.all((r.positions >= 0) & (r.positions < r.box))
    name = "d_propensity" if suffix == ".dump" else "propensity"
    np.testing.assert_allclose(r.per_atom[name], cols["propensity"], rtol=1e-6)


def test_csv_output(tmp_path):
    import pandas as pd

    s = random_structure(n=5)
    path = S.write_csv(tmp_path / "p.csv", s, {"propensity": np.arange(5.0)}, info={"model": "botan"})
    assert path.read_text().splitlines()[0] == "# box 5 6 7.5 model=botan"
    frame = pd.read_csv(path, comment="#")
    assert list(frame.columns) == ["id", "type", "species", "x", "y", "z", "propensity"]
    np.testing.assert_allclose(frame[["x", "y", "z"]].to_numpy(), s.positions)
    assert list(frame["species"]) == list(np.array(["Ni", "P"])[s.types])
    with pytest.raises(S.FormatError, match="not a structure input"):
        S.read_structure(path)


# --------------------------------------------------------------------------- glassdyn's own files
def test_npz_layouts(tmp_path):
    rng = np.random.default_rng(1)
    n = 50
    types = (np.arange(n) >= 40).astype(np.int8)
    x0 = rng.random((n, 3)) * 15.0
    np.savez(tmp_path / "botan.npz", types=types, initial_positions=x0, positions=x0[None] + 0.1)
    np.savez(tmp_path / "gb.npz", types=types, initial_positions=x0, md_prop=rng.random((3, n)))
    for name in ("botan.npz", "gb.npz"):
        s = S.read_structure(tmp_path / name)
        np.testing.assert_allclose(s.box, [15.05658] * 3)
        np.testing.assert_allclose(s.positions, x0)
        np.testing.assert_array_equal(s.types, types)
    np.testing.assert_allclose(S.read_structure(tmp_path / "gb.npz", box_length=16.0).box, [16.0] * 3)
    np.savez(tmp_path / "other.npz", coords=np.zeros((3, 3)))
    with pytest.raises(storage.StorageError, match="initial_positions"):
        S.read_structure(tmp_path / "other.npz")


def test_glassdyn_h5_structures(tmp_path):
    s = random_structure(n=30)
    storage.write_h5(tmp_path / "labels.h5", {"types": s.types, "box": s.box, "positions": s.positions,
                                              "times": np.array([1.0])})
    storage.write_h5(tmp_path / "replicas.h5", {"types": s.types, "box": s.box, "initial_positions": s.positions,
                                                "positions": np.zeros((2, 1, 30, 3))})
    for name in ("labels.h5", "replicas.h5"):
        sh.assert_same(s, S.read_structure(tmp_path / name))
    (tmp_path / "bad.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(storage.StorageError, match="bad.h5"):
        S.read_structure(tmp_path / "bad.h5")


# --------------------------------------------------------------------------- errors
def test_box_errors(tmp_path):
    s = random_structure(n=4)
    good = S.write_xyz(tmp_path / "g.xyz", s).read_text().splitlines()
    no_lattice = [good[0], "Properties=species:S:1:pos:R:3:type:I:1:id:I:1"] + good[2:]
    cases = {
        "no_lattice.xyz": (no_lattice, r"no periodic box.*--box"),
        "tilted.xyz": ([good[0], good[1].replace('Lattice="5.0 0.0', 'Lattice="5.0 1.0')] + good[2:],
                       "not an orthogonal box"),
        "open.xyz": ([good[0], good[1].replace('pbc="T T T"', 'pbc="T T F"')] + good[2:], "not periodic along z"),
    }
    for name, (lines, message) in cases.items():
        (tmp_path / name).write_text("\n".join(lines) + "\n")
        with pytest.raises(S.FormatError, match=message):
            S.read_structure(tmp_path / name)
    sh.assert_same(s, S.read_structure(tmp_path / "no_lattice.xyz", box=[5.0, 6.0, 7.5]))
    dump = S.write_dump(tmp_path / "f.dump", s)
    dump.write_text(dump.read_text().replace("pp pp pp", "pp pp ff"))
    with pytest.raises(S.FormatError, match="not periodic along z.*boundary p p p"):
        S.read_structure(dump)


def test_other_errors(tmp_path):
    with pytest.raises(S.FormatError, match="does not exist"):
        S.read_structure(tmp_path / "missing.xyz")
    (tmp_path / "what").write_text("hello\n")
    with pytest.raises(S.FormatError, match="cannot tell the format.*--format"):
        S.read_structure(tmp_path / "what")
    (tmp_path / "broken.data").write_text("title\n\n2 atoms\n")
    with pytest.raises(S.FormatError, match=r"broken.data: ASE cannot read frame 0 of it as 'lammps-data'"):
        S.read_structure(tmp_path / "broken.data")
    with pytest.raises(S.FormatError, match="unknown format 'pdbx'"):
        S.read_structure(tmp_path / "broken.data", fmt="pdbx")
    for text, message in [("A=Xx", "not a chemical symbol"), ("A=P", "both 'P'"), ("C=Ni", "not A or B")]:
        with pytest.raises(ValueError, match=message):
            S.parse_species(text)
