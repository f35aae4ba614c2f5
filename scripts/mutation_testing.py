#!/usr/bin/env python
"""Run mutmut on one group of glassdyn's core modules with that group's tests (docs/mutation-testing.md).

The groups live in pyproject.toml under ``[tool.glassdyn.mutation.<group>]``:
``mutate`` (files), ``tests`` (the narrowest test files that pin them) and
optionally ``functions`` (a table file -> names: only these functions' mutants
run; the rest of the file is plumbing exercised by the slow tests). The run happens in a scratch
folder (default ``.mutation/<group>``, git-ignored) holding a copy of the
sources, the tests and a pyproject.toml whose ``[tool.mutmut]`` section is
narrowed to the group, so the working tree is never touched and several
groups can be run one after the other without interfering.

    nice -n 10 python scripts/mutation_testing.py labels
    nice -n 10 python scripts/mutation_testing.py training --rev cb4538f   # code and tests of a commit
    python scripts/mutation_testing.py labels --summary                    # the last run's numbers again
    python scripts/mutation_testing.py labels --survivors                  # their diffs (mutmut show)

Prints the counts (killed, survived, no tests, timeout) and the score
killed / (mutants with tests), and writes them to ``<workdir>/summary.json``.
Run by hand, never in CI: one group takes minutes (labels) to an hour (training).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY = ("src", "tests", "config", "workflow", "benchmarks", "envs", "profiles", "config.yaml", "Snakefile",
        "pyproject.toml")
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
          36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout", 37: "type check",
          None: "not checked"}


def groups() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["glassdyn"]["mutation"]


def module_name(path: str) -> str:
    """src/glassdyn/physics/observables.py -> glassdyn.physics.observables (mutmut's mutant-name prefix)."""
    return ".".join(Path(path).relative_to("src").with_suffix("").parts)


def mutant_patterns(group: dict) -> list[str]:
    """mutmut name patterns of the group's selected functions (a file without a list: all of it); [] = all."""
    functions = group.get("functions", {})
    if not functions:
        return []
    return [f"{module_name(m)}.x_{f}__mutmut_*" for m in group["mutate"] if m in functions for f in functions[m]] + \
        [f"{module_name(m)}.*" for m in group["mutate"] if m not in functions]


def toml_list(values) -> str:
    return "[" + ", ".join(json.dumps(str(v)) for v in values) + "]"


def mutmut_section(base: dict, group: dict, tests: list[str]) -> str:
    """The ``[tool.mutmut]`` table of the scratch pyproject.toml: the group's files and tests."""
    lines = ["[tool.mutmut]", f"source_paths = {toml_list(base['source_paths'])}",
             f"only_mutate = {toml_list(group['mutate'])}", f"also_copy = {toml_list(base['also_copy'])}",
             f"pytest_add_cli_args = {toml_list(base['pytest_add_cli_args'])}",
             f"pytest_add_cli_args_test_selection = {toml_list(tests)}",
             "do_not_mutate_patterns = [" + ", ".join("'" + p + "'" for p in base["do_not_mutate_patterns"]) + "]",
             f"process_isolation = {json.dumps(base.get('process_isolation', 'fork'))}"]
    return "\n".join(lines) + "\n"


def export_tree(rev: str | None, dest: Path) -> None:
    """Copy the sources and tests of the working tree (rev None) or of a git revision into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    if rev is None:
        for name in COPY:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif src.exists():
                shutil.copy2(src, dest / name)
        return
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, *COPY], check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(dest, filter="data")


def prepare(name: str, rev: str | None, work: Path, keep: bool = False) -> tuple[dict, list[str]]:
    group = groups()[name]
    if keep and (work / "mutants").exists():   # resume: mutmut keeps the results it already has
        tests = [t for t in group["tests"] if (work / t).exists()]
        return group, tests
    if work.exists():
        shutil.rmtree(work)
    export_tree(rev, work)
    tests = [t for t in group["tests"] if (work / t).exists()]
    missing = sorted(set(group["tests"]) - set(tests))
    if missing:
        print(f"not in {rev or 'the working tree'}: {', '.join(missing)}")
    base = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    (work / "pyproject.toml").write_text(mutmut_section(base, group, tests))
    return group, tests


def mutmut(work: Path, *args: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}   # the tests import mutants/src
    env["OMP_NUM_THREADS"] = "1"
    exe = Path(sys.executable).with_name("mutmut")
    return subprocess.run([str(exe), *args], cwd=work, env=env).returncode


def summary(work: Path, group: dict, only: set[str] | None = None) -> dict:
    """Counts per status over the group's selected functions (or the mutants ``only``), from mutmut's .meta files."""
    wanted = tuple(p.removesuffix("*") for p in mutant_patterns(group))
    counts, survivors, untested = Counter(), [], []
    for meta in sorted((work / "mutants").rglob("*.meta")):
        data = json.loads(meta.read_text())
        for key, code in data["exit_code_by_key"].items():
            if (only is not None and key not in only) or (wanted and not any(w in key for w in wanted)):
                continue
            status = STATUS.get(code, "suspicious")
            counts[status] += 1
            if status == "survived":
                survivors.append(key)
            elif status == "no tests":
                untested.append(key)
    tested = counts["killed"] + counts["survived"] + counts["timeout"] + counts["suspicious"]
    caught = counts["killed"] + counts["timeout"]
    return {"counts": dict(counts), "score": caught / tested if tested else None, "survivors": survivors,
            "untested": untested}


def verify(work: Path, tests: list[str], survivors: list[str], timeout: float) -> tuple[list[str], list[str]]:
    """Re-run each survivor against the group's whole test files; (still surviving, killed now).

    mutmut runs, for a mutant, only the tests that called the mutated function while it collected its
    statistics; a function called from a module-scoped fixture is credited to the first test that built
    the fixture, so an assertion on its result in a later test of the module is never run for it. Here
    the mutant is switched on through MUTANT_UNDER_TEST (as mutmut's trampolines read it) and every test
    of the group's files runs (-x: up to the first failure).
    """
    base = tomllib.loads((work / "pyproject.toml").read_text())["tool"]["mutmut"]["pytest_add_cli_args"]
    still, killed = [], []
    for name in survivors:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(MUTANT_UNDER_TEST=name, OMP_NUM_THREADS="1", PYTHONPATH=str(work / "mutants" / "src"))
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", *base, *tests]
        try:
            rc = subprocess.run(cmd, cwd=work / "mutants", env=env, capture_output=True, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = -1
        (still if rc == 0 else killed).append(name)
        print(f"  {name}: {'survived' if rc == 0 else 'killed (whole files)'}", flush=True)
    return still, killed


def combine(earlier: dict, rerun: dict) -> dict:
    """The earlier run's counts with its survivors and untested mutants replaced by their statuses in ``rerun``."""
    counts = Counter(earlier["counts"])
    counts["survived"] -= len(earlier["survivors"])
    counts["no tests"] -= len(earlier.get("untested", []))
    counts.update(rerun["counts"])
    counts = {k: v for k, v in counts.items() if v}
    tested = sum(counts.get(k, 0) for k in ("killed", "survived", "timeout", "suspicious"))
    caught = counts.get("killed", 0) + counts.get("timeout", 0)
    return {"counts": counts, "score": caught / tested if tested else None, "survivors": rerun["survivors"],
            "untested": rerun["untested"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("group", help=f"one of {sorted(groups())}")
    ap.add_argument("--rev", help="git revision whose src/ and tests/ are mutation-tested (default: working tree)")
    ap.add_argument("--workdir", type=Path, help="scratch folder (default .mutation/<group>[-<rev>])")
    ap.add_argument("--max-children", type=int, default=1, help="parallel mutants (default 1: the cores are shared)")
    ap.add_argument("--keep", action="store_true", help="resume the run in --workdir (do not start afresh)")
    ap.add_argument("--survivors-of", type=Path, metavar="DIR",
                    help="run only the mutants that survived (or that no test reached) in the run in DIR (e.g. "
                         ".mutation/labels-cb4538f) and count its killed ones as killed: for the same source code "
                         "with tests only added")
    ap.add_argument("--verify", action="store_true",
                    help="after the run, re-run every survivor against the group's whole test files (see verify())")
    ap.add_argument("--summary", action="store_true", help="only print the last run's summary")
    ap.add_argument("--survivors", action="store_true", help="print the diff of every surviving mutant")
    args = ap.parse_args(argv)
    if args.group not in groups():
        ap.error(f"unknown group '{args.group}'; known: {sorted(groups())}")
    group = groups()[args.group]
    work = args.workdir or ROOT / ".mutation" / (args.group + (f"-{args.rev}" if args.rev else ""))
    if not (args.summary or args.survivors):
        _, tests = prepare(args.group, args.rev, work, args.keep)
        print(f"{args.group}: mutating {group['mutate']} with {tests} in {work}", flush=True)
        names = mutant_patterns(group)
        earlier = None
        if args.survivors_of:
            earlier = json.loads((args.survivors_of / "summary.json").read_text())
            earlier["untested"] = summary(args.survivors_of, group)["untested"]   # mutants no test reached
            names = earlier["survivors"] + earlier["untested"]
        t0 = time.time()
        rc = mutmut(work, "run", "--max-children", str(args.max_children), *names) if names or not earlier else 0
        elapsed = time.time() - t0
        result = summary(work, group, only=set(names) if earlier else None)
        if earlier:
            result = combine(earlier, result)
        result.update(group=args.group, rev=args.rev, tests=tests, wall_seconds=round(elapsed), mutmut_exit=rc,
                      survivors_of=str(args.survivors_of) if earlier else None)
        (work / "summary.json").write_text(json.dumps(result, indent=1))
    if args.verify:
        result = json.loads((work / "summary.json").read_text())
        t0 = time.time()
        still, killed = verify(work, result["tests"], result["survivors"], timeout=1800)
        counts = Counter(result["counts"])
        counts["survived"] -= len(killed)
        counts["killed"] += len(killed)
        tested = sum(counts.get(k, 0) for k in ("killed", "survived", "timeout", "suspicious"))
        result.update(counts=dict(counts), survivors=still,
                      killed_by_whole_files=result.get("killed_by_whole_files", []) + killed,
                      score=(counts["killed"] + counts.get("timeout", 0)) / tested,
                      verify_seconds=round(time.time() - t0))
        (work / "summary.json").write_text(json.dumps(result, indent=1))
    result = json.loads((work / "summary.json").read_text())
    if args.survivors:
        for key in result["survivors"]:
            mutmut(work, "show", key)
    score = result["score"]
    print(f"{args.group} ({result['rev'] or 'working tree'}): {result['counts']}, score "
          f"{'n/a' if score is None else f'{100 * score:.1f} %'}, {len(result['survivors'])} survivors, "
          f"{result['wall_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
