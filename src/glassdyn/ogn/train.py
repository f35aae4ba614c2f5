"""Rule ``ogn_train``: training of the OGN learned simulator (SCIENCE.md §6).

Training (:func:`train_ogn`). A sample is one frame t of a training
trajectory; input = (types, v(t), graph of r(t) within ``graph_cutoff``),
target = [r(t+k) − r(t), v(t+k) − v(t)] (unwrapped positions). Each sample is
first merged into the online statistics, then fed standardised; the loss is
the MSE per atom of the standardised target (mean over atoms and the six
components). Adam, learning rate lr·0.1^(step/lr_decay_steps) (the paper:
1e-4 → 1e-6 over 2·10⁷ steps), one configuration per step; with
``augmentation`` each sample is mapped by a random symmetry of the cubic box
(one of the 48 signed permutations, applied to edge vectors, velocities and
targets). The last ``validation_trajectories`` training trajectories are held
out; the saved model is the state with the lowest validation loss. Training
resumes from ``checkpoint.pt`` beside the outputs.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from glassdyn import config as cfgmod
from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.io.provenance import differences, fingerprint, provenance
from glassdyn.models import ogn as ognmod
from glassdyn.models.device import resolve_device
from glassdyn.models.files import read_model_file, save_model_file
from glassdyn.ogn import trajectories
from glassdyn.physics import potential
from glassdyn.physics.graphs import build_graph

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"


# ----------------------------------------------------------------------------- helpers
def transition_target(positions: np.ndarray, velocities: np.ndarray, t: int, k: int) -> np.ndarray:
    """[r(t+k) − r(t), v(t+k) − v(t)] (N, 6) of one trajectory; ``positions`` unwrapped (S+1, N, 3)."""
    return np.concatenate([positions[t + k] - positions[t], velocities[t + k] - velocities[t]], axis=-1)


def sample_index(n_trajectories: int, n_frames: int, k: int) -> np.ndarray:
    """All (trajectory, t) pairs with t + k ≤ S (n_frames = S + 1), shape (n, 2)."""
    t = np.arange(n_frames - k)
    return np.stack(np.meshgrid(np.arange(n_trajectories), t, indexing="ij"), -1).reshape(-1, 2)


def graph_tensors(positions: np.ndarray, box: np.ndarray, cutoff: float, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(edge_index, edge_vectors = r_i − r_j) as tensors for the graph of ``positions`` within ``cutoff``."""
    ei, ev = build_graph(positions, box, cutoff)
    return torch.from_numpy(ei).to(device), torch.from_numpy(ev).to(device)


def learning_rate_factor(step: int, decay_steps: float) -> float:
    """0.1^(step / decay_steps): the exponential decay of Liu et al. (10× per decay_steps)."""
    return 0.1 ** (step / float(decay_steps))


def _variant(cfg: dict, variant: str) -> dict:
    try:
        return cfg["ogn"]["variants"][variant]
    except KeyError as exc:
        raise cfgmod.ConfigError(f"ogn.variants.{variant}", "no such OGN variant") from exc


# ----------------------------------------------------------------------------- model files
def save_model(path: str | Path, model: ognmod.OGN, meta: dict) -> Path:
    """The OGN model file (:mod:`glassdyn.models.files`): weights, hyperparameters and ``meta``."""
    return save_model_file(path, "ogn", model.state_dict(), hyperparameters=model.hyperparameters, **meta)


def load_ogn(path: str | Path, device="cpu") -> tuple[ognmod.OGN, dict]:
    """The trained OGN of ``model.pt`` and its metadata (variant, source, timestep, graph_cutoff, ...)."""
    blob = read_model_file(path, ["ogn"])
    model = ognmod.build(blob["hyperparameters"]).to(device)
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model, {k: v for k, v in blob.items() if k not in ("state_dict",)}


