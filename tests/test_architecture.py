"""The layout is the architecture: checked from the source itself.

- no import of a glassdyn module inside a function, and no import cycle between modules (AST, every
  import counted; the layer contracts themselves are `lint-imports` in .ci/run);
- functions fit on a screen: at most two over 80 lines, each with its reason here;
- every workflow rule has its step (declared reads) and a `glassdyn` subcommand of the same name;
- every step's declared reads exist in the default configuration;
- the conda environments name the project's dependencies as pyproject.toml pins them.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from glassdyn import config as gcfg
from glassdyn.campaign.steps import STEPS
from glassdyn.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
#: Functions allowed over 80 lines, with the reason they read better whole.
LONG_FUNCTIONS: dict[str, str] = {}


def _modules() -> dict[str, ast.Module]:
    out = {}
    for p in sorted((SRC / "glassdyn").rglob("*.py")):
        name = ".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        out[name] = ast.parse(p.read_text())
    return out


def _imported(node: ast.AST, module: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            base = ".".join(module.split(".")[: len(module.split(".")) - node.level] + ([base] if base else []))
        return [base] + [f"{base}.{a.name}" for a in node.names]
    return []


def test_no_glassdyn_import_inside_a_function():
    found = []
    for name, tree in _modules().items():
        for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in ast.walk(fn):
                if any(m.startswith("glassdyn") for m in _imported(node, name)):
                    found.append(f"{name}.{fn.name}")
    assert not found, f"imports inside functions (a hidden cycle?): {found}"


def test_no_import_cycles_between_modules():
    modules = _modules()
    graph = {name: set() for name in modules}
    for name, tree in modules.items():
        for node in ast.walk(tree):
            for target in _imported(node, name):
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_functions_fit_on_a_screen():
    long = {}
    for name, tree in _modules().items():
        for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            if fn.end_lineno - fn.lineno + 1 > 80:
                long[f"{name}.{fn.name}"] = fn.end_lineno - fn.lineno + 1
    assert set(long) <= set(LONG_FUNCTIONS) and len(LONG_FUNCTIONS) <= 2, long


def test_every_rule_has_its_step_and_subcommand():
    rules = set()
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        rules |= set(re.findall(r"^\s*rule (\w+):", smk.read_text(), re.M))
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    assert rules == set(STEPS), rules ^ set(STEPS)
    report_subcommand = {"temperature": "report", "pretrain": "train"}  # report for one T; train --pretrain
    missing = [r for r in rules if report_subcommand.get(r, r.replace("_", "-")) not in commands]
    assert not missing, missing


def test_declared_reads_exist_in_the_default_configuration():
    cfg = gcfg.load()
    for rule, step in STEPS.items():
        for path in step.reads.paths:
            if path.startswith("temperatures") or path == "source":
                continue
            node = cfg
            for key in path.replace("{model}", "botan").replace("{variant}", "fast_ogn").replace(
                    "{state}", "liquid").replace("{split}", "train").split("."):
                assert isinstance(node, dict) and key in node, f"rule {rule}: '{path}' is not in config.yaml"
                node = node[key]


def _requirement_name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req, maxsplit=1)[0].lower().replace("-", "_")


def test_conda_environments_pin_what_pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {_requirement_name(r): r.replace(" ", "") for r in project["dependencies"]}
    listed = set()
    for env in sorted((ROOT / "envs").glob("*.yaml")):
        deps = yaml.safe_load(env.read_text())["dependencies"]
        pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
        assert "-e ../" in pip, f"{env.name}: installs no glassdyn (-e ../)"
        for req in (r for r in pip if not r.startswith("-")):
            name = _requirement_name(req)
            assert name in pins, f"{env.name}: {req} is not a dependency in pyproject.toml"
            assert req.replace(" ", "") == pins[name], f"{env.name}: {req} but pyproject.toml says {pins[name]}"
            listed.add(name)
    assert set(pins) <= listed, f"in no environment: {sorted(set(pins) - listed)}"
    rules_text = "".join(p.read_text() for p in (ROOT / "workflow" / "rules").glob("*.smk"))
    n_rules = len(re.findall(r"^\s*rule \w+:", rules_text, re.M))
    assert rules_text.count("conda:") == n_rules, "every rule names its conda environment"


def test_an_installed_package_validates_a_configuration_anywhere(tmp_path):
    """`pip install .` (not editable): the schemas and defaults travel as package data."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
                    str(target), str(ROOT)], check=True, capture_output=True, timeout=600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(target))
    code = "import glassdyn, sys; print(glassdyn.__file__)"
    where = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert where.stdout.startswith(str(target)), where.stdout + where.stderr
    res = subprocess.run([sys.executable, "-m", "glassdyn", "validate-config", str(ROOT / "config" / "laptop.yaml")],
                         cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["system"]["n_particles"] == 500


def test_scripts_import_names_that_exist():
    """Benchmarks and validation scripts are not run by every test: their glassdyn imports must still resolve."""
    import importlib.util

    missing = []
    for p in sorted([*(ROOT / "benchmarks").glob("*.py"), *(ROOT / "validation").glob("*.py")]):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("glassdyn"):
                mod = importlib.import_module(node.module)
                missing += [f"{p.name}: {node.module}.{a.name}" for a in node.names
                            if not hasattr(mod, a.name) and importlib.util.find_spec(f"{node.module}.{a.name}") is None]
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("glassdyn") and importlib.util.find_spec(a.name) is None:
                        missing.append(f"{p.name}: {a.name}")
    assert not missing, f"scripts import names that do not exist: {missing}"
