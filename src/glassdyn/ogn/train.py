"""Training and rollout evaluation of the OGN learned simulator (SCIENCE.md §6).

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

Rollout (:func:`evaluate_rollout`). From frame 0 of each test trajectory the
network is iterated n = steps/k times (graph rebuilt every step), and
compared at MD steps 0, k, 2k, … with (i) the recorded MD at Δt, (ii) a
fresh LAMMPS run of the same initial state at time step k·Δt and (iii) free
flight r₀ + v₀t, v = v₀ (no forces: the baseline a learned simulator must beat). Per frame:
position and velocity RMSE against MD at Δt (per Cartesian component,
RMSE_r = sqrt(⟨(r̂ − r)²⟩) over atoms and x, y, z), the MSD ⟨|r(t) − r(0)|²⟩,
kinetic, potential (KA potential on the predicted state,
:mod:`glassdyn.potential`) and total energy per particle, and the total
momentum per particle P/N = (m/N) Σ v (columns px, py, pz).
"""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch

from glassdyn import config as cfgmod
from glassdyn.io import storage
from glassdyn.md.engine import Engine
from glassdyn.models import ogn as ognmod
from glassdyn.models.files import read_model_file, save_model_file
from glassdyn.models.device import resolve_device
from glassdyn.ogn import trajectories
from glassdyn.physics import potential
from glassdyn.physics.graphs import build_graph
from glassdyn.physics.neighbors import wrap
from glassdyn.physics.protocol import box_vector
from glassdyn.physics.thermodynamics import relative_energy_change

log = logging.getLogger("glassdyn.simulator")

ENGINES = ("md", "ogn", "md_coarse", "free_flight")
ROLLOUT_COLUMNS = ["variant", "source", "k", "trajectory", "engine", "step", "time", "rmse_position",
                   "rmse_velocity", "msd", "kinetic", "potential", "total_energy", "px", "py", "pz"]


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


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    """sqrt of the mean over atoms and Cartesian components of (a − b)²."""
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


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


