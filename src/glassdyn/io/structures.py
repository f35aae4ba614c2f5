"""Structure files in and out: one :class:`Structure` from any common format.

A structure is what a prediction needs: particle types (A → 0, B → 1), positions
and an orthogonal periodic box. Readers normalise every format to the project's
convention (origin 0, positions folded into [0, L), types 0/1) and raise
:class:`FormatError` saying what is wrong with the file and how to fix it.

Readers (``read_structure`` picks one from the file name or its first lines):

- LAMMPS data files (``read_data``: ``Atoms`` section, styles atomic, charge,
  molecular, full; types 1 → A, 2 → B),
- LAMMPS text dumps (``ITEM: ATOMS id type x y z``, also ``xu``/``xs``/``xsu``
  coordinates; ``read_dump`` takes one frame),
- extended XYZ (``Lattice="..." Properties=species:S:1:pos:R:3...``),
- the BOTAN / GlassBench ``.npz`` layout (``types``, ``initial_positions``; box
  from the density, see :func:`glassdyn.datasets.read_botan_npz`),
- glassdyn HDF5 (``equilibrated.h5``, ``labels.h5``, ``replicas.h5`` and the
  prediction files written by :func:`write_h5`).

Writers: extended XYZ with per-atom columns (OVITO and ASE read it), LAMMPS
data (atomic style), HDF5, CSV.
"""
from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path
from typing import Mapping

import numpy as np

from glassdyn.io import storage
from glassdyn.physics.neighbors import wrap

#: Species names of the two particle kinds, index = type.
SPECIES = ("A", "B")

FORMATS = ("data", "dump", "xyz", "npz", "h5", "csv")
_SUFFIXES = {
    ".data": "data", ".lmp": "data", ".lammps": "data",
    ".dump": "dump", ".lammpstrj": "dump",
    ".xyz": "xyz", ".extxyz": "xyz",
    ".npz": "npz",
    ".h5": "h5", ".hdf5": "h5",
    ".csv": "csv",
}


class FormatError(ValueError):
    """A structure file cannot be read as a structure; the message says why and what to do."""

    def __init__(self, path: str | Path, message: str):
        self.path = str(path)
        super().__init__(f"{path}: {message}")


@dataclasses.dataclass
class Structure:
    """Particle types (N,) int8 (A → 0, B → 1), positions (N, 3) float64 in [0, L), box (3,).

    ``ids`` are the particle ids of the source file (1-based, sorted), ``per_atom``
    optional per-particle arrays (N,) carried to writers, ``info`` scalar metadata.
    """

    types: np.ndarray
    positions: np.ndarray
    box: np.ndarray
    ids: np.ndarray | None = None
    per_atom: dict = dataclasses.field(default_factory=dict)
    info: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.types = np.asarray(self.types, dtype=np.int8).reshape(-1)
        self.positions = np.asarray(self.positions, dtype=np.float64).reshape(-1, 3)
        self.box = np.asarray(self.box, dtype=np.float64).reshape(3)
        n = len(self.types)
        if self.positions.shape != (n, 3):
            raise ValueError(f"{n} types but {len(self.positions)} positions")
        if self.ids is None:
            self.ids = np.arange(1, n + 1, dtype=np.int64)
        for name, arr in self.per_atom.items():
            if len(np.asarray(arr)) != n:
                raise ValueError(f"per-atom column '{name}' has {len(arr)} values for {n} particles")

    @property
    def n(self) -> int:
        return len(self.types)

    @property
    def density(self) -> float:
        """Number density N / V (σ_AA⁻³)."""
        return self.n / float(np.prod(self.box))

    @property
    def fraction_a(self) -> float:
        return float(np.mean(self.types == 0)) if self.n else 0.0


