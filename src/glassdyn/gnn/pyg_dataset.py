"""A campaign's graphs and labels as a PyTorch Geometric dataset, for training outside the workflow.

Every ``labels/T{T}/c{c}.h5`` of a campaign (made by rule ``labels`` from MD,
or by ``import_labels`` from a published BOTAN/GlassBench data set;
docs/architecture.md) becomes one :class:`torch_geometric.data.Data`:

=================  ===============  ==================================================================
attribute          shape, dtype     meaning
=================  ===============  ==================================================================
``x``              (N, 1) float32   node input: the type as a number (A → 0, B → 1), as glassdyn's networks read it
``types``          (N,) int64       0 = A, 1 = B
``pos``            (N, 3) float32   positions at t = 0 (σ_AA)
``edge_index``     (2, E) int64     pairs r_ij(0) ≤ ``graph.cutoff``, both directions; row 0 source j, row 1 target i
``edge_attr``      (E, 3) float32   r_i − r_j (target minus source, minimum image, σ_AA)
``y``              (N, n_t) float32 propensity S_i(t) at every sampling time (``times``)
``y_edge``         (E, n_t) float32 pair-distance change E_ij(t) (absent for GlassBench imports)
``bond_breaking``  (N, n_t) float32 C_B^i(t) (when the file has it)
``node_mask``      (N,) bool        the particles accuracy is judged on: type A
``edge_mask``      (E,) bool        the pairs judged: A–A with r_ij(0) < ``labels.edge_eval_cutoff``
``times``          (1, n_t) float64 sampling times (LJ time units)
``box``            (1, 3) float64   box lengths
``T``, ``c``       (1,)             temperature, configuration index
=================  ===============  ==================================================================

Batching with :class:`torch_geometric.loader.DataLoader` concatenates
graphs (``edge_index`` offset), so ``batch.y[:, k]`` is the target at time
index k of every node of the batch and ``batch.times`` is (B, n_t). Files are
read when an item is asked for (about 13 ms for N = 4096), or once with
``cache=True``. The splits are the campaign's
(:func:`glassdyn.config.split_train_validation`, :func:`~glassdyn.config.test_indices`).

Example (a model with ``forward(x, edge_index, edge_attr) -> (N,)``, here
the user model of ``examples/pyg_model.py``)::

    import torch
    from torch_geometric.loader import DataLoader
    from glassdyn.gnn.pyg_dataset import GlassDataset
    from glassdyn.models.user import load_class

    train = GlassDataset.from_campaign(["config/laptop.yaml"], T=0.64, split="train")
    model, k = load_class("examples/pyg_model.py:MyGNN")(), 2       # k: sampling-time index
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for batch in DataLoader(train, batch_size=2, shuffle=True):
        nodes, _ = model(batch.x, batch.edge_index, batch.edge_attr)
        loss = (nodes - batch.y[:, k])[batch.node_mask].square().mean()
        opt.zero_grad(); loss.backward(); opt.step()
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data, Dataset

from glassdyn import config as gcfg
from glassdyn.io import storage
from glassdyn.physics.correlation import edge_mask, node_mask
from glassdyn.physics.graphs import node_inputs

#: Datasets every labels.h5 has; the per-time labels below are optional (GlassBench has no edge labels).
REQUIRED = ("types", "positions", "box", "times", "edge_index", "edge_vectors", "propensity")
OPTIONAL = {"pair_distance_change": "y_edge", "bond_breaking": "bond_breaking"}


def read_data(path: str | Path, edge_eval_cutoff: float = 1.35) -> Data:
    """One labels.h5 as a :class:`~torch_geometric.data.Data` (attributes in the module docstring)."""
    path = Path(path)
    with storage.open_h5(path, required=REQUIRED) as f:
        try:
            d = {k: f[k][()] for k in REQUIRED + tuple(k for k in OPTIONAL if k in f)}
        except (OSError, RuntimeError, ValueError) as exc:
            raise storage.StorageError(path, f"unreadable dataset ({exc}); delete the file and rerun") from exc
        T, c = float(f.attrs.get("T", np.nan)), int(f.attrs.get("c", -1))
    n, e, n_t = d["types"].shape[0], d["edge_index"].shape[1], d["times"].shape[0]
    for key in ("propensity", "bond_breaking", "pair_distance_change"):
        want = (n_t, e if key == "pair_distance_change" else n)
        if key in d and d[key].shape != want:
            raise storage.StorageError(path, f"{key} has shape {d[key].shape}, expected {want} (times, "
                                             f"{'edges' if key == 'pair_distance_change' else 'particles'})")
    out = Data(x=torch.from_numpy(node_inputs(d["types"])), types=torch.from_numpy(d["types"].astype(np.int64)),
               pos=torch.from_numpy(d["positions"].astype(np.float32)),
               edge_index=torch.from_numpy(d["edge_index"].astype(np.int64)),
               edge_attr=torch.from_numpy(d["edge_vectors"].astype(np.float32)),
               y=torch.from_numpy(d["propensity"].T.astype(np.float32).copy()),
               node_mask=torch.from_numpy(node_mask(d["types"])),
               edge_mask=torch.from_numpy(edge_mask(d["types"], d["edge_index"], d["edge_vectors"], edge_eval_cutoff)),
               times=torch.from_numpy(d["times"].astype(np.float64))[None],
               box=torch.from_numpy(np.asarray(d["box"], np.float64))[None],
               T=torch.tensor([T]), c=torch.tensor([c]))
    for key, name in OPTIONAL.items():
        if key in d:
            out[name] = torch.from_numpy(d[key].T.astype(np.float32).copy())
    return out


class GlassDataset(Dataset):
    """labels.h5 files as a PyG dataset (one :class:`Data` per configuration; see the module docstring).

    ``files``: the labels.h5 paths, in order. ``edge_eval_cutoff``: r_ij(0)
    below which A–A pairs are judged (``labels.edge_eval_cutoff``).
    ``cache``: keep items in memory after their first read. ``transform``:
    applied to every item (PyG's convention).
    """

    def __init__(self, files, edge_eval_cutoff: float = 1.35, cache: bool = False, transform=None):
        self.files = [Path(f) for f in files]
        self.edge_eval_cutoff = float(edge_eval_cutoff)
        self._cache: dict[int, Data] | None = {} if cache else None
        super().__init__(None, transform=transform)

    def len(self) -> int:
        return len(self.files)

    def get(self, idx: int) -> Data:
        if self._cache is not None and idx in self._cache:
            return self._cache[idx]
        item = read_data(self.files[idx], self.edge_eval_cutoff)
        if self._cache is not None:
            self._cache[idx] = item
        return item

    @classmethod
    def from_campaign(cls, config, T: float, split: str = "train", results: str | Path | None = None,
                      **kwargs) -> "GlassDataset":
        """The configurations of one ``split`` at temperature ``T`` of a campaign.

        ``config``: the campaign's configuration (a dict, one YAML path, or a
        list of paths merged in order like ``--configfile``). ``split``:
        ``train`` (fit + validation), ``fit``, ``validation``, ``test`` or
        ``all``. ``results``: the results folder (default: the config's
        ``results``). Missing files are named with the Snakemake target that
        makes them.
        """
        cfg = config if isinstance(config, dict) else gcfg.load(*([config] if isinstance(config, (str, Path))
                                                                  else config))
        key = gcfg.temperature_key(float(T))
        gcfg.temperature(cfg, key)   # raises ConfigError when T is not a campaign temperature
        fit, val = gcfg.split_train_validation(cfg)
        splits = {"train": fit + val, "fit": fit, "validation": val, "test": gcfg.test_indices(cfg),
                  "all": list(range(cfg["configurations"]["n"]))}
        if split not in splits:
            raise ValueError(f"split '{split}' is not one of {sorted(splits)}")
        folder = Path(results if results is not None else cfg["results"]) / "labels" / f"T{key}"
        files = [folder / f"c{c:04d}.h5" for c in splits[split]]
        missing = [f for f in files if not f.exists()]
        if missing:
            raise storage.StorageError(missing[0], f"does not exist ({len(missing)} of the {len(files)} {split} "
                                                   f"files missing); make them with `snakemake {missing[0]}`")
        kwargs.setdefault("edge_eval_cutoff", cfg["labels"]["edge_eval_cutoff"])
        return cls(files, **kwargs)
