"""Structure files in and out: ASE for the formats of the field, glassdyn's own code for its own files.

A structure is what a prediction needs: particle types (A → 0, B → 1), positions
and an orthogonal periodic box. Every reader returns one :class:`Structure` in
the project's convention (origin 0, positions folded into [0, L), sorted by
particle id) or raises :class:`FormatError` with one line saying what is wrong
with the file and what to do.

Read with ASE (``ase.io.read``; ``fmt`` is an ASE format name or one of the
short names ``data``, ``dump``, ``xyz``):

- LAMMPS data files (``lammps-data``: any atom style ASE knows, image flags,
  the restricted ``xlo xhi`` and OVITO 3.x's general ``avec bvec cvec abc
  origin`` box header); types 1 → A, 2 → B,
- LAMMPS text dumps (``lammps-dump-text``: ``x``/``xs``/``xu``/``xsu``
  coordinates, ``ITEM: BOX BOUNDS pp pp pp`` and the general-triclinic
  ``ITEM: BOX BOUNDS abc origin pp pp pp`` written by OVITO 3.x and recent
  LAMMPS; ``frame`` picks one); types 1 → A, 2 → B,
- extended and plain XYZ (``extxyz``; OVITO's ``Origin=`` is honoured),
- whatever else ASE reads (POSCAR/``vasp``, ``cif``, ...): chemical symbols
  are mapped onto A/B by ``species`` or ``type_map``.

The box origin is the one ASE reports (``celldisp``: dumps, OVITO's ``abc
origin``, extended XYZ ``Origin=``); ASE drops the ``xlo ylo zlo`` of a
restricted data-file box, which translates the whole periodic configuration
and changes no prediction. GSD is not read: ASE 3.29 has no GSD reader
(convert with OVITO or HOOMD).

Hand-written, because ASE lacks it:

- :func:`_label_properties`, a comment-line parser handed to ASE's extended
  XYZ reader: it renames the ``species`` column so that ASE keeps the labels
  as text (ASE turns species into chemical elements and fails on ``A``, ``B``
  or ``1``, the labels LAMMPS and OVITO users write);
- :func:`_scaled_dump`, which reads a dump frame's ``ITEM: ATOMS`` line:
  ASE returns unscaled dump positions absolute (origin in ``celldisp``) but
  scaled ones relative to the box corner, and does not say which it read;
- :func:`write_dump`: ASE has no LAMMPS dump writer;
- glassdyn HDF5 (:func:`read_h5`, :func:`write_h5`), the published BOTAN /
  GlassBench ``.npz`` layouts (:func:`read_npz`) and the CSV output
  (:func:`write_csv`, pandas).

Written files: extended XYZ through ASE (:func:`write_xyz`: chemical
placeholder species, default A = Ni, B = P after the Ni80P20 melt the
Kob–Andersen mixture was modelled on, an integer ``type`` column 1 = A,
2 = B, ``id`` and one column per prediction; OVITO and ``ase.io.read`` open
it), LAMMPS text dump (:func:`write_dump`), HDF5 and CSV.
"""
from __future__ import annotations

import dataclasses
import zipfile
from collections import Counter
from pathlib import Path
from typing import Mapping

import numpy as np

from glassdyn.io import storage
from glassdyn.io.published import read_botan_npz, read_glassbench_npz
from glassdyn.physics.neighbors import wrap

#: Names of the two particle kinds, index = type.
KINDS = ("A", "B")
#: Default chemical placeholders written for A and B (the Ni80P20 melt of Kob & Andersen 1995).
DEFAULT_SPECIES = {"A": "Ni", "B": "P"}

#: Short format names → ASE format names.
ALIASES = {"data": "lammps-data", "dump": "lammps-dump-text", "xyz": "extxyz"}
_SUFFIXES = {
    ".data": "lammps-data", ".lmp": "lammps-data", ".lammps": "lammps-data",
    ".dump": "lammps-dump-text", ".lammpstrj": "lammps-dump-text",
    ".xyz": "extxyz", ".extxyz": "extxyz",
    ".npz": "npz", ".h5": "h5", ".hdf5": "h5", ".csv": "csv",
}
#: Output suffixes → writer name.
OUTPUTS = {".xyz": "xyz", ".extxyz": "xyz", ".dump": "dump", ".lammpstrj": "dump",
           ".h5": "h5", ".hdf5": "h5", ".csv": "csv"}
