"""Which files a campaign makes: the paths and lists the rules wire together, derived from the configuration.

The rules (``workflow/rules/*.smk``) only name these functions; ``plan`` and
``status`` count jobs from the same lists, so there is one source of what a
campaign is. Paths are under ``results`` (``cfg["results"]``); temperatures
appear as :func:`glassdyn.config.temperature_key`, configurations as 4 digits.
"""
from __future__ import annotations

from glassdyn import baselines
from glassdyn import config as gcfg
from glassdyn.config.families import enabled, families
from glassdyn.tglassmlp.states import variant_T_min


def conf(c: int | str) -> str:
    """Folder name of configuration index c: ``0007``."""
    return f"{int(c):04d}"


def source_kind(cfg: dict) -> str:
    """Where labels come from: ``md`` (LAMMPS) or a published data set (``botan``, ``glassbench``)."""
    return gcfg.source_settings(cfg)["kind"]


# --------------------------------------------------------------------------- MD, labels, dynamics
def replicas_of(cfg: dict, T: str) -> list[str]:
    R = cfg["results"]
    return [f"{R}/md/T{T}/c{conf(c)}/replicas.h5" for c in range(cfg["configurations"]["n"])]


def labels_of(cfg: dict, T: str, indices) -> list[str]:
    return [f"{cfg['results']}/labels/T{T}/c{conf(c)}.h5" for c in indices]


def all_labels(cfg: dict, T: str) -> list[str]:
    return labels_of(cfg, T, range(cfg["configurations"]["n"]))


def train_labels(cfg: dict, T: str) -> list[str]:
    return labels_of(cfg, T, gcfg.train_indices(cfg))


def test_labels(cfg: dict, T: str) -> list[str]:
    return labels_of(cfg, T, gcfg.test_indices(cfg))


def t0_frame(cfg: dict, T: str, c: str) -> str:
    """The t = 0 frame of (T, c): the equilibrated MD frame, or the labels file of imported data."""
    if source_kind(cfg) == "md":
        return f"{cfg['results']}/md/T{T}/c{c}/equilibrated.h5"
    return f"{cfg['results']}/labels/T{T}/c{c}.h5"


def dynamics_of(cfg: dict, T: str) -> list[str]:
    return [f"{cfg['results']}/physics/T{T}/dynamics.csv"]


def md_targets(cfg: dict) -> list[str]:
    """Every configuration's MD files: a deleted one is remade on the next run (alone, with its dependants)."""
    if source_kind(cfg) != "md":
        return []
    return [f for T in gcfg.temperature_keys(cfg) for f in replicas_of(cfg, T)]


# --------------------------------------------------------------------------- graph networks
def gnn_models(cfg: dict) -> list[str]:
    """Every per-cell graph-network family the campaign may train (the registry's ``gnn`` kind, users'
    networks of ``cfg`` included)."""
    return [name for name, fam in families(cfg).items() if fam.kind == "gnn"]


def gnn_cells(cfg: dict, T: str) -> list[tuple[str, str, int]]:
    """(model, T, k) training cells of the per-cell graph networks at temperature T."""
    return [(m, T, k) for m in enabled(cfg, "gnn") for k in gcfg.time_indices(cfg, T)]


def pretraining(cfg: dict, model: str) -> dict | None:
    """``models.<model>.pretrain`` when the ``pretrain`` rule runs it (epochs > 0), else None (also when it
    names a weights file to start from)."""
    pre = (cfg["models"].get(model) or {}).get("pretrain")
    return pre if isinstance(pre, dict) and pre["epochs"] > 0 else None


def pretrained_model(cfg: dict, model: str) -> list[str]:
    """The network the main training of ``model`` starts from: the ``pretrain`` rule's model.pt, the weights
    file ``models.<model>.pretrain`` names (glassdyn model.pt or published BOTAN .pth), or none."""
    pre = (cfg["models"].get(model) or {}).get("pretrain")
    if isinstance(pre, str):
        return [pre]
    return [f"{cfg['results']}/train/{model}/pretrain/model.pt"] if pretraining(cfg, model) else []


def pretrain_labels(cfg: dict, model: str) -> list[str]:
    return train_labels(cfg, gcfg.temperature_key(pretraining(cfg, model)["T"]))


