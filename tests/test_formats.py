"""Structure readers and writers: round trips, files written by LAMMPS itself, and the error messages."""
from __future__ import annotations

import numpy as np
import pytest

from glassdyn.io import storage
from glassdyn.io import structures as F


def random_structure(n=60, seed=0, box=(5.0, 6.0, 7.5)) -> F.Structure:
    rng = np.random.default_rng(seed)
    box = np.asarray(box)
    types = (rng.random(n) < 0.2).astype(np.int8)
    return F.Structure(types=types, positions=rng.random((n, 3)) * box, box=box,
                       ids=np.arange(1, n + 1))


def assert_same(a: F.Structure, b: F.Structure, atol=1e-7):
    np.testing.assert_array_equal(a.types, b.types)
    np.testing.assert_allclose(a.box, b.box, rtol=1e-9)
    d = F.wrap(a.positions - b.positions + 0.5 * a.box, a.box) - 0.5 * a.box  # compare modulo the box
    assert np.abs(d).max() < atol
    np.testing.assert_array_equal(a.ids, b.ids)


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("suffix", [".xyz", ".data", ".h5", ".csv"])
def test_round_trip(tmp_path, suffix):
    s = random_structure()
    cols = {"propensity": np.linspace(0.1, 2.0, s.n)} if suffix != ".data" else None
    path = F.write_structure(tmp_path / f"s{suffix}", s, cols, info={"T": 0.44, "model": "botan"})
    r = F.read_structure(path)
    assert_same(s, r, atol=1e-7)
    assert np.all((r.positions >= 0) & (r.positions < r.box))
    if cols:
        np.testing.assert_allclose(r.per_atom["propensity"], cols["propensity"], rtol=1e-6)


def test_extended_xyz_header_is_what_ovito_reads(tmp_path):
    s = random_structure(n=5)
    path = F.write_xyz(tmp_path / "p.xyz", s, {"propensity": np.arange(5.0)}, info={"T": 0.44, "model": "botan x"})
    lines = path.read_text().splitlines()
    assert lines[0] == "5"
    assert 'Lattice="5 0 0 0 6 0 0 0 7.5"' in lines[1]
    assert "Properties=species:S:1:pos:R:3:id:I:1:propensity:R:1" in lines[1]
    assert 'pbc="T T T"' in lines[1] and 'model="botan x"' in lines[1] and "T=0.44" in lines[1]
    first = lines[2].split()
    assert first[0] in ("A", "B") and len(first) == 6 and first[4] == "1" and float(first[5]) == 0.0


def test_lammps_data_with_offset_origin_images_and_full_style(tmp_path):
    text = """LAMMPS data file via hand

3 atoms
2 atom types
-2.0 3.0 xlo xhi
-2.0 3.0 ylo yhi
0.0 5.0 zlo zhi
0.0 0.0 0.0 xy xz yz

Masses

1 1.0
2 1.0

Atoms # full

3 1 2 0.0 2.5 -1.0 4.0 0 0 0
1 1 1 0.0 -2.0 0.0 0.5 1 0 0
2 1 1 0.0 0.0 2.9 1.0 0 -1 0

Velocities

1 0 0 0
2 0 0 0
3 0 0 0
"""
    p = tmp_path / "in.data"
    p.write_text(text)
    s = F.read_structure(p)
    np.testing.assert_array_equal(s.ids, [1, 2, 3])
    np.testing.assert_array_equal(s.types, [0, 0, 1])
    np.testing.assert_allclose(s.box, [5, 5, 5])
    # origin shifted to 0; image flags unfold then wrapping folds back into the box
    np.testing.assert_allclose(s.positions, [[0.0, 2.0, 0.5], [2.0, 4.9, 1.0], [4.5, 1.0, 4.0]], atol=1e-12)


def test_dump_frames_scaled_and_unwrapped(tmp_path):
    p = tmp_path / "traj.lammpstrj"
    p.write_text("""ITEM: TIMESTEP
0
ITEM: NUMBER OF ATOMS
2
ITEM: BOX BOUNDS pp pp pp
-1.0 3.0
-1.0 3.0
-1.0 3.0
ITEM: ATOMS id type xs ys zs
2 2 0.5 0.5 0.5
1 1 0.25 0.0 0.75
ITEM: TIMESTEP
100
ITEM: NUMBER OF ATOMS
2
ITEM: BOX BOUNDS pp pp pp
-1.0 3.0
-1.0 3.0
-1.0 3.0
ITEM: ATOMS id type xu yu zu vx
1 1 4.5 -1.5 0.0 0.1
2 2 1.0 1.0 1.0 0.2
""")
    s0 = F.read_structure(p)
    np.testing.assert_allclose(s0.positions, [[1.0, 0.0, 3.0], [2.0, 2.0, 2.0]])
    np.testing.assert_array_equal(s0.types, [0, 1])
    s1 = F.read_structure(p, frame=-1)
    assert s1.info["timestep"] == 100 and s1.info["coordinates"] == "xu"
    np.testing.assert_allclose(s1.positions, [[1.5, 3.5, 1.0], [2.0, 2.0, 2.0]])
    assert F.dump_frame_count(p) == 2


