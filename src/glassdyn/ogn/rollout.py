"""Rule ``ogn_rollout``: a trained OGN rolled out against MD (SCIENCE.md §6).

From frame 0 of each test trajectory the network is iterated n = steps/k
times (graph rebuilt every step), and compared at MD steps 0, k, 2k, … with
(i) the recorded MD at Δt, (ii) a fresh LAMMPS run of the same initial state
at time step k·Δt and (iii) free flight r₀ + v₀t, v = v₀ (no forces: the
baseline a learned simulator must beat). Per frame: position and velocity
RMSE against MD at Δt (per Cartesian component, RMSE_r = sqrt(⟨(r̂ − r)²⟩)
over atoms and x, y, z), the MSD ⟨|r(t) − r(0)|²⟩, kinetic, potential (KA
potential on the predicted state, :mod:`glassdyn.physics.potential`) and
total energy per particle, and the total momentum per particle
P/N = (m/N) Σ v (columns px, py, pz).
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import torch

from glassdyn import config as cfgmod
from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.md.engine import Engine
from glassdyn.models import ogn as ognmod
from glassdyn.ogn import trajectories
from glassdyn.ogn.train import graph_tensors, load_ogn
from glassdyn.physics import potential
from glassdyn.physics.neighbors import wrap
from glassdyn.physics.protocol import box_vector

log = logging.getLogger(__name__)


ENGINES = ("md", "ogn", "md_coarse", "free_flight")


ROLLOUT_COLUMNS = ["variant", "source", "k", "trajectory", "engine", "step", "time", "rmse_position",
                   "rmse_velocity", "msd", "kinetic", "potential", "total_energy", "px", "py", "pz"]


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


#: What a rollout reads: the interaction (energies of predicted states), the rollout length and count,
#: and the paper's reference numbers (drawn in the figure).
READS = reads("system", "ogn.rollout", "ogn.reference")


def evaluate_rollout(cfg: dict, model_path: str | Path, test_path: str | Path, output_csv: str | Path,
                     output_png: str | Path, threads: int = 1) -> "pd.DataFrame":  # noqa: F821
    """Roll the model out from each test trajectory and compare with MD at Δt and at k·Δt."""
    cfg = config_slice(cfg, READS)
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
    title = (f"{meta['variant']} on {meta['source']}: rollout vs MD "
             f"(mean of {frame.trajectory.nunique()} test trajectories)")
    if errors:
        title += f"; MD at k·Δt stopped in {len(errors)} run(s)"
    fig.suptitle(title)
    fig.tight_layout()
    with storage.atomic_path(output_png) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return Path(output_png)


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    """sqrt of the mean over atoms and Cartesian components of (a − b)²."""
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))