#: Name of the extended XYZ column that :func:`_label_properties` gives the species labels.
_LABEL = "glassdyn_label"


class FormatError(ValueError):
    """A structure file cannot be read as a structure; the message says why and what to do."""

    def __init__(self, path: str | Path, message: str):
        self.path = str(path)
        super().__init__(f"{path}: {message}")


@dataclasses.dataclass
class Structure:
    """Particle types (N,) int8 (A → 0, B → 1), positions (N, 3) float64 in [0, L), box (3,) (σ_AA).

    ``ids`` are the particle ids of the source file (sorted; 1..N where the
    file has none), ``per_atom`` optional per-particle arrays (N,) carried to
    writers, ``info`` scalar metadata.
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


# --------------------------------------------------------------------------- normalising
def _make(path, types, positions, box, origin=(0.0, 0.0, 0.0), ids=None, **kw) -> Structure:
    """Check the box, shift the origin to 0, fold positions into the box, sort by id."""
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


def parse_species(text: str | None) -> dict:
    """'A=Ni,B=P' → {'A': 'Ni', 'B': 'P'}: the chemical placeholder written for each kind.

    Both must be distinct chemical symbols ASE knows (H … Og); missing kinds keep
    :data:`DEFAULT_SPECIES`.
    """
    from ase.data import chemical_symbols

    out = dict(DEFAULT_SPECIES)
    for k, v in (parse_type_map(text) or {}).items():
        if k.upper() not in KINDS:
            raise ValueError(f"--species '{text}': '{k}' is not A or B (write e.g. A=Ni,B=P)")
        if v not in chemical_symbols[1:]:
            raise ValueError(f"--species '{text}': '{v}' is not a chemical symbol (ASE and OVITO need one, e.g. Ni)")
        out[k.upper()] = v
    if out["A"] == out["B"]:
        raise ValueError(f"--species '{text}': A and B are both '{out['A']}'; give them different symbols")
    return out


# --------------------------------------------------------------------------- type labels → A/B
def _mapped(path, labels: list[str], type_map: Mapping) -> np.ndarray:
    norm = {str(k): _kind_index(path, v) for k, v in type_map.items()}
    missing = sorted(set(labels) - set(norm))
    if missing:
        raise FormatError(path, f"types {missing} are not in the type map {sorted(norm)}; "
                                f"add them (e.g. '{missing[0]}=A')")
    return np.array([norm[s] for s in labels], dtype=np.int8)


def _kind_index(path, v) -> int:
    s = str(v).strip().upper()
    if s in KINDS:
        return KINDS.index(s)
    if s in ("0", "1"):
        return int(s)
    raise FormatError(path, f"type map target '{v}' is neither A/B nor 0/1")


def _label_error(path, labels: list[str], what: str) -> FormatError:
    """Name every label with its count and suggest the map by the 80:20 composition (majority → A)."""
    counts = Counter(labels).most_common()
    found = ", ".join(f"{lab} ({c})" for lab, c in counts)
    suggest = ",".join(f"{lab}={'A' if i == 0 else 'B'}" for i, (lab, _) in enumerate(counts))
    return FormatError(path, f"{what} {found} found, but the Kob–Andersen model knows only A (80 %) and B (20 %); "
                             f"map them with --type-map '{suggest}' (the majority kind is A)")


def types_from_labels(path, labels: list[str], type_map: Mapping | None = None,
                      species: Mapping | None = None, what: str = "species") -> np.ndarray:
    """Labels of a file → 0 (A) / 1 (B).

    ``type_map`` first; else A/B (any case), the placeholder ``species`` symbols
    (default Ni → A, P → B), or integers (LAMMPS types 1 → A, 2 → B; 0 → A,
    1 → B when a 0 appears). Anything else is refused naming each label and
    its count.
    """
    labels = [str(s).strip() for s in labels]
    if type_map:
        return _mapped(path, labels, type_map)
    found = set(labels)
    names = {**{k: i for i, k in enumerate(KINDS)}, **{k.lower(): i for i, k in enumerate(KINDS)}}
    names.update({sym: KINDS.index(k) for k, sym in (species or DEFAULT_SPECIES).items()})
    if found <= set(names):
        return np.array([names[s] for s in labels], dtype=np.int8)
    if all(s.lstrip("-").isdigit() for s in found):
        base = 0 if "0" in found else 1
        if {int(s) - base for s in found} <= {0, 1}:
            return np.array([int(s) - base for s in labels], dtype=np.int8)
    raise _label_error(path, labels, what)


# --------------------------------------------------------------------------- format
def detect_format(path: str | Path, fmt: str | None = None) -> str:
    """``h5``, ``npz``, ``csv`` or an ASE format name: from ``fmt``, the file name, else the content."""
    from ase.io.formats import ioformats

    path = Path(path)
    if fmt:
        fmt = ALIASES.get(fmt, fmt)
        if fmt not in ioformats and fmt not in ("h5", "npz"):
            raise FormatError(path, f"unknown format '{fmt}': use data, dump, xyz, h5, npz or an ASE format name "
                                    "(python -c 'import ase.io.formats as f; print(list(f.ioformats))')")
        return fmt
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None and path.name.split(".")[0] in ("dump", "data"):
        found = ALIASES[path.name.split(".")[0]]
    if found:
        return found
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\x89HDF"):
        return "h5"
    if head.startswith(b"PK"):
        return "npz"
    from ase.io.formats import filetype

    try:
        return filetype(str(path), guess=True)
    except Exception as exc:  # ASE raises UnknownFileTypeError, or the reader's own error while sniffing
        raise FormatError(path, f"cannot tell the format from the name or content ({exc}); pass --format "
                                "(data, dump, xyz, h5, npz or an ASE format name)") from None


def read_structure(path: str | Path, fmt: str | None = None, frame: int = 0, type_map: Mapping | None = None,
                   box: np.ndarray | float | None = None, box_length: float | None = None,
                   species: Mapping | None = None) -> Structure:
    """Read any supported structure file (format from ``fmt``, else the name, else the content).

    ``frame`` selects a frame of a dump or XYZ trajectory (negative: from the
    end); ``type_map`` maps the file's labels onto A/B; ``species`` the chemical
    placeholders read as A/B (default :data:`DEFAULT_SPECIES`); ``box`` gives
    the box where the file has none (XYZ without Lattice; σ_AA); ``box_length``
    the cubic box of an ``.npz`` (not stored in those files).
    """
    path = Path(path)
    if not path.exists():
        raise FormatError(path, "file does not exist")
    fmt = detect_format(path, fmt)
    if box is not None:
        box = np.broadcast_to(np.asarray(box, dtype=np.float64), (3,)).copy()
    if fmt == "h5":
        return read_h5(path)
    if fmt == "npz":
        return read_npz(path, box_length if box_length is not None else (None if box is None else float(box[0])))
    if fmt == "csv":
        raise FormatError(path, "CSV is what glassdyn predict writes for spreadsheets, not a structure input: "
                                "give the structure file it came from (LAMMPS data/dump, XYZ, .h5)")
    atoms = _ase_read(path, fmt, frame)
    if fmt == "lammps-dump-text" and _scaled_dump(path, frame):
        atoms.set_celldisp(np.zeros(3))  # ASE places scaled coordinates in a cell at 0, not at the origin
    return from_atoms(path, atoms, fmt, type_map, box, species)


def _ase_read(path: Path, fmt: str, frame: int):
    """``ase.io.read`` of one frame; its exceptions become one :class:`FormatError` line."""
    import ase.io

    kw = {"properties_parser": _label_properties} if fmt == "extxyz" else {}
    try:
        return ase.io.read(path, index=frame, format=fmt, **kw)
    except Exception as exc:  # ASE readers raise many types (ValueError, KeyError, IndexError, RuntimeError, ...)
        text = str(exc).splitlines()[0] if str(exc) else ""
        raise FormatError(path, f"ASE cannot read frame {frame} of it as '{fmt}' ({type(exc).__name__}: {text}); "
                                "check the file or pass --format") from None


def _scaled_dump(path: Path, frame: int) -> bool:
    """True when the frame's coordinates are scaled (``xs``/``xsu``; ASE's preference order x, xs, xu, xsu).

    Hand-read because ASE does not say which columns it used: unscaled
    positions come back absolute (box origin in ``celldisp``), scaled ones
    relative to the box corner.
    """
    with open(path) as fh:
        heads = [line.split()[2:] for line in fh if line.startswith("ITEM: ATOMS")]
    cols = set(heads[frame])
    return "x" not in cols and ("xs" in cols or ("xu" not in cols and "xsu" in cols))


def _label_properties(line: str) -> dict:
    """ASE's extended XYZ comment parser, with the ``species`` column renamed so ASE keeps it as text."""
    from ase.io.extxyz import key_val_str_to_dict

    info = key_val_str_to_dict(line)
    props = str(info.get("Properties", "species:S:1:pos:R:3")).split(":")
    names = props[0::3]
    if "species" in names:
        props[3 * names.index("species")] = _LABEL
    info["Properties"] = ":".join(props)
    return info


