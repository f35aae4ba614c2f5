"""Your own network in the campaign's cells, beside NT-GNN and BOTAN.

Name it in the ``models`` section and enable it::

    models:
      enabled: [ntgnn, botan, mygnn]
      mygnn:
        network: "examples.pyg_model:MyGNN" # module:Class (importable; the working directory is on the path)
                                            # or path/to/file.py:Class (relative to the working directory)
        options: {hidden: 32}               # keyword arguments of the constructor (default: none)
        p: 0.4                              # loss = p MSE(S) + (1 − p) MSE(E), as for the built-in models
        epochs: 100
        graphs_per_step: 1
        lr: 1.0e-3

The campaign then trains and evaluates it in every (T, t) cell exactly as
the built-in graph networks (rules ``train`` and ``evaluate``,
:func:`glassdyn.gnn.train.train_cell`): the same fit/validation/test split,
target standardisation (``network.targets``), augmentation of the edge
vectors, gradient clipping, checkpoints and resume, DDP ranks, precision,
metrics and report rows (``eval/<name>/T{T}/t{k}.csv``, ``cells.csv``, the
figure). ``glassdyn predict --cell <name>,T,k`` applies it to any structure.

The interface (checked when the network is built, with one clear error):

- ``Class(**options)`` is a :class:`torch.nn.Module`;
- ``forward(x, edge_index, edge_attr)`` with ``x`` (N, 1) float32 (the type
  as a number, A → 0, B → 1), ``edge_index`` (2, E) int64 (PyG convention:
  row 0 = source j, row 1 = target i, both directions of every pair within
  ``graph.cutoff``) and ``edge_attr`` (E, 3) float32 = r_i − r_j (σ_AA,
  minimum image), possibly several graphs side by side (``graphs_per_step``);
- it returns the node predictions (N,) or (N, 1), or a pair ``(nodes,
  edges)`` with ``edges`` (E,) or (E, 1) (or ``None``), in the units of the
  training targets (standardised unless ``network.targets: raw``);
- ``p < 1`` needs edge predictions.

It is a family of the one registry (:func:`glassdyn.config.families.families`,
kind ``gnn``), so the workflow's targets, ``status``, ``plan`` and the report
take it like a built-in one. A model.pt of a user's model stores
``hyperparameters = {"network": ..., "options": ...}`` (a file path made
absolute), so :func:`glassdyn.gnn.trained.load_trained` rebuilds it wherever
that class can be imported.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

import torch
from torch import Tensor, nn

from glassdyn.config.errors import ConfigError


class UserModelError(ValueError):
    """A user's model class cannot be loaded or does not follow the interface; the message says which and why."""


def _is_file_spec(module: str) -> bool:
    return module.endswith(".py") or "/" in module or "\\" in module


def user_hyperparameters(settings: dict) -> dict:
    """``{"network", "options"}`` of a ``models.<name>`` section with a ``network`` (file paths made absolute)."""
    spec = str(settings["network"])
    module, _, name = spec.rpartition(":")
    if module and _is_file_spec(module):
        spec = f"{Path(module).resolve()}:{name}"
    return {"network": spec, "options": dict(settings.get("options") or {})}


def load_class(spec: str) -> type[nn.Module]:
    """The class named by ``module:Class`` or ``path/to/file.py:Class``."""
    module, sep, name = spec.rpartition(":")
    if not sep or not module or not name.isidentifier():
        raise UserModelError(f"network '{spec}': write it as module:Class or path/to/file.py:Class")
    if _is_file_spec(module):
        path = Path(module)
        if not path.is_file():
            raise UserModelError(f"network '{spec}': file {path} does not exist")
        mod_name = "glassdyn_user_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
        mod = sys.modules.get(mod_name)
        if mod is None:
            loader_spec = importlib.util.spec_from_file_location(mod_name, path)
            mod = importlib.util.module_from_spec(loader_spec)
            try:
                loader_spec.loader.exec_module(mod)
            except Exception as exc:  # the user's module may raise anything while importing
                raise UserModelError(f"network '{spec}': importing {path} failed ({type(exc).__name__}: {exc})") \
                    from exc
            sys.modules[mod_name] = mod
    else:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            raise UserModelError(f"network '{spec}': no module '{module}' ({exc}); put it on PYTHONPATH, in the "
                                 "working directory, or give path/to/file.py:Class") from exc
        except Exception as exc:  # the user's module may raise anything while importing
            raise UserModelError(f"network '{spec}': importing {module} failed ({type(exc).__name__}: {exc})") \
                from exc
    cls = getattr(mod, name, None)
    if cls is None:
        raise UserModelError(f"network '{spec}': the module has no '{name}'")
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise UserModelError(f"network '{spec}': {name} is not a torch.nn.Module subclass")
    return cls


