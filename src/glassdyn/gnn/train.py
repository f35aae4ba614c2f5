"""Training of NT-GNN and BOTAN per (model, T, sampling time) cell (SCIENCE.md §6).

One cell: the training configurations' labels at time index k, node targets
S_i = ``propensity[k]``, edge targets E_ij = ``pair_distance_change[k]``.

- Split: fit / validation by configuration index
  (:func:`glassdyn.config.split_train_validation`); a test configuration
  passed in is refused.
- Targets are standardised with the mean and standard deviation over the
  fit set (all particles, all edges); both are saved in model.pt.
- Loss of one optimiser step over its G graphs,
  L = (1/G) Σ_g [p · MSE_g(Ŝ, S) + (1 − p) · MSE_g(Ê, E)],
  each graph weighing the same (so W ranks × G graphs per rank reproduce one
  process with W·G graphs per step up to the order of the reductions).
  p = ``models.<name>.p``; pretraining uses p = 0.
- Adam (lr from ``models.<name>.lr``, no weight decay), ``graphs_per_step``
  graphs per step, random rotation of the edge vectors of each graph
  (uniform on SO(3); the graph is unchanged) when
  ``training.rotation_augmentation``.
- Precision (``training.precision``): ``fp32``; ``tf32`` (CUDA matrix
  products in TF32, float32 elsewhere; the same as fp32 on a CPU); ``bf16``
  (the training step under ``torch.autocast`` in bfloat16 with float32
  weights, Adam state and loss; ≈ 2× faster on a CPU with AVX512-BF16 and
  on GPUs). Validation and inference always run in float32.
- Checkpoint selection: the epoch with the lowest validation loss (the same
  L on the validation configurations, no augmentation). Validation Pearson
  (A particles; A–A pairs with r_ij(0) < ``labels.edge_eval_cutoff``) is
  logged beside it.
- Randomness is a pure function of the cell seed
  (``derive_seed(training.seed, model, T, k, stage)``), the epoch and the
  position of a graph in the epoch's order: the initial weights, each
  epoch's shuffle and each graph's rotation. A run resumed from
  ``checkpoint.pt`` (written atomically every epoch and on SIGTERM/SIGUSR1)
  therefore continues exactly as the uninterrupted run would.

Distributed data parallel: ``training.ranks`` = W processes, each holding a
shard of the fit configurations (interleaved over the epoch's order),
gradients all-reduced by :class:`torch.nn.parallel.DistributedDataParallel`
(nccl on CUDA, gloo on CPU). :func:`train_cell` joins a launch that is
already distributed (torchrun's RANK/WORLD_SIZE, or srun's SLURM_PROCID/
SLURM_NTASKS) and otherwise starts the W ranks itself on this machine. Only
rank 0 writes files.
"""
from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import json
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from glassdyn import config as gcfg
from glassdyn import models
from glassdyn.gnn import evaluate as evaluation
from glassdyn.io import storage
from glassdyn.physics.graphs import node_inputs

log = logging.getLogger("glassdyn.training")

CHECKPOINT = "checkpoint.pt"
LOSS_COLUMNS = ["epoch", "train_loss", "val_loss", "val_pearson_nodes", "val_pearson_edges"]
#: Signals after which rank 0 writes a checkpoint and the job exits non-zero (SLURM sends them before the limit).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class TrainingInterrupted(SystemExit):
    """Training stopped on a signal after writing its checkpoint; exit status 128 + signal number."""


# ----------------------------------------------------------------------------- settings
def cell_settings(cfg: dict, model: str, pretrain: bool = False) -> dict:
    """p, epochs, graphs per step and learning rate of a cell (pretraining: p = 0, its own epochs)."""
    if model not in cfg["models"]:
        raise gcfg.ConfigError(f"models.{model}", "no settings for this model")
    m = cfg["models"][model]
    out = {"p": float(m["p"]), "epochs": int(m["epochs"]), "graphs_per_step": int(m["graphs_per_step"]),
           "lr": float(m["lr"])}
    if pretrain:
        if not m.get("pretrain"):
            raise gcfg.ConfigError(f"models.{model}.pretrain", "pretraining asked for but not configured")
        out.update(p=0.0, epochs=int(m["pretrain"]["epochs"]))
    return out


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