# --------------------------------------------------------------------------- helpers
def _make(path, types, positions, box, origin=(0.0, 0.0, 0.0), ids=None, **kw) -> Structure:
    """Normalise: check the box, shift the origin to 0, fold positions into the box."""
    box = np.asarray(box, dtype=np.float64)
    if box.shape != (3,) or not np.all(np.isfinite(box)) or np.any(box <= 0):
        raise FormatError(path, f"box lengths {box.tolist()} are not three positive numbers")
    pos = np.asarray(positions, dtype=np.float64)
    if not np.all(np.isfinite(pos)):
        raise FormatError(path, "positions contain NaN or infinity")
    pos = wrap(pos - np.asarray(origin, dtype=np.float64), box)
    if ids is not None:
        ids = np.asarray(ids, dtype=np.int64)
        if len(np.unique(ids)) != len(ids):
            raise FormatError(path, "particle ids are not unique")
        order = np.argsort(ids, kind="stable")
        ids, types, pos = ids[order], np.asarray(types)[order], pos[order]
        kw["per_atom"] = {k: np.asarray(v)[order] for k, v in kw.get("per_atom", {}).items()}
    return Structure(types=types, positions=pos, box=box, ids=ids, **kw)


def _numeric_types(path, raw: np.ndarray, one_based: bool, type_map: Mapping | None) -> np.ndarray:
    """Integer type labels → 0/1. LAMMPS types are 1-based (1 → A, 2 → B)."""
    raw = np.asarray(raw).astype(np.int64)
    if type_map:
        return _mapped(path, [str(t) for t in raw], type_map)
    base = 1 if one_based else 0
    found = sorted(set(raw.tolist()))
    bad = [t for t in found if t - base not in (0, 1)]
    if bad:
        allowed = f"{base} (A) and {base + 1} (B)"
        raise FormatError(path, f"particle types {found} found but the Kob–Andersen model knows only {allowed}; "
                                f"map the file's types onto A/B with type_map (--type-map '3=A,4=B')")
    return (raw - base).astype(np.int8)


def _mapped(path, labels: list[str], type_map: Mapping) -> np.ndarray:
    norm = {str(k): _species_index(path, v) for k, v in type_map.items()}
    missing = sorted(set(labels) - set(norm))
    if missing:
        raise FormatError(path, f"types {missing} are not in the type map {sorted(norm)}; add them (e.g. '{missing[0]}=A')")
    return np.array([norm[s] for s in labels], dtype=np.int8)


def _species_index(path, v) -> int:
    if isinstance(v, (int, np.integer)) and int(v) in (0, 1):
        return int(v)
    s = str(v).strip().upper()
    if s in SPECIES:
        return SPECIES.index(s)
    if s in ("0", "1"):
        return int(s)
    raise FormatError(path, f"type map target '{v}' is neither A/B nor 0/1")


def _species_types(path, labels: list[str], type_map: Mapping | None) -> np.ndarray:
    """Species strings → 0/1: 'A'/'B' (any case), or integers (1/2 LAMMPS-style, 0/1 if a 0 appears)."""
    if type_map:
        return _mapped(path, labels, type_map)
    found = sorted(set(labels))
    upper = {s.upper() for s in found}
    if upper <= set(SPECIES):
        return np.array([SPECIES.index(s.upper()) for s in labels], dtype=np.int8)
    if all(re.fullmatch(r"-?\d+", s) for s in found):
        ints = np.array([int(s) for s in labels])
        return _numeric_types(path, ints, one_based=0 not in set(ints.tolist()), type_map=None)
    raise FormatError(path, f"unknown species {found}: expected A and B (or 1/2); "
                            f"pass type_map (--type-map 'Ni=A,P=B') to say which is which")


def parse_type_map(text: str | None) -> dict | None:
    """'3=A,4=B' → {'3': 'A', '4': 'B'} (None for empty)."""
    if not text:
        return None
    out = {}
    for item in text.split(","):
        if "=" not in item:
            raise ValueError(f"type map item '{item}' is not of the form LABEL=A or LABEL=B")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def detect_format(path: str | Path) -> str:
    """Format name from the suffix, else from the first lines of the file."""
    path = Path(path)
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt:
        return fmt
    if path.name.startswith(("dump.", "data.")):
        return path.name.split(".")[0]
    if not path.exists():
        raise FormatError(path, "file does not exist")
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"\x89HDF"):
        return "h5"
    if head.startswith(b"PK"):
        return "npz"
    text = head.decode("utf-8", "replace")
    lines = text.splitlines()
    if lines and lines[0].startswith("ITEM:"):
        return "dump"
    if re.search(r"^\s*\d+\s+atoms\s*$", text, re.M):
        return "data"
    if lines and re.fullmatch(r"\s*\d+\s*", lines[0]):
        return "xyz"
    raise FormatError(path, f"cannot tell the format from the name or content; pass it explicitly (one of {FORMATS})")