def _column(value, rows: int, what: str, spec: str) -> Tensor:
    """A (rows,) float tensor from a (rows,) or (rows, 1) output, or a clear error."""
    if not isinstance(value, Tensor) or not value.is_floating_point():
        raise UserModelError(f"network '{spec}': forward's {what} must be a float tensor, got "
                             f"{type(value).__name__ if not isinstance(value, Tensor) else value.dtype}")
    if tuple(value.shape) not in ((rows,), (rows, 1)):
        raise UserModelError(f"network '{spec}': forward's {what} have shape {tuple(value.shape)}, "
                             f"expected ({rows},) or ({rows}, 1)")
    return value.reshape(rows)


class UserModel(nn.Module):
    """A user's network behind the interface of the built-in ones: ``forward(x, edge_index, edge_attr,
    decode)`` -> ``(nodes (N,) | None, edges (E,) | None)``. Its weights are under ``net.``."""

    def __init__(self, spec: str, options: dict | None = None):
        super().__init__()
        self.spec = spec
        self.options = dict(options or {})
        cls = load_class(spec)
        try:
            self.net = cls(**self.options)
        except TypeError as exc:
            raise UserModelError(f"network '{spec}': the constructor does not take options {self.options} "
                                 f"({exc})") from exc
        self.has_edge_output = self._probe()

    def hyperparameters(self) -> dict:
        return {"network": self.spec, "options": self.options}

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor,
                decode: str = "both") -> tuple[Tensor | None, Tensor | None]:
        out = self.net(x, edge_index, edge_attr)
        nodes, edges = out if isinstance(out, (tuple, list)) and len(out) == 2 else (out, None)
        nodes = _column(nodes, x.shape[0], "node predictions", self.spec)
        if edges is not None:
            edges = _column(edges, edge_index.shape[1], "edge predictions", self.spec)
        return (nodes if decode in ("both", "nodes") else None,
                edges if decode in ("both", "edges") else None)

    @torch.no_grad()
    def _probe(self) -> bool:
        """Run forward once on a 6-particle ring (both directions) and check what comes back; True if it
        predicts edges."""
        n = 6
        src = torch.arange(n)
        dst = (src + 1) % n
        edge_index = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], dim=1)
        x = torch.tensor([[0.0], [0.0], [1.0], [0.0], [1.0], [0.0]])
        vec = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.9, 0.0], [-0.5, 0.9, 0.0], [-1.0, 0.0, 0.0],
                            [-0.5, -0.9, 0.0], [0.5, -0.9, 0.0]])
        edge_attr = torch.cat([vec, -vec])
        was_training = self.net.training
        self.net.eval()
        try:
            out = self.net(x, edge_index, edge_attr)
        except Exception as exc:  # any failure of the user's forward is reported with the interface
            raise UserModelError(f"network '{self.spec}': forward(x (N, 1), edge_index (2, E), edge_attr (E, 3)) "
                                 f"failed on a 6-particle test graph ({type(exc).__name__}: {exc})") from exc
        finally:
            self.net.train(was_training)
        nodes, edges = out if isinstance(out, (tuple, list)) and len(out) == 2 else (out, None)
        _column(nodes, n, "node predictions", self.spec)
        if edges is not None:
            _column(edges, edge_index.shape[1], "edge predictions", self.spec)
        return edges is not None


def build_user_model(hyperparameters: dict) -> UserModel:
    """The user's network of a model.pt's or configuration's ``{"network", "options"}``."""
    return UserModel(str(hyperparameters["network"]), hyperparameters.get("options"))


def check_loss_weight(net: nn.Module, model: str, p: float) -> None:
    """p < 1 needs edge predictions: refuse a user's model without them (names ``models.<model>.p``)."""
    if p < 1.0 and getattr(net, "has_edge_output", True) is False:
        raise ConfigError(f"models.{model}.p", f"{p} < 1 needs edge predictions, but {net.spec} returns node "
                                               "predictions only; set p: 1.0 or return (nodes, edges)")
