"""tGlassMLP data, training, prediction and evaluation (Jung, Biroli, Berthier; SCIENCE.md §6).

One network predicts the bond-breaking propensity C_B^i(t) of every A
particle at every state point (T, c), where time enters through the mean
c = ⟨C̄_B(t)⟩ over A particles and configurations (:func:`state_table`), and
:func:`time_of_c` maps a c back to a time at one T (interpolation of log t
against c between the sampled times).

Training (:func:`train_member`) uses batches = the A particles of one
configuration at one state point; phase 1 minimises the MSE, phase 2 the
GlassMLP loss (:mod:`glassdyn.models.tglassmlp`), each with its own Adam and
the learning-rate schedule of ``tglassmlp.schedule``. The weights after the
last epoch are kept (no checkpoint is selected on any data); the validation
configurations are only scored. Members of an ensemble differ only in their
seed; their spread is the error bar.

Predictions at a state point use the self-consistent input of Appendix B:
starting from c_in = c, c_in ← c_in − damping · (X̄ − c) where X̄ is the mean
prediction over all A particles of the predicted set, so that the predicted
mean matches c (a few iterations; the configuration-to-configuration
fluctuations that χ4 measures are untouched).

Two-step training (equal-time networks, distillation to T < T_min) lives in
:mod:`glassdyn.transfer`; heterogeneity measures in :mod:`glassdyn.heterogeneity`.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from glassdyn import config as gcfg
from glassdyn.io import storage
from glassdyn.io.tables import EVAL_COLUMNS
from glassdyn.models import tglassmlp as net
from glassdyn.models.files import read_model_file, save_model_file
from glassdyn.physics import descriptors as desc
from glassdyn.physics.correlation import pearson

log = logging.getLogger("glassdyn.tglassmlp")

MODEL_NAME = "tglassmlp"
STATE_COLUMNS = ["T", "time_index", "time", "c", "c_std", "n_configurations"]


# =========================================================================== files and keys
def file_key(path: str | Path, attrs: dict | None = None) -> tuple[str, int]:
    """(temperature key, configuration index) of a per-configuration file.

    From the path convention ``.../T{T}/c{cccc}.h5`` or ``.../T{T}/c{cccc}/...``;
    the file attributes ``T``, ``c`` when the path does not follow it.
    """
    m = re.search(r"T(\d+(?:\.\d+)?)/c(\d{4})(?:\.h5|/)", str(path))
    if m:
        return gcfg.temperature_key(float(m.group(1))), int(m.group(2))
    if attrs and "T" in attrs and "c" in attrs and int(attrs["c"]) >= 0:
        return gcfg.temperature_key(float(attrs["T"])), int(attrs["c"])
    raise storage.StorageError(path, "cannot tell its temperature and configuration (expected .../T{T}/c{cccc}.h5)")


def group_by_temperature(paths) -> dict[str, dict[int, str]]:
    """{T key: {configuration: path}} of per-configuration files."""
    out: dict[str, dict[int, str]] = {}
    for p in paths:
        T, c = file_key(p)
        out.setdefault(T, {})[c] = str(p)
    return out


@dataclass
class Structure:
    """One configuration's descriptors (raw, not standardised) and IS geometry."""

    T: str
    c: int
    descriptors: np.ndarray   # (N, M)
    types: np.ndarray         # (N,)
    positions: np.ndarray     # (N, 3) inherent-structure positions
    box: np.ndarray           # (3,)
    column_lengths: np.ndarray | None = None   # (M,) coarse-graining length L of each descriptor
    names: list | None = None                  # (M,) descriptor names

    @property
    def a_mask(self) -> np.ndarray:
        return self.types == 0


def read_structure(path: str | Path) -> Structure:
    """A descriptors file (rule ``tglassmlp_descriptors``)."""
    data, attrs = storage.read_h5(path, ["descriptors", "types", "positions", "box", "lengths", "names"])
    T, c = file_key(path, attrs)
    return Structure(T, c, data["descriptors"].astype(np.float32), data["types"].astype(np.int64),
                     data["positions"], data["box"], data["lengths"],
                     [n.decode() if isinstance(n, bytes) else str(n) for n in data["names"]])