def train_ogn(cfg: dict, variant: str, source: str, train_path: str | Path, output_dir: str | Path,
              threads: int = 1) -> dict:
    """Train one OGN variant on one source's training trajectories; writes model.pt, metrics.json, loss.csv."""
    import pandas as pd

    o = cfg["ogn"]
    tr = o["training"]
    var = _variant(cfg, variant)
    k, cutoff = int(var["k"]), float(o["graph_cutoff"])
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, int(threads)))
    device = resolve_device(cfg.get("training", {}).get("device", "cpu"))
    data, attrs = trajectories.read_trajectories(train_path)
    box = data["box"]
    n_traj, n_frames = data["positions"].shape[:2]
    n_val = int(tr["validation_trajectories"])
    if n_traj - n_val < 1:
        raise cfgmod.ConfigError("ogn.training.validation_trajectories",
                                 f"{n_val} of {n_traj} trajectories leaves none to train on")
    if n_frames <= k:
        raise cfgmod.ConfigError(f"ogn.variants.{variant}.k", f"k = {k} needs trajectories longer than {n_frames - 1} steps")
    fit = sample_index(n_traj - n_val, n_frames, k)
    val_all = sample_index(n_val, n_frames, k) + np.array([n_traj - n_val, 0])
    pick = np.linspace(0, len(val_all) - 1, min(int(tr["validation_frames"]), len(val_all))).round().astype(int)
    val = val_all[np.unique(pick)]
    per_epoch = len(fit) if tr["frames_per_epoch"] is None else min(int(tr["frames_per_epoch"]), len(fit))
    total_steps = int(tr["epochs"]) * per_epoch
    symmetries = ognmod.cubic_symmetries()

    torch.manual_seed(cfgmod.derive_seed("ogn", variant, source, "init"))
    model = ognmod.OGN(hidden=int(o["hidden"]), layers=int(var["layers"]), k=k).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=float(tr["lr"]))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: learning_rate_factor(s, tr["lr_decay_steps"]))
    types_t = torch.as_tensor(data["types"], dtype=torch.long, device=device)

    ckpt_path = out / "checkpoint.pt"
    step, rows, best, best_state, elapsed0 = 0, [], math.inf, None, 0.0
    if ckpt_path.exists():
        try:
            ck = torch.load(ckpt_path, map_location=device, weights_only=True)
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            sched.load_state_dict(ck["scheduler"])
            step, rows, best, best_state, elapsed0 = ck["step"], ck["rows"], ck["best"], ck["best_state"], ck["elapsed"]
            log.info("OGN %s/%s: resuming at step %d of %d", variant, source, step, total_steps)
        except Exception as exc:  # noqa: BLE001  an unreadable checkpoint only costs the work since it
            log.warning("OGN %s/%s: ignoring unreadable checkpoint %s (%s)", variant, source, ckpt_path, exc)
            step = 0
    log.info("OGN %s/%s: L=%d k=%d, %d training samples (%d per epoch), %d validation, %d steps, device %s, %d threads",
             variant, source, var["layers"], k, len(fit), per_epoch, len(val), total_steps, device, threads)

    t0 = time.perf_counter() - elapsed0
    running, n_running = 0.0, 0
    model.train()
    while step < total_steps:
        epoch, pos_in_epoch = divmod(step, per_epoch)
        rng = np.random.default_rng(cfgmod.derive_seed("ogn", variant, source, "epoch", epoch))
        order = rng.permutation(len(fit))[:per_epoch]
        gs = rng.integers(0, len(symmetries), size=per_epoch)
        for i in range(pos_in_epoch, per_epoch):
            traj, t = fit[order[i]]
            g = symmetries[gs[i]] if tr["augmentation"] else None
            v, ei, ev, target = _sample(data, box, int(traj), int(t), k, g, cutoff, device)
            model.observe(v, ev, target)
            loss = torch.mean((model(types_t, v, ei, ev) - model.target_stats.normalize(target)) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            running += loss.item()
            n_running += 1
            last = step == total_steps
            if step % int(tr["validate_every"]) == 0 or last:
                m = _validate(model, data, box, types_t, val, k, cutoff, device)
                rows.append({"step": step, "epoch": step / per_epoch, "train_loss": running / n_running,
                             "lr": opt.param_groups[0]["lr"], "elapsed_s": time.perf_counter() - t0, **m})
                running, n_running = 0.0, 0
                log.info("step %d/%d  train %.4g  val %.4g  rmse dr %.3g dv %.3g  (%.0f s)", step, total_steps,
                         rows[-1]["train_loss"], m["val_loss"], m["val_rmse_dr"], m["val_rmse_dv"], rows[-1]["elapsed_s"])
                if m["val_loss"] < best:
                    best = m["val_loss"]
                    best_state = {kk: vv.detach().cpu().clone() for kk, vv in model.state_dict().items()}
            if step % int(tr["checkpoint_every"]) == 0 and not last:
                with storage.atomic_path(ckpt_path) as tmp:
                    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                                "step": step, "rows": rows, "best": best, "best_state": best_state,
                                "elapsed": time.perf_counter() - t0}, tmp)
            if last:
                break
    wall = time.perf_counter() - t0
    if best_state is not None:
        model.load_state_dict(best_state)
    best_row = min(rows, key=lambda r: r["val_loss"]) if rows else {}
    meta = {"variant": variant, "source": source, "k": k, "layers": int(var["layers"]), "graph_cutoff": cutoff,
            "timestep": float(attrs["timestep"]), "T": float(attrs.get("T_target", float("nan"))),
            "n_particles": int(len(data["types"])), "system": potential.pair_table(cfg["system"]).as_dict(),
            "steps": step, "selected_step": best_row.get("step")}
    save_model(out / "model.pt", model, meta)
    metrics = {**meta, "training_wall_s": wall, "training_samples": len(fit), "validation_samples": len(val),
               "epochs": tr["epochs"], "frames_per_epoch": per_epoch, "threads": threads, "device": str(device),
               "best": best_row, "final": rows[-1] if rows else {}}
    storage.write_json(out / "metrics.json", metrics)
    storage.write_csv(out / "loss.csv", pd.DataFrame(rows))
    if ckpt_path.exists():
        ckpt_path.unlink()
    return metrics


