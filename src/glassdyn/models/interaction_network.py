"""The encoder–process–decoder interaction network of NT-GNN and BOTAN (SCIENCE.md §6).

Notation (PyG convention, docs/architecture.md): edge e = (j → i) has source
j = ``edge_index[0, e]`` and target i = ``edge_index[1, e]``; its input is the
vector r_i − r_j (σ_AA). With d = ``hidden`` and every MLP two layers with ReLU:

    h_v⁰ = MLP_v⁰(type_v)                     node encoder, 1 → d → d
    h_e⁰ = MLP_e⁰(r_i − r_j)                  edge encoder, 3 → d → d
    repeat n times with the SAME weights (m = 1 … n):
      h_e^m = MLP_e([h_j^{m−1}, h_i^{m−1}, h_e^{m−1}, h_e⁰])     4d → d → d
      h_v^m = MLP_v([h_v^{m−1}, h_v⁰, Σ_{e: target(e)=v} h_e^m])  3d → d → d
    Ŝ_v  = DE_v(h_v^n),  Ê_e = DE_e(h_e^n)     decoders d → d → 1

Encoders and updates end in a ReLU (as the published BOTAN code does);
decoders end in a linear unit (their outputs are standardised or raw targets).

Decoder options (``network.decoder``, ``network.decoder_layers``):
``separate`` (glassdyn's default) gives nodes and edges their own decoder,
``shared`` applies ONE decoder to both h_v^n and h_e^n, as the published
BOTAN code and weights do (pyg_botan: ``decoder.fc1…fc3``, d → d → d → 1,
ReLU, ReLU, linear; see :mod:`glassdyn.models.published`). Depth L ≥ 2
linear layers, ReLU between them.

Speed (issue #7). The edge MLP's first layer acts on a concatenation, so it
is split into blocks, W₁[h_j, h_i, h_e, h_e⁰] = W_s h_j + W_t h_i + W_e h_e +
W_0 h_e⁰: the node blocks are applied per *node* (N rows, not E) and gathered
onto the edges, and W_0 h_e⁰ + b₁ is the same in every cycle (shared weights,
fixed h_e⁰), so it is computed once per forward pass. The node MLP's h_v⁰
block likewise. Per cycle, only two E×d×d matrix products remain. There are
no Python loops over edges and nothing in a step waits for the host.

Mixed precision. Under ``torch.autocast(dtype=torch.bfloat16)`` (training
with ``training.precision: bf16``) the matrix products run in bf16 while the
weights stay float32; the sums over a node's ~40 edges (aggregation Σ h_e
and the gather's backward) are accumulated in float32, so only the
per-edge products are rounded. Without autocast every cast here is a no-op.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class MLP(nn.Module):
    """``layers`` linear layers (``lin1`` … ``linL``, default two) with a ReLU between them, and one after
    unless ``final_relu=False``; the hidden ones are ``hidden`` wide."""

    def __init__(self, n_in: int, hidden: int, n_out: int | None = None, final_relu: bool = True,
                 layers: int = 2):
        super().__init__()
        if layers < 2:
            raise ValueError(f"an MLP here has at least 2 layers, got {layers}")
        self.lin1 = nn.Linear(n_in, hidden)
        for i in range(2, layers):   # extra hidden layers of a deeper decoder: lin2 … lin{L-1}
            setattr(self, f"lin{i}", nn.Linear(hidden, hidden))
        setattr(self, f"lin{layers}", nn.Linear(hidden, hidden if n_out is None else n_out))
        self.layers = layers
        self.final_relu = final_relu

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] <= 4:
            # Narrow input (the 3-vector r_i − r_j on every edge): with a row-major W₁ᵀ autograd forms the
            # weight gradient as xᵀ g (3×E by E×d), measured ~7× faster on the CPU than (gᵀ x)ᵀ.
            y = torch.addmm(self.lin1.bias, x, self.lin1.weight.t().contiguous())
        else:
            y = self.lin1(x)
        for i in range(2, self.layers + 1):
            y = getattr(self, f"lin{i}")(torch.relu_(y))
        return torch.relu_(y) if self.final_relu else y


def pair_index(edge_index: Tensor) -> Tensor:
    """(E, 2) rows [2 j, 2 i + 1] of edge (j → i): where :class:`GatherPair` finds its two node rows."""
    return torch.stack([2 * edge_index[0], 2 * edge_index[1] + 1], dim=1)


class GatherPair(torch.autograd.Function):
    """u_e = a_{j(e)} + b_{i(e)} for node tables a, b given side by side as ``ab`` = [a | b] (N, 2d).

    Forward is one fused ``embedding_bag`` (sum of two rows of the (2N, d)
    view of ``ab``); backward scatters the edge gradient with two
    ``index_add_``. Both are measured several times faster on the CPU than
    autograd's ``index_select`` backward (a ``scatter_add_`` over an expanded
    index), and the result is the same sum.
    """

    @staticmethod
    def forward(ctx, ab: Tensor, pairs: Tensor) -> Tensor:
        n, two_d = ab.shape
        ctx.save_for_backward(pairs)
        ctx.n = n
        return F.embedding_bag(pairs, ab.reshape(2 * n, two_d // 2), mode="sum")

    @staticmethod
    def backward(ctx, grad: Tensor):
        (pairs,) = ctx.saved_tensors
        acc = grad.float()   # a node row sums ~40 edge gradients: accumulate in float32 (no-op in float32)
        out = acc.new_zeros(2 * ctx.n, grad.shape[1])
        out.index_add_(0, pairs[:, 0], acc)
        out.index_add_(0, pairs[:, 1], acc)
        return out.view(ctx.n, 2 * grad.shape[1]).to(grad.dtype), None


class EdgeUpdate(nn.Module):
    """h_e ← MLP_e([h_j, h_i, h_e, h_e⁰]) for every edge e = (j → i).

    ``lin1`` holds the full 4d → d first layer (so the state dict reads like
    the plain concatenation); ``forward`` applies it block by block.
    """

    def __init__(self, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.lin1 = nn.Linear(4 * hidden, hidden)
        self.lin2 = nn.Linear(hidden, hidden)

    def encoding_term(self, edge_attr0: Tensor) -> Tensor:
        """W_0 h_e⁰ + b₁ (E, d): the cycle-independent part of the first layer."""
        d = self.hidden
        return F.linear(edge_attr0, self.lin1.weight[:, 3 * d:], self.lin1.bias)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, encoding_term: Tensor,
                pairs: Tensor | None = None) -> Tensor:
        """New edge states (E, d) from node states ``x`` (N, d), edge states (E, d) and
        :meth:`encoding_term`; ``pairs`` = :func:`pair_index` (computed if not given)."""
        d = self.hidden
        w = self.lin1.weight
        if pairs is None:
            pairs = pair_index(edge_index)
        # Node blocks applied per node, [W_s h | W_t h] (N, 2d), then gathered onto the edges.
        per_node = F.linear(x, torch.cat([w[:, :d], w[:, d: 2 * d]], 0))
        # In place on the fresh gather output: no (E, d) copy for addmm's summand.
        pre = GatherPair.apply(per_node, pairs)
        pre += encoding_term
        # In-place ops are not autocast: the weight block is cast to the activations' dtype by hand.
        pre.addmm_(edge_attr.to(pre.dtype), w[:, 2 * d: 3 * d].t().to(pre.dtype))
        return torch.relu_(self.lin2(torch.relu_(pre)))

    @torch.no_grad()
    def update_inplace(self, x: Tensor, edge_attr: Tensor, encoding_term: Tensor, pairs: Tensor,
                       chunk: int) -> Tensor:
        """Inference form of :meth:`forward`: overwrites ``edge_attr`` chunk by chunk (each edge's
        update reads only its own state), so no (E, d) temporary is ever allocated."""
        d = self.hidden
        w = self.lin1.weight
        table = F.linear(x, torch.cat([w[:, :d], w[:, d: 2 * d]], 0)).reshape(-1, d)
        w_e, w_2 = w[:, 2 * d: 3 * d].t(), self.lin2.weight.t()
        for a in range(0, edge_attr.shape[0], chunk):
            e = edge_attr[a: a + chunk]
            pre = F.embedding_bag(pairs[a: a + chunk], table, mode="sum")
            pre += encoding_term[a: a + chunk]
            pre.addmm_(e, w_e)
            torch.addmm(self.lin2.bias, torch.relu_(pre), w_2, out=e)
            torch.relu_(e)
        return edge_attr


class NodeUpdate(nn.Module):
    """h_v ← MLP_v([h_v, h_v⁰, Σ_{e → v} h_e]) (sum over incoming edges, at the target)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.lin1 = nn.Linear(3 * hidden, hidden)
        self.lin2 = nn.Linear(hidden, hidden)

    def encoding_term(self, x0: Tensor) -> Tensor:
        """W_0 h_v⁰ + b₁ (N, d): the cycle-independent part of the first layer."""
        d = self.hidden
        return F.linear(x0, self.lin1.weight[:, d: 2 * d], self.lin1.bias)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, encoding_term: Tensor) -> Tensor:
        d = self.hidden
        w = self.lin1.weight
        acc = edge_attr.float()   # Σ over ~40 incoming edges accumulated in float32 (no-op in float32)
        incoming = acc.new_zeros(x.shape).index_add_(0, edge_index[1], acc)
        pre = encoding_term + x @ w[:, :d].t() + incoming @ w[:, 2 * d:].t()
        return torch.relu(self.lin2(torch.relu(pre)))