# --------------------------------------------------------------------------- LAMMPS data
_ATOM_STYLES = {  # column of id, type, x in each Atoms line
    "atomic": (0, 1, 2),
    "charge": (0, 1, 3),
    "molecular": (0, 2, 3),
    "bond": (0, 2, 3),
    "angle": (0, 2, 3),
    "full": (0, 2, 4),
}
_SECTIONS = ("Atoms", "Velocities", "Masses", "Bonds", "Angles", "Dihedrals", "Impropers",
             "Pair Coeffs", "PairIJ Coeffs", "Bond Coeffs", "Angle Coeffs", "Ellipsoids")


def read_data(path: str | Path, type_map: Mapping | None = None) -> Structure:
    """Read a LAMMPS data file (orthogonal box; ``Atoms`` in atomic/charge/molecular/full style).

    Types are LAMMPS' 1-based numbers: 1 → A, 2 → B unless ``type_map`` says otherwise.
    """
    path = Path(path)
    lines = Path(path).read_text().splitlines()
    n_atoms = None
    lo = {}
    hi = {}
    i = 1  # the first line is a title
    while i < len(lines):
        line = lines[i].split("#")[0].strip()
        if not line:
            i += 1
            continue
        if any(line.startswith(s) for s in _SECTIONS):
            break
        w = line.split()
        if len(w) == 2 and w[1] == "atoms":
            n_atoms = int(w[0])
        elif len(w) == 4 and w[2].endswith("lo") and w[3].endswith("hi"):
            ax = w[2][0]
            lo[ax], hi[ax] = float(w[0]), float(w[1])
        elif len(w) == 6 and w[3:] == ["xy", "xz", "yz"]:
            if any(abs(float(x)) > 0 for x in w[:3]):
                raise FormatError(path, "triclinic box (non-zero xy xz yz): only orthogonal boxes are supported; "
                                        "write the structure in an orthogonal box")
        i += 1
    if n_atoms is None:
        raise FormatError(path, "no 'N atoms' line in the header: not a LAMMPS data file?")
    if set(lo) != {"x", "y", "z"}:
        raise FormatError(path, "the header lacks 'xlo xhi', 'ylo yhi' or 'zlo zhi': a periodic box is needed")
    atoms_at = next((k for k in range(i, len(lines)) if lines[k].strip().startswith("Atoms")), None)
    if atoms_at is None:
        raise FormatError(path, "no 'Atoms' section")
    style = lines[atoms_at].split("#")[1].strip().split()[0] if "#" in lines[atoms_at] else None
    rows = []
    k = atoms_at + 1
    while k < len(lines) and len(rows) < n_atoms:
        s = lines[k].split("#")[0].strip()
        k += 1
        if not s:
            continue
        if any(s.startswith(sec) for sec in _SECTIONS):
            break
        rows.append(s.split())
    if len(rows) != n_atoms:
        raise FormatError(path, f"the Atoms section has {len(rows)} lines but the header says {n_atoms} atoms")
    ncol = {len(r) for r in rows}
    if len(ncol) != 1:
        raise FormatError(path, f"Atoms lines have different numbers of columns {sorted(ncol)}")
    ncol = ncol.pop()
    if style is None:
        if ncol in (5, 8):
            style = "atomic"
        elif ncol in (7, 10):
            style = "full"
        else:
            raise FormatError(path, f"Atoms lines have {ncol} columns and no style comment; write 'Atoms # atomic' "
                                    "(or charge/molecular/full) so the columns are known")
    if style not in _ATOM_STYLES:
        raise FormatError(path, f"atom style '{style}' is not supported; use one of {sorted(_ATOM_STYLES)}")
    ci, ct, cx = _ATOM_STYLES[style]
    if ncol < cx + 3:
        raise FormatError(path, f"atom style '{style}' needs at least {cx + 3} columns, found {ncol}")
    try:
        arr = np.array(rows, dtype=object)
        ids = arr[:, ci].astype(np.int64)
        types = arr[:, ct].astype(np.int64)
        pos = arr[:, cx:cx + 3].astype(np.float64)
        if ncol >= cx + 6:  # image flags ix iy iz follow the coordinates
            img = arr[:, cx + 3:cx + 6].astype(np.int64)
        else:
            img = np.zeros_like(pos, dtype=np.int64)
    except ValueError as exc:
        raise FormatError(path, f"non-numeric value in the Atoms section ({exc})") from exc
    box = np.array([hi[a] - lo[a] for a in "xyz"])
    origin = np.array([lo[a] for a in "xyz"])
    pos = pos + img * box
    return _make(path, _numeric_types(path, types, True, type_map), pos, box, origin, ids,
                 info={"format": "lammps-data", "atom_style": style})