# ----------------------------------------------------------------------------- rollout
@torch.no_grad()
def rollout(model: ognmod.OGN, types: np.ndarray, box: np.ndarray, positions: np.ndarray, velocities: np.ndarray,
            n_steps: int, cutoff: float, device="cpu") -> tuple[np.ndarray, np.ndarray]:
    """Iterate the network ``n_steps`` times from (positions, velocities); each step advances k MD steps.

    Returns unwrapped positions and velocities (n_steps + 1, N, 3), frame 0 the input.
    States are accumulated in float64; the graph is rebuilt from the wrapped positions every step.
    """
    types_t = torch.as_tensor(types, dtype=torch.long, device=device)
    pos = [np.asarray(positions, np.float64)]
    vel = [np.asarray(velocities, np.float64)]
    for _ in range(n_steps):
        ei, ev = graph_tensors(wrap(pos[-1], box), box, cutoff, device)
        y = model.predict(types_t, torch.as_tensor(vel[-1], dtype=torch.float32, device=device), ei, ev)
        y = y.cpu().numpy().astype(np.float64)
        pos.append(pos[-1] + y[:, :3])
        vel.append(vel[-1] + y[:, 3:])
    return np.stack(pos), np.stack(vel)


def md_rollout(system_cfg: dict, types: np.ndarray, positions: np.ndarray, velocities: np.ndarray,
               timestep: float, n_steps: int) -> tuple[np.ndarray, np.ndarray, str | None]:
    """LAMMPS NVE from the same state at ``timestep`` for ``n_steps`` steps (velocity Verlet).

    Returns positions, velocities (n_steps + 1, N, 3) and an error text if LAMMPS stopped
    (a too-long time step can blow up); frames after a failure are NaN.
    """
    sysc = {"system": dict(system_cfg, timestep=float(timestep))}
    box = box_vector(sysc)
    n = len(types)
    pos = np.full((n_steps + 1, n, 3), np.nan)
    vel = np.full((n_steps + 1, n, 3), np.nan)
    xw = wrap(positions, box)
    shift = np.round((positions - xw) / box) * box
    eng = Engine(sysc)
    error = None
    try:
        eng.create(xw, types, velocities)
        eng.command("fix integrate all nve")
        eng.run(0, pre=True)
        pos[0], vel[0] = eng.unwrapped_positions() + shift, eng.velocities()
        for s in range(1, n_steps + 1):
            eng.run(1, pre=False)
            pos[s], vel[s] = eng.unwrapped_positions() + shift, eng.velocities()
    except Exception as exc:  # noqa: BLE001  LAMMPS raises a generic Exception on lost atoms etc.
        error = str(exc)
        log.warning("MD at dt=%g stopped: %s", timestep, error)
    finally:
        eng.close()
    return pos, vel, error


def frame_observables(positions: np.ndarray, velocities: np.ndarray, ref_positions: np.ndarray,
                      ref_velocities: np.ndarray, types: np.ndarray, box: np.ndarray,
                      table: potential.PairTable) -> list[dict]:
    """Per frame: RMSE of r and v against the reference, MSD, energies per particle, momentum."""
    n = len(types)
    rows = []
    for f in range(len(positions)):
        x, v = positions[f], velocities[f]
        row = {"rmse_position": rmse(x, ref_positions[f]), "rmse_velocity": rmse(v, ref_velocities[f]),
               "msd": float(np.mean(np.sum((x - positions[0]) ** 2, axis=-1)))}
        if np.all(np.isfinite(x)) and np.all(np.isfinite(v)):
            ke = float(potential.kinetic_energy(v, table.mass)) / n
            pe = potential.potential_energy(wrap(x, box), types, box, table) / n
            p = potential.total_momentum(v, table.mass) / n
        else:
            ke = pe = math.nan
            p = np.full(3, math.nan)
        row.update(kinetic=ke, potential=pe, total_energy=ke + pe, px=float(p[0]), py=float(p[1]), pz=float(p[2]))
        rows.append(row)
    return rows