def test_files_written_by_lammps_read_back_identically(tmp_path):
    """LAMMPS' own write_data and write_dump give the structure LAMMPS read from our data file."""
    from glassdyn.md import runtime

    s = random_structure(n=40, box=(6.0, 6.5, 7.0))
    ours = F.write_data(tmp_path / "ours.data", s)
    lmp = runtime.lammps()
    try:
        for cmd in ("units lj", "atom_style atomic", f"read_data {ours}",
                    f"write_data {tmp_path / 'lmp.data'}",
                    f"write_dump all custom {tmp_path / 'lmp.dump'} id type x y z modify sort id format float %.15g",
                    f"write_dump all custom {tmp_path / 'lmp_s.dump'} id type xs ys zs modify sort id format float %.15g"):
            lmp.command(cmd)
        x = np.array(lmp.numpy.extract_atom("x")[:40], dtype=float)
        ids = np.array(lmp.numpy.extract_atom("id")[:40])
    finally:
        lmp.close()
    order = np.argsort(ids)
    np.testing.assert_allclose(x[order], s.positions, atol=1e-9)
    for name in ("lmp.data", "lmp.dump", "lmp_s.dump"):
        assert_same(s, F.read_structure(tmp_path / name), atol=1e-6)


def test_npz_layouts(tmp_path):
    rng = np.random.default_rng(1)
    n = 50
    types = (np.arange(n) >= 40).astype(np.int8)
    x0 = rng.random((n, 3)) * 15.0
    np.savez(tmp_path / "botan.npz", types=types, initial_positions=x0, positions=x0[None] + 0.1)
    np.savez(tmp_path / "gb.npz", types=types, initial_positions=x0, md_prop=rng.random((3, n)))
    for name in ("botan.npz", "gb.npz"):
        s = F.read_structure(tmp_path / name)
        np.testing.assert_allclose(s.box, [15.05658] * 3)
        np.testing.assert_allclose(s.positions, x0)
        np.testing.assert_array_equal(s.types, types)
    s = F.read_structure(tmp_path / "gb.npz", box_length=16.0)
    np.testing.assert_allclose(s.box, [16.0] * 3)


