"""Where and in which precision a network runs: device choice, autocast, allocator behaviour.

``training.device``: auto (CUDA when present, else CPU), cpu or cuda (the local
rank's GPU). ``training.precision``: fp32 (plain float32), tf32 (CUDA matrix
products in TF32, a process-wide torch flag), bf16 (the forward pass under
``torch.autocast`` in bfloat16; weights, gradients and optimiser state stay
float32). bf16 changes the numbers, so it is a rerun trigger.
"""
from __future__ import annotations

import ctypes

import torch

from glassdyn import config as gcfg


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``training.device``: auto → cuda if available, else cpu; cuda picks the local rank's GPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise gcfg.ConfigError("training.device", "cuda asked for but no GPU is visible")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


#: ``training.precision`` -> autocast dtype of the training step (None: no autocast).
AUTOCAST_DTYPE = {"fp32": None, "tf32": None, "bf16": torch.bfloat16}


def precision_context(precision: str, device: torch.device):
    """The context the training step's forward pass runs in for ``training.precision`` (see module doc).

    ``tf32`` switches CUDA matrix products to TF32 for the process (it is a
    global flag in torch); ``fp32`` switches them back.
    """
    if precision not in AUTOCAST_DTYPE:
        raise gcfg.ConfigError("training.precision", f"'{precision}' is not one of {sorted(AUTOCAST_DTYPE)}")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        torch.backends.cudnn.allow_tf32 = precision == "tf32"
    dtype = AUTOCAST_DTYPE[precision]
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def retain_freed_memory(retain: bool = True) -> None:
    """Keep freed heap memory in the process instead of returning it to the OS (glibc).

    The network's (E, d) activations are ~40 MB each at N = 4096, above
    glibc's mmap threshold, so every allocation would otherwise be a fresh
    mmap whose pages fault in one by one (measured: elementwise ops on them
    ~10× slower). Same effect as running with jemalloc/tcmalloc.
    ``retain=False`` restores glibc's defaults and returns free memory.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_max = -1, -4
    if retain:
        libc.mallopt(m_mmap_max, 0)
        libc.mallopt(m_trim_threshold, 1 << 30)
    else:
        libc.mallopt(m_mmap_max, 65536)
        libc.mallopt(m_trim_threshold, 128 * 1024)
        libc.malloc_trim(0)