def write_data(path: str | Path, s: Structure, masses: tuple[float, float] = (1.0, 1.0),
               title: str = "glassdyn structure") -> Path:
    """Write a LAMMPS data file, atom style atomic, types 1 (A) and 2 (B), box from origin 0."""
    n = s.n
    out = [f"{title}", "", f"{n} atoms", "2 atom types", ""]
    for ax, L in zip("xyz", s.box):
        out.append(f"0.0 {L:.10g} {ax}lo {ax}hi")
    out += ["", "Masses", "", f"1 {masses[0]:g}", f"2 {masses[1]:g}", "", "Atoms # atomic", ""]
    body = np.column_stack([s.ids, s.types.astype(np.int64) + 1])
    lines = [f"{i} {t} {x:.10f} {y:.10f} {z:.10f}" for (i, t), (x, y, z) in zip(body, s.positions)]
    text = "\n".join(out + lines) + "\n"
    with storage.atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


# --------------------------------------------------------------------------- LAMMPS dump
def _dump_frames(path: Path):
    """Yield (timestep, n, bounds lines, bounds header, column names, row lines) per frame."""
    with open(path) as fh:
        lines = fh.read().splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("ITEM: TIMESTEP"):
            if lines[i].strip():
                raise FormatError(path, f"line {i + 1}: expected 'ITEM: TIMESTEP', found '{lines[i][:40]}': "
                                        "not a LAMMPS text dump (binary and compressed dumps are not read)")
            i += 1
            continue
        try:
            step = int(lines[i + 1])
            if not lines[i + 2].startswith("ITEM: NUMBER OF ATOMS"):
                raise FormatError(path, f"line {i + 3}: expected 'ITEM: NUMBER OF ATOMS'")
            n = int(lines[i + 3])
            bhead = lines[i + 4]
            if not bhead.startswith("ITEM: BOX BOUNDS"):
                raise FormatError(path, f"line {i + 5}: expected 'ITEM: BOX BOUNDS'")
            bounds = lines[i + 5:i + 8]
            ahead = lines[i + 8]
        except (IndexError, ValueError) as exc:
            raise FormatError(path, f"frame header at line {i + 1} is truncated or malformed ({exc})") from exc
        if not ahead.startswith("ITEM: ATOMS"):
            raise FormatError(path, f"line {i + 9}: expected 'ITEM: ATOMS ...'")
        cols = ahead.split()[2:]
        rows = lines[i + 9:i + 9 + n]
        if len(rows) != n:
            raise FormatError(path, f"frame at step {step} has {len(rows)} atom lines, header says {n} (truncated file?)")
        yield step, n, bounds, bhead, cols, rows
        i += 9 + n


def dump_frame_count(path: str | Path) -> int:
    return sum(1 for _ in _dump_frames(Path(path)))


