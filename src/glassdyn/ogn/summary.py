"""Rule ``ogn_summary``: one table of every OGN rollout, beside Liu et al.'s numbers."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from glassdyn.config.slices import config_slice, reads
from glassdyn.io import storage
from glassdyn.physics.thermodynamics import relative_energy_change

#: What the summary reads: Liu et al.'s numbers, set beside the matching source.
READS = reads("ogn.reference")


def summarize_rollouts(cfg: dict, rollout_csvs: list[str | Path], metrics_files: list[str | Path],
                       output_csv: str | Path) -> "pd.DataFrame":  # noqa: F821
    """One row per (variant, source, engine): RMSEs at the last rollout step, relative energy drift,
    final |P|/N, training time; with Liu et al.'s numbers beside the matching source."""
    cfg = config_slice(cfg, READS)
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
            paper = source == ref.get("source") and engine == "ogn"  # Liu et al.'s numbers beside their source
            rows.append({
                "variant": variant, "source": source, "engine": engine, "k": int(g.k.iloc[0]), "steps": last,
                "trajectories": int(g.trajectory.nunique()),
                "rmse_position": float(end.rmse_position.mean()), "rmse_velocity": float(end.rmse_velocity.mean()),
                "relative_energy_change": float(np.mean(relative_energy_change(e0, e1))),
                "momentum_per_particle": float(np.mean(np.sqrt(end.px ** 2 + end.py ** 2 + end.pz ** 2))),
                "paper_rmse_position": ref.get("position_rmse") if paper else None,
                "paper_rmse_velocity": ref.get("velocity_rmse") if paper else None,
                "paper_steps": ref.get("steps") if paper else None,
                "training_steps": m.get("steps"), "training_wall_s": m.get("training_wall_s"),
                "val_rmse_dr": (m.get("best") or {}).get("val_rmse_dr"),
                "val_rmse_dv": (m.get("best") or {}).get("val_rmse_dv"),
            })
    frame = pd.DataFrame(rows)
    storage.write_csv(output_csv, frame)
    return frame