# ----------------------------------------------------------------------------- data
@dataclasses.dataclass
class CellGraph:
    """One configuration of a cell as tensors on the training device (targets standardised later)."""

    c: int
    x: torch.Tensor              # (N, 1) node inputs (type as a number)
    edge_index: torch.Tensor     # (2, E) int64, PyG convention
    edge_vectors: torch.Tensor   # (E, 3) r_i − r_j
    nodes: torch.Tensor | None   # (N,) S_i (standardised after `standardise`)
    edges: torch.Tensor | None   # (E,) E_ij
    node_mask: np.ndarray        # (N,) A particles (for validation Pearson)
    edge_mask: np.ndarray        # (E,) A–A pairs with r_ij(0) < edge_eval_cutoff

    @property
    def n_nodes(self) -> int:
        return self.x.shape[0]

    @property
    def n_edges(self) -> int:
        return self.edge_index.shape[1]


def read_cell(path: str | Path, time_index: int, need_nodes: bool, need_edges: bool,
              edge_eval_cutoff: float) -> tuple[dict, dict]:
    """Arrays of one labels.h5 at time index k: the graph, the targets needed, the eval masks; and its attrs."""
    required = ["types", "times", "edge_index", "edge_vectors"]
    required += ["propensity"] if need_nodes else []
    required += ["pair_distance_change"] if need_edges else []
    with storage.open_h5(path, required=required) as f:
        n_t = f["times"].shape[0]
        if not 0 <= time_index < n_t:
            raise storage.StorageError(path, f"time index {time_index} outside its {n_t} sampling times")
        try:
            d = {k: f[k][()] for k in ("types", "times", "edge_index", "edge_vectors")}
            d["propensity"] = f["propensity"][time_index] if "propensity" in f else None
            d["pair_distance_change"] = (f["pair_distance_change"][time_index]
                                         if "pair_distance_change" in f else None)
        except (OSError, RuntimeError, ValueError) as exc:
            raise storage.StorageError(path, f"unreadable dataset ({exc}); delete the file and rerun") from exc
        attrs = {"T": float(f.attrs.get("T", float("nan"))), "c": int(f.attrs.get("c", -1))}
    n, e = d["types"].shape[0], d["edge_index"].shape[1]
    if d["propensity"] is not None and d["propensity"].shape != (n,):
        raise storage.StorageError(path, f"propensity has {d['propensity'].shape} values per time, expected ({n},)")
    if d["pair_distance_change"] is not None and d["pair_distance_change"].shape != (e,):
        raise storage.StorageError(path, f"pair_distance_change has {d['pair_distance_change'].shape} values, "
                                         f"expected one per graph edge ({e},)")
    d["node_mask"] = evaluation.node_mask(d["types"])
    d["edge_mask"] = evaluation.edge_mask(d["types"], d["edge_index"], d["edge_vectors"], edge_eval_cutoff)
    return d, attrs


def to_graph(d: dict, c: int, device: torch.device) -> CellGraph:
    def t(a, dtype=torch.float32):
        return None if a is None else torch.as_tensor(np.asarray(a), dtype=dtype, device=device)

    return CellGraph(c=c, x=t(node_inputs(d["types"])), edge_index=t(d["edge_index"], torch.int64),
                     edge_vectors=t(d["edge_vectors"]), nodes=t(d["propensity"]), edges=t(d["pair_distance_change"]),
                     node_mask=d["node_mask"], edge_mask=d["edge_mask"])


def target_stats(graphs: list[CellGraph]) -> dict:
    """Mean and standard deviation of the node and edge targets over ``graphs`` (float64)."""
    out = {}
    for key in ("nodes", "edges"):
        vals = [getattr(g, key) for g in graphs if getattr(g, key) is not None]
        if not vals:
            out[key] = {"mean": 0.0, "std": 1.0}
            continue
        v = torch.cat(vals).double()
        std = float(v.std(unbiased=False))
        out[key] = {"mean": float(v.mean()), "std": std if std > 0 else 1.0}
    return out


def standardise(graphs: list[CellGraph], stats: dict) -> None:
    """Replace targets y by (y − mean) / std in place."""
    for g in graphs:
        for key in ("nodes", "edges"):
            y = getattr(g, key)
            if y is not None:
                setattr(g, key, (y - stats[key]["mean"]) / stats[key]["std"])


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A rotation matrix drawn uniformly (Haar measure) from SO(3): a normalised Gaussian quaternion."""
    q = rng.standard_normal(4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled order of the n fit graphs in ``epoch`` (same on every rank)."""
    return np.random.default_rng([seed, 1, epoch]).permutation(n)