# ----------------------------------------------------------------------------- training
def _sample(data: dict, box, traj: int, t: int, k: int, g: np.ndarray | None, cutoff: float, device):
    """Tensors (velocities, edge_index, edge_vectors, target) of one sample, mapped by symmetry g."""
    pos, vel = data["positions"][traj], data["velocities"][traj]
    ei, ev = build_graph(pos[t], box, cutoff)
    v = vel[t]
    target = transition_target(pos, vel, t, k)
    if g is not None:
        ev = ev @ g.T.astype(np.float32)
        v = v @ g.T
        target = np.concatenate([target[:, :3] @ g.T, target[:, 3:] @ g.T], axis=-1)
    f = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32, device=device)  # noqa: E731
    return f(v), torch.from_numpy(ei).to(device), f(ev), f(target)


def _validate(model: ognmod.OGN, data: dict, box, types_t, samples: np.ndarray, k: int, cutoff: float, device) -> dict:
    """Standardised loss and physical one-step RMSEs of Δr, Δv on the validation samples."""
    model.eval()
    losses, err_r, err_v = [], [], []
    with torch.no_grad():
        for traj, t in samples:
            v, ei, ev, target = _sample(data, box, int(traj), int(t), k, None, cutoff, device)
            y = model(types_t, v, ei, ev)
            losses.append(float(torch.mean((y - model.target_stats.normalize(target)) ** 2)))
            pred = model.target_stats.denormalize(y)
            err_r.append(float(torch.mean((pred[:, :3] - target[:, :3]) ** 2)))
            err_v.append(float(torch.mean((pred[:, 3:] - target[:, 3:]) ** 2)))
    model.train()
    return {"val_loss": float(np.mean(losses)), "val_rmse_dr": math.sqrt(np.mean(err_r)),
            "val_rmse_dv": math.sqrt(np.mean(err_v))}


#: What OGN training reads: the interaction (for the recorded model system), the graph, the width, its
#: variant and the training recipe. ``ogn.training.threads`` and ``checkpoint_every`` (how often resume
#: points are written) and the device are execution settings, not triggers.
READS = reads("system", "ogn.graph_cutoff", "ogn.hidden", "ogn.variants.{variant}", "ogn.training.epochs",
              "ogn.training.frames_per_epoch", "ogn.training.lr", "ogn.training.lr_decay_steps",
              "ogn.training.augmentation", "ogn.training.validation_trajectories", "ogn.training.validation_frames",
              "ogn.training.validate_every")


@dataclasses.dataclass
class OGNRun:
    """One OGN training job: data, samples, network, optimiser, and what it was made from."""

    variant: str
    source: str
    k: int
    cutoff: float
    data: dict
    attrs: dict
    fit: np.ndarray
    val: np.ndarray
    per_epoch: int
    total_steps: int
    model: ognmod.OGN
    opt: torch.optim.Optimizer
    sched: object
    types_t: torch.Tensor
    device: torch.device
    tr: dict
    record: dict


def train_ogn(cfg: dict, variant: str, source: str, train_path: str | Path, output_dir: str | Path,
              threads: int = 1, device: str = "cpu", checkpoint_every: int = 1000) -> dict:
    """Rule ``ogn_train``: one OGN variant on one source's training trajectories → model.pt, metrics.json, loss.csv.

    Resumes from ``checkpoint.pt`` (written every ``checkpoint_every`` steps) only
    if it was made from the same configuration slice and training file.
    """
    cfg = config_slice(cfg, READS, variant=variant)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, int(threads)))
    run = _setup(cfg, variant, source, train_path, resolve_device(device))
    state = _resume(run, out / CHECKPOINT)
    log.info("OGN %s/%s: L=%d k=%d, %d training samples (%d per epoch), %d validation, %d steps, device %s, "
             "%d threads", variant, source, run.model.hyperparameters["layers"], run.k, len(run.fit), run.per_epoch,
             len(run.val), run.total_steps, run.device, threads)
    t0 = time.perf_counter() - state["elapsed"]
    while state["step"] < run.total_steps:
        _epoch(run, state, t0, out / CHECKPOINT, int(checkpoint_every))
    return _finish(run, state, time.perf_counter() - t0, out, threads)


