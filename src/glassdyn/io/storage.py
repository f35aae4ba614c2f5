"""HDF5 storage: atomic writes, completeness markers, named errors on bad files.

Every file glassdyn writes goes through :func:`atomic_path`: it is written
under a temporary name in the same folder and renamed into place only when
complete, so a killed job never leaves a file that looks finished. HDF5 files
also carry the root attribute ``glassdyn_complete = True``, set last.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

import h5py
import numpy as np

COMPLETE = "glassdyn_complete"


class StorageError(IOError):
    """A data file is missing, truncated, corrupt or lacks an expected dataset."""

    def __init__(self, path: str | Path, message: str):
        self.path = str(path)
        super().__init__(f"{path}: {message}")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        if tmp.exists():
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _attr(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)) and not (
        isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float)) for v in value)
    ):
        return json.dumps(value, sort_keys=True)
    return value


def write_h5(path: str | Path, datasets: dict[str, Any], attrs: dict[str, Any] | None = None,
             compression: str | None = None) -> Path:
    """Write ``datasets`` (name -> array, '/'-separated names make groups) atomically.

    Dict or list attributes are stored as JSON text.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for name, arr in datasets.items():
                arr = np.asarray(arr)
                kw = {"compression": compression} if compression and arr.ndim > 0 and arr.size > 1024 else {}
                f.create_dataset(name, data=arr, **kw)
            for k, v in (attrs or {}).items():
                f.attrs[k] = _attr(v)
            f.attrs[COMPLETE] = True
    return path


@contextlib.contextmanager
def open_h5(path: str | Path, required: Iterable[str] = ()) -> Iterator[h5py.File]:
    """Open a glassdyn HDF5 file for reading, or raise :class:`StorageError` naming it.

    Detects a missing file, a truncated or corrupt file, a file that was never
    marked complete, and missing datasets listed in ``required``.
    """
    path = Path(path)
    if not path.exists():
        raise StorageError(path, "file does not exist; rerun the rule that makes it")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise StorageError(path, f"not a readable HDF5 file (truncated or corrupt: {exc}); "
                                 "delete it and rerun the rule that makes it") from exc
    try:
        if not f.attrs.get(COMPLETE, False):
            raise StorageError(path, "file was never completed (interrupted write?); delete it and rerun")
        for name in required:
            if name not in f:
                raise StorageError(path, f"missing dataset '{name}'")
        yield f
    finally:
        f.close()


def read_h5(path: str | Path, names: Iterable[str] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read datasets (all, or ``names``) and root attributes into memory.

    Dataset reads that fail (a file truncated inside a chunk) raise
    :class:`StorageError` naming the file and the dataset.
    """
    with open_h5(path, required=names or ()) as f:
        keys = list(names) if names is not None else _all_datasets(f)
        out = {}
        for k in keys:
            try:
                out[k] = f[k][()]
            except (OSError, RuntimeError, ValueError) as exc:
                raise StorageError(path, f"dataset '{k}' is unreadable ({exc}); delete the file and rerun") from exc
        attrs = {k: _decode(v) for k, v in f.attrs.items()}
    return out, attrs


def _all_datasets(f: h5py.File) -> list[str]:
    names: list[str] = []
    f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return names


def _decode(v: Any) -> Any:
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, str) and v[:1] in "{[":
        try:
            return json.loads(v)
        except ValueError:
            return v
    if isinstance(v, np.generic):
        return v.item()
    return v


def json_safe(obj: Any) -> Any:
    """Copy of ``obj`` that strict JSON accepts: non-finite floats (NaN, inf) become None (null)."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def write_json(path: str | Path, obj: Any) -> Path:
    """Write JSON atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")
    return Path(path)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def write_csv(path: str | Path, frame) -> Path:
    """Write a pandas DataFrame as CSV atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)