def rotation_for(seed: int, epoch: int, slot: int) -> np.ndarray:
    """The rotation applied to the graph at position ``slot`` of ``epoch``'s order."""
    return random_rotation(np.random.default_rng([seed, 2, epoch, slot]))


def rank_slots(n: int, world: int, rank: int, graphs_per_step: int) -> list[list[int]]:
    """Positions in the epoch order that ``rank`` trains on, grouped into its optimiser steps.

    The order is padded by wrapping to a multiple of ``world`` (as
    DistributedSampler does) and dealt out interleaved: rank r gets positions
    r, r + W, r + 2W, …; consecutive ones form its steps of G graphs. Step s
    of all ranks together therefore covers the same positions as step s of one
    process with W·G graphs per step.
    """
    total = math.ceil(n / world) * world
    mine = list(range(rank, total, world))
    return [mine[i: i + graphs_per_step] for i in range(0, len(mine), graphs_per_step)]


@dataclasses.dataclass
class Batch:
    x: torch.Tensor
    edge_index: torch.Tensor
    edge_vectors: torch.Tensor
    nodes: torch.Tensor | None
    edges: torch.Tensor | None
    node_weight: torch.Tensor | float
    edge_weight: torch.Tensor | float


def make_batch(graphs: list[CellGraph], rotations: list[np.ndarray | torch.Tensor | None]) -> Batch:
    """Disjoint union of ``graphs`` (node indices offset), each graph's edge vectors rotated (r → R r).

    The per-element weights 1/(G·N_g) and 1/(G·E_g) make the weighted sums
    of squared errors the mean over graphs of each graph's MSE.
    """
    G = len(graphs)

    def rotated(g, R):
        if R is None:
            return g.edge_vectors
        R = torch.as_tensor(R, dtype=g.edge_vectors.dtype, device=g.edge_vectors.device)
        return g.edge_vectors @ R.T

    vecs = [rotated(g, R) for g, R in zip(graphs, rotations)]
    if G == 1:
        g = graphs[0]
        return Batch(g.x, g.edge_index, vecs[0], g.nodes, g.edges, 1.0 / g.n_nodes, 1.0 / g.n_edges)
    offsets = np.cumsum([0] + [g.n_nodes for g in graphs[:-1]])
    dev = graphs[0].x.device

    def weights(sizes):
        return torch.cat([torch.full((s,), 1.0 / (G * s), device=dev) for s in sizes])

    cat_or_none = (lambda key: None if getattr(graphs[0], key) is None else torch.cat([getattr(g, key) for g in graphs]))
    return Batch(
        x=torch.cat([g.x for g in graphs]),
        edge_index=torch.cat([g.edge_index + int(o) for g, o in zip(graphs, offsets)], dim=1),
        edge_vectors=torch.cat(vecs),
        nodes=cat_or_none("nodes"), edges=cat_or_none("edges"),
        node_weight=weights([g.n_nodes for g in graphs]), edge_weight=weights([g.n_edges for g in graphs]),
    )


def decode_mode(p: float) -> str:
    """Which decoders a loss with weight p needs."""
    return "nodes" if p >= 1.0 else ("edges" if p <= 0.0 else "both")


def batch_loss(net: nn.Module, batch: Batch, p: float) -> torch.Tensor:
    """L = p Σ w_v (Ŝ_v − S_v)² + (1 − p) Σ w_e (Ê_e − E_e)² (weights: :func:`make_batch`)."""
    nodes, edges = net(batch.x, batch.edge_index, batch.edge_vectors, decode=decode_mode(p))
    loss = torch.zeros((), device=batch.x.device)
    if p > 0.0:
        loss = loss + p * (batch.node_weight * (nodes - batch.nodes).square()).sum()
    if p < 1.0:
        loss = loss + (1.0 - p) * (batch.edge_weight * (edges - batch.edges).square()).sum()
    return loss


