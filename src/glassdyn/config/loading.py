"""Reading and validating a campaign configuration (the edge every number passes once).

A configuration is the packaged defaults (``config.yaml`` of the repository,
shipped as ``glassdyn/config/defaults.yaml``) with override files merged over
them in order, as Snakemake merges ``--configfile``. It is validated against
the JSON schema in ``glassdyn/config/schemas/`` (unknown keys refused at every
level, with the nearest valid key suggested) and then the cross-field rules of
:mod:`glassdyn.config.checks`.
"""
from __future__ import annotations

import copy
import difflib
from pathlib import Path

import jsonschema
import yaml

from glassdyn.config.checks import cross_checks
from glassdyn.config.errors import ConfigError, ConfigFileError

PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMA_DIR = PACKAGE_DIR / "schemas"
#: The paper campaign's configuration: every default (the repository's config.yaml).
DEFAULTS = PACKAGE_DIR / "defaults.yaml"


def deep_merge(base: dict, override: dict) -> dict:
    """Recursive dict update, as Snakemake applies ``--configfile``/``--config``."""
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def read_yaml(path: str | Path) -> dict:
    """One YAML file as a dict; a syntax error becomes one line: file, line, column, what is wrong."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read the configuration file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigFileError(f"{path}{where}: not valid YAML ({what})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}: a configuration file must be a mapping of sections, not {type(data).__name__}")
    return data


def load(*paths: str | Path, overrides: dict | None = None, check: bool = True) -> dict:
    """The packaged defaults with ``paths`` merged over them in order (later ones win), validated."""
    cfg = read_yaml(DEFAULTS)
    for p in paths:
        cfg = deep_merge(cfg, read_yaml(p))
    if overrides:
        cfg = deep_merge(cfg, overrides)
    if check:
        validate(cfg)
    return cfg


def schema() -> dict:
    """The main schema with the section schemas merged in; unknown top-level keys are refused."""
    with open(SCHEMA_DIR / "config.schema.yaml") as fh:
        main = yaml.safe_load(fh)
    for part in sorted((SCHEMA_DIR / "sections").glob("*.schema.yaml")):
        with open(part) as fh:
            frag = yaml.safe_load(fh)
        main["properties"].update(frag.get("properties", {}))
        main.setdefault("$defs", {}).update(frag.get("$defs", {}))
        main["required"] = list(dict.fromkeys(main.get("required", []) + frag.get("required", [])))
    main["additionalProperties"] = False
    # built-in names (FAMILIES) or a user's network (models.<name>.network): checked in glassdyn.config.checks
    main["properties"]["models"]["properties"]["enabled"]["items"] = {"type": "string",
                                                                      "pattern": "^[A-Za-z][A-Za-z0-9_]*$"}
    return main


def _error_key(error) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator in ("required", "additionalProperties") and "'" in error.message:
        parts.append(error.message.split("'")[1])
    return ".".join(parts) or "<root>"


def _unknown_key_message(error) -> str:
    """'unknown key; did you mean X?' for an additionalProperties error."""
    bad = error.message.split("'")[1]
    allowed = sorted(error.schema.get("properties", {}))
    near = difflib.get_close_matches(bad, allowed, n=1, cutoff=0.6)
    hint = f"did you mean '{near[0]}'?" if near else f"known keys here: {', '.join(allowed)}"
    return f"unknown key ({hint})"


def validate(cfg: dict) -> dict:
    """Check ``cfg`` against the schema and the cross-field rules.

    Raises :class:`ConfigError` naming the first offending key (dotted path,
    list items by index, e.g. ``temperatures.0.T``).
    """
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(list(e.absolute_path)), str(e.absolute_path)))
    if errors:
        e = errors[0]
        message = _unknown_key_message(e) if e.validator == "additionalProperties" else e.message
        raise ConfigError(_error_key(e), message)
    cross_checks(cfg)
    return cfg
