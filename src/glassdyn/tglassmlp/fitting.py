"""Fitting one tGlassMLP network: losses (MSE, then the GlassMLP loss), the Adam schedule, self-consistent
prediction, member files."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from glassdyn.models import tglassmlp as net
from glassdyn.models.files import read_model_file, save_model_file
from glassdyn.physics.correlation import pearson
from glassdyn.tglassmlp.data import Batch, Standardization


# =========================================================================== training
def loss_weights(tc: dict) -> dict:
    """The phase-2 loss weights with the variance floor (``tglassmlp.loss``)."""
    return {**tc["loss"]["weights"], "variance_floor": float(tc["loss"]["variance_floor"])}


def build_model(n_descriptors: int, network: dict) -> net.TGlassMLP:
    return net.TGlassMLP(n_descriptors, mlp1=tuple(network["mlp1"]), mlp2=tuple(network["mlp2"]),
                         mlp2_out=int(network["mlp2_out"]), bottleneck=int(network["bottleneck"]),
                         hidden=tuple(network["hidden"]))


def loss_of(pred: torch.Tensor, b: Batch, phase: str, weights: dict) -> torch.Tensor:
    """Phase 'mse': the MSE; phase 'glassmlp': the GlassMLP loss with the batch's pairs."""
    if phase == "mse":
        return net.mse_loss(pred, b.y)
    return net.glassmlp_loss(pred, b.y, b.pairs, weights, weights.get("variance_floor", 0.0))


def batch_loss(model: net.TGlassMLP, b: Batch, phase: str, weights: dict) -> torch.Tensor:
    return loss_of(model(b.x, b.state), b, phase, weights)


def score(model: net.TGlassMLP, batches: list[Batch], phase: str, weights: dict) -> tuple[float, float]:
    """(mean loss, mean Pearson over batches) without gradients; NaN for no batches."""
    if not batches:
        return float("nan"), float("nan")
    losses, rs = [], []
    with torch.no_grad():
        for b in batches:
            pred = model(b.x, b.state)
            losses.append(float(loss_of(pred, b, phase, weights)))
            rs.append(pearson(pred.numpy(), b.y.numpy()))
    return float(np.mean(losses)), float(np.nanmean(rs)) if np.any(np.isfinite(rs)) else float("nan")


def fit(model: net.TGlassMLP, train: list[Batch], validation: list[Batch], schedule: dict, weights: dict,
        seed: int) -> list[dict]:
    """Two-phase training (phase 1 MSE, phase 2 GlassMLP loss) over ``schedule`` [(epochs, lr)...].

    The output bias starts at the mean training label and the state inputs are
    standardised with the training state points (``set_state_scaling``); each phase starts a
    fresh Adam; batches are shuffled every epoch with a seeded generator.
    Returns one history row per epoch.
    """
    if not train:
        raise ValueError("no training batches")
    # start from the mean label: the first epochs then learn the structure, not the offset
    with torch.no_grad():
        model.head[-1].bias.fill_(float(torch.cat([b.y for b in train]).mean()))
        model.set_state_scaling(torch.stack([b.state for b in train]))
    gen = torch.Generator().manual_seed(int(seed))
    history = []
    epoch = 0
    for phase, key in (("mse", "phase1"), ("glassmlp", "phase2")):
        stages = schedule[key]
        if not stages:
            continue
        opt = torch.optim.Adam(model.parameters(), lr=float(stages[0][1]))
        for n_epochs, lr in stages:
            for g in opt.param_groups:
                g["lr"] = float(lr)
            for _ in range(int(n_epochs)):
                t0 = time.perf_counter()
                total = 0.0
                for idx in torch.randperm(len(train), generator=gen).tolist():
                    loss = batch_loss(model, train[idx], phase, weights)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += loss.item()
                val_loss, val_r = score(model, validation, phase, weights)
                history.append({"epoch": epoch, "phase": phase, "lr": float(lr), "train_loss": total / len(train),
                                "validation_loss": val_loss, "validation_pearson": val_r,
                                "seconds": time.perf_counter() - t0})
                epoch += 1
    return history


def predict(model: net.TGlassMLP, xs: list[torch.Tensor], T: float, c: float,
            sc: dict) -> tuple[list[np.ndarray], float]:
    """Predictions (one (N_A,) array per input) at (T, c) with the self-consistent input c_in.

    Iterates c_in ← c_in − damping (X̄ − c) at most ``sc['iterations']`` times
    (X̄ = mean over all predicted particles), keeping |c_in − c| ≤
    ``sc['max_shift']`` so that a poorly calibrated network is not driven
    outside the c range it was trained on; returns (predictions, c_in).
    """
    c_in = float(c)
    with torch.no_grad():
        for it in range(int(sc["iterations"]) + 1):
            preds = [model(x, net.state_features(T, c_in)).numpy().astype(np.float64) for x in xs]
            mean = float(np.mean(np.concatenate(preds))) if preds else c
            if it == int(sc["iterations"]) or abs(mean - c) < 1e-6:
                break
            c_in -= float(sc["damping"]) * (mean - c)
            c_in = min(max(c_in, c - float(sc["max_shift"])), c + float(sc["max_shift"]))
    return preds, c_in


MODEL_NAME = "tglassmlp"


def save_member(path: str | Path, model: net.TGlassMLP, meta: dict) -> Path:
    """torch.save of the weights and everything needed to predict (``load_member``)."""
    return save_model_file(path, MODEL_NAME, model.state_dict(), **meta)


def load_member(path: str | Path) -> tuple[net.TGlassMLP, dict]:
    """(model in eval mode, metadata) of a trained member."""
    d = read_model_file(path, [MODEL_NAME])
    model = build_model(int(d["n_descriptors"]), d["network"])
    # members saved before the state standardisation existed carry none: identity (what they were trained with)
    state = {k: v for k, v in model.state_dict().items() if k.startswith("state_")} | dict(d["state_dict"])
    model.load_state_dict(state)
    model.eval()
    return model, d


def standardization_of(meta: dict) -> Standardization:
    return Standardization(np.asarray(meta["descriptor_mean"]), np.asarray(meta["descriptor_std"]))
