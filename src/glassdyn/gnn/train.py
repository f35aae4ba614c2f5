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

import logging
import math
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from glassdyn import config as gcfg
from glassdyn import models
from glassdyn.gnn.batches import batch_loss, epoch_order, make_batch, rank_slots, rotation_for, validation_scores
from glassdyn.gnn.checkpoint import CHECKPOINT, fingerprint, load_checkpoint, state_copy, torch_save
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
from glassdyn.io import storage
from glassdyn.models.device import precision_context, resolve_device, retain_freed_memory

log = logging.getLogger("glassdyn.training")

LOSS_COLUMNS = ["epoch", "train_loss", "val_loss", "val_pearson_nodes", "val_pearson_edges"]


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


def _train(cfg, model, T, time_index, label_paths, output_dir, pretrained, pretrain, time_budget_s=None,
           env=None) -> Path | None:
    st = cell_settings(cfg, model, pretrain)
    T_key = gcfg.temperature_key(float(T))
    out_dir = Path(output_dir)
    stage = "pretrain" if pretrain else "train"
    seed = gcfg.derive_seed(int(cfg["training"]["seed"]), model, T_key, int(time_index), stage)
    local_rank = int(env["LOCAL_RANK"]) if env else 0
    device = resolve_device(cfg["training"]["device"], local_rank)
    d = init_process_group(env, device) if env else Dist()
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(threads_per_rank(int(env["WORLD_SIZE"]) if env else 1))
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


def _train_loop(cfg, model, T_key, k, label_paths, out_dir, pretrained, st, seed, device, d: Dist, stage,
                time_budget_s=None):
    p, epochs, G, lr = st["p"], st["epochs"], st["graphs_per_step"], st["lr"]
    t_start = time.perf_counter()
    fit, val, time_value = load_cell_graphs(cfg, label_paths, T_key, k, p, device)
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
            "state_dict": state_copy(net)}
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
        torch_save({"fingerprint": fp, "settings": settings, "epoch": epoch, "step": step,
                     "model": state_copy(net), "optimizer": opt.state_dict(), "best": best, "history": history,
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
                if all_max(stop.signum is not None, d):
                    summed = all_sum(np.array([float(run_loss), float(s - first)]), d)
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
            summed = all_sum(np.array([float(run_loss), float(n_steps)]), d)
            train_time += time.perf_counter() - t_steps
            loss_sum += summed[0]
            loss_steps += int(summed[1])
            train_loss = loss_sum / max(loss_steps, 1)
            net.eval()
            scores = np.zeros((len(val), 3))
            if my_val:
                scores[val_pos] = validation_scores(net, my_val, p)
            scores = all_sum(scores, d)
            val_loss, pn, pe = (np.mean(scores[:, i]) if len(val) else math.nan for i in range(3))
            history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                            "val_pearson_nodes": pn, "val_pearson_edges": pe})
            if len(val) and val_loss < best["val_loss"] or (not len(val) and epoch == epochs - 1):
                best = {"epoch": epoch, "val_loss": float(val_loss), "val_pearson_nodes": float(pn),
                        "val_pearson_edges": float(pe), "state_dict": state_copy(net)}
            loss_sum, loss_steps = 0.0, 0
            if d.is_main:
                dt = time.perf_counter() - t_epoch
                left = (epochs - epoch - 1) * dt
                log.info("%s epoch %d/%d: train %.5f, val %.5f, val pearson nodes %.4f edges %.4f "
                         "(best epoch %d), %.1f s/epoch, ETA %s", label, epoch + 1, epochs, train_loss, val_loss, pn,
                         pe, best["epoch"] + 1, dt, _hms(left))
            checkpoint(epoch + 1, 0)
            if time_budget_s is not None and all_max(time.perf_counter() - t_start > time_budget_s, d):
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
    model_path = torch_save(meta, out_dir / "model.pt")
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