@torch.no_grad()
def validation_scores(net: nn.Module, graphs: list[CellGraph], p: float) -> np.ndarray:
    """(n, 3) per graph: loss, Pearson over A particles, Pearson over A–A pairs within the eval cutoff."""
    out = np.full((len(graphs), 3), np.nan)
    for i, g in enumerate(graphs):
        batch = make_batch([g], [None])
        nodes, edges = net(batch.x, batch.edge_index, batch.edge_vectors, decode=decode_mode(p))
        loss = 0.0
        if p > 0.0:
            loss += p * float(torch.mean((nodes - g.nodes) ** 2))
            out[i, 1] = evaluation.pearson(nodes.cpu().numpy()[g.node_mask], g.nodes.cpu().numpy()[g.node_mask])
        if p < 1.0:
            loss += (1.0 - p) * float(torch.mean((edges - g.edges) ** 2))
            out[i, 2] = evaluation.pearson(edges.cpu().numpy()[g.edge_mask], g.edges.cpu().numpy()[g.edge_mask])
        out[i, 0] = loss
    return out


# ----------------------------------------------------------------------------- distributed
@dataclasses.dataclass
class Dist:
    """This process's place in the job: rank, world size, local rank; ``group`` = gloo group for control."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    group: object = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _first_slurm_host(nodelist: str | None) -> str:
    if not nodelist:
        return "127.0.0.1"
    try:
        res = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True,
                             timeout=30, check=True)
        hosts = res.stdout.split()
        return hosts[0] if hosts else "127.0.0.1"
    except (OSError, subprocess.SubprocessError):
        return "127.0.0.1"


def distributed_env(environ: dict | None = None) -> dict | None:
    """RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT of a launch that is already distributed, else None.

    torchrun sets RANK and WORLD_SIZE itself. Under ``srun -n W`` they are
    derived from SLURM_PROCID, SLURM_NTASKS (the step's, SLURM_STEP_NUM_TASKS,
    when set) and SLURM_LOCALID; MASTER_ADDR is the first host of
    ``scontrol show hostnames $SLURM_JOB_NODELIST`` (127.0.0.1 without
    scontrol) and MASTER_PORT 15000 + (job id · 16 + step id) mod 20000.
    One task alone is not a distributed launch.
    """
    env = os.environ if environ is None else environ
    if "RANK" in env and "WORLD_SIZE" in env:
        out = {"RANK": env["RANK"], "WORLD_SIZE": env["WORLD_SIZE"], "LOCAL_RANK": env.get("LOCAL_RANK", "0"),
               "MASTER_ADDR": env.get("MASTER_ADDR", "127.0.0.1"), "MASTER_PORT": env.get("MASTER_PORT", "29500")}
        return out if int(out["WORLD_SIZE"]) > 1 else None
    ntasks = env.get("SLURM_STEP_NUM_TASKS") or env.get("SLURM_NTASKS") or env.get("SLURM_NPROCS")
    if "SLURM_PROCID" in env and ntasks and int(ntasks) > 1:
        job = int(env.get("SLURM_JOB_ID", "0") or 0)
        step = int(env.get("SLURM_STEP_ID", "0") or 0) if str(env.get("SLURM_STEP_ID", "0")).isdigit() else 0
        return {
            "RANK": env["SLURM_PROCID"], "WORLD_SIZE": str(int(ntasks)), "LOCAL_RANK": env.get("SLURM_LOCALID", "0"),
            "MASTER_ADDR": env.get("MASTER_ADDR") or _first_slurm_host(env.get("SLURM_JOB_NODELIST")
                                                                        or env.get("SLURM_NODELIST")),
            "MASTER_PORT": env.get("MASTER_PORT") or str(15000 + (job * 16 + step) % 20000),
        }
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _threads_per_rank(local_world: int) -> int:
    if os.environ.get("OMP_NUM_THREADS"):
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, local_world))


def _init_process_group(env: dict, device: torch.device) -> Dist:
    os.environ.update(env)
    rank, world = int(env["RANK"]), int(env["WORLD_SIZE"])
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, rank=rank, world_size=world)
    group = dist.new_group(backend="gloo") if backend != "gloo" else dist.group.WORLD
    return Dist(rank=rank, world=world, local_rank=int(env.get("LOCAL_RANK", 0)), group=group)


def _all_max(flag: bool, d: Dist) -> bool:
    if d.world == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=d.group)
    return bool(t.item() > 0)


def _all_sum(a: np.ndarray, d: Dist) -> np.ndarray:
    if d.world == 1:
        return a
    t = torch.as_tensor(np.nan_to_num(a, nan=0.0), dtype=torch.float64)
    m = torch.as_tensor(np.isnan(a), dtype=torch.float64)
    dist.all_reduce(t, group=d.group)
    dist.all_reduce(m, group=d.group)
    out = t.numpy()
    out[m.numpy() > 0] = np.nan
    return out


def replica_weight_difference(net: nn.Module, d: Dist) -> float:
    """Largest |w_rank − w_rank0| over all weights and ranks (0.0 when DDP kept the replicas in sync)."""
    if d.world == 1:
        return 0.0
    flat = torch.cat([q.detach().reshape(-1) for q in net.parameters()]).cpu().double()
    ref = flat.clone()
    dist.broadcast(ref, 0, group=d.group)
    diff = (flat - ref).abs().max().reshape(1)
    dist.all_reduce(diff, op=dist.ReduceOp.MAX, group=d.group)
    return float(diff.item())


class StopFlag:
    """Set by SIGTERM/SIGUSR1; the loop checks it between optimiser steps (rank 0 then checkpoints)."""

    def __init__(self):
        self.signum: int | None = None
        self._old = {}

    def __enter__(self):
        import threading

        if threading.current_thread() is threading.main_thread():
            for s in STOP_SIGNALS:
                self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signum = signum
        log.warning("received signal %d: checkpointing at the next step boundary, then exiting", signum)

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        return False


# ----------------------------------------------------------------------------- checkpoints and outputs
def _torch_save(obj, path: Path) -> Path:
    with storage.atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def fingerprint(settings: dict) -> str:
    """SHA-256 of the settings that make a checkpoint resumable (JSON, sorted keys)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def load_checkpoint(path: Path, fp: str) -> dict | None:
    """The checkpoint at ``path`` if it exists, is readable and belongs to the same settings; else None."""
    if not path.exists():
        return None
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a truncated file: start afresh rather than fail
        log.warning("%s is unreadable (%s): starting from scratch", path, exc)
        return None
    if ck.get("fingerprint") != fp:
        log.warning("%s belongs to other settings: starting from scratch", path)
        return None
    return ck


