"""Training of NT-GNN and BOTAN per (model, T, sampling time) cell (SCIENCE.md §6).

One cell: the training configurations' labels at time index k, node targets
S_i = ``propensity[k]``, edge targets E_ij = ``pair_distance_change[k]``.

- Split: fit / validation by configuration index
  (:func:`glassdyn.config.split_train_validation`); a test configuration
  passed in is refused.
- Targets are standardised with the mean and standard deviation over the
  fit set (all particles, all edges); both are saved in model.pt. With
  ``network.targets: raw`` (the published BOTAN code) they are used as they
  are (mean 0, std 1 saved).
- Loss of one optimiser step over its G graphs,
  L = (1/G) Σ_g [p · MSE_g(Ŝ, S) + (1 − p) · MSE_g(Ê, E)],
  each graph weighing the same (so W ranks × G graphs per rank reproduce one
  process with W·G graphs per step up to the order of the reductions).
  p = ``models.<name>.p``; pretraining uses p = 0.
- Adam (lr from ``models.<name>.lr``, no weight decay), ``graphs_per_step``
  graphs per step, random rotation of the edge vectors of each graph
  (uniform on SO(3); the graph is unchanged) when
  ``training.rotation_augmentation``; ``training.augmentation_group:
  signed_permutations`` draws instead one of the 48 permutations of the axes
  with sign flips (the published BOTAN recipe). ``training.gradient_clip_norm``
  (null: none; published BOTAN: 1.0) clips the global gradient norm ‖g‖₂ of
  each step to that value.
- Precision (``training.precision``): ``fp32``; ``tf32`` (CUDA matrix
  products in TF32, float32 elsewhere; the same as fp32 on a CPU); ``bf16``
  (the training step under ``torch.autocast`` in bfloat16 with float32
  weights, Adam state and loss; ≈ 2× faster on a CPU with AVX512-BF16 and
  on GPUs). Validation and inference always run in float32.
- Checkpoint selection: the epoch with the lowest validation loss (the same
  L on the validation configurations, no augmentation); with
  ``training.validation_fraction: 0`` (no validation set, as the published
  BOTAN code trains) the last epoch. Validation Pearson
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

import dataclasses
import logging
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn

from glassdyn import config as gcfg
from glassdyn.config.slices import config_slice, reads
from glassdyn.gnn.batches import (
    augmentation_for,
    batch_loss,
    decode_mode,
    epoch_order,
    make_batch,
    rank_slots,
    validation_scores,
)
from glassdyn.gnn.checkpoint import CHECKPOINT, load_checkpoint, state_copy, torch_save
from glassdyn.gnn.data import load_cell_graphs, standardise, target_stats
from glassdyn.gnn.ddp import (
    STOP_SIGNALS,
    Dist,
    StopFlag,
    TrainingInterrupted,
    all_max,
    all_sum,
    distributed_env,
    free_port,
    init_process_group,
    replica_weight_difference,
    threads_per_rank,
)
from glassdyn.gnn.trained import architecture, build, load_trained, network_hyperparameters
from glassdyn.io import storage
from glassdyn.io.progress import hms
from glassdyn.io.provenance import fingerprint, provenance
from glassdyn.models.device import precision_context, resolve_device, retain_freed_memory
from glassdyn.models.files import load_torch_dict, save_model_file
from glassdyn.models.published import convert_state_dict, is_published_state_dict
from glassdyn.models.user import check_loss_weight

log = logging.getLogger("glassdyn.training")

LOSS_COLUMNS = ["epoch", "train_loss", "val_loss", "val_pearson_nodes", "val_pearson_edges"]


#: What training one cell reads: its model's hyperparameters, the network, the training recipe (seed,
#: validation share, augmentation, precision, DDP ranks: W ranks x G graphs per optimiser step), the split,
#: the edge-judging cutoff (validation Pearson), the graph cutoff and the system (recorded for predict).
#: The device is an execution setting (``device`` argument), not a trigger.
COMMON_READS = reads("network", "training.seed", "training.validation_fraction", "training.rotation_augmentation",
                     "training.augmentation_group", "training.gradient_clip_norm", "training.precision",
                     "training.ranks", "configurations.n_train", "labels.edge_eval_cutoff", "graph.cutoff", "system")
#: The model's whole section: p, epochs, graphs_per_step, lr, and ``network``/``options`` of a user's network
#: (``pretrain`` too, whose model.pt or weights file is also an input of the job).
READS = COMMON_READS + reads("models.{model}")
#: Pretraining: p = 0 on edges for ``models.<model>.pretrain.epochs``; the main training's p and epochs are not read.
PRETRAIN_READS = COMMON_READS + reads("models.{model}.graphs_per_step", "models.{model}.lr",
                                      "models.{model}.pretrain")


# ----------------------------------------------------------------------------- settings
def cell_settings(cfg: dict, model: str, pretrain: bool = False) -> dict:
    """p, epochs, graphs per step and learning rate of a cell (pretraining: p = 0, its own epochs)."""
    if model not in cfg["models"]:
        raise gcfg.ConfigError(f"models.{model}", "no settings for this model")
    m = cfg["models"][model]
    if pretrain:
        if not m.get("pretrain"):
            raise gcfg.ConfigError(f"models.{model}.pretrain", "pretraining asked for but not configured")
        return {"p": 0.0, "epochs": int(m["pretrain"]["epochs"]), "graphs_per_step": int(m["graphs_per_step"]),
                "lr": float(m["lr"])}
    return {"p": float(m["p"]), "epochs": int(m["epochs"]), "graphs_per_step": int(m["graphs_per_step"]),
            "lr": float(m["lr"])}


# ----------------------------------------------------------------------------- the cell
def train_cell(cfg: dict, model: str, T, time_index: int, label_paths: list[str | Path], output_dir: str | Path,
               pretrained: str | Path | None = None, pretrain: bool = False, *, device: str = "auto",
               time_budget_s: float | None = None) -> Path | None:
    """Rule ``train``/``pretrain``: train one cell; write model.pt, metrics.json and loss.csv in ``output_dir``.

    ``cfg`` is cut to :data:`READS` (:data:`PRETRAIN_READS`); ``device`` is
    ``training.device`` (auto | cpu | cuda), an execution setting.
    ``time_budget_s`` (optional, for validation runs): stop after the first
    epoch that ends past this many seconds of wall time and write the outputs
    of the epochs done (metrics.json ``epochs_run`` < ``epochs``).
    Returns the model.pt path (on rank 0; None on other ranks). Raises
    :class:`TrainingInterrupted` after a SIGTERM/SIGUSR1 checkpoint.
    """
    cfg = config_slice(cfg, PRETRAIN_READS if pretrain else READS, model=model)
    env = distributed_env()
    ranks = int(cfg["training"]["ranks"])
    args = (cfg, model, T, time_index, [str(p) for p in label_paths], str(output_dir),
            None if pretrained is None else str(pretrained), bool(pretrain), device, time_budget_s)
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

    port = free_port()
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


def _train(cfg, model, T, time_index, label_paths, output_dir, pretrained, pretrain, device_name="auto",
           time_budget_s=None, env=None) -> Path | None:
    local_rank = int(env["LOCAL_RANK"]) if env else 0
    device = resolve_device(device_name, local_rank)
    d = init_process_group(env, device) if env else Dist()
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(threads_per_rank(int(env["WORLD_SIZE"]) if env else 1))
        retain_freed_memory()
    try:
        run = _setup(cfg, model, T, int(time_index), label_paths, Path(output_dir), pretrained, pretrain, device, d)
        return _run(run, time_budget_s)
    finally:
        torch.set_num_threads(threads)
        if device.type == "cpu":
            retain_freed_memory(False)
        if d.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


@dataclasses.dataclass
class CellRun:
    """Everything fixed for one cell's training: data, network, optimiser, and what it was made from."""

    label: str
    model: str
    stage: str
    T_key: str
    k: int
    st: dict          # p, epochs, graphs_per_step, lr (cell_settings)
    seed: int
    fit: list
    val: list
    time_value: float
    stats: dict       # target mean/std of the fit set
    hyper: dict
    net: nn.Module
    ddp: nn.Module
    opt: torch.optim.Optimizer
    autocast: Any
    rotate: bool
    augmentation_group: str
    clip: float | None  # training.gradient_clip_norm
    targets: str        # network.targets: standardised | raw
    precision: str
    device: torch.device
    d: Dist
    out_dir: Path
    record: dict      # provenance: configuration slice + input contents + identity
    fp: str
    system: dict
    graph_cutoff: float


