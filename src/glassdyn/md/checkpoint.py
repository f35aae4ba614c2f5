"""Restart segments of long MD runs: where runs are cut, and the checkpoint each cut writes.

Long runs proceed in *segments* (:func:`segment_steps`, also cut at every
sampling step). Every segment boundary writes a :class:`Checkpoint` (LAMMPS
restart file + an HDF5 sidecar with the step, stage, thermo so far, the
restart's SHA-256 and the fingerprint of what the run reads), and every
segment — in an uninterrupted run as well as after a kill — starts by
re-reading that checkpoint into a fresh LAMMPS state. Both paths execute
the same operations in the same order, so a resumed job ends bit-identical
to an uninterrupted one (for the same MPI ranks and OpenMP threads).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from glassdyn.io import storage
from glassdyn.io.storage import StorageError
from glassdyn.md.engine import Engine

log = logging.getLogger(__name__)


class CheckpointError(StorageError):
    """A checkpoint is truncated or inconsistent; the message says which file and what to do."""


def segment_steps(cfg: dict) -> int:
    """MD steps per restart segment: max(1, int(segment_walltime · atom_steps_per_second / N)).

    A function of the configuration only (not of the machine), so every run
    of a job, interrupted or not, cuts at the same steps.
    """
    p = cfg["protocol"]
    return max(1, int(p["segment_walltime"] * p["atom_steps_per_second"] / cfg["system"]["n_particles"]))


def segment_ends(start: int, stop: int, every: int, cuts: Iterable[int] = ()) -> list[int]:
    """Sorted segment boundaries in (start, stop]: start + k·every, the cuts, and stop."""
    ends = set(range(start + every, stop, every)) | {int(c) for c in cuts if start < c < stop} | {stop}
    return sorted(ends)


def thermo_steps(start: int, stop: int, every: int, extra: Iterable[int] = ()) -> list[int]:
    """Steps in (start, stop] where thermo is recorded: multiples of ``every`` plus ``extra``."""
    first = (start // every + 1) * every
    return sorted(set(range(first, stop + 1, every)) | {int(e) for e in extra if start < e <= stop})


# =========================================================================== checkpoints
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(obj: Any) -> str:
    """SHA-256 of a JSON-able description of everything a trajectory depends on."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class CheckpointState:
    """What a checkpoint holds besides the LAMMPS restart file."""

    step: int
    stage: str
    restart: Path
    thermo: list = field(default_factory=list)  # rows (step, etotal, pe, ke, temp)
    frames: list = field(default_factory=list)  # sampled unwrapped positions (N,3)
    extra: dict = field(default_factory=dict)