def evaluate_rollout(cfg: dict, model_path: str | Path, test_path: str | Path, output_csv: str | Path,
                     output_png: str | Path, threads: int = 1) -> "pd.DataFrame":  # noqa: F821
    """Roll the model out from each test trajectory and compare with MD at Δt and at k·Δt."""
    import pandas as pd

    torch.set_num_threads(max(1, int(threads)))
    ro = cfg["ogn"]["rollout"]
    model, meta = load_ogn(model_path)
    k = int(meta["k"])
    n_md = int(ro["steps"])
    if n_md % k:
        raise cfgmod.ConfigError("ogn.rollout.steps", f"{n_md} is not a multiple of k = {k}")
    data, attrs = trajectories.read_trajectories(test_path)
    types, box = data["types"], data["box"]
    if data["positions"].shape[1] - 1 < n_md:
        raise storage.StorageError(test_path, f"test trajectories have {data['positions'].shape[1] - 1} steps, "
                                              f"the rollout needs {n_md}; rerun the trajectory rule")
    dt = float(attrs["timestep"])
    table = potential.pair_table(cfg["system"])
    system_cfg = dict(cfg["system"], n_particles=len(types), density=len(types) / float(np.prod(box)))
    n_traj = min(int(ro["trajectories"]), data["positions"].shape[0])
    rows = []
    errors = {}
    for r in range(n_traj):
        md_pos = data["positions"][r, : n_md + 1 : k]
        md_vel = data["velocities"][r, : n_md + 1 : k]
        t0 = time.perf_counter()
        og_pos, og_vel = rollout(model, types, box, md_pos[0], md_vel[0], n_md // k, float(meta["graph_cutoff"]))
        wall = time.perf_counter() - t0
        engines = {"md": (md_pos, md_vel), "ogn": (og_pos, og_vel)}
        # the baseline a learned simulator must beat: straight lines at the initial velocities
        times = (np.arange(n_md // k + 1) * k * dt)[:, None, None]
        engines["free_flight"] = (md_pos[0] + md_vel[0] * times, np.broadcast_to(md_vel[0], md_vel.shape).copy())
        if k > 1:
            c_pos, c_vel, err = md_rollout(system_cfg, types, md_pos[0], md_vel[0], k * dt, n_md // k)
            engines["md_coarse"] = (c_pos, c_vel)
            if err:
                errors[r] = err
        for name, (p, v) in engines.items():
            for m, obs in enumerate(frame_observables(p, v, md_pos, md_vel, types, box, table)):
                rows.append({"variant": meta["variant"], "source": meta["source"], "k": k, "trajectory": r,
                             "engine": name, "step": m * k, "time": m * k * dt, **obs})
        log.info("rollout %s/%s traj %d: %d network steps in %.2f s; final RMSE r %.4f v %.4f", meta["variant"],
                 meta["source"], r, n_md // k, wall, rmse(og_pos[-1], md_pos[-1]), rmse(og_vel[-1], md_vel[-1]))
    frame = pd.DataFrame(rows, columns=ROLLOUT_COLUMNS)
    storage.write_csv(output_csv, frame)
    plot_rollout(frame, output_png, meta, dt, errors, cfg["ogn"].get("reference"))
    return frame


def plot_rollout(frame, output_png: str | Path, meta: dict, dt: float, errors: dict, reference: dict | None) -> Path:
    """Six panels vs MD steps: RMSE of r and v, MSD, total energy, kinetic energy and |P| per particle."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = int(meta["k"])
    labels = {"md": f"MD, Δt = {dt:g}", "ogn": f"{meta['variant']} (L = {meta['layers']}, k = {k})",
              "md_coarse": f"MD, k·Δt = {k * dt:g}", "free_flight": "free flight (r₀ + v₀t)"}
    colors = {"md": "black", "ogn": "tab:red", "md_coarse": "tab:orange", "free_flight": "tab:gray"}
    mean = frame.groupby(["engine", "step"]).mean(numeric_only=True).reset_index()
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    # (column, title, y scale); a blown-up coarse MD spans many decades, hence log/symlog axes
    panels = [("rmse_position", "position RMSE vs MD at Δt (σ)", "log"),
              ("rmse_velocity", "velocity RMSE vs MD at Δt (σ/τ)", "log"), ("msd", "MSD (σ²)", "log"),
              ("dE", "total energy change E(t) − E(0), per particle (ε)", "symlog"),
              ("kinetic", "kinetic energy per particle (ε)", "log"), ("P", "|P| / N (m σ/τ)", "symlog")]
    for ax, (col, title, scale) in zip(axes.ravel(), panels):
        for eng in ENGINES:
            sub = mean[mean.engine == eng]
            if sub.empty or (col.startswith("rmse") and eng == "md"):
                continue
            if col == "P":
                y = np.sqrt(sub.px ** 2 + sub.py ** 2 + sub.pz ** 2)
            elif col == "dE":
                y = sub.total_energy - sub.total_energy.iloc[0]
            else:
                y = sub[col]
            keep = (sub.step > 0) if scale == "log" else np.ones(len(sub), bool)
            ax.plot(sub.step[keep], np.asarray(y)[keep], color=colors[eng], label=labels[eng],
                    marker="." if eng in ("ogn", "md_coarse") else None, ls=":" if eng == "free_flight" else "-")
        if reference and col in ("rmse_position", "rmse_velocity") and meta["source"] == reference.get("source"):
            ax.plot([reference["steps"]], [reference[col.replace("rmse_", "") + "_rmse"]], "k*", ms=12,
                    label=f"Liu et al. ({reference['steps']} steps)")
        if scale == "symlog":
            ax.set_yscale("symlog", linthresh=1e-3)
        else:
            ax.set_yscale(scale)
        ax.set_xlabel("MD steps")
        ax.set_title(title)
    axes[0, 0].legend(fontsize=8)
    title = f"{meta['variant']} on {meta['source']}: rollout vs MD (mean of {frame.trajectory.nunique()} test trajectories)"
    if errors:
        title += f"; MD at k·Δt stopped in {len(errors)} run(s)"
    fig.suptitle(title)
    fig.tight_layout()
    with storage.atomic_path(output_png) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return Path(output_png)


def summarize_rollouts(cfg: dict, rollout_csvs: list[str | Path], metrics_files: list[str | Path],
                       output_csv: str | Path) -> "pd.DataFrame":  # noqa: F821
    """One row per (variant, source, engine): RMSEs at the last rollout step, relative energy drift,
    final |P|/N, training time; with Liu et al.'s numbers beside the matching source."""
    import pandas as pd

    ref = cfg["ogn"].get("reference") or {}
    metrics = {}
    for p in metrics_files:
        m = json.loads(Path(p).read_text())
        metrics[(m["variant"], m["source"])] = m
    rows = []
    for p in rollout_csvs:
        f = pd.read_csv(p)
        last = int(f.step.max())
        for (variant, source, engine), g in f.groupby(["variant", "source", "engine"]):
            if engine == "md":
                continue
            end = g[g.step == last]
            start = g[g.step == 0]
            e0 = start.total_energy.to_numpy()
            e1 = end.total_energy.to_numpy()
            m = metrics.get((variant, source), {})
            rows.append({
                "variant": variant, "source": source, "engine": engine, "k": int(g.k.iloc[0]), "steps": last,
                "trajectories": int(g.trajectory.nunique()),
                "rmse_position": float(end.rmse_position.mean()), "rmse_velocity": float(end.rmse_velocity.mean()),
                "relative_energy_change": float(np.mean(relative_energy_change(e0, e1))),
                "momentum_per_particle": float(np.mean(np.sqrt(end.px ** 2 + end.py ** 2 + end.pz ** 2))),
                "paper_rmse_position": ref.get("position_rmse") if source == ref.get("source") and engine == "ogn" else None,
                "paper_rmse_velocity": ref.get("velocity_rmse") if source == ref.get("source") and engine == "ogn" else None,
                "paper_steps": ref.get("steps") if source == ref.get("source") and engine == "ogn" else None,
                "training_steps": m.get("steps"), "training_wall_s": m.get("training_wall_s"),
                "val_rmse_dr": (m.get("best") or {}).get("val_rmse_dr"), "val_rmse_dv": (m.get("best") or {}).get("val_rmse_dv"),
            })
    frame = pd.DataFrame(rows)
    storage.write_csv(output_csv, frame)
    return frame