@dataclasses.dataclass
class Progress:
    """What changes while a cell trains (all of it in checkpoint.pt)."""

    epoch: int = 0
    step: int = 0
    history: list = dataclasses.field(default_factory=list)
    best: dict = dataclasses.field(default_factory=dict)
    loss_sum: float = 0.0
    loss_steps: int = 0
    train_time: float = 0.0
    steps_done: int = 0
    wall_before: float = 0.0


def _setup(cfg, model, T, k, label_paths, out_dir, pretrained, pretrain, device, d: Dist) -> CellRun:
    """Load the cell's graphs, standardise targets, build the network (from ``pretrained`` if given) and Adam."""
    st = cell_settings(cfg, model, pretrain)
    T_key = gcfg.temperature_key(float(T))
    stage = "pretrain" if pretrain else "train"
    seed = gcfg.derive_seed(int(cfg["training"]["seed"]), model, T_key, k, stage)
    fit, val, time_value = load_cell_graphs(cfg, label_paths, T_key, k, st["p"], device)
    stats = target_stats(fit, cfg["network"]["targets"])
    standardise(fit + val, stats)
    hyper = network_hyperparameters(cfg, model)
    torch.manual_seed(seed)
    net = build(model, hyper).to(device)
    check_loss_weight(net, model, st["p"])
    if pretrained:
        _load_pretrained(net, pretrained, hyper)
    # A decoder the loss never uses gets no gradient; freezing it keeps DDP's bucket logic exact.
    if hasattr(net, "freeze_unused_decoders"):
        net.freeze_unused_decoders(decode_mode(st["p"]))
    opt = torch.optim.Adam([q for q in net.parameters() if q.requires_grad], lr=st["lr"], weight_decay=0.0)
    # A user's network may have a head the loss does not use (edges at p = 1): DDP then looks for it.
    ddp = net if d.world == 1 else nn.parallel.DistributedDataParallel(
        net, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters="network" in hyper)
    precision = cfg["training"]["precision"]
    record = provenance(cfg, [*label_paths, *([pretrained] if pretrained else [])], model=model, T=T_key,
                        time_index=k, stage=stage)
    return CellRun(f"{model} {stage} T={T_key} k={k}", model, stage, T_key, k, st, seed, fit, val, time_value, stats,
                   hyper, net, ddp, opt, precision_context(precision, device),
                   bool(cfg["training"]["rotation_augmentation"]), cfg["training"]["augmentation_group"],
                   cfg["training"]["gradient_clip_norm"], cfg["network"]["targets"], precision, device, d, out_dir,
                   record, fingerprint(record), cfg["system"], float(cfg["graph"]["cutoff"]))