def read_dump(path: str | Path, frame: int = 0, type_map: Mapping | None = None) -> Structure:
    """Read one frame (``frame`` index, negative from the end) of a LAMMPS text dump.

    Needs columns ``id``, ``type`` and one coordinate set: ``x y z`` (wrapped),
    ``xu yu zu`` (unwrapped, folded back), ``xs ys zs`` or ``xsu ysu zsu``
    (scaled by the box). Types 1 → A, 2 → B.
    """
    path = Path(path)
    frames = list(_dump_frames(path))
    if not frames:
        raise FormatError(path, "no frame found (empty file?)")
    try:
        step, n, bounds, bhead, cols, rows = frames[frame]
    except IndexError:
        raise FormatError(path, f"frame {frame} requested but the dump has {len(frames)} frames") from None
    if "xy" in bhead.split():
        raise FormatError(path, "triclinic box in the dump: only orthogonal boxes are supported")
    pbc = bhead.split()[3:]
    if pbc and any(b != "pp" for b in pbc):
        raise FormatError(path, f"box boundaries '{' '.join(pbc)}' are not periodic (pp pp pp); "
                                "the graph needs a periodic box")
    lo_hi = np.array([[float(v) for v in b.split()[:2]] for b in bounds])
    box = lo_hi[:, 1] - lo_hi[:, 0]
    missing = [c for c in ("id", "type") if c not in cols]
    coord = next((sfx for sfx in ("", "u", "s", "su") if all(f"{a}{sfx}" in cols for a in "xyz")), None)
    if missing or coord is None:
        raise FormatError(path, f"dump columns {cols} lack {missing or 'a coordinate set'}; need 'id type x y z' "
                                "(or xu/xs/xsu): dump with e.g. 'dump 1 all custom 1000 f.dump id type x y z'")
    try:
        arr = np.array([r.split() for r in rows], dtype=object)
        if arr.ndim != 2 or arr.shape[1] != len(cols):
            raise ValueError("rows do not have one value per column")
        ids = arr[:, cols.index("id")].astype(np.int64)
        types = arr[:, cols.index("type")].astype(np.int64)
        pos = np.column_stack([arr[:, cols.index(f"{a}{coord}")].astype(np.float64) for a in "xyz"])
    except ValueError as exc:
        raise FormatError(path, f"frame at step {step}: unreadable atom lines ({exc})") from exc
    if coord in ("s", "su"):
        pos = pos * box + lo_hi[:, 0]
    return _make(path, _numeric_types(path, types, True, type_map), pos, box, lo_hi[:, 0], ids,
                 info={"format": "lammps-dump", "timestep": step, "frame": frame, "coordinates": f"x{coord}"})


# --------------------------------------------------------------------------- extended XYZ
def _parse_comment(line: str) -> dict:
    """key=value pairs of an extended XYZ comment line (values may be quoted)."""
    out = {}
    try:
        tokens = shlex.split(line, posix=True)
    except ValueError:
        tokens = line.split()
    for tok in tokens:
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k.strip().lower() if k.strip().lower() in ("lattice", "properties", "origin", "pbc") else k.strip()] = v
    return out


def _parse_properties(path, text: str) -> list[tuple[str, str, int]]:
    parts = text.split(":")
    if len(parts) % 3:
        raise FormatError(path, f"Properties='{text}' is not a list of name:type:columns triples")
    return [(parts[i], parts[i + 1].upper(), int(parts[i + 2])) for i in range(0, len(parts), 3)]


