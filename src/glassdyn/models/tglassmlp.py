"""tGlassMLP, the transferable GlassMLP of Jung, Biroli & Berthier (SCIENCE.md §6), and its losses.

Per particle the network maps M standardised structural descriptors S^k
(:mod:`glassdyn.descriptors`) and the state point
s = (1/T, 1/T², 1/T³, c, c², c³), c = ⟨C̄_B(t)⟩, to a predicted bond-breaking
propensity X^i ≈ C_B^i(t):

    s̃ = (s − s̄) / σ_s                        (standardised with the training state points)
    m = MLP1(s̃) ∈ R²                          (6 → 6 → 6 → 2, ELU, linear output)
    A^k = S^k f1_k + m_1 f2_k + m_2 f3_k + f4_k,  w = softmax_k(A),  S_out^k = M S^k w_k   (attention)
    b = W_b S_out + b_b ∈ R²                  (bottleneck, linear)
    h = [b, MLP2(s̃)]                          (MLP2: 6 → 7 → 7 → 4, ELU, linear output)
    X = Linear(ELU(Linear(ELU(Linear(h)))))   (two 10-unit ELU layers, linear output)

About 1200 parameters for M = 132 (4 observables × 11 lengths × 3 groups).
The factor M in S_out (the paper writes S^k w_k) only rescales the bottleneck
weights: with it, uniform attention (w_k = 1/M, the initial state) passes the
standardised descriptors on at unit scale, and the default initialisation and
Adam step sizes of the bottleneck fit; without it, training stalls.

Losses act on one batch = the A particles of one configuration at one state
point: phase 1 the mean squared error; phase 2 the GlassMLP loss

    L = w_MAE · mean|X − y| + w_var · |Var X − Var y| / V
        + w_corr · Σ_R |G_X(R) − G_y(R)|,

    G_x(R) = Σ_{(i,j) ∈ P_R} δx_i δx_j / (|P_R| · V),   δx = x − mean(x),
    V = max(Var y, v_floor),

where P_R is a set of A–A pairs (i ≠ j, periodic images included) with
R_ij < R, R = 2, 4, 6 σ_AA: the spatial correlation of the fluctuations
within distance R, in units of the true variance (so a prediction with the
right variance but no spatial structure is penalised, and a perfect
prediction gives zero). The floor v_floor (``loss.variance_floor``) keeps the
relative terms finite for nearly uniform labels (C_B ≈ 1 for every particle
at the shortest times).
"""
from __future__ import annotations

import torch
from torch import nn


def state_features(T, c) -> torch.Tensor:
    """The state-point input (…, 6) = (1/T, 1/T², 1/T³, c, c², c³) (float32)."""
    T = torch.as_tensor(T, dtype=torch.float64)
    c = torch.as_tensor(c, dtype=torch.float64)
    T, c = torch.broadcast_tensors(T, c)
    inv = 1.0 / T
    return torch.stack([inv, inv ** 2, inv ** 3, c, c ** 2, c ** 3], dim=-1).float()


def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of the given sizes with ELU between them and a linear output."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ELU()]
    return nn.Sequential(*layers[:-1])