def _load_pretrained(net: nn.Module, pretrained, hyper: dict) -> None:
    """Start from ``pretrained``: a glassdyn model.pt or a published BOTAN state dict (converted in memory,
    :mod:`glassdyn.models.published`); refused when its network differs from ``hyper``."""
    obj = load_torch_dict(pretrained)
    if is_published_state_dict(obj):
        state, theirs = convert_state_dict(obj, pretrained)
    else:
        pre = load_trained(pretrained, device="cpu")
        state, theirs = pre.network.state_dict(), pre.meta["hyperparameters"]
    if "network" in hyper or "network" in theirs:
        same = theirs == hyper
    else:
        same = architecture(theirs) == architecture(hyper)
    if not same:
        raise storage.StorageError(pretrained, f"pretrained network {theirs} differs from the "
                                               f"configured one {hyper}; set the `network` section "
                                               "(hidden, message_passing_steps, decoder, decoder_layers) to match it")
    net.load_state_dict(state)


def _resume(run: CellRun) -> Progress:
    """The progress saved in checkpoint.pt if it was made from exactly these inputs, else a fresh start."""
    fresh = Progress(best={"epoch": -1, "val_loss": math.inf, "val_pearson_nodes": math.nan,
                           "val_pearson_edges": math.nan, "state_dict": state_copy(run.net)})
    ck = load_checkpoint(run.out_dir / CHECKPOINT, run.record) if run.d.is_main or run.d.world == 1 else None
    if run.d.world > 1:
        holder = [ck]
        dist.broadcast_object_list(holder, src=0, group=run.d.group)
        ck = holder[0]
    if ck is None:
        return fresh
    run.net.load_state_dict(ck["model"])
    run.opt.load_state_dict(ck["optimizer"])
    torch.set_rng_state(ck["rng"]["torch"])
    if run.d.is_main:
        log.info("resuming %s from epoch %d step %d (%s)", run.stage, ck["epoch"], ck["step"], run.out_dir / CHECKPOINT)
    return Progress(ck["epoch"], ck["step"], ck["history"], ck["best"], ck["train_loss_sum"], ck["train_loss_steps"],
                    ck["train_time"], ck["steps_done"], ck["wall_time"])


