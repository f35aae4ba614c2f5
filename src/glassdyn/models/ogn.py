"""OGN: the observation-based graph network learned simulator (Liu et al. 2023; SCIENCE.md §6).

One MD-like step of the network maps the state (r, v) of every particle to
the change [Δr_i, Δv_i] after k MD steps:

    node input   n_i = [one-hot type, v_i]              (2 + 3)
    edge input   e_ij = r_j − r_i  (minimum image, |r_ij| ≤ r_graph, both directions)
    encoder      n⁰ = f_n,enc(n),  e⁰ = f_e,enc(e)
    layer l      e_ij^{l+1} = f_e^l([e_ij^l, e_ij⁰], [n_i^l, n_i⁰], [n_j^l, n_j⁰])
                 n_i^{l+1} = f_n^l([n_i^l, n_i⁰], Σ_j e_ij^{l+1} (outgoing), Σ_j e_ji^{l+1} (incoming))
    decoder      [Δr_i, Δv_i] = f_dec(n_i^L)

Every MLP is Linear → ReLU → Linear → ReLU (hidden = output = 64) followed
by LayerNorm, except the decoder (Linear → ReLU → Linear to 6, no norm). The
L layers have separate weights; with e_ij⁰ and n⁰ concatenated at every layer.
OGN is L = 10, k = 1; Fast-OGN L = 2, k = 5 — the same class, two settings.

Inputs (velocities, edge vectors) and targets are standardised per component
with running statistics of everything seen in training (online
standardisation); the statistics are buffers, so they are saved with the
weights.

Symmetries. Edge inputs are relative vectors under the minimum image, so the
prediction is exactly invariant to a translation of all positions (and to
the periodic image a particle is stored in); the sum aggregations make it
exactly permutation equivariant. Rotations are *not* built in: velocities
and edge vectors enter as raw Cartesian components, so rotation equivariance
is only learned, from training with random cubic-box symmetries (the 48
elements of O_h; ``cubic_symmetries``). :meth:`OGN.forward_symmetrized`
averages g⁻¹ f(g x) over that group, which makes a prediction exactly
equivariant under the box symmetries (48× the cost; used for checks).
Neither is Galilean invariant: velocities enter raw.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch import nn

NODE_IN = 5   # one-hot type (2) + velocity (3)
EDGE_IN = 3   # r_j − r_i
TARGET = 6    # Δr (3), Δv (3)


# ----------------------------------------------------------------------------- standardisation
class OnlineStandardizer(nn.Module):
    """Running per-component mean and variance of every value seen (Chan et al. parallel update).

    ``update(x)`` merges a batch (rows = samples, columns = components) into the
    statistics; ``normalize`` maps x → (x − μ)/σ and ``denormalize`` back.
    σ = sqrt(var + eps²) keeps a constant component finite. The statistics are
    float64 buffers, part of the state dict.
    """

    def __init__(self, size: int, eps: float = 1e-8):
        super().__init__()
        self.eps = eps
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(size, dtype=torch.float64))
        self.register_buffer("m2", torch.zeros(size, dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        x = x.detach().reshape(-1, self.mean.numel()).to(torch.float64)
        n = x.shape[0]
        if n == 0:
            return
        bmean = x.mean(0)
        bm2 = ((x - bmean) ** 2).sum(0)
        tot = self.count + n
        delta = bmean - self.mean
        self.mean += delta * (n / tot)
        self.m2 += bm2 + delta ** 2 * (self.count * n / tot)
        self.count.fill_(tot.item())

    @property
    def variance(self) -> torch.Tensor:
        return self.m2 / self.count.clamp(min=1.0)

    @property
    def std(self) -> torch.Tensor:
        return torch.sqrt(self.variance + self.eps ** 2)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def denormalize(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.std.to(y.dtype) + self.mean.to(y.dtype)


# ----------------------------------------------------------------------------- building blocks
def _init_linear(layer: nn.Linear) -> nn.Linear:
    """Truncated normal weights with std 1/sqrt(fan_in) (±2 std), zero bias (the Haiku default)."""
    std = 1.0 / math.sqrt(layer.in_features)
    nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
    nn.init.zeros_(layer.bias)
    return layer


def mlp(n_in: int, hidden: int, n_out: int, layer_norm: bool = True, final_relu: bool = True) -> nn.Sequential:
    """Linear(n_in, hidden) → ReLU → Linear(hidden, n_out) [→ ReLU] [→ LayerNorm]."""
    mods: list[nn.Module] = [_init_linear(nn.Linear(n_in, hidden)), nn.ReLU(), _init_linear(nn.Linear(hidden, n_out))]
    if final_relu:
        mods.append(nn.ReLU())
    if layer_norm:
        mods.append(nn.LayerNorm(n_out))
    return nn.Sequential(*mods)


class EdgeUpdate(nn.Module):
    """f_e^l([e, e⁰], [n_i, n_i⁰], [n_j, n_j⁰]) with the first Linear split by input block.

    W·[e_ij, h_i, h_j] = W_e e_ij + (W_i h_i) + (W_j h_j): the node products are
    computed once per node and gathered, which is the same function as the
    concatenated MLP at a fraction of the per-edge cost.
    """

    def __init__(self, edge_in: int, node_in: int, hidden: int):
        super().__init__()
        self.w_edge = _init_linear(nn.Linear(edge_in, hidden))
        self.w_target = nn.Linear(node_in, hidden, bias=False)
        self.w_source = nn.Linear(node_in, hidden, bias=False)
        # the three blocks are one Linear of fan-in edge_in + 2 node_in
        std = 1.0 / math.sqrt(edge_in + 2 * node_in)
        for lin in (self.w_edge, self.w_target, self.w_source):
            nn.init.trunc_normal_(lin.weight, std=std, a=-2 * std, b=2 * std)
        self.rest = nn.Sequential(nn.ReLU(), _init_linear(nn.Linear(hidden, hidden)), nn.ReLU(), nn.LayerNorm(hidden))

    def forward(self, e: torch.Tensor, e0: torch.Tensor, h: torch.Tensor, target: torch.Tensor,
                source: torch.Tensor) -> torch.Tensor:
        """``e``, ``e0`` (E, d) current and encoded edges, ``h`` (N, 2d) = [n, n⁰] per node."""
        d = e.shape[-1]
        w = self.w_edge.weight  # acts on [e, e⁰] without materialising the (E, 2d) concatenation
        z = nn.functional.linear(e, w[:, :d]) + nn.functional.linear(e0, w[:, d:], self.w_edge.bias)
        z = z + self.w_target(h).index_select(0, target) + self.w_source(h).index_select(0, source)
        return self.rest(z)


class InteractionLayer(nn.Module):
    """One message-passing layer with its own weights: edge update, then node update."""

    def __init__(self, hidden: int):
        super().__init__()
        self.edge = EdgeUpdate(2 * hidden, 2 * hidden, hidden)
        self.node = mlp(4 * hidden, hidden, hidden)

    def forward(self, n, n0, e, e0, target, source):
        h = torch.cat([n, n0], dim=-1)
        e_new = self.edge(e, e0, h, target, source)
        outgoing = torch.zeros_like(n).index_add_(0, target, e_new)    # Σ_j e_ij, i the centre atom
        incoming = torch.zeros_like(n).index_add_(0, source, e_new)    # Σ_j e_ji
        n_new = self.node(torch.cat([h, outgoing, incoming], dim=-1))
        return n_new, e_new


# ----------------------------------------------------------------------------- the model
class OGN(nn.Module):
    """Encoder – L interaction layers (separate weights) – decoder; see the module docstring.

    ``forward(types, velocities, edge_index, edge_vectors)`` returns the
    *standardised* prediction (N, 6); :meth:`predict` returns physical
    [Δr, Δv] in σ_AA and σ_AA/τ. ``edge_index`` follows PyG (row 0 = source j,
    row 1 = target i) and ``edge_vectors`` = r_i − r_j as built by
    :func:`glassdyn.graphs.build_graph`; the network's edge input is r_j − r_i.
    """

    def __init__(self, hidden: int = 64, layers: int = 10, k: int = 1, n_types: int = 2):
        super().__init__()
        self.hyperparameters = {"hidden": hidden, "layers": layers, "k": k, "n_types": n_types}
        self.n_types = n_types
        self.k = k
        self.node_encoder = mlp(n_types + 3, hidden, hidden)
        self.edge_encoder = mlp(EDGE_IN, hidden, hidden)
        self.layers = nn.ModuleList([InteractionLayer(hidden) for _ in range(layers)])
        self.decoder = mlp(hidden, hidden, TARGET, layer_norm=False, final_relu=False)
        self.velocity_stats = OnlineStandardizer(3)
        self.edge_stats = OnlineStandardizer(EDGE_IN)
        self.target_stats = OnlineStandardizer(TARGET)

    def observe(self, velocities: torch.Tensor, edge_vectors: torch.Tensor,
                targets: torch.Tensor | None = None) -> None:
        """Merge one training sample into the online statistics (before it is fed to the model)."""
        self.velocity_stats.update(velocities)
        self.edge_stats.update(-edge_vectors)
        if targets is not None:
            self.target_stats.update(targets)

    def forward(self, types, velocities, edge_index, edge_vectors):
        source, target = edge_index[0], edge_index[1]
        one_hot = nn.functional.one_hot(types.long(), self.n_types).to(velocities.dtype)
        n0 = self.node_encoder(torch.cat([one_hot, self.velocity_stats.normalize(velocities)], dim=-1))
        e0 = self.edge_encoder(self.edge_stats.normalize(-edge_vectors))
        n, e = n0, e0
        for layer in self.layers:
            n, e = layer(n, n0, e, e0, target, source)
        return self.decoder(n)

    def predict(self, types, velocities, edge_index, edge_vectors):
        """Physical [Δr, Δv] (N, 6) after k MD steps."""
        return self.target_stats.denormalize(self.forward(types, velocities, edge_index, edge_vectors))

    def forward_symmetrized(self, types, velocities, edge_index, edge_vectors):
        """Physical [Δr, Δv] averaged as (1/|G|) Σ_g g⁻¹ f(g·state) over the 48 cubic symmetries.

        Exactly equivariant under every element of O_h (the symmetries of a cubic periodic box).
        """
        out = torch.zeros(velocities.shape[0], TARGET, dtype=velocities.dtype, device=velocities.device)
        group = torch.as_tensor(cubic_symmetries(), dtype=velocities.dtype, device=velocities.device)
        for g in group:
            y = self.predict(types, velocities @ g.T, edge_index, edge_vectors @ g.T)
            out += torch.cat([y[:, :3] @ g, y[:, 3:] @ g], dim=-1)
        return out / len(group)


def cubic_symmetries() -> np.ndarray:
    """The 48 orthogonal matrices of the cubic group O_h (signed permutation matrices), (48, 3, 3)."""
    mats = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            for row, (col, s) in enumerate(zip(perm, signs)):
                m[row, col] = s
            mats.append(m)
    return np.stack(mats)


def build(hyperparameters: dict) -> OGN:
    """An OGN from its saved hyperparameters."""
    return OGN(**hyperparameters)