def read_xyz(path: str | Path, frame: int = 0, type_map: Mapping | None = None,
             box: np.ndarray | None = None) -> Structure:
    """Read one frame of an extended XYZ file.

    The comment line must carry ``Lattice="Lx 0 0 0 Ly 0 0 0 Lz"`` (orthogonal)
    unless ``box`` is given; ``Properties`` defaults to ``species:S:1:pos:R:3``;
    an optional ``Origin="x y z"`` (OVITO) is honoured. Other real/integer
    per-atom columns are kept in ``per_atom``.
    """
    path = Path(path)
    lines = path.read_text().splitlines()
    frames = []
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        try:
            n = int(lines[i].strip())
        except ValueError:
            raise FormatError(path, f"line {i + 1}: expected the number of atoms, found '{lines[i][:40]}'") from None
        if i + 2 + n > len(lines):
            raise FormatError(path, f"frame at line {i + 1} announces {n} atoms but the file ends first (truncated?)")
        frames.append((lines[i + 1], lines[i + 2:i + 2 + n]))
        i += 2 + n
    if not frames:
        raise FormatError(path, "no frame found (empty file?)")
    try:
        comment, rows = frames[frame]
    except IndexError:
        raise FormatError(path, f"frame {frame} requested but the file has {len(frames)} frames") from None
    meta = _parse_comment(comment)
    props = _parse_properties(path, meta.get("properties", "species:S:1:pos:R:3"))
    if "lattice" in meta:
        lat = np.array(meta["lattice"].split(), dtype=np.float64)
        if lat.size != 9:
            raise FormatError(path, f"Lattice has {lat.size} numbers, expected 9")
        lat = lat.reshape(3, 3)
        if np.any(np.abs(lat - np.diag(np.diag(lat))) > 1e-9 * np.abs(lat).max()):
            raise FormatError(path, "Lattice is not diagonal: only orthogonal boxes are supported")
        lengths = np.diag(lat)
        if box is not None and not np.allclose(box, lengths):
            raise FormatError(path, f"box {list(box)} given but the file's Lattice says {lengths.tolist()}")
        box = lengths
    elif box is None:
        raise FormatError(path, 'no Lattice="..." in the comment line, so the periodic box is unknown; '
                                'add Lattice="L 0 0 0 L 0 0 0 L" or pass the box (--box L)')
    pbc = meta.get("pbc", "T T T").split()
    if any(p.upper() not in ("T", "TRUE", "1") for p in pbc):
        raise FormatError(path, f'pbc="{meta["pbc"]}": the structure must be periodic in x, y and z')
    origin = np.array(meta["origin"].split(), dtype=np.float64) if "origin" in meta else np.zeros(3)
    table = [r.split() for r in rows]
    width = sum(p[2] for p in props)
    bad = next((k for k, r in enumerate(table) if len(r) != width), None)
    if bad is not None:
        raise FormatError(path, f"atom line {bad + 1} has {len(table[bad])} columns but Properties announce {width}")
    arr = np.array(table, dtype=object).reshape(len(rows), width)
    cols = {}
    c = 0
    for name, kind, m in props:
        cols[name] = (kind, arr[:, c:c + m])
        c += m
    names = {k.lower(): k for k in cols}
    pos_key = names.get("pos")
    type_key = next((names[k] for k in ("species", "type", "types", "element") if k in names), None)
    if pos_key is None or type_key is None:
        raise FormatError(path, f"Properties {list(cols)} need 'pos' (R:3) and 'species' (S:1) columns")
    try:
        pos = cols[pos_key][1].astype(np.float64)
        per_atom = {}
        for name, (kind, vals) in cols.items():
            if name in (pos_key, type_key) or kind not in ("R", "I") or vals.shape[1] != 1:
                continue
            per_atom[name] = vals[:, 0].astype(np.float64 if kind == "R" else np.int64)
        ids = per_atom.pop("id", None)
    except ValueError as exc:
        raise FormatError(path, f"non-numeric value in a numeric column ({exc})") from exc
    labels = [str(s) for s in cols[type_key][1][:, 0]]
    types = _species_types(path, labels, type_map)
    info = {"format": "extxyz", "frame": frame}
    info.update({k: v for k, v in meta.items() if k not in ("lattice", "properties", "origin", "pbc")})
    return _make(path, types, pos, box, origin, ids, per_atom=per_atom, info=info)


