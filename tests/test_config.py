"""The schema and cross-field rules reject bad values and name the key; `validate-config` says so in one line."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from glassdyn import cli
from glassdyn import config as gcfg

ROOT = Path(__file__).resolve().parents[1]


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_paper_and_laptop_configs_are_valid(paper_config, laptop_config):
    assert gcfg.temperature_keys(paper_config) == ["0.44", "0.50", "0.64"]
    assert paper_config["configurations"]["n"] == 500
    assert gcfg.n_a(paper_config) == 3277
    assert gcfg.box_length(paper_config) == pytest.approx(15.05658, abs=1e-5)
    assert laptop_config["system"]["n_particles"] < paper_config["system"]["n_particles"]


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda c: c["temperatures"][0].__setitem__("T", -0.44), "temperatures.0.T"),
        (lambda c: c["protocol"].__setitem__("replicas", 1), "protocol.replicas"),
        (lambda c: c["temperatures"][2]["times"].append(10_000.0), "temperatures.2.times"),
        (lambda c: c["models"].__setitem__("enabled", ["ntgnn", "gpt"]), "models.enabled.1"),
        (lambda c: c["system"].__setitem__("timestep", 0.0), "system.timestep"),
        (lambda c: c["configurations"].__setitem__("n_train", 500), "configurations.n_train"),
        (lambda c: c["graph"].__setitem__("cutoff", 8.0), "graph.cutoff"),
        (lambda c: c["system"].__setitem__("n_particles", "many"), "system.n_particles"),
        (lambda c: c["system"].pop("density"), "system.density"),
        (lambda c: c["system"].__setitem__("densty", 1.2), "system.densty"),
        (lambda c: c["labels"].__setitem__("bond_a_out", 1.0), "labels.bond_a_out"),
        (lambda c: c["models"]["botan"]["pretrain"].__setitem__("T", 0.3), "models.botan.pretrain.T"),
        (lambda c: c["training"].__setitem__("time_indices", [0, 42]), "training.time_indices"),
        (lambda c: c["temperatures"][1].__setitem__("times", [2.0, 1.0]), "temperatures.1.times"),
        (lambda c: c["temperatures"][1].__setitem__("times", [0.0001]), "temperatures.1.times"),
    ],
)
def test_bad_value_is_rejected_with_its_key(cfg, mutate, key):
    mutate(cfg)
    with pytest.raises(gcfg.ConfigError) as err:
        gcfg.validate(cfg)
    assert err.value.key == key
    assert f"'{key}'" in str(err.value)


def test_merge_is_recursive():
    base = {"a": {"x": 1, "y": 2}, "b": [1, 2]}
    out = gcfg.deep_merge(base, {"a": {"y": 3}, "b": [5]})
    assert out == {"a": {"x": 1, "y": 3}, "b": [5]}
    assert base["a"]["y"] == 2


def test_seeds_are_reproducible_and_distinct():
    a = gcfg.derive_seed("0.44", 3, "replica", 0)
    assert a == gcfg.derive_seed("0.44", 3, "replica", 0)
    seeds = {gcfg.derive_seed("0.44", c, "replica", r) for c in range(50) for r in range(32)}
    assert len(seeds) == 50 * 32
    assert all(1 <= s < 2**31 for s in seeds)
    assert gcfg.derive_seed(0.5, 1) == gcfg.derive_seed("0.50", 1)


def test_temperature_keys_and_splits(laptop_config):
    assert gcfg.temperature_key(0.5) == "0.50"
    assert gcfg.temperature_key(1) == "1.00"
    assert gcfg.temperature_key(0.125) == "0.125"
    fit, val = gcfg.split_train_validation(laptop_config)
    assert set(fit).isdisjoint(val)
    assert sorted(fit + val) == gcfg.train_indices(laptop_config)
    assert set(gcfg.test_indices(laptop_config)).isdisjoint(fit + val)


def test_sampling_steps_round_to_nearest():
    assert gcfg.sampling_steps([0.13, 1.30, 0.0015], 0.001) == [130, 1300, 2]


# --------------------------------------------------------------------------- `glassdyn validate-config`
def _validate(caplog, *files) -> tuple[int, list[str]]:
    """Exit status and the error lines of `glassdyn validate-config FILES`."""
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        rc = cli.main(["validate-config", *map(str, files)])
    return rc, [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("text, line", [
    ("protcol: {replicas: 4}\n", "config key 'protcol': unknown key (did you mean 'protocol'?)"),
    ("protocol: {replicsa: 4}\n", "config key 'protocol.replicsa': unknown key (did you mean 'replicas'?)"),
    ("models:\n  botan:\n    pretrain: {epohcs: 3}\n",
     "config key 'models.botan.pretrain.epohcs': unknown key (did you mean 'epochs'?)"),
])
def test_misspelled_keys_are_refused_with_the_nearest_valid_one(tmp_path, caplog, text, line):
    rc, errors = _validate(caplog, write_text(tmp_path / "typo.yaml", text))
    assert (rc, errors) == (2, [line])


def test_an_override_alone_validates_from_any_directory(tmp_path, monkeypatch, capsys):
    """Overrides are merged over the packaged defaults (config.yaml), wherever the command runs."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["validate-config", str(ROOT / "config" / "laptop.yaml")]) == 0
    merged = json.loads(capsys.readouterr().out)
    assert merged["system"]["n_particles"] == 500  # from laptop.yaml
    assert merged["parallel"] == gcfg.load()["parallel"]  # from the defaults


def test_malformed_yaml_is_one_line_naming_file_line_and_column(tmp_path, caplog):
    bad = write_text(tmp_path / "bad.yaml", "protocol:\n  replicas: [4\n")
    rc, errors = _validate(caplog, bad)
    assert (rc, errors) == (2, [f"{bad}:3:1: not valid YAML (expected ',' or ']', but got '<stream end>')"])
    tab = write_text(tmp_path / "tab.yaml", "protocol:\n\treplicas: 4\n")
    rc, errors = _validate(caplog, tab)
    assert rc == 2 and len(errors) == 1 and errors[0].startswith(f"{tab}:2:1: not valid YAML (found character '\\t'")