def _save_checkpoint(run: CellRun, prog: Progress, epoch: int, step: int, wall: float) -> None:
    if run.d.is_main:
        torch_save({"fingerprint": run.fp, "provenance": run.record, "epoch": epoch, "step": step,
                    "model": state_copy(run.net), "optimizer": run.opt.state_dict(), "best": prog.best,
                    "history": prog.history, "train_loss_sum": prog.loss_sum, "train_loss_steps": prog.loss_steps,
                    "train_time": prog.train_time, "steps_done": prog.steps_done, "wall_time": wall,
                    "rng": {"torch": torch.get_rng_state()}, "target_stats": run.stats}, run.out_dir / CHECKPOINT)


def _run(run: CellRun, time_budget_s: float | None) -> Path | None:
    """Train from where the checkpoint left off to the last epoch (or the time budget); write the outputs."""
    t_start = time.perf_counter()
    prog = _resume(run)
    st, d = run.st, run.d
    if d.is_main:
        log.info("%s: %d fit, %d validation configurations (fit %s, validation %s), p=%g, %d epochs, %d graphs/step "
                 "x %d rank(s), lr=%g, device %s, %d threads, %s", run.label, len(run.fit), len(run.val),
                 [g.c for g in run.fit], [g.c for g in run.val], st["p"], st["epochs"], st["graphs_per_step"],
                 d.world, st["lr"], run.device, torch.get_num_threads(), run.precision)
    slots = rank_slots(len(run.fit), d.world, d.rank, st["graphs_per_step"])
    with StopFlag() as stop:
        for epoch in range(prog.epoch, st["epochs"]):
            t_epoch = time.perf_counter()
            _train_epoch(run, prog, epoch, slots, stop, t_start)
            _validate(run, prog, epoch)
            if d.is_main:
                dt = time.perf_counter() - t_epoch
                h = prog.history[-1]
                log.info("%s epoch %d/%d: train %.5f, val %.5f, val pearson nodes %.4f edges %.4f "
                         "(best epoch %d), %.1f s/epoch, ETA %s", run.label, epoch + 1, st["epochs"], h["train_loss"],
                         h["val_loss"], h["val_pearson_nodes"], h["val_pearson_edges"], prog.best["epoch"] + 1, dt,
                         hms((st["epochs"] - epoch - 1) * dt))
            _save_checkpoint(run, prog, epoch + 1, 0, prog.wall_before + time.perf_counter() - t_start)
            if time_budget_s is not None and all_max(time.perf_counter() - t_start > time_budget_s, d):
                if d.is_main:
                    log.info("%s: time budget of %.0f s used up after epoch %d", run.label, time_budget_s, epoch + 1)
                break
    return _finish(run, prog, prog.wall_before + time.perf_counter() - t_start)


def _train_epoch(run: CellRun, prog: Progress, epoch: int, slots: list[list[int]], stop: StopFlag,
                 t_start: float) -> None:
    """The optimiser steps of one epoch on this rank; on a stop signal, checkpoint and exit 128 + signal."""
    d, n_fit, p = run.d, len(run.fit), run.st["p"]
    order = epoch_order(n_fit, run.seed, epoch)
    # This rank's rotations of the epoch, moved to the device at once (no host transfer inside a step).
    mine = sum(slots, [])
    rot_table = torch.as_tensor(np.stack([augmentation_for(run.augmentation_group, run.seed, epoch, q)
                                              for q in mine]), dtype=torch.float32,
                                device=run.device) if run.rotate else None
    rot_row = {q: i for i, q in enumerate(mine)}
    run_loss = torch.zeros((), dtype=torch.float64, device=run.device)
    first = prog.step if epoch == prog.epoch else 0
    run.net.train()
    t_steps = time.perf_counter()
    for s in range(first, len(slots)):
        if all_max(stop.signum is not None, d):
            _stop(run, prog, epoch, s, run_loss, s - first, t_steps, t_start, stop)
        graphs = [run.fit[order[q % n_fit]] for q in slots[s]]
        rots = [rot_table[rot_row[q]] if run.rotate else None for q in slots[s]]
        run.opt.zero_grad(set_to_none=True)
        with run.autocast:
            loss = batch_loss(run.ddp, make_batch(graphs, rots), p)
        loss.backward()
        if run.clip is not None:
            nn.utils.clip_grad_norm_(run.net.parameters(), run.clip)
        run.opt.step()
        run_loss += loss.detach()
        prog.steps_done += 1
    # float(run_loss) is the epoch's only wait for the device, so the time to here is the steps' real time.
    summed = all_sum(np.array([float(run_loss), float(len(slots) - first)]), d)
    prog.train_time += time.perf_counter() - t_steps
    prog.loss_sum += summed[0]
    prog.loss_steps += int(summed[1])