class InteractionNetwork(nn.Module):
    """Encoder–process–decoder network predicting Ŝ per node and Ê per edge.

    ``forward(x, edge_index, edge_attr)`` takes node inputs (N, 1) (type as a
    number), ``edge_index`` (2, E) int64 and edge vectors (E, 3) and returns
    ``(nodes (N,), edges (E,))`` in the units the network was trained on
    (standardised or raw targets, ``target_stats`` of its model file). ``decode``
    chooses which outputs are computed ("both", "nodes", "edges"); the one not
    computed is returned as ``None``. ``decoder`` = "separate" (``node_decoder``,
    ``edge_decoder``) or "shared" (one ``decoder``), each ``decoder_layers`` deep.
    """

    #: ``network.decoder`` values.
    DECODERS = ("separate", "shared")

    def __init__(self, hidden: int = 64, steps: int = 7, node_in: int = 1, edge_in: int = 3,
                 decoder: str = "separate", decoder_layers: int = 2):
        super().__init__()
        if decoder not in self.DECODERS:
            raise ValueError(f"decoder '{decoder}' is not one of {self.DECODERS}")
        self.hidden = hidden
        self.steps = steps
        self.decoder_kind = decoder
        self.decoder_layers = decoder_layers
        self.node_encoder = MLP(node_in, hidden)
        self.edge_encoder = MLP(edge_in, hidden)
        self.edge_update = EdgeUpdate(hidden)
        self.node_update = NodeUpdate(hidden)
        if decoder == "shared":
            self.decoder = MLP(hidden, hidden, 1, final_relu=False, layers=decoder_layers)
        else:
            self.node_decoder = MLP(hidden, hidden, 1, final_relu=False, layers=decoder_layers)
            self.edge_decoder = MLP(hidden, hidden, 1, final_relu=False, layers=decoder_layers)

    def hyperparameters(self) -> dict:
        return {"hidden": self.hidden, "message_passing_steps": self.steps, "decoder": self.decoder_kind,
                "decoder_layers": self.decoder_layers}

    def decoder_of(self, part: str) -> nn.Module:
        """The decoder of ``part`` ("nodes" or "edges"); the same module for both when shared."""
        if self.decoder_kind == "shared":
            return self.decoder
        return self.node_decoder if part == "nodes" else self.edge_decoder

    def freeze_unused_decoders(self, decode: str) -> None:
        """No gradient for a separate decoder that ``decode`` never runs (keeps DDP's buckets exact)."""
        if self.decoder_kind == "shared":
            return
        for part in ("nodes", "edges"):
            if decode not in ("both", part):
                self.decoder_of(part).requires_grad_(False)

    #: Edges per chunk of the inference path (8 MiB temporaries at d = 64).
    inference_chunk = 32768

    def process(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> tuple[Tensor, Tensor]:
        """Encode and run the n message-passing cycles: (h_v^n (N, d), h_e^n (E, d))."""
        if not torch.is_grad_enabled():
            return self._process_inference(x, edge_index, edge_attr)
        x0 = self.node_encoder(x)
        e0 = self.edge_encoder(edge_attr)
        edge_term = self.edge_update.encoding_term(e0)
        node_term = self.node_update.encoding_term(x0)
        pairs = pair_index(edge_index)
        h, e = x0, e0
        for _ in range(self.steps):
            e = self.edge_update(h, edge_index, e, edge_term, pairs)
            h = self.node_update(h, edge_index, e, node_term)
        return h, e

    @torch.no_grad()
    def _process_inference(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> tuple[Tensor, Tensor]:
        """:meth:`process` without autograd: the same arithmetic, edge work in chunks, edge states updated
        in place. Holds two (E, d) arrays (h_e and W_0 h_e⁰ + b₁) instead of ~5, and its temporaries are
        small enough for the allocator to reuse (no page faults on fresh memory)."""
        n_edges, d, chunk = edge_attr.shape[0], self.hidden, self.inference_chunk
        x0 = self.node_encoder(x)
        node_term = self.node_update.encoding_term(x0)
        e = edge_attr.new_empty(n_edges, d)
        edge_term = edge_attr.new_empty(n_edges, d)
        for a in range(0, n_edges, chunk):
            e0 = self.edge_encoder(edge_attr[a: a + chunk])
            edge_term[a: a + chunk] = self.edge_update.encoding_term(e0)
            e[a: a + chunk] = e0
        pairs = pair_index(edge_index)
        h = x0
        for _ in range(self.steps):
            e = self.edge_update.update_inplace(h, e, edge_term, pairs, chunk)
            h = self.node_update(h, edge_index, e, node_term)
        return h, e

    def decode_edges(self, e: Tensor) -> Tensor:
        """Ê (E,) from the final edge states (in chunks without autograd)."""
        dec = self.decoder_of("edges")
        if torch.is_grad_enabled():
            return dec(e).squeeze(-1)
        out = e.new_empty(e.shape[0])
        for a in range(0, e.shape[0], self.inference_chunk):
            out[a: a + self.inference_chunk] = dec(e[a: a + self.inference_chunk]).squeeze(-1)
        return out

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor,
                decode: str = "both") -> tuple[Tensor | None, Tensor | None]:
        h, e = self.process(x, edge_index, edge_attr)
        nodes = self.decoder_of("nodes")(h).squeeze(-1) if decode in ("both", "nodes") else None
        edges = self.decode_edges(e) if decode in ("both", "edges") else None
        return nodes, edges