def from_atoms(path, atoms, fmt: str = "ase", type_map: Mapping | None = None, box: np.ndarray | None = None,
               species: Mapping | None = None) -> Structure:
    """An ``ase.Atoms`` → :class:`Structure` (orthogonal periodic box checked, origin moved to 0).

    The labels are, in this order: the text ``species`` column of an extended
    XYZ, the integer LAMMPS ``type`` array ASE keeps for data files and dumps,
    else the chemical symbols. Real and integer per-atom columns other than
    ``id`` and ``type`` are kept in ``per_atom``.
    """
    lengths = _box_of(path, atoms, box)
    origin = np.asarray(atoms.get_celldisp(), dtype=np.float64).reshape(3)
    if "Origin" in atoms.info:  # OVITO's extended XYZ
        origin = origin + np.asarray(atoms.info["Origin"], dtype=np.float64).reshape(3)
    arrays = atoms.arrays
    if _LABEL in arrays:
        labels, what = [str(s) for s in arrays[_LABEL]], "species"
    elif "type" in arrays and np.all(arrays["type"] > 0):
        labels, what = [str(int(t)) for t in arrays["type"]], "LAMMPS types"
    else:
        labels, what = atoms.get_chemical_symbols(), "elements"
    types = types_from_labels(path, labels, type_map, species, what)
    skip = {"numbers", "positions", "id", "type", _LABEL}
    per_atom = {k: np.asarray(v) for k, v in arrays.items()
                if k not in skip and np.asarray(v).ndim == 1 and np.asarray(v).dtype.kind in "fiu"}
    info = {"format": fmt, **{k: v for k, v in atoms.info.items() if np.isscalar(v)}}
    return _make(path, types, atoms.positions, lengths, origin, arrays.get("id"), per_atom=per_atom, info=info)


