"""What an output was made from: the configuration slice its step read and the content of its inputs.

Every output records its provenance (``provenance`` attribute of HDF5 files,
key of JSON and model files), and every resumable state carries the
fingerprint of the same record, so state made from other inputs is never
resumed (:func:`differences` says what changed).
"""
from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex), cached while its size and modification time are unchanged."""
    st = os.stat(path)
    return _digest(str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino)


@lru_cache(maxsize=4096)
def _digest(path: str, size: int, mtime_ns: int, inode: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def provenance(config: dict, inputs: Iterable[str | Path] = (), **identity: Any) -> dict:
    """``{"config": slice, "inputs": {path: sha256}, **identity}`` of one output (JSON-able)."""
    out = {"config": config, "inputs": {str(p): file_digest(p) for p in inputs}}
    out.update(identity)
    return out


def fingerprint(record: dict) -> str:
    """SHA-256 of a provenance record (canonical JSON)."""
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def differences(old: dict | None, new: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two provenance records (inputs by path)."""
    if not isinstance(old, dict):
        return [prefix.rstrip(".") or "<all>"]
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k, "<absent>"), new.get(k, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}")
    return out