def _setup(cfg: dict, variant: str, source: str, train_path, device) -> OGNRun:
    o, tr = cfg["ogn"], cfg["ogn"]["training"]
    var = _variant(cfg, variant)
    k = int(var["k"])
    data, attrs = trajectories.read_trajectories(train_path)
    n_traj, n_frames = data["positions"].shape[:2]
    n_val = int(tr["validation_trajectories"])
    if n_traj - n_val < 1:
        raise cfgmod.ConfigError("ogn.training.validation_trajectories",
                                 f"{n_val} of {n_traj} trajectories leaves none to train on")
    if n_frames <= k:
        raise cfgmod.ConfigError(f"ogn.variants.{variant}.k", f"k = {k} needs trajectories longer than "
                                                               f"{n_frames - 1} steps")
    fit = sample_index(n_traj - n_val, n_frames, k)
    val_all = sample_index(n_val, n_frames, k) + np.array([n_traj - n_val, 0])
    pick = np.linspace(0, len(val_all) - 1, min(int(tr["validation_frames"]), len(val_all))).round().astype(int)
    per_epoch = len(fit) if tr["frames_per_epoch"] is None else min(int(tr["frames_per_epoch"]), len(fit))
    torch.manual_seed(cfgmod.derive_seed("ogn", variant, source, "init"))
    model = ognmod.OGN(hidden=int(o["hidden"]), layers=int(var["layers"]), k=k).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=float(tr["lr"]))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: learning_rate_factor(s, tr["lr_decay_steps"]))
    return OGNRun(variant, source, k, float(o["graph_cutoff"]), data, attrs, fit, val_all[np.unique(pick)], per_epoch,
                  int(tr["epochs"]) * per_epoch, model, opt, sched,
                  torch.as_tensor(data["types"], dtype=torch.long, device=device), device, tr,
                  provenance(cfg, [train_path], variant=variant, source=source))


def _resume(run: OGNRun, path: Path) -> dict:
    """The saved training state if checkpoint.pt was made from this run's inputs; else a fresh one."""
    fresh = {"step": 0, "rows": [], "best": math.inf, "best_state": None, "elapsed": 0.0}
    if not path.exists():
        return fresh
    try:
        ck = torch.load(path, map_location=run.device, weights_only=True)
    except Exception as exc:  # an unreadable checkpoint only costs the work since it
        log.warning("OGN %s/%s: ignoring unreadable checkpoint %s (%s)", run.variant, run.source, path, exc)
        return fresh
    if ck.get("fingerprint") != fingerprint(run.record):
        changed = differences(ck.get("provenance"), run.record)
        log.warning("%s was made from other inputs (%s differ): discarded, starting from scratch", path,
                    ", ".join(changed[:8]))
        path.unlink()
        return fresh
    run.model.load_state_dict(ck["model"])
    run.opt.load_state_dict(ck["optimizer"])
    run.sched.load_state_dict(ck["scheduler"])
    log.info("OGN %s/%s: resuming at step %d of %d", run.variant, run.source, ck["step"], run.total_steps)
    return {k: ck[k] for k in fresh}