def _stop(run, prog, epoch, step, run_loss, n_steps, t_steps, t_start, stop) -> None:
    summed = all_sum(np.array([float(run_loss), float(n_steps)]), run.d)
    prog.loss_sum, prog.loss_steps = prog.loss_sum + summed[0], prog.loss_steps + int(summed[1])
    prog.train_time += time.perf_counter() - t_steps
    _save_checkpoint(run, prog, epoch, step, prog.wall_before + time.perf_counter() - t_start)
    if run.d.world > 1:
        dist.barrier(group=run.d.group)
    log.warning("%s: stopped by signal at epoch %d step %d; checkpoint %s", run.label, epoch, step,
                run.out_dir / CHECKPOINT)
    raise TrainingInterrupted(128 + int(stop.signum or signal.SIGTERM))


def _validate(run: CellRun, prog: Progress, epoch: int) -> None:
    """Validation loss and Pearson of the epoch; keep the weights of the lowest validation loss."""
    d, val = run.d, run.val
    train_loss = prog.loss_sum / max(prog.loss_steps, 1)
    run.net.eval()
    scores = np.zeros((len(val), 3))
    mine = val[d.rank::d.world]
    if mine:
        scores[list(range(len(val)))[d.rank::d.world]] = validation_scores(run.net, mine, run.st["p"])
    scores = all_sum(scores, d)
    val_loss, pn, pe = (np.mean(scores[:, i]) if len(val) else math.nan for i in range(3))
    prog.history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                         "val_pearson_nodes": pn, "val_pearson_edges": pe})
    if len(val) and val_loss < prog.best["val_loss"] or (not len(val) and epoch == run.st["epochs"] - 1):
        prog.best = {"epoch": epoch, "val_loss": float(val_loss), "val_pearson_nodes": float(pn),
                     "val_pearson_edges": float(pe), "state_dict": state_copy(run.net)}
    prog.loss_sum, prog.loss_steps = 0.0, 0


def _finish(run: CellRun, prog: Progress, wall: float) -> Path | None:
    """model.pt (best weights), metrics.json, loss.csv; then remove checkpoint.pt (nothing left to resume)."""
    sync = replica_weight_difference(run.net, run.d)
    if not run.d.is_main:
        return None
    st, best = run.st, prog.best
    model_path = save_model_file(
        run.out_dir / "model.pt", run.model, best["state_dict"], hyperparameters=run.hyper, system=run.system,
        graph_cutoff=run.graph_cutoff, T=float(run.T_key), time_index=run.k, time=run.time_value,
        target_stats=run.stats, p=st["p"], stage=run.stage, best_epoch=best["epoch"], epochs=st["epochs"],
        seed=run.seed, targets=run.targets, provenance=run.record)
    steps_per_s = prog.steps_done / prog.train_time if prog.train_time > 0 else math.nan
    metrics = {"model": run.model, "stage": run.stage, "T": float(run.T_key), "time_index": run.k,
               "time": run.time_value, "p": st["p"], "epochs": st["epochs"], "epochs_run": len(prog.history),
               "best_epoch": best["epoch"], "best_val_loss": best["val_loss"],
               "val_pearson_nodes": best["val_pearson_nodes"], "val_pearson_edges": best["val_pearson_edges"],
               "selection": "lowest validation loss" if run.val else "last epoch (no validation set)",
               "wall_time_s": wall, "train_time_s": prog.train_time,
               "steps": prog.steps_done, "steps_per_s": steps_per_s, "graphs_per_step": st["graphs_per_step"],
               "ranks": run.d.world, "device": str(run.device), "precision": run.precision, "lr": st["lr"],
               "fit_configurations": [g.c for g in run.fit], "validation_configurations": [g.c for g in run.val],
               "target_stats": run.stats, "targets": run.targets,
               "augmentation_group": run.augmentation_group if run.rotate else None,
               "gradient_clip_norm": run.clip, "seed": run.seed, "ddp_max_weight_difference": sync,
               "provenance": run.record}
    storage.write_json(run.out_dir / "metrics.json", storage.json_safe(metrics))
    storage.write_csv(run.out_dir / "loss.csv", pd.DataFrame(prog.history, columns=LOSS_COLUMNS))
    (run.out_dir / CHECKPOINT).unlink(missing_ok=True)
    log.info("%s done: best epoch %d, val loss %.5f, val pearson nodes %.4f edges %.4f, %.0f s, %.2f steps/s",
             run.label, best["epoch"] + 1, best["val_loss"], best["val_pearson_nodes"], best["val_pearson_edges"],
             wall, steps_per_s)
    return model_path