def _state(net: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}


# ----------------------------------------------------------------------------- the cell
def train_cell(cfg: dict, model: str, T, time_index: int, label_paths: list[str | Path], output_dir: str | Path,
               pretrained: str | Path | None = None, pretrain: bool = False, *,
               time_budget_s: float | None = None) -> Path | None:
    """Rule ``train``/``pretrain``: train one cell; write model.pt, metrics.json and loss.csv in ``output_dir``.

    ``time_budget_s`` (optional, for validation runs): stop after the first
    epoch that ends past this many seconds of wall time and write the outputs
    of the epochs done (metrics.json ``epochs_run`` < ``epochs``).
    Returns the model.pt path (on rank 0; None on other ranks). Raises
    :class:`TrainingInterrupted` after a SIGTERM/SIGUSR1 checkpoint.
    """
    env = distributed_env()
    ranks = int(cfg["training"]["ranks"])
    args = (cfg, model, T, time_index, [str(p) for p in label_paths], str(output_dir),
            None if pretrained is None else str(pretrained), bool(pretrain), time_budget_s)
    if env is None and ranks > 1:
        return _launch_local(ranks, args)
    if env is not None and int(env["WORLD_SIZE"]) != ranks:
        log.warning("launched with %s ranks but training.ranks = %d: using the launch's %s",
                    env["WORLD_SIZE"], ranks, env["WORLD_SIZE"])
    return _train(*args, env=env)