def _epoch(run: OGNRun, state: dict, t0: float, ck_path: Path, checkpoint_every: int) -> None:
    """The rest of the current epoch: one sample per optimiser step, validation and resume points on the way."""
    symmetries = ognmod.cubic_symmetries()
    epoch, first = divmod(state["step"], run.per_epoch)
    rng = np.random.default_rng(cfgmod.derive_seed("ogn", run.variant, run.source, "epoch", epoch))
    order = rng.permutation(len(run.fit))[:run.per_epoch]
    gs = rng.integers(0, len(symmetries), size=run.per_epoch)
    running = []
    run.model.train()
    for i in range(first, run.per_epoch):
        traj, t = run.fit[order[i]]
        g = symmetries[gs[i]] if run.tr["augmentation"] else None
        v, ei, ev, target = _sample(run.data, run.data["box"], int(traj), int(t), run.k, g, run.cutoff, run.device)
        run.model.observe(v, ev, target)
        loss = torch.mean((run.model(run.types_t, v, ei, ev) - run.model.target_stats.normalize(target)) ** 2)
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        run.opt.step()
        run.sched.step()
        state["step"] += 1
        running.append(loss.item())
        last = state["step"] == run.total_steps
        if state["step"] % int(run.tr["validate_every"]) == 0 or last:
            _record_validation(run, state, float(np.mean(running)), time.perf_counter() - t0)
            running = []
        if state["step"] % checkpoint_every == 0 and not last:
            _save_checkpoint(run, state, ck_path, time.perf_counter() - t0)
        if last:
            return


def _record_validation(run: OGNRun, state: dict, train_loss: float, elapsed: float) -> None:
    m = _validate(run.model, run.data, run.data["box"], run.types_t, run.val, run.k, run.cutoff, run.device)
    state["rows"].append({"step": state["step"], "epoch": state["step"] / run.per_epoch, "train_loss": train_loss,
                          "lr": run.opt.param_groups[0]["lr"], "elapsed_s": elapsed, **m})
    log.info("step %d/%d  train %.4g  val %.4g  rmse dr %.3g dv %.3g  (%.0f s)", state["step"], run.total_steps,
             train_loss, m["val_loss"], m["val_rmse_dr"], m["val_rmse_dv"], elapsed)
    if m["val_loss"] < state["best"]:
        state["best"] = m["val_loss"]
        state["best_state"] = {kk: vv.detach().cpu().clone() for kk, vv in run.model.state_dict().items()}


def _save_checkpoint(run: OGNRun, state: dict, path: Path, elapsed: float) -> None:
    with storage.atomic_path(path) as tmp:
        torch.save({"fingerprint": fingerprint(run.record), "provenance": run.record, "model": run.model.state_dict(),
                    "optimizer": run.opt.state_dict(), "scheduler": run.sched.state_dict(), **state,
                    "elapsed": elapsed}, tmp)


def _finish(run: OGNRun, state: dict, wall: float, out: Path, threads: int) -> dict:
    """model.pt (the state of lowest validation loss), metrics.json, loss.csv; then remove checkpoint.pt."""
    if state["best_state"] is not None:
        run.model.load_state_dict(state["best_state"])
    rows = state["rows"]
    best_row = min(rows, key=lambda r: r["val_loss"]) if rows else {}
    meta = {"variant": run.variant, "source": run.source, "k": run.k, "layers": run.model.hyperparameters["layers"],
            "graph_cutoff": run.cutoff, "timestep": float(run.attrs["timestep"]),
            "T": float(run.attrs.get("T_target", float("nan"))), "n_particles": int(len(run.data["types"])),
            "system": potential.pair_table(run.record["config"]["system"]).as_dict(), "steps": state["step"],
            "selected_step": best_row.get("step")}
    save_model(out / "model.pt", run.model, dict(meta, provenance=run.record))
    metrics = {**meta, "training_wall_s": wall, "training_samples": len(run.fit), "validation_samples": len(run.val),
               "epochs": run.tr["epochs"], "frames_per_epoch": run.per_epoch, "threads": threads,
               "device": str(run.device), "best": best_row, "final": rows[-1] if rows else {},
               "provenance": run.record}
    storage.write_json(out / "metrics.json", metrics)
    storage.write_csv(out / "loss.csv", pd.DataFrame(rows))
    (out / CHECKPOINT).unlink(missing_ok=True)
    return metrics