def evaluations_of(cfg: dict, T: str, alone: bool = False) -> list[str]:
    """Eval CSVs at T. tGlassMLP learns from every temperature at once, so ``alone=True`` (one
    temperature run by itself) leaves it out."""
    R = cfg["results"]
    out = [f"{R}/eval/{m}/T{T}/t{k}.csv" for m, _, k in gnn_cells(cfg, T)]
    if enabled(cfg, "tglassmlp") and not alone:
        out += [f"{R}/eval/tglassmlp/T{T}/t{k}.csv" for k in gcfg.time_indices(cfg, T)]
    return out + baseline_evaluations(cfg, T) + published_evaluations(cfg, T)


# --------------------------------------------------------------------------- baselines
def baseline_evaluations(cfg: dict, T: str) -> list[str]:
    """Eval CSVs of the baselines at T: one per baseline and sampling time (rule ``baselines``)."""
    return [f"{cfg['results']}/eval/{m}/T{T}/t{k}.csv" for m in baselines.model_names(cfg)
            for k in gcfg.time_indices(cfg, T)]


def published_evaluations(cfg: dict, T: str) -> list[str]:
    """Eval CSVs of the published predictions of imported GlassBench test files at T (rule ``published_scores``)."""
    return [f"{cfg['results']}/eval/{m}/T{T}/t{k}.csv" for m in baselines.published.model_names(cfg)
            for k in gcfg.time_indices(cfg, T)]


def baseline_labels(cfg: dict, T: str) -> list[str]:
    """The labels a baseline at T is fitted (training configurations) and scored (test ones) on."""
    return all_labels(cfg, T)


def baseline_inherent(cfg: dict, T: str) -> list[str]:
    """Inherent structures of every configuration at T when ``epot_is`` is on (tGlassMLP makes them)."""
    if not baselines.needs(cfg, "epot_is"):
        return []
    return [f"{cfg['results']}/inherent/T{T}/c{conf(c)}.h5" for c in range(cfg["configurations"]["n"])]


def baseline_descriptors(cfg: dict, T: str) -> list[str]:
    """tGlassMLP descriptors of every configuration at T when the ``ridge`` baseline is on."""
    return descriptors_of(cfg, T, range(cfg["configurations"]["n"])) if baselines.needs(cfg, "ridge") else []


# --------------------------------------------------------------------------- tGlassMLP
def tglassmlp_variants(cfg: dict) -> list[str]:
    """``main``, and ``transfer`` (lowest T held out) when asked for and there are two temperatures."""
    tg = cfg.get("tglassmlp", {})
    return ["main"] + (["transfer"] if tg.get("transfer") and len(cfg["temperatures"]) >= 2 else [])


def md_temperatures(cfg: dict, variant: str) -> list[str]:
    """Temperatures whose MD labels train ``variant`` (T ≥ its T_min)."""
    t_min = float(variant_T_min(cfg, variant))
    return [T for T in gcfg.temperature_keys(cfg) if float(T) >= t_min - 1e-9]


def distilled_temperatures(cfg: dict, variant: str) -> list[str]:
    """Temperatures below T_min of ``variant``: distilled labels only."""
    t_min = float(variant_T_min(cfg, variant))
    return [T for T in gcfg.temperature_keys(cfg) if float(T) < t_min - 1e-9]


def descriptors_of(cfg: dict, T: str, indices) -> list[str]:
    return [f"{cfg['results']}/tglassmlp/descriptors/T{T}/c{conf(c)}.h5" for c in indices]


def training_descriptors(cfg: dict, temperatures) -> list[str]:
    return [f for T in temperatures for f in descriptors_of(cfg, T, gcfg.train_indices(cfg))]


def training_labels(cfg: dict, temperatures) -> list[str]:
    return [f for T in temperatures for f in train_labels(cfg, T)]


def member_descriptors(cfg: dict, variant: str) -> list[str]:
    """Descriptors a member trains on: every T when distilled labels join, else the MD temperatures."""
    temps = gcfg.temperature_keys(cfg) if distilled_temperatures(cfg, variant) else md_temperatures(cfg, variant)
    return training_descriptors(cfg, temps)


def distilled_file(cfg: dict, variant: str) -> list[str]:
    return [f"{cfg['results']}/train/tglassmlp/{variant}/distilled.h5"] if distilled_temperatures(cfg, variant) else []


def tglassmlp_members(cfg: dict, variant: str) -> list[str]:
    n = int(cfg["tglassmlp"]["ensemble"])
    return [f"{cfg['results']}/train/tglassmlp/{variant}/m{m}/model.pt" for m in range(n)]