def _box_of(path, atoms, box: np.ndarray | None) -> np.ndarray:
    """Box lengths (3,) of an orthogonal, axis-aligned, periodic cell; ``box`` where the file has none."""
    cell = np.asarray(atoms.cell.array, dtype=np.float64)
    if not np.any(cell):
        if box is None:
            raise FormatError(path, "the file has no periodic box (an XYZ file needs Lattice=\"Lx 0 0 0 Ly 0 0 0 Lz\" "
                                    "in its comment line); add it or pass the box (--box L)")
        return box
    lengths = np.diag(cell).copy()
    if np.abs(cell - np.diag(lengths)).max() > 1e-9 * np.abs(cell).max():
        rows = "; ".join(" ".join(f"{x:.6g}" for x in r) for r in cell)
        raise FormatError(path, f"the cell [{rows}] is not an orthogonal box along x, y, z (tilted or rotated): "
                                "the models need an orthogonal periodic box; write the structure in one")
    if not np.all(atoms.pbc):
        open_axes = "".join(ax for ax, p in zip("xyz", atoms.pbc, strict=True) if not p)
        raise FormatError(path, f"the box is not periodic along {open_axes}: the models need periodic boundaries "
                                "in x, y and z (LAMMPS 'boundary p p p', extended XYZ pbc=\"T T T\")")
    if box is not None and not np.allclose(box, lengths):
        raise FormatError(path, f"--box {box.tolist()} given but the file's box is {lengths.tolist()}")
    return lengths