class Checkpoint:
    """A restart segment in ``folder``: ``step-<n>.restart`` (LAMMPS, with the
    Nosé–Hoover state) and ``state.h5`` (step, stage, thermo and frames so far,
    SHA-256 of the restart file, fingerprint of the inputs).

    Writes are atomic and ordered (restart renamed into place, then the sidecar
    that names it, then older restarts removed), so a SIGKILL at any moment
    leaves the previous or the new checkpoint, never a mix.
    """

    def __init__(self, folder: str | Path, fingerprint: str):
        self.folder = Path(folder)
        self.fingerprint = fingerprint
        self.state_path = self.folder / "state.h5"

    def _refuse(self, what: str) -> CheckpointError:
        return CheckpointError(self.state_path, f"{what}. Delete the folder {self.folder} to restart this job "
                                                f"from its beginning (completed outputs are kept).")

    def exists(self) -> bool:
        return self.state_path.exists()

    def load(self, max_step: int, sample_steps: Sequence[int] = ()) -> CheckpointState | None:
        """The saved state, None if there is none or it belongs to other inputs (then it is removed).

        Raises :class:`CheckpointError` if the sidecar or restart is truncated
        or the recorded step is inconsistent with the run.
        """
        if not self.exists():
            return None
        try:
            data, attrs = storage.read_h5(self.state_path)
        except StorageError as exc:
            raise self._refuse(f"checkpoint sidecar is unreadable ({exc})") from exc
        if attrs.get("fingerprint") != self.fingerprint:
            log.warning("%s belongs to other inputs (configuration or equilibrated frame changed); discarding it",
                        self.folder)
            self.state_path.unlink()  # first, so a kill during the removal leaves no half checkpoint
            shutil.rmtree(self.folder)
            return None
        step = int(attrs["step"])
        restart = self.folder / str(attrs["restart"])
        if not restart.exists():
            raise self._refuse(f"restart file {restart.name} named by the checkpoint is missing")
        if restart.stat().st_size != int(attrs["restart_size"]) or _sha256(restart) != attrs["restart_sha256"]:
            raise self._refuse(f"restart file {restart} is truncated or altered (size/SHA-256 differ from the "
                               f"recorded {attrs['restart_size']} bytes)")
        if not 0 <= step <= max_step:
            raise self._refuse(f"checkpoint step {step} is outside this run (0..{max_step})")
        thermo = [tuple(r) for r in np.asarray(data.get("thermo", np.zeros((0, 5))))]
        th_steps = [int(r[0]) for r in thermo]
        if th_steps != sorted(set(th_steps)) or (th_steps and th_steps[-1] > step):
            raise self._refuse(f"checkpoint step {step} is inconsistent with its thermo records (steps "
                               f"{th_steps[:1]}..{th_steps[-1:]})")
        frames = list(np.asarray(data["frames"])) if "frames" in data else []
        n_expected = sum(1 for s in sample_steps if s <= step)
        if sample_steps and len(frames) != n_expected:
            raise self._refuse(f"checkpoint at step {step} holds {len(frames)} sampled frames, expected {n_expected}")
        extra = {k[len("extra/"):]: v for k, v in data.items() if k.startswith("extra/")}
        return CheckpointState(step, str(attrs["stage"]), restart, thermo, frames, extra)

    def verify_restart_step(self, state: CheckpointState, lammps_step: int) -> None:
        if lammps_step != state.step:
            raise self._refuse(f"restart file {state.restart.name} is at step {lammps_step} but the checkpoint "
                               f"records step {state.step}")

    def save(self, eng: Engine, par_rank: int, state: CheckpointState) -> CheckpointState:
        """Write ``eng``'s state as the checkpoint at ``state.step`` (collective; rank 0 writes)."""
        final = self.folder / f"step-{state.step:012d}.restart"
        tmp = self.folder / f".step-{state.step:012d}.restart.tmp"
        if par_rank == 0:
            self.folder.mkdir(parents=True, exist_ok=True)
        eng.write_restart(tmp)  # collective; LAMMPS' rank 0 (= our rank 0) writes the file
        if par_rank == 0:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, final)
            datasets: dict[str, Any] = {"thermo": np.asarray(state.thermo, dtype=float).reshape(-1, 5)}
            if state.frames:
                datasets["frames"] = np.stack(state.frames)
            for k, v in state.extra.items():
                datasets[f"extra/{k}"] = v
            storage.write_h5(self.state_path, datasets, {
                "fingerprint": self.fingerprint, "step": int(state.step), "stage": state.stage,
                "restart": final.name, "restart_size": final.stat().st_size, "restart_sha256": _sha256(final)})
            for old in self.folder.glob("step-*.restart"):
                if old != final:
                    old.unlink()
        state.restart = final
        return state

    def remove(self) -> None:
        _remove_tree(self.folder)


def _remove_tree(folder: Path) -> None:
    """Delete a checkpoint folder and its parent ``checkpoints/`` if that is left empty."""
    if folder.exists():
        shutil.rmtree(folder)
    parent = folder.parent
    if parent.name == "checkpoints" and parent.exists() and not any(parent.iterdir()):
        parent.rmdir()