def analysis_indices(cfg: dict) -> list[int]:
    if cfg["tglassmlp"]["analysis"]["chi4_set"] == "all":
        return list(range(cfg["configurations"]["n"]))
    return gcfg.test_indices(cfg)


def evaluated_indices(cfg: dict) -> list[int]:
    """Configurations the tGlassMLP evaluation predicts: the test ones and those of the analyses."""
    return sorted(set(analysis_indices(cfg)) | set(gcfg.test_indices(cfg)))


def tglassmlp_predictions(cfg: dict) -> list[str]:
    return [f"{cfg['results']}/tglassmlp/predictions/T{T}/t{k}.h5"
            for T in gcfg.temperature_keys(cfg) for k in gcfg.time_indices(cfg, T)]


def large_systems(cfg: dict) -> list[str]:
    if int(cfg["tglassmlp"]["analysis"]["s4"]["replicate"]) <= 0:
        return []
    return [f"{cfg['results']}/tglassmlp/large/T{T}.h5" for T in gcfg.temperature_keys(cfg)]


def large_source(cfg: dict, T: str) -> str:
    """The t = 0 frame tiled into the large system: the first test configuration's."""
    return t0_frame(cfg, T, conf(gcfg.test_indices(cfg)[0]))


def lowest_temperature(cfg: dict) -> str:
    return sorted(gcfg.temperature_keys(cfg), key=float)[0]


ANALYSIS_FILES = ("chi4.csv", "chi4.png", "lengths.csv", "lengths.png", "s4.csv", "attention.csv", "attention.png",
                  "bottleneck.png")


def tglassmlp_targets(cfg: dict) -> list[str]:
    """Everything the tGlassMLP part of the campaign reports beyond its eval CSVs."""
    R = cfg["results"]
    out = [f"{R}/tglassmlp/analysis/{f}" for f in ANALYSIS_FILES]
    if "transfer" in tglassmlp_variants(cfg):
        out += [f"{R}/tglassmlp/transfer.csv", f"{R}/tglassmlp/transfer.png"]
    return out


# --------------------------------------------------------------------------- OGN
def ogn_sources(cfg: dict) -> list[str]:
    """Trained sources: the small-box states in ogn.sources, and T<key> for every campaign temperature
    if 'campaign' is listed."""
    sources = cfg["ogn"]["sources"]
    return [s for s in sources if s != "campaign"] + (
        [f"T{T}" for T in gcfg.temperature_keys(cfg)] if "campaign" in sources else [])


def ogn_data(cfg: dict, source: str, split: str) -> str:
    return f"{cfg['results']}/ogn/data/{source}/{split}.h5"


def ogn_campaign_inputs(cfg: dict, T: str, split: str) -> list[str]:
    """The equilibrated frames continued into OGN data: the first train (or test) configurations."""
    camp = cfg["ogn"]["campaign"]
    indices = (gcfg.train_indices(cfg)[: int(camp["train_configurations"])] if split == "train"
               else gcfg.test_indices(cfg)[: int(camp["test_configurations"])])
    return [f"{cfg['results']}/md/T{T}/c{conf(c)}/equilibrated.h5" for c in indices]


def ogn_runs(cfg: dict) -> list[tuple[str, str]]:
    return [(v, s) for v in cfg["ogn"]["variants"] for s in ogn_sources(cfg)]


def ogn_rollouts(cfg: dict) -> list[str]:
    return [f"{cfg['results']}/ogn/rollout/{v}/{s}.csv" for v, s in ogn_runs(cfg)]


def ogn_metrics(cfg: dict) -> list[str]:
    return [f"{cfg['results']}/ogn/train/{v}/{s}/metrics.json" for v, s in ogn_runs(cfg)]


def ogn_targets(cfg: dict) -> list[str]:
    """Everything the OGN part of the campaign reports (rollout figures and tables, the summary)."""
    R = cfg["results"]
    return ogn_rollouts(cfg) + [f"{R}/ogn/rollout/{v}/{s}.png" for v, s in ogn_runs(cfg)] + [f"{R}/ogn/summary.csv"]


# --------------------------------------------------------------------------- the campaign
def campaign_targets(cfg: dict) -> list[str]:
    """Everything ``snakemake`` (rule ``all``) makes."""
    out = [f"{cfg['results']}/report/cells.csv"] + md_targets(cfg)
    if enabled(cfg, "ogn"):
        out += ogn_targets(cfg)
    if enabled(cfg, "tglassmlp"):
        out += tglassmlp_targets(cfg)
    return out