# --------------------------------------------------------------------------- glassdyn's own files
def read_npz(path: str | Path, box_length: float | None = None) -> Structure:
    """The t = 0 structure of a BOTAN (with replica ``positions``) or GlassBench-style ``.npz``.

    The box is not stored in those files: a cube of edge ``box_length``
    (default the BOTAN value 15.05658, N = 4096 at ρ = 1.2).
    """
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise FormatError(path, f"not a readable .npz file ({exc})") from exc
    kw = {} if box_length is None else {"box_length": box_length}
    if "positions" in keys:
        d = read_botan_npz(path, **kw)
        kind = "botan-npz"
    else:
        d = read_glassbench_npz(path, require_labels=False, **kw)
        kind = "glassbench-npz"
    return _make(path, d["types"], d["initial_positions"], d["box"], info={"format": kind})


def read_h5(path: str | Path) -> Structure:
    """A glassdyn HDF5 structure: ``types``, ``box`` and ``positions`` (or ``initial_positions``)."""
    with storage.open_h5(path, required=("types", "box")) as f:
        key = "positions" if "positions" in f and f["positions"].ndim == 2 else "initial_positions"
        if key not in f:
            raise FormatError(path, "no 2-D 'positions' or 'initial_positions' dataset: not a glassdyn structure file")
        types, box, pos = f["types"][()], f["box"][()], f[key][()]
        per_atom = {k: f["per_atom"][k][()] for k in f["per_atom"]} if "per_atom" in f else {}
        ids = f["ids"][()] if "ids" in f else None
        attrs = {k: storage._decode(v) for k, v in f.attrs.items() if k != storage.COMPLETE}
    bad = sorted(set(np.unique(types).tolist()) - {0, 1})
    if bad:
        raise FormatError(path, f"types {bad} are not 0 (A) or 1 (B)")
    return _make(path, types, pos, box, ids=ids, per_atom=per_atom, info={"format": "glassdyn-h5", **attrs})


def write_h5(path: str | Path, s: Structure, columns: Mapping[str, np.ndarray] | None = None,
             extra: Mapping[str, np.ndarray] | None = None, attrs: Mapping | None = None) -> Path:
    """HDF5 with ``types`` (0 = A, 1 = B), ``positions``, ``box``, ``ids``, ``per_atom/<name>`` and ``extra``."""
    columns = dict(s.per_atom if columns is None else columns)
    data = {"types": s.types, "positions": s.positions, "box": s.box, "ids": s.ids}
    data.update({f"per_atom/{k}": np.asarray(v) for k, v in columns.items()})
    data.update(dict(extra or {}))
    return storage.write_h5(path, data, attrs=dict(attrs or {}))


# --------------------------------------------------------------------------- outputs for OVITO, ASE, spreadsheets
def _columns(s: Structure, columns: Mapping | None) -> dict[str, np.ndarray]:
    out = {str(k): np.asarray(v, dtype=np.float64).reshape(-1) for k, v in dict(
        s.per_atom if columns is None else columns).items()}
    for k, v in out.items():
        if len(v) != s.n or not k.isidentifier():
            raise ValueError(f"column '{k}': {len(v)} values for {s.n} particles; names must be identifiers")
    return out


def to_atoms(s: Structure, columns: Mapping | None = None, info: Mapping | None = None,
             species: Mapping | None = None):
    """``ase.Atoms``: placeholder symbols for A/B, integer ``type`` (1 = A, 2 = B) and ``id``, ``columns``."""
    import ase

    sp = dict(species or DEFAULT_SPECIES)
    atoms = ase.Atoms(symbols=np.array([sp["A"], sp["B"]])[s.types], positions=s.positions,
                      cell=np.diag(s.box), pbc=True)
    atoms.new_array("type", s.types.astype(np.int64) + 1)
    atoms.new_array("id", np.asarray(s.ids, dtype=np.int64))
    for k, v in _columns(s, columns).items():
        atoms.new_array(k, v)
    atoms.info.update({k: v for k, v in (info or {}).items() if v is not None})
    return atoms