class TGlassMLP(nn.Module):
    """The tGlassMLP network; ``forward(S, state)`` → X (B,).

    ``S`` (B, M) standardised descriptors, ``state`` (B, 6) or (6,) from
    :func:`state_features`. Sizes come from ``tglassmlp.network``.
    """

    def __init__(self, n_descriptors: int, mlp1: tuple[int, ...] = (6, 6), mlp2: tuple[int, ...] = (7, 7),
                 mlp2_out: int = 4, bottleneck: int = 2, hidden: tuple[int, ...] = (10, 10), state_dim: int = 6):
        super().__init__()
        self.n_descriptors = int(n_descriptors)
        self.mlp1 = _mlp([state_dim, *mlp1, 2])
        # f1..f4 of the attention layer, one each per descriptor
        self.attention = nn.Parameter(torch.zeros(4, self.n_descriptors))
        nn.init.normal_(self.attention[0], 0.0, 0.1)
        nn.init.normal_(self.attention[1:3], 0.0, 0.1)
        self.bottleneck = nn.Linear(self.n_descriptors, bottleneck)
        self.mlp2 = _mlp([state_dim, *mlp2, mlp2_out])
        self.head = _mlp([bottleneck + mlp2_out, *hidden, 1])
        # state inputs are standardised inside the network (set_state_scaling; identity until set)
        self.register_buffer("state_shift", torch.zeros(state_dim))
        self.register_buffer("state_scale", torch.ones(state_dim))

    def set_state_scaling(self, states: torch.Tensor) -> None:
        """Standardise the state inputs with the mean and std of the training state points ``states`` (n, 6).

        An affine map of the inputs of MLP1 and MLP2 (absorbed by their first
        layers: the same functions can be represented), which only conditions
        training: c, c², c³ span a few hundredths when the sampled times end near
        τα (laptop campaign: c ∈ [0.93, 1]), and raw they leave the network
        hundreds of epochs on a plateau before it finds the mean C_B of each
        state point. A constant column (one temperature, one c) keeps scale 1.
        """
        states = torch.as_tensor(states, dtype=torch.float32).reshape(-1, self.state_shift.numel())
        mean, std = states.mean(dim=0), states.std(dim=0, unbiased=False)
        self.state_shift.copy_(mean)
        self.state_scale.copy_(torch.where(std > 1e-6 * mean.abs().clamp(min=1.0), std, torch.ones_like(std)))

    def _scaled(self, state: torch.Tensor) -> torch.Tensor:
        return (state - self.state_shift) / self.state_scale

    def attention_weights(self, S: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """w (B, M): softmax over descriptors of A^k = S^k f1 + m1 f2 + m2 f3 + f4."""
        state = state.expand(S.shape[0], -1) if state.dim() == 1 else state
        m = self.mlp1(self._scaled(state))
        f1, f2, f3, f4 = self.attention
        a = S * f1 + m[:, :1] * f2 + m[:, 1:2] * f3 + f4
        return torch.softmax(a, dim=-1)

    def encode(self, S: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """The bottleneck b (B, 2) of the attended descriptors M S^k w_k."""
        return self.bottleneck(S * (self.n_descriptors * self.attention_weights(S, state)))

    def forward(self, S: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        state = state.expand(S.shape[0], -1) if state.dim() == 1 else state
        b = self.encode(S, state)
        return self.head(torch.cat([b, self.mlp2(self._scaled(state))], dim=-1)).squeeze(-1)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- losses
def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Phase-1 loss: mean (X − y)²."""
    return torch.mean((pred - target) ** 2)


def mae_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean |X − y|."""
    return torch.mean(torch.abs(pred - target))


def _scale(target: torch.Tensor, floor: float) -> torch.Tensor:
    """V = max(Var y, floor), and at least 1e-12."""
    return torch.clamp(torch.var(target, unbiased=False), min=max(float(floor), 1e-12))


def variance_loss(pred: torch.Tensor, target: torch.Tensor, floor: float = 0.0) -> torch.Tensor:
    """|Var X − Var y| / max(Var y, floor) (population variances over the batch)."""
    vy = torch.var(target, unbiased=False)
    return torch.abs(torch.var(pred, unbiased=False) - vy) / _scale(target, floor)


def spatial_correlation(x: torch.Tensor, i: torch.Tensor, j: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """G_x = Σ_{pairs} δx_i δx_j / (n_pairs · scale), δx = x − mean x; 0 without pairs."""
    if i.numel() == 0:
        return x.sum() * 0.0
    dx = x - x.mean()
    return torch.mean(dx[i] * dx[j]) / scale


def correlation_loss(pred: torch.Tensor, target: torch.Tensor, pairs: list[tuple[torch.Tensor, torch.Tensor]],
                     floor: float = 0.0) -> torch.Tensor:
    """Σ_R |G_X(R) − G_y(R)| over the pair sets of each radius R (indices into the batch)."""
    vy = _scale(target, floor)
    total = pred.sum() * 0.0
    for i, j in pairs:
        total = total + torch.abs(spatial_correlation(pred, i, j, vy) - spatial_correlation(target, i, j, vy))
    return total


def glassmlp_loss(pred: torch.Tensor, target: torch.Tensor, pairs: list[tuple[torch.Tensor, torch.Tensor]],
                  weights: dict, floor: float = 0.0) -> torch.Tensor:
    """Phase-2 loss: w_mae MAE + w_variance variance term + w_correlation correlation term."""
    return (weights["mae"] * mae_loss(pred, target)
            + weights["variance"] * variance_loss(pred, target, floor)
            + weights["correlation"] * correlation_loss(pred, target, pairs, floor))