def _rank_entry(local_rank: int, world: int, port: int, args: tuple) -> None:
    """Body of one rank started by :func:`_launch_local` (a fresh interpreter)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format=f"%(asctime)s %(levelname)s rank{local_rank} %(name)s: %(message)s")
    env = {"RANK": str(local_rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(local_rank),
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    _train(*args, env=env)


def _launch_local(world: int, args: tuple) -> Path | None:
    """Start ``world`` ranks on this machine (spawned processes); forward stop signals to them."""
    import torch.multiprocessing as mp

    port = _free_port()
    log.info("starting %d ranks on this machine (port %d)", world, port)
    ctx = mp.start_processes(_rank_entry, args=(world, port, args), nprocs=world, join=False, start_method="spawn")
    received = []

    def forward(signum, frame):
        received.append(signum)
        for p in ctx.processes:
            if p.is_alive():
                os.kill(p.pid, signum)

    old = {s: signal.signal(s, forward) for s in STOP_SIGNALS}
    try:
        while True:
            try:
                if ctx.join():
                    break
            except mp.ProcessExitedException as exc:
                code = exc.exit_code if exc.exit_code and exc.exit_code > 0 else 1
                for p in ctx.processes:
                    if p.is_alive():
                        p.terminate()
                if received or code > 128:
                    raise TrainingInterrupted(code) from None
                raise RuntimeError(f"training rank {exc.error_index} exited with status {exc.exit_code}") from None
            except mp.ProcessRaisedException as exc:
                raise RuntimeError(f"a training rank failed:\n{exc}") from None
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return Path(args[5]) / "model.pt"


def _train(cfg, model, T, time_index, label_paths, output_dir, pretrained, pretrain, time_budget_s=None,
           env=None) -> Path | None:
    st = cell_settings(cfg, model, pretrain)
    T_key = gcfg.temperature_key(float(T))
    out_dir = Path(output_dir)
    stage = "pretrain" if pretrain else "train"
    seed = gcfg.derive_seed(int(cfg["training"]["seed"]), model, T_key, int(time_index), stage)
    local_rank = int(env["LOCAL_RANK"]) if env else 0
    device = resolve_device(cfg["training"]["device"], local_rank)
    d = _init_process_group(env, device) if env else Dist()
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(_threads_per_rank(int(env["WORLD_SIZE"]) if env else 1))
        retain_freed_memory()
    try:
        return _train_loop(cfg, model, T_key, int(time_index), label_paths, out_dir, pretrained, st, seed, device, d,
                           stage, time_budget_s)
    finally:
        torch.set_num_threads(threads)
        if device.type == "cpu":
            retain_freed_memory(False)
        if d.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _load_graphs(cfg, label_paths, T_key, k, p, device):
    fit_idx, val_idx = gcfg.split_train_validation(cfg)
    cutoff = float(cfg["labels"]["edge_eval_cutoff"])
    fit, val, time_value = [], [], None
    seen = set()
    for path in label_paths:
        arr, attrs = read_cell(path, k, need_nodes=p > 0, need_edges=p < 1, edge_eval_cutoff=cutoff)
        if gcfg.temperature_key(attrs["T"]) != T_key:
            raise storage.StorageError(path, f"labels at T = {attrs['T']}, but this cell is T = {T_key}")
        c = attrs["c"]
        if c in seen:
            raise storage.StorageError(path, f"configuration {c} given twice")
        seen.add(c)
        if c in fit_idx:
            fit.append(to_graph(arr, c, device))
        elif c in val_idx:
            val.append(to_graph(arr, c, device))
        else:
            raise storage.StorageError(path, f"configuration {c} is not a training configuration "
                                             f"(0 … {cfg['configurations']['n_train'] - 1}); the test set is never "
                                             "used in training")
        time_value = float(arr["times"][k])
    if not fit:
        raise ValueError(f"none of the {len(label_paths)} label files is a fit configuration {fit_idx}")
    fit.sort(key=lambda g: g.c)
    val.sort(key=lambda g: g.c)
    return fit, val, time_value


def _train_loop(cfg, model, T_key, k, label_paths, out_dir, pretrained, st, seed, device, d: Dist, stage,
                time_budget_s=None):
    p, epochs, G, lr = st["p"], st["epochs"], st["graphs_per_step"], st["lr"]
    t_start = time.perf_counter()
    fit, val, time_value = _load_graphs(cfg, label_paths, T_key, k, p, device)
    stats = target_stats(fit)
    standardise(fit + val, stats)
    hyper = models.network_hyperparameters(cfg)

    torch.manual_seed(seed)
    net = models.build(model, hyper).to(device)
    if pretrained:
        pre = models.load_trained(pretrained, device="cpu")
        if pre.meta["hyperparameters"] != hyper:
            raise storage.StorageError(pretrained, f"pretrained network {pre.meta['hyperparameters']} differs from "
                                                   f"the configured one {hyper}")
        net.load_state_dict(pre.network.state_dict())
    # A decoder the loss never uses gets no gradient; freezing it keeps DDP's bucket logic exact.
    if p >= 1.0:
        net.edge_decoder.requires_grad_(False)
    if p <= 0.0:
        net.node_decoder.requires_grad_(False)
    trainable = [q for q in net.parameters() if q.requires_grad]
    opt = torch.optim.Adam(trainable, lr=lr, weight_decay=0.0)
    ddp = net
    if d.world > 1:
        ddp = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)

    precision = cfg["training"]["precision"]
    autocast = precision_context(precision, device)
    settings = {"model": model, "T": T_key, "time_index": k, "stage": stage, **st, "network": hyper,
                "precision": precision,
                "seed": seed, "rotation_augmentation": bool(cfg["training"]["rotation_augmentation"]),
                "validation_fraction": cfg["training"]["validation_fraction"],
                "fit": [g.c for g in fit], "validation": [g.c for g in val],
                "labels": [Path(x).name for x in label_paths], "pretrained": str(pretrained) if pretrained else None}
    fp = fingerprint(settings)
    ck_path = out_dir / CHECKPOINT
    ck = load_checkpoint(ck_path, fp)
    start_epoch, start_step, history = 0, 0, []
    best = {"epoch": -1, "val_loss": math.inf, "val_pearson_nodes": math.nan, "val_pearson_edges": math.nan,
            "state_dict": _state(net)}
    loss_sum, loss_steps, train_time, steps_done, wall_before = 0.0, 0, 0.0, 0, 0.0
    if ck is not None:
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        torch.set_rng_state(ck["rng"]["torch"])
        start_epoch, start_step, history, best = ck["epoch"], ck["step"], ck["history"], ck["best"]
        loss_sum, loss_steps = ck["train_loss_sum"], ck["train_loss_steps"]
        train_time, steps_done, wall_before = ck["train_time"], ck["steps_done"], ck["wall_time"]
        if d.is_main:
            log.info("resuming %s from epoch %d step %d (%s)", stage, start_epoch, start_step, ck_path)

    rotate = bool(cfg["training"]["rotation_augmentation"])
    n_fit = len(fit)
    my_val = val[d.rank::d.world]
    val_pos = list(range(len(val)))[d.rank::d.world]
    label = f"{model} {stage} T={T_key} k={k}"
    if d.is_main:
        log.info("%s: %d fit, %d validation configurations (fit %s, validation %s), p=%g, %d epochs, %d graphs/step "
                 "x %d rank(s), lr=%g, device %s, %d threads, %s", label, n_fit, len(val), settings["fit"],
                 settings["validation"], p, epochs, G, d.world, lr, device, torch.get_num_threads(), precision)

    def checkpoint(epoch, step):
        if not d.is_main:
            return
        _torch_save({"fingerprint": fp, "settings": settings, "epoch": epoch, "step": step,
                     "model": _state(net), "optimizer": opt.state_dict(), "best": best, "history": history,
                     "train_loss_sum": loss_sum, "train_loss_steps": loss_steps, "train_time": train_time,
                     "steps_done": steps_done, "wall_time": wall_before + time.perf_counter() - t_start,
                     "rng": {"torch": torch.get_rng_state()}, "target_stats": stats}, ck_path)

    slots_per_epoch = rank_slots(n_fit, d.world, d.rank, G)
    with StopFlag() as stop:
        for epoch in range(start_epoch, epochs):
            t_epoch = time.perf_counter()
            order = epoch_order(n_fit, seed, epoch)
            # This rank's rotations of the epoch, moved to the device at once (no host transfer inside a step).
            my_slots = sum(slots_per_epoch, [])
            rot_table = torch.as_tensor(np.stack([rotation_for(seed, epoch, q) for q in my_slots]),
                                        dtype=torch.float32, device=device) if rotate else None
            rot_row = {q: i for i, q in enumerate(my_slots)}
            run_loss = torch.zeros((), dtype=torch.float64, device=device)
            first = start_step if epoch == start_epoch else 0
            net.train()
            t_steps = time.perf_counter()
            for s in range(first, len(slots_per_epoch)):
                if _all_max(stop.signum is not None, d):
                    summed = _all_sum(np.array([float(run_loss), float(s - first)]), d)
                    loss_sum, loss_steps = loss_sum + summed[0], loss_steps + int(summed[1])
                    train_time += time.perf_counter() - t_steps
                    checkpoint(epoch, s)
                    if d.world > 1:
                        dist.barrier(group=d.group)
                    signum = stop.signum or signal.SIGTERM
                    log.warning("%s: stopped by signal at epoch %d step %d; checkpoint %s", label, epoch, s, ck_path)
                    raise TrainingInterrupted(128 + int(signum))
                slots = slots_per_epoch[s]
                graphs = [fit[order[q % n_fit]] for q in slots]
                rots = [rot_table[rot_row[q]] if rotate else None for q in slots]
                opt.zero_grad(set_to_none=True)
                with autocast:
                    loss = batch_loss(ddp, make_batch(graphs, rots), p)
                loss.backward()
                opt.step()
                run_loss += loss.detach()
                steps_done += 1
            n_steps = len(slots_per_epoch) - first
            # float(run_loss) is the epoch's only wait for the device, so the time to here is the steps' real time.
            summed = _all_sum(np.array([float(run_loss), float(n_steps)]), d)
            train_time += time.perf_counter() - t_steps
            loss_sum += summed[0]
            loss_steps += int(summed[1])
            train_loss = loss_sum / max(loss_steps, 1)
            net.eval()
            scores = np.zeros((len(val), 3))
            if my_val:
                scores[val_pos] = validation_scores(net, my_val, p)
            scores = _all_sum(scores, d)
            val_loss, pn, pe = (np.mean(scores[:, i]) if len(val) else math.nan for i in range(3))
            history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                            "val_pearson_nodes": pn, "val_pearson_edges": pe})
            if len(val) and val_loss < best["val_loss"] or (not len(val) and epoch == epochs - 1):
                best = {"epoch": epoch, "val_loss": float(val_loss), "val_pearson_nodes": float(pn),
                        "val_pearson_edges": float(pe), "state_dict": _state(net)}
            loss_sum, loss_steps = 0.0, 0
            if d.is_main:
                dt = time.perf_counter() - t_epoch
                left = (epochs - epoch - 1) * dt
                log.info("%s epoch %d/%d: train %.5f, val %.5f, val pearson nodes %.4f edges %.4f "
                         "(best epoch %d), %.1f s/epoch, ETA %s", label, epoch + 1, epochs, train_loss, val_loss, pn,
                         pe, best["epoch"] + 1, dt, _hms(left))
            checkpoint(epoch + 1, 0)
            if time_budget_s is not None and _all_max(time.perf_counter() - t_start > time_budget_s, d):
                if d.is_main:
                    log.info("%s: time budget of %.0f s used up after epoch %d", label, time_budget_s, epoch + 1)
                break

    sync = replica_weight_difference(net, d)
    if not d.is_main:
        return None
    wall = wall_before + time.perf_counter() - t_start
    meta = {"model": model, "state_dict": best["state_dict"], "hyperparameters": hyper,
            "system": cfg["system"], "graph_cutoff": float(cfg["graph"]["cutoff"]), "T": float(T_key),
            "time_index": k, "time": time_value, "target_stats": stats, "p": p, "stage": stage,
            "best_epoch": best["epoch"], "epochs": epochs, "seed": seed, "glassdyn_model_format": 1}
    model_path = _torch_save(meta, out_dir / "model.pt")
    metrics = {"model": model, "stage": stage, "T": float(T_key), "time_index": k, "time": time_value, "p": p,
               "epochs": epochs, "epochs_run": len(history), "best_epoch": best["epoch"],
               "best_val_loss": best["val_loss"],
               "val_pearson_nodes": best["val_pearson_nodes"], "val_pearson_edges": best["val_pearson_edges"],
               "selection": "lowest validation loss", "wall_time_s": wall, "train_time_s": train_time,
               "steps": steps_done, "steps_per_s": steps_done / train_time if train_time > 0 else math.nan,
               "graphs_per_step": G, "ranks": d.world, "device": str(device), "precision": precision, "lr": lr,
               "fit_configurations": settings["fit"], "validation_configurations": settings["validation"],
               "target_stats": stats, "pretrained": settings["pretrained"], "seed": seed,
               "ddp_max_weight_difference": sync}
    storage.write_json(out_dir / "metrics.json", storage.json_safe(metrics))
    import pandas as pd

    storage.write_csv(out_dir / "loss.csv", pd.DataFrame(history, columns=LOSS_COLUMNS))
    log.info("%s done: best epoch %d, val loss %.5f, val pearson nodes %.4f edges %.4f, %.0f s, %.2f steps/s",
             label, best["epoch"] + 1, best["val_loss"], best["val_pearson_nodes"], best["val_pearson_edges"], wall,
             metrics["steps_per_s"])
    return model_path


def _hms(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