def test_glassdyn_h5_structures(tmp_path):
    s = random_structure(n=30)
    storage.write_h5(tmp_path / "labels.h5", {"types": s.types, "box": s.box, "positions": s.positions,
                                              "times": np.array([1.0])})
    storage.write_h5(tmp_path / "replicas.h5", {"types": s.types, "box": s.box, "initial_positions": s.positions,
                                                "positions": np.zeros((2, 1, 30, 3))})
    for name in ("labels.h5", "replicas.h5"):
        assert_same(s, F.read_structure(tmp_path / name))
    (tmp_path / "bad.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(storage.StorageError, match="bad.h5"):
        F.read_structure(tmp_path / "bad.h5")


def test_format_detected_from_content(tmp_path):
    s = random_structure(n=10)
    F.write_xyz(tmp_path / "a.xyz", s)
    F.write_data(tmp_path / "b.data", s)
    (tmp_path / "noext1").write_text((tmp_path / "a.xyz").read_text())
    (tmp_path / "noext2").write_text((tmp_path / "b.data").read_text())
    assert F.detect_format(tmp_path / "noext1") == "xyz"
    assert F.detect_format(tmp_path / "noext2") == "data"
    assert_same(s, F.read_structure(tmp_path / "noext1"))


def test_type_map_for_other_labels(tmp_path):
    s = random_structure(n=8)
    text = F.write_xyz(tmp_path / "a.xyz", s).read_text()
    text = "\n".join(text.splitlines()[:2] + [("Ni" + l[1:]) if l[0] == "A" else ("P" + l[1:])
                                              for l in text.splitlines()[2:]]) + "\n"
    (tmp_path / "nip.xyz").write_text(text)
    with pytest.raises(F.FormatError, match=r"unknown species \['Ni', 'P'\].*type_map"):
        F.read_structure(tmp_path / "nip.xyz")
    r = F.read_structure(tmp_path / "nip.xyz", type_map=F.parse_type_map("Ni=A,P=B"))
    np.testing.assert_array_equal(r.types, s.types)


# --------------------------------------------------------------------------- errors
def _data(tmp_path, body: str, header: str = "0.0 5.0 xlo xhi\n0.0 5.0 ylo yhi\n0.0 5.0 zlo zhi\n"):
    p = tmp_path / "x.data"
    p.write_text(f"title\n\n2 atoms\n2 atom types\n{header}\nAtoms # atomic\n\n{body}")
    return p


@pytest.mark.parametrize("header, body, message", [
    ("0.0 5.0 xlo xhi\n0.0 5.0 ylo yhi\n", "1 1 0 0 0\n2 2 1 1 1\n", "zlo zhi.*periodic box is needed"),
    ("0.0 5.0 xlo xhi\n0.0 5.0 ylo yhi\n0.0 5.0 zlo zhi\n1.0 0.0 0.0 xy xz yz\n", "1 1 0 0 0\n2 2 1 1 1\n",
     "triclinic"),
    ("0.0 5.0 xlo xhi\n0.0 5.0 ylo yhi\n0.0 5.0 zlo zhi\n", "1 1 0 0 0\n2 3 1 1 1\n",
     r"types \[1, 3\].*--type-map"),
    ("0.0 5.0 xlo xhi\n0.0 5.0 ylo yhi\n0.0 5.0 zlo zhi\n", "1 1 0 0 0\n", "1 lines but the header says 2"),
    ("0.0 5.0 xlo xhi\n0.0 5.0 ylo yhi\n0.0 5.0 zlo zhi\n", "1 1 0 0 0\n2 2 1 x 1\n", "non-numeric"),
])
def test_data_errors(tmp_path, header, body, message):
    with pytest.raises(F.FormatError, match=message):
        F.read_structure(_data(tmp_path, body, header))


def test_xyz_errors(tmp_path):
    s = random_structure(n=4)
    good = F.write_xyz(tmp_path / "g.xyz", s).read_text().splitlines()
    cases = {
        "no Lattice": ([good[0], 'Properties=species:S:1:pos:R:3:id:I:1'] + good[2:], r'no Lattice=.*--box'),
        "tilted": ([good[0], good[1].replace('Lattice="5 0 0', 'Lattice="5 1 0')] + good[2:], "not diagonal"),
        "columns": ([good[0], good[1].replace(":id:I:1", ":id:I:1:extra:R:1")] + good[2:],
                    "has 5 columns but Properties announce 6"),
        "truncated": (good[:-1], "ends first"),
        "open box": ([good[0], good[1].replace('pbc="T T T"', 'pbc="T T F"')] + good[2:], "periodic in x, y and z"),
    }
    for name, (lines, message) in cases.items():
        p = tmp_path / f"{name.replace(' ', '_')}.xyz"
        p.write_text("\n".join(lines) + "\n")
        with pytest.raises(F.FormatError, match=message):
            F.read_structure(p)
    # the box can be given when the file has none
    p = tmp_path / "no_Lattice.xyz"
    assert_same(s, F.read_structure(p, box=[5.0, 6.0, 7.5]), atol=1e-7)


def test_dump_errors(tmp_path):
    head = "ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n2\n"
    cases = {
        "cols": (head + "ITEM: BOX BOUNDS pp pp pp\n0 4\n0 4\n0 4\nITEM: ATOMS id type vx vy vz\n1 1 0 0 0\n2 1 0 0 0\n",
                 "lack a coordinate set.*id type x y z"),
        "notype": (head + "ITEM: BOX BOUNDS pp pp pp\n0 4\n0 4\n0 4\nITEM: ATOMS id x y z\n1 0 0 0\n2 1 1 1\n",
                   r"lack \['type'\]"),
        "fixed": (head + "ITEM: BOX BOUNDS pp pp ff\n0 4\n0 4\n0 4\nITEM: ATOMS id type x y z\n1 1 0 0 0\n2 1 1 1 1\n",
                  "not periodic"),
        "short": (head + "ITEM: BOX BOUNDS pp pp pp\n0 4\n0 4\n0 4\nITEM: ATOMS id type x y z\n1 1 0 0 0\n",
                  "truncated"),
        "tilt": (head + "ITEM: BOX BOUNDS xy xz yz pp pp pp\n0 4 0\n0 4 0\n0 4 0\nITEM: ATOMS id type x y z\n"
                 "1 1 0 0 0\n2 1 1 1 1\n", "triclinic"),
    }
    for name, (text, message) in cases.items():
        p = tmp_path / f"{name}.dump"
        p.write_text(text)
        with pytest.raises(F.FormatError, match=message):
            F.read_structure(p)


def test_other_errors(tmp_path):
    with pytest.raises(F.FormatError, match="does not exist"):
        F.read_structure(tmp_path / "missing.xyz")
    (tmp_path / "what").write_text("hello\n")
    with pytest.raises(F.FormatError, match="cannot tell the format"):
        F.read_structure(tmp_path / "what")
    F.write_csv(tmp_path / "s.csv", random_structure(n=3))
    (tmp_path / "nobox.csv").write_text("\n".join((tmp_path / "s.csv").read_text().splitlines()[1:]) + "\n")
    with pytest.raises(F.FormatError, match="--box"):
        F.read_structure(tmp_path / "nobox.csv")
    np.savez(tmp_path / "other.npz", coords=np.zeros((3, 3)))
    with pytest.raises(storage.StorageError, match="initial_positions"):
        F.read_structure(tmp_path / "other.npz")