def _column_name(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return clean if clean[:1].isalpha() else f"c_{clean}"


def _info_value(v) -> str:
    text = f"{v:.10g}" if isinstance(v, float) else str(v)
    return f'"{text}"' if re.search(r'[\s="]', text) else text


def write_xyz(path: str | Path, s: Structure, columns: Mapping[str, np.ndarray] | None = None,
              info: Mapping | None = None) -> Path:
    """Write extended XYZ: ``species:S:1:pos:R:3:id:I:1`` then one ``R:1`` column per entry of ``columns``.

    ``info`` scalars go on the comment line (``T=0.44 time=4120 ...``), which
    OVITO shows as global attributes; the per-atom columns become particle
    properties (colour coding in OVITO, ``atoms.arrays`` in ASE).
    """
    columns = dict(s.per_atom if columns is None else columns)
    names = [_column_name(k) for k in columns]
    if len(set(names)) != len(names):
        raise ValueError(f"column names {list(columns)} collide after sanitising to {names}")
    vals = [np.asarray(v, dtype=np.float64).reshape(-1) for v in columns.values()]
    for k, v in zip(columns, vals):
        if len(v) != s.n:
            raise ValueError(f"column '{k}' has {len(v)} values for {s.n} particles")
    L = s.box
    props = "species:S:1:pos:R:3:id:I:1" + "".join(f":{n}:R:1" for n in names)
    head = [f'Lattice="{L[0]:.10g} 0 0 0 {L[1]:.10g} 0 0 0 {L[2]:.10g}"', f"Properties={props}", 'pbc="T T T"']
    head += [f"{_column_name(k)}={_info_value(v)}" for k, v in (info or {}).items()]
    species = np.array(SPECIES)[s.types]
    xyz = [f"{x:.8f} {y:.8f} {z:.8f}" for x, y, z in s.positions]
    extra = [" ".join(f"{v:.7g}" for v in row) for row in np.column_stack(vals)] if vals else [""] * s.n
    out_lines = [f"{sp} {p} {int(i)} {e}".rstrip() for sp, p, i, e in zip(species, xyz, s.ids, extra)]
    text = f"{s.n}\n{' '.join(head)}\n" + "\n".join(out_lines) + "\n"
    with storage.atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


# --------------------------------------------------------------------------- npz, HDF5, CSV
def read_npz(path: str | Path, box_length: float | None = None) -> Structure:
    """The t = 0 structure of a BOTAN (with replica ``positions``) or GlassBench-style ``.npz``.

    The box is not stored in those files: a cube of edge ``box_length``
    (default the BOTAN value 15.05658, N = 4096 at ρ = 1.2).
    """
    import zipfile

    from glassdyn.labels import imported as datasets

    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise FormatError(path, f"not a readable .npz file ({exc})") from exc
    kw = {} if box_length is None else {"box_length": box_length}
    if "positions" in keys:
        d = datasets.read_botan_npz(path, **kw)
        kind = "botan-npz"
    else:
        d = datasets.read_glassbench_npz(path, require_labels=False, **kw)
        kind = "glassbench-npz"
    return _make(path, d["types"], d["initial_positions"], d["box"], info={"format": kind})


def read_h5(path: str | Path) -> Structure:
    """A glassdyn HDF5 structure: ``types``, ``box`` and ``positions`` (or ``initial_positions``)."""
    data_names = ("types", "box")
    with storage.open_h5(path, required=data_names) as f:
        key = "positions" if "positions" in f and f["positions"].ndim == 2 else "initial_positions"
        if key not in f:
            raise FormatError(path, "no 2-D 'positions' or 'initial_positions' dataset: not a glassdyn structure file")
        types, box, pos = f["types"][()], f["box"][()], f[key][()]
        per_atom = {}
        if "per_atom" in f:
            per_atom = {k: f["per_atom"][k][()] for k in f["per_atom"]}
        ids = f["ids"][()] if "ids" in f else None
        attrs = {k: storage._decode(v) for k, v in f.attrs.items() if k != storage.COMPLETE}
    types = np.asarray(types)
    bad = sorted(set(np.unique(types).tolist()) - {0, 1})
    if bad:
        raise FormatError(path, f"types {bad} are not 0 (A) or 1 (B)")
    return _make(path, types, pos, box, ids=ids, per_atom=per_atom, info={"format": "glassdyn-h5", **attrs})


def write_h5(path: str | Path, s: Structure, columns: Mapping[str, np.ndarray] | None = None,
             extra: Mapping[str, np.ndarray] | None = None, attrs: Mapping | None = None) -> Path:
    """HDF5 with ``types``, ``positions``, ``box``, ``ids``, per-atom ``per_atom/<name>`` and ``extra`` datasets."""
    columns = dict(s.per_atom if columns is None else columns)
    data = {"types": s.types, "positions": s.positions, "box": s.box, "ids": s.ids}
    data.update({f"per_atom/{k}": np.asarray(v) for k, v in columns.items()})
    data.update(dict(extra or {}))
    return storage.write_h5(path, data, attrs=dict(attrs or {}))


def read_csv(path: str | Path, box: np.ndarray | None = None) -> Structure:
    """A CSV written by :func:`write_csv` (columns id, species, x, y, z, ...; box in a '# box' first line)."""
    import pandas as pd

    path = Path(path)
    with open(path) as fh:
        first = fh.readline()
    if first.startswith("# box"):
        box = np.array(first.split()[2:5], dtype=np.float64)
        frame = pd.read_csv(path, skiprows=1)
    else:
        frame = pd.read_csv(path)
    if box is None:
        raise FormatError(path, "no '# box Lx Ly Lz' first line; pass the box (--box L)")
    need = ["species", "x", "y", "z"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise FormatError(path, f"columns {missing} missing; a structure CSV has {need}")
    types = _species_types(path, frame["species"].astype(str).tolist(), None)
    per_atom = {c: frame[c].to_numpy() for c in frame.columns if c not in need + ["id"]}
    ids = frame["id"].to_numpy() if "id" in frame.columns else None
    return _make(path, types, frame[["x", "y", "z"]].to_numpy(), box, ids=ids, per_atom=per_atom,
                 info={"format": "csv"})


def write_csv(path: str | Path, s: Structure, columns: Mapping[str, np.ndarray] | None = None) -> Path:
    """CSV, one row per particle: id, species, x, y, z, then ``columns``; first line '# box Lx Ly Lz'."""
    import pandas as pd

    columns = dict(s.per_atom if columns is None else columns)
    frame = pd.DataFrame({"id": s.ids, "species": np.array(SPECIES)[s.types],
                          "x": s.positions[:, 0], "y": s.positions[:, 1], "z": s.positions[:, 2]})
    for k, v in columns.items():
        frame[k] = np.asarray(v).reshape(-1)
    with storage.atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write(f"# box {s.box[0]:.10g} {s.box[1]:.10g} {s.box[2]:.10g}\n")
            frame.to_csv(fh, index=False)
    return Path(path)


# --------------------------------------------------------------------------- dispatch
def read_structure(path: str | Path, fmt: str | None = None, frame: int = 0, type_map: Mapping | None = None,
                   box: np.ndarray | float | None = None, box_length: float | None = None) -> Structure:
    """Read any supported structure file (format from ``fmt``, else the name, else the content).

    ``frame`` selects a frame of a dump or XYZ trajectory; ``type_map`` maps the
    file's type labels onto A/B; ``box`` supplies a box where the file has none
    (XYZ without Lattice, CSV); ``box_length`` is the cubic box of an ``.npz``.
    """
    path = Path(path)
    if not path.exists():
        raise FormatError(path, "file does not exist")
    fmt = fmt or detect_format(path)
    if box is not None:
        box = np.broadcast_to(np.asarray(box, dtype=np.float64), (3,)).copy()
    if fmt == "data":
        return read_data(path, type_map)
    if fmt == "dump":
        return read_dump(path, frame, type_map)
    if fmt == "xyz":
        return read_xyz(path, frame, type_map, box)
    if fmt == "npz":
        return read_npz(path, box_length if box_length is not None else (None if box is None else float(box[0])))
    if fmt == "h5":
        return read_h5(path)
    if fmt == "csv":
        return read_csv(path, box)
    raise FormatError(path, f"unknown format '{fmt}'; one of {FORMATS}")


def write_structure(path: str | Path, s: Structure, columns: Mapping[str, np.ndarray] | None = None,
                    info: Mapping | None = None, fmt: str | None = None) -> Path:
    """Write ``s`` (with per-atom ``columns``) in the format of ``path``'s suffix (xyz, data, h5, csv)."""
    fmt = fmt or _SUFFIXES.get(Path(path).suffix.lower())
    if fmt == "xyz":
        return write_xyz(path, s, columns, info)
    if fmt == "data":
        return write_data(path, s)
    if fmt == "h5":
        return write_h5(path, s, columns, attrs=info)
    if fmt == "csv":
        return write_csv(path, s, columns)
    raise ValueError(f"cannot write '{path}': use a .xyz, .data, .h5 or .csv name")