def read_bond_breaking(path: str | Path, structure: Structure | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(times (n_t,), C_B (n_t, N)) of a labels file; checks it describes ``structure``'s particles."""
    data, _ = storage.read_h5(path, ["bond_breaking", "times", "types", "positions", "box"])
    if structure is not None:
        if not np.array_equal(data["types"].astype(np.int64), structure.types):
            raise storage.StorageError(path, f"particle types differ from the inherent structure of "
                                             f"T={structure.T} c={structure.c}")
        d = data["positions"] - structure.positions
        d -= structure.box * np.round(d / structure.box)
        if np.median(np.linalg.norm(d, axis=1)) > 0.5:
            raise storage.StorageError(path, "its t = 0 positions are not those the inherent structure came from "
                                             "(particle order or configuration mismatch)")
    return data["times"], data["bond_breaking"].astype(np.float64)


# =========================================================================== state points
def mean_bond_breaking(bond_breaking: list[np.ndarray], types: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(c, std over configurations) per sampling time: c = ⟨C̄_B(t)⟩, C̄_B = mean over A particles."""
    per_conf = np.array([cb[:, t == 0].mean(axis=1) for cb, t in zip(bond_breaking, types)])  # (n_conf, n_t)
    return per_conf.mean(axis=0), per_conf.std(axis=0)


def state_table(cfg: dict, labels: list[str | Path]) -> pd.DataFrame:
    """c = ⟨C̄_B(t)⟩ at every (T, time index) from the labels files given (the training configurations)."""
    rows = []
    for T, files in sorted(group_by_temperature(labels).items(), key=lambda kv: float(kv[0])):
        cbs, types, times = [], [], None
        for c in sorted(files):
            data, _ = storage.read_h5(files[c], ["bond_breaking", "types", "times"])
            cbs.append(data["bond_breaking"].astype(np.float64))
            types.append(data["types"])
            times = data["times"]
        mean, std = mean_bond_breaking(cbs, types)
        for k in gcfg.time_indices(cfg, T):
            rows.append({"T": float(T), "time_index": k, "time": float(times[k]), "c": float(mean[k]),
                         "c_std": float(std[k]), "n_configurations": len(cbs)})
    return pd.DataFrame(rows, columns=STATE_COLUMNS)


def states_of(states: pd.DataFrame, T: str | float) -> pd.DataFrame:
    """The rows of one temperature, by time index."""
    key = gcfg.temperature_key(float(T))
    sel = states[[gcfg.temperature_key(float(x)) == key for x in states["T"]]]
    return sel.sort_values("time_index").reset_index(drop=True)


def time_of_c(states: pd.DataFrame, T: str | float, c) -> np.ndarray:
    """Time(s) at which ⟨C̄_B⟩ = c at temperature T: linear interpolation of log t against c.

    NaN outside the sampled range of c (no extrapolation).
    """
    rows = states_of(states, T)
    cs, ts = rows["c"].to_numpy(), rows["time"].to_numpy()
    order = np.argsort(cs)
    cq = np.atleast_1d(np.asarray(c, dtype=np.float64))
    out = np.exp(np.interp(cq, cs[order], np.log(ts[order]), left=np.nan, right=np.nan))
    return out


def states_rule(cfg: dict, labels: list[str], output: str | Path) -> Path:
    """Rule ``tglassmlp_states``: the (T, time index, time, c) table of the campaign."""
    table = state_table(cfg, labels)
    log.info("state points:\n%s", table.to_string(index=False))
    return storage.write_csv(output, table)


# =========================================================================== batches
@dataclass
class Batch:
    """The A particles of one configuration at one state point."""

    x: torch.Tensor                     # (N_A, M) standardised descriptors
    y: torch.Tensor                     # (N_A,) target C_B
    T: float
    c: float                            # state-point c (network input)
    configuration: int
    time_index: int
    source: str                         # "md" or "distilled"
    pairs: list = field(default_factory=list)  # correlation-loss pairs [(i, j)] per radius

    @property
    def state(self) -> torch.Tensor:
        return net.state_features(self.T, self.c)


def correlation_pairs(positions: np.ndarray, box: np.ndarray, radii, max_pairs: int, seed: int) -> list:
    """For each R in ``radii``: pairs (i, j), i ≠ j, of the given particles with R_ij < R.

    All periodic images count (a pair can appear at several distances when R
    exceeds half the box). At most ``max_pairs`` per radius, drawn at random
    (seeded) without replacement.
    """
    radii = [float(r) for r in radii]
    if not radii:
        return []
    rng = np.random.default_rng(seed)
    ii, jj, rr = [], [], []
    for ch in desc.periodic_image_pairs(positions, box, max(radii)):
        ii.append(ch.i)
        jj.append(ch.j)
        rr.append(ch.r)
    i = np.concatenate(ii) if ii else np.zeros(0, np.int64)
    j = np.concatenate(jj) if jj else np.zeros(0, np.int64)
    r = np.concatenate(rr) if rr else np.zeros(0)
    out = []
    for R in radii:
        sel = np.flatnonzero(r < R)
        if len(sel) > max_pairs:
            sel = np.sort(rng.choice(sel, size=max_pairs, replace=False))
        out.append((torch.as_tensor(i[sel], dtype=torch.long), torch.as_tensor(j[sel], dtype=torch.long)))
    return out


@dataclass
class Standardization:
    mean: np.ndarray
    std: np.ndarray

    def apply(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(desc.standardize(x, self.mean, self.std))


def fit_standardization(structures: list[Structure]) -> Standardization:
    """Per-descriptor mean and std over the A particles of ``structures`` (accumulated in float64
    structure by structure, about the first structure's mean for accuracy)."""
    if not structures:
        raise ValueError("no structures to standardise the descriptors on")
    shift = structures[0].descriptors[structures[0].a_mask].astype(np.float64).mean(axis=0)
    n, s1, s2 = 0, 0.0, 0.0
    for st in structures:
        d = st.descriptors[st.a_mask].astype(np.float64) - shift
        n += len(d)
        s1 = s1 + d.sum(axis=0)
        s2 = s2 + (d * d).sum(axis=0)
    mean = s1 / n
    std = np.sqrt(np.maximum(s2 / n - mean ** 2, 0.0))
    mean = mean + shift
    return Standardization(mean, np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0))


def training_memory_bytes(cfg: dict, n_temperatures: int) -> float:
    """Estimated peak of a training job: torch plus raw (float32) and standardised A-particle
    descriptors of every training configuration, and the loss pairs."""
    tc = cfg["tglassmlp"]
    n = cfg["system"]["n_particles"]
    m = 4 * 3 * len(tc["descriptors"]["lengths"])
    configs = cfg["configurations"]["n_train"] * n_temperatures
    pairs = 16.0 * len(tc["loss"]["correlation_radii"]) * tc["loss"]["correlation_pairs"]
    return 1.0e9 + configs * (4.0 * n * m * 2 + pairs)


class StructureCache:
    """Standardised A-particle inputs and loss pairs of each structure, computed once."""

    def __init__(self, st: Standardization, loss_cfg: dict):
        self.st = st
        self.loss_cfg = loss_cfg
        self._x: dict = {}
        self._pairs: dict = {}

    def x(self, s: Structure) -> torch.Tensor:
        key = (s.T, s.c)
        if key not in self._x:
            self._x[key] = self.st.apply(s.descriptors[s.a_mask])
        return self._x[key]

    def pairs(self, s: Structure) -> list:
        key = (s.T, s.c)
        if key not in self._pairs:
            lc = self.loss_cfg
            self._pairs[key] = correlation_pairs(s.positions[s.a_mask], s.box, lc["correlation_radii"],
                                                 int(lc["correlation_pairs"]),
                                                 gcfg.derive_seed("tglassmlp", s.T, s.c, "pairs"))
        return self._pairs[key]


def md_batches(cache: StructureCache, structures: dict, bond_breaking: dict, states: pd.DataFrame,
               with_pairs: bool = True) -> list[Batch]:
    """Batches of MD labels: every structure × every state row of its temperature."""
    out = []
    for key, s in sorted(structures.items(), key=lambda kv: (float(kv[0][0]), kv[0][1])):
        cb = bond_breaking[key]
        for _, row in states_of(states, s.T).iterrows():
            k = int(row["time_index"])
            out.append(Batch(cache.x(s), torch.from_numpy(cb[k][s.a_mask].astype(np.float32)), float(s.T),
                             float(row["c"]), s.c, k, "md", cache.pairs(s) if with_pairs else []))
    return out


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

    The output bias starts at the mean training label; each phase starts a
    fresh Adam; batches are shuffled every epoch with a seeded generator.
    Returns one history row per epoch.
    """
    if not train:
        raise ValueError("no training batches")
    # start from the mean label: the first epochs then learn the structure, not the offset
    with torch.no_grad():
        model.head[-1].bias.fill_(float(torch.cat([b.y for b in train]).mean()))
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


def save_member(path: str | Path, model: net.TGlassMLP, meta: dict) -> Path:
    """torch.save of the weights and everything needed to predict (``load_member``)."""
    return save_model_file(path, MODEL_NAME, model.state_dict(), **meta)


def load_member(path: str | Path) -> tuple[net.TGlassMLP, dict]:
    """(model in eval mode, metadata) of a trained member."""
    d = read_model_file(path, [MODEL_NAME])
    model = build_model(int(d["n_descriptors"]), d["network"])
    model.load_state_dict(d["state_dict"])
    model.eval()
    return model, d


def standardization_of(meta: dict) -> Standardization:
    return Standardization(np.asarray(meta["descriptor_mean"]), np.asarray(meta["descriptor_std"]))


def variant_T_min(cfg: dict, variant: str) -> str:
    """Lowest temperature whose MD labels train ``variant``: 'main' → tglassmlp.T_min (null: lowest);
    'transfer' → the second-lowest campaign temperature (the lowest is held out)."""
    temps = sorted(float(t) for t in gcfg.temperature_keys(cfg))
    if variant == "transfer":
        if len(temps) < 2:
            raise ValueError("the transfer test needs at least two temperatures")
        return gcfg.temperature_key(temps[1])
    t_min = cfg["tglassmlp"]["T_min"]
    if t_min is not None and not any(T >= float(t_min) - 1e-9 for T in temps):
        raise gcfg.ConfigError("tglassmlp.T_min", f"{t_min} is above every campaign temperature {temps}: "
                                                  "no MD labels would train the final networks")
    return gcfg.temperature_key(temps[0] if t_min is None else float(t_min))


def train_member(cfg: dict, variant: str, member: int, descriptor_files: list[str], label_files: list[str],
                 states_csv: str, output_dir: str | Path, distilled: str | None = None) -> Path:
    """Rule ``tglassmlp_train``: one ensemble member of ``variant`` on the training configurations.

    MD batches: training configurations at T ≥ T_min (fit part trains, the
    validation part is scored); distilled batches (``distilled``, from
    :mod:`glassdyn.transfer`) add predicted labels at T < T_min.
    """
    from glassdyn.tglassmlp import transfer

    tg = cfg["tglassmlp"]
    torch.manual_seed(gcfg.derive_seed("tglassmlp", variant, member, "init"))
    T_min = float(variant_T_min(cfg, variant))
    states = pd.read_csv(states_csv)
    fit_idx, val_idx = gcfg.split_train_validation(cfg)
    desc_files = _by_key(descriptor_files)
    structures = {k: read_structure(p) for k, p in desc_files.items()}
    md_keys = [k for k in structures if float(k[0]) >= T_min - 1e-9]
    labels = _by_key(label_files)
    cb = {}
    for k in md_keys:
        if k not in labels:
            raise storage.StorageError(desc_files[k], f"no labels file given for T={k[0]} c={k[1]}")
        _, cb[k] = read_bond_breaking(labels[k], structures[k])
    fit_s = {k: structures[k] for k in md_keys if k[1] in fit_idx}
    val_s = {k: structures[k] for k in md_keys if k[1] in val_idx}
    st = fit_standardization(list(fit_s.values()))
    cache = StructureCache(st, tg["loss"])
    md_states = states[[float(T) >= T_min - 1e-9 for T in states["T"]]]
    train = md_batches(cache, fit_s, cb, md_states)
    validation = md_batches(cache, val_s, cb, md_states)
    n_distilled = 0
    if distilled:
        extra = transfer.distilled_batches(distilled, structures, cache, fit_idx)
        n_distilled = len(extra)
        train += extra
    model = build_model(st.mean.size, tg["network"])
    seed = gcfg.derive_seed("tglassmlp", variant, member, "shuffle")
    log.info("tglassmlp %s member %d: %d parameters, %d MD + %d distilled training batches, %d validation batches",
             variant, member, net.parameter_count(model), len(train) - n_distilled, n_distilled, len(validation))
    t0 = time.perf_counter()
    history = fit(model, train, validation, tg["schedule"], loss_weights(tg), seed)
    seconds = time.perf_counter() - t0
    meta = member_meta(cfg, variant, member, structures, st, states, T_min, seed)
    out = Path(output_dir)
    save_member(out / "model.pt", model, meta)
    storage.write_csv(out / "loss.csv", pd.DataFrame(history))
    last = history[-1]
    metrics = {"variant": variant, "member": member, "T_min": T_min, "parameters": net.parameter_count(model),
               "train_batches": len(train), "distilled_batches": n_distilled, "validation_batches": len(validation),
               "final_train_loss": last["train_loss"], "final_validation_loss": last["validation_loss"],
               "final_validation_pearson": last["validation_pearson"], "seconds": seconds,
               "epochs": len(history)}
    storage.write_json(out / "metrics.json", metrics)
    log.info("tglassmlp %s member %d: %d epochs in %.1f s, validation pearson %.3f", variant, member,
             len(history), seconds, last["validation_pearson"])
    return out / "model.pt"


def member_meta(cfg, variant, member, structures, st, states, T_min, seed) -> dict:
    any_file = next(iter(structures.values()))
    return {"variant": variant, "member": int(member), "n_descriptors": int(st.mean.size),
            "network": dict(cfg["tglassmlp"]["network"]), "descriptor_names": list(any_file.names),
            "column_lengths": np.asarray(any_file.column_lengths, dtype=np.float64).tolist(),
            "descriptor_mean": st.mean.tolist(), "descriptor_std": st.std.tolist(),
            "states": states.to_dict(orient="list"), "T_min": float(T_min), "seed": int(seed),
            "self_consistency": dict(cfg["tglassmlp"]["self_consistency"]),
            "n_particles": int(len(any_file.types))}


def _by_key(paths) -> dict[tuple[str, int], str]:
    out = {}
    for p in paths:
        out[file_key(p)] = str(p)
    return out


# =========================================================================== evaluation
def ensemble_predict(members: list[tuple[net.TGlassMLP, dict]], structures: list[Structure], T: float, c: float,
                     sc: dict) -> tuple[np.ndarray, np.ndarray]:
    """(predictions (n_members, n_structures, N_A), c_in (n_members,)) at (T, c)."""
    preds, cins = [], []
    for model, meta in members:
        st = standardization_of(meta)
        xs = [st.apply(s.descriptors[s.a_mask]) for s in structures]
        p, c_in = predict(model, xs, T, c, sc)
        preds.append(np.stack(p))
        cins.append(c_in)
    return np.stack(preds), np.array(cins)


def evaluate_rule(cfg: dict, T: str, k: int, model_files: list[str], descriptor_files: list[str],
                  label_files: list[str], output: str | Path, predictions: str | Path, states_csv: str) -> Path:
    """Rule ``tglassmlp_evaluate``: the eval CSV of (T, time index k) and the predictions file.

    Pearson over the A particles of each test configuration between the
    ensemble-mean prediction and C_B. The predictions file holds every
    member's prediction on every configuration given (test, plus training
    ones when ``analysis.chi4_set`` is 'all') for the analyses.
    """
    T_key = gcfg.temperature_key(float(T))
    k = int(k)
    tau_alpha = float(gcfg.temperature(cfg, T_key)["tau_alpha"])
    test = set(gcfg.test_indices(cfg))
    rows_k = states_of(pd.read_csv(states_csv), T_key)
    rows_k = rows_k[rows_k["time_index"] == k]
    if len(rows_k) != 1:
        raise ValueError(f"no state point (T={T_key}, time index {k}) in {states_csv}")
    row = rows_k.iloc[0]
    members = [load_member(p) for p in model_files]
    structures = {key: read_structure(p) for key, p in _by_key(descriptor_files).items() if key[0] == T_key}
    labels = _by_key(label_files)
    keys = sorted(structures, key=lambda key: key[1])
    structs = [structures[key] for key in keys]
    truth = np.stack([read_bond_breaking(labels[key], structures[key])[1][k][structures[key].a_mask] for key in keys])
    pred, c_in = ensemble_predict(members, structs, float(T_key), float(row["c"]), cfg["tglassmlp"]["self_consistency"])
    mean_pred = pred.mean(axis=0)
    member_r = np.array([[pearson(pred[m, i], truth[i]) for i in range(len(keys))] for m in range(len(members))])
    rows = [{"model": MODEL_NAME, "T": float(T_key), "time_index": k, "time": float(row["time"]),
             "tau_alpha": tau_alpha, "c": key[1], "pearson_nodes": pearson(mean_pred[i], truth[i]),
             "pearson_edges": float("nan")} for i, key in enumerate(keys) if key[1] in test]
    frame = pd.DataFrame(rows, columns=EVAL_COLUMNS)
    log.info("tglassmlp T=%s t=%g (c=%.3f, c_in=%s): mean Pearson over %d test configurations %.4f", T_key,
             row["time"], row["c"], np.round(c_in, 4).tolist(), len(frame), frame["pearson_nodes"].mean())
    storage.write_h5(predictions, {
        "prediction": pred.astype(np.float32), "bond_breaking": truth.astype(np.float32), "c_input": c_in,
        "member_pearson": member_r, "configurations": np.array([key[1] for key in keys]),
        "test": np.array([key[1] in test for key in keys]),
    }, attrs={"T": float(T_key), "time_index": k, "time": float(row["time"]), "c": float(row["c"]),
              "tau_alpha": tau_alpha, "members": [str(p) for p in model_files]})
    return storage.write_csv(output, frame)