def write_xyz(path: str | Path, s: Structure, columns: Mapping | None = None, info: Mapping | None = None,
              species: Mapping | None = None) -> Path:
    """Extended XYZ through ASE: ``species:S:1:pos:R:3:type:I:1:id:I:1`` then one ``R:1`` column per entry.

    ``info`` scalars go on the comment line (OVITO shows them as global
    attributes, ASE as ``atoms.info``). OVITO takes the particle types from the
    species names and ignores the ``type`` column; ASE keeps it in ``arrays``.
    """
    import ase.io

    atoms = to_atoms(s, columns, info, species)
    with storage.atomic_path(path) as tmp:
        ase.io.write(tmp, atoms, format="extxyz")
    return Path(path)


def write_dump(path: str | Path, s: Structure, columns: Mapping | None = None, info: Mapping | None = None,
               timestep: int = 0) -> Path:
    """LAMMPS text dump ``ITEM: ATOMS id type x y z d_<name>...`` (types 1 = A, 2 = B; box from origin 0).

    Hand-written: ASE has no dump writer. The predictions carry LAMMPS' prefix
    for custom per-atom floats (``d_propensity``, as ``fix property/atom``
    dumps them) because ASE's dump reader keeps only prefixed columns; OVITO
    reads every column. ``info`` is not stored (the format has no place for it).
    """
    cols = _columns(s, columns)
    head = ["ITEM: TIMESTEP", str(int(timestep)), "ITEM: NUMBER OF ATOMS", str(s.n), "ITEM: BOX BOUNDS pp pp pp"]
    head += [f"0 {L:.10g}" for L in s.box]
    head.append("ITEM: ATOMS id type x y z" + "".join(f" d_{k}" for k in cols))
    table = np.column_stack([s.ids, s.types.astype(np.int64) + 1, s.positions, *cols.values()])
    fmt = "%d %d %.10g %.10g %.10g" + " %.7g" * len(cols)
    with storage.atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write("\n".join(head) + "\n")
            np.savetxt(fh, table, fmt=fmt)
    return Path(path)


def write_csv(path: str | Path, s: Structure, columns: Mapping | None = None, info: Mapping | None = None,
              species: Mapping | None = None) -> Path:
    """CSV, one row per particle: id, type (1 = A, 2 = B), species, x, y, z, then ``columns``.

    A first comment line holds the box (``# box Lx Ly Lz``) and ``info``
    (``pandas.read_csv(path, comment='#')`` skips it).
    """
    import pandas as pd

    sp = dict(species or DEFAULT_SPECIES)
    frame = pd.DataFrame({"id": s.ids, "type": s.types.astype(np.int64) + 1,
                          "species": np.array([sp["A"], sp["B"]])[s.types],
                          "x": s.positions[:, 0], "y": s.positions[:, 1], "z": s.positions[:, 2]})
    for k, v in _columns(s, columns).items():
        frame[k] = v
    meta = " ".join(f"{k}={v}" for k, v in (info or {}).items())
    with storage.atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write(f"# box {s.box[0]:.10g} {s.box[1]:.10g} {s.box[2]:.10g} {meta}".rstrip() + "\n")
            frame.to_csv(fh, index=False)
    return Path(path)


def write_structure(path: str | Path, s: Structure, columns: Mapping | None = None, info: Mapping | None = None,
                    species: Mapping | None = None) -> Path:
    """Write ``s`` with per-atom ``columns`` in the format of ``path``'s suffix (see :data:`OUTPUTS`)."""
    kind = OUTPUTS.get(Path(path).suffix.lower())
    if kind == "xyz":
        return write_xyz(path, s, columns, info, species)
    if kind == "dump":
        return write_dump(path, s, columns, info)
    if kind == "h5":
        return write_h5(path, s, columns, attrs=info)
    if kind == "csv":
        return write_csv(path, s, columns, info, species)
    raise ValueError(f"cannot write '{path}': use a .xyz (OVITO, ASE), .dump (LAMMPS, OVITO), .h5 or .csv name")

