#!/usr/bin/env python
"""Put back, one at a time, the science bugs of issue 18 and check that a test fails on each.

Each entry below is one hand-made mutation (a plausible bug a reviewer found the
suite blind to) and the tests that must fail on it. For every entry the script
copies the repository (``src``, ``tests``, configuration, workflow) into a
scratch folder, applies the replacement there (the working tree is never
touched), runs the named tests with pytest and reports ``killed`` (some test
failed, as it must) or ``SURVIVED``. Run by hand, not in CI:

    nice -n 10 python scripts/science_mutations.py            # all mutations
    nice -n 10 python scripts/science_mutations.py fit_relabel_removed k_off_in_kernel   # some, by name
    python scripts/science_mutations.py --list
    nice -n 10 python scripts/science_mutations.py --baseline cb4538f  # the suite before: they survive

Exit status 1 if any mutation survived (with --baseline: if any was killed by the old suite) or a
replacement no longer applies (the code moved: update its ``old`` text).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mutation_testing import export_tree  # the same scratch copy (scripts/ is on sys.path when run)

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str          # relative to the repository root
    old: str           # exact text, found exactly once
    new: str
    tests: tuple[str, ...]   # pytest node ids or files
    what: str
    more: tuple[tuple[str, str, str], ...] = ()   # further (file, old, new) edits of the same mutation


TL = "tests/test_training_learns.py"
GT = "src/glassdyn/gnn/train.py"
MUTATIONS = [
    # ----------------------------------------------------------------- training
    Mutation("no_optimizer_step", GT,
             "        run.opt.step()\n        run_loss += loss.detach()\n", "        run_loss += loss.detach()\n",
             (f"{TL}::test_validation_loss_falls_and_pearson_beats_the_untrained_network",
              "tests/test_training.py::test_pretraining_initialises_the_main_training"),
             "training never updates the weights (optimiser step removed)"),
    Mutation("standardise_times_sigma", "src/glassdyn/gnn/data.py",
             '(y - stats[key]["mean"]) / stats[key]["std"]', '(y - stats[key]["mean"]) * stats[key]["std"]',
             (f"{TL}::test_target_statistics_and_standardisation_by_hand",
              f"{TL}::test_predictions_come_back_in_label_units"),
             "target standardisation (y − μ)/σ turned into (y − μ)·σ"),
    Mutation("validation_pearson_all_particles", "src/glassdyn/gnn/batches.py",
             "pearson(nodes.cpu().numpy()[g.node_mask], g.nodes.cpu().numpy()[g.node_mask])",
             "pearson(nodes.cpu().numpy(), g.nodes.cpu().numpy())",
             (f"{TL}::test_validation_scores_use_a_particles_and_a_a_pairs_below_the_eval_cutoff",
              f"{TL}::test_training_and_evaluation_score_edges_on_the_configured_pairs"),
             "validation Pearson over all particles instead of A"),
    Mutation("validation_edges_all_pairs", "src/glassdyn/gnn/batches.py",
             "pearson(edges.cpu().numpy()[g.edge_mask], g.edges.cpu().numpy()[g.edge_mask])",
             "pearson(edges.cpu().numpy(), g.edges.cpu().numpy())",
             (f"{TL}::test_validation_scores_use_a_particles_and_a_a_pairs_below_the_eval_cutoff",),
             "validation edge Pearson over all pairs instead of A–A below 1.35"),
    Mutation("training_edge_eval_graph_cutoff", "src/glassdyn/gnn/data.py",
             '    cutoff = float(cfg["labels"]["edge_eval_cutoff"])\n    fit, val, time_value',
             '    cutoff = float(cfg["graph"]["cutoff"])\n    fit, val, time_value',
             (f"{TL}::test_training_and_evaluation_score_edges_on_the_configured_pairs",),
             "validation edges judged within the graph cutoff 2.0 instead of 1.35"),
    Mutation("evaluation_edge_graph_cutoff", "src/glassdyn/gnn/evaluate.py",
             'pred["edges"], cutoff, "propensity",', 'pred["edges"], 2.0, "propensity",',
             (f"{TL}::test_training_and_evaluation_score_edges_on_the_configured_pairs",),
             "test edges judged within the graph cutoff 2.0 instead of the 1.35 A–A pair cutoff"),
    Mutation("evaluation_nodes_all_particles", "src/glassdyn/physics/correlation.py",
             "    return np.asarray(types) == 0\n", "    return np.ones(len(types), bool)\n",
             (f"{TL}::test_training_and_evaluation_score_edges_on_the_configured_pairs",
              "tests/test_evaluation.py::test_scores_use_only_a_particles_and_a_a_pairs"),
             "test Pearson over all particles instead of A"),
    Mutation("train_fingerprint_ignores_lr", GT,
             "    record = provenance(cfg, [",
             '    record = provenance({**cfg, "models": {m: {q: v for q, v in s.items() if q != "lr"} '
             'for m, s in cfg["models"].items()}}, [',
             (f"{TL}::test_checkpoint_of_other_settings_restarts_from_scratch",),
             "training checkpoint fingerprint ignores the learning rate"),
]

DP = "tests/test_dynamics.py"
MUTATIONS += [
    # ----------------------------------------------------------------- F_s, k, τα
    Mutation("k_off_in_settings", "src/glassdyn/labels/extract.py",
             '"k": float(lab["k"]),', '"k": float(lab["k"]) * 1.03,',
             (f"{DP}::test_fs_and_msd_of_exact_displacements_pin_k",
              f"{DP}::test_tau_alpha_pinned_on_exact_relaxation"),
             "k of F_s 3 % off (where the label settings are read)"),
    Mutation("k_off_in_kernel", "src/glassdyn/physics/observables.py",
             "return np.sinc(k * r / np.pi).mean(axis=1)", "return np.sinc(1.03 * k * r / np.pi).mean(axis=1)",
             (f"{DP}::test_fs_and_msd_of_exact_displacements_pin_k",
              f"{DP}::test_tau_alpha_pinned_on_exact_relaxation"),
             "k of F_s 3 % off (in the F_s kernel)"),
    Mutation("fit_relabel_removed", "src/glassdyn/physics/relaxation.py",
             "if ln_ts > ln_ta:  # relabel", "if False:  # relabel",
             (f"{DP}::test_fit_labels_the_slow_component_alpha",),
             "the τα fit's component relabelling removed"),
    Mutation("fit_relabel_keeps_A", "src/glassdyn/physics/relaxation.py",
             "a, ln_ts, bs, ln_ta, b = 1.0 - a, ln_ta, b, ln_ts, bs", "a, ln_ts, bs, ln_ta, b = a, ln_ta, b, ln_ts, bs",
             (f"{DP}::test_fit_labels_the_slow_component_alpha",),
             "the relabelling swaps the times but keeps the amplitude A"),
    Mutation("fit_relabel_errors_unswapped", "src/glassdyn/physics/relaxation.py",
             "ea, e_lts, ebs, e_lta, eb = ea, e_lta, eb, e_lts, ebs",
             "ea, e_lts, ebs, e_lta, eb = ea, e_lts, ebs, e_lta, eb",
             (f"{DP}::test_fit_from_either_ordering_gives_the_same_values_and_errors_on_noisy_data",),
             "the relabelling swaps the values but not their errors"),
    Mutation("crossing_linear_in_t", "src/glassdyn/physics/relaxation.py",
             "lt0, lt1 = math.log(t[k - 1]), math.log(t[k])", "lt0, lt1 = t[k - 1], t[k]",
             (f"{DP}::test_tau_alpha_pinned_on_exact_relaxation",),
             "the 1/e crossing interpolated linearly in t instead of log t (exp of a time)"),
]

LC = "tests/test_label_conventions.py"
LX = "src/glassdyn/labels/extract.py"
OBS = "src/glassdyn/physics/observables.py"
MUTATIONS += [
    # ----------------------------------------------------------------- label settings and cutoffs
    Mutation("a_in_a_out_swapped", LX,
             '"a_in": float(lab["bond_a_in"]),\n        "a_out": float(lab["bond_a_out"]),',
             '"a_in": float(lab["bond_a_out"]),\n        "a_out": float(lab["bond_a_in"]),',
             (f"{LC}::test_label_file_attributes_are_the_configured_values", f"{LC}::test_a_in_and_a_out_by_hand"),
             "a_in and a_out swapped where the label settings are read"),
    Mutation("graph_cutoff_strict_in_neighbors", "src/glassdyn/physics/neighbors.py",
             "keep = np.sqrt(np.einsum(\"ij,ij->i\", d, d)) <= float(cutoff)",
             "keep = np.sqrt(np.einsum(\"ij,ij->i\", d, d)) < float(cutoff)",
             (f"{LC}::test_graph_and_pair_labels_include_a_pair_at_the_graph_cutoff",),
             "graph pairs |r| < r_e instead of <= r_e (neighbour search)"),
    Mutation("graph_cutoff_strict_in_labels", LX,
             'graph = dist <= st["cutoff"]', 'graph = dist < st["cutoff"]',
             (f"{LC}::test_graph_and_pair_labels_include_a_pair_at_the_graph_cutoff",),
             "the labels' graph and E_ij over |r| < r_e instead of <= r_e"),
    Mutation("bond_a_in_inclusive", LX,
             "bond_candidates = np.flatnonzero(dist < cut_in)", "bond_candidates = np.flatnonzero(dist <= cut_in)",
             (f"{LC}::test_bonds_at_a_in_and_a_out",),
             "bonds |r_ij(0)| <= a_in σ instead of < (both places that filter them)",
             more=((OBS, "bonded = r0 < cut_in", "bonded = r0 <= cut_in"),)),
    Mutation("bond_a_out_inclusive", OBS,
             "kept = (r_t[:, bonded] < cut_out[bonded])", "kept = (r_t[:, bonded] <= cut_out[bonded])",
             (f"{LC}::test_bonds_at_a_in_and_a_out",),
             "a bond kept while |r_ij(t)| <= a_out σ instead of <"),
    Mutation("relative_motion_cutoff_strict", LX,
             'nn = np.flatnonzero(dist <= st["relative_motion_cutoff"])',
             'nn = np.flatnonzero(dist < st["relative_motion_cutoff"])',
             (f"{LC}::test_relative_motion_neighbours_include_the_cutoff",),
             "relative-motion neighbours |r| < 1.6 instead of <="),
    Mutation("edge_eval_inclusive", "src/glassdyn/physics/correlation.py",
             "& (r < cutoff)", "& (r <= cutoff)",
             (f"{LC}::test_edge_evaluation_excludes_the_cutoff",),
             "edges judged with r <= 1.35 instead of <"),
    Mutation("bond_sigma_aa_for_all", OBS,
             "return factor * s[types[i], types[j]]", "return factor * s[0, 0] + 0 * s[types[i], types[j]]",
             (f"{LC}::test_a_in_and_a_out_by_hand", f"{LC}::test_bonds_at_a_in_and_a_out"),
             "bond cutoffs a σ_AA for every pair instead of a σ_αβ"),
]

MR = "tests/test_md_reference.py"
PROT = "src/glassdyn/physics/protocol.py"
MUTATIONS += [
    # ----------------------------------------------------------------- MD protocol and reference numbers
    Mutation("hold_too_warm", PROT,
             '("hold", steps_of(p["hold_tau_alpha"] * tau, dt), float(T), float(T))',
             '("hold", steps_of(p["hold_tau_alpha"] * tau, dt), 1.05 * float(T), 1.05 * float(T))',
             (f"{MR}::test_stage_targets_in_the_plan_and_the_deck",
              f"{MR}::test_hold_time_average_is_T_within_its_fluctuation"),
             "the hold-stage thermostat 5 % too warm (stage plan: deck and run)"),
    Mutation("hold_too_warm_in_run_only", "src/glassdyn/md/equilibrate.py",
             'eng.command(thermostat_command(stage, float(prot["thermostat_damping"])))',
             'eng.command(thermostat_command(stage if stage.name != "hold" else type(stage)(stage.name, stage.start, '
             'stage.stop, 1.05 * stage.T_start, 1.05 * stage.T_stop), float(prot["thermostat_damping"])))',
             (f"{MR}::test_hold_time_average_is_T_within_its_fluctuation",),
             "the hold-stage thermostat 5 % too warm in the segmented run only (the deck is right)"),
    Mutation("replicas_share_a_seed", PROT,
             'return cfgmod.derive_seed(cfgmod.temperature_key(T), int(c), "replica", int(r))',
             'return cfgmod.derive_seed(cfgmod.temperature_key(T), int(c), "replica", min(int(r), 1))',
             (f"{MR}::test_every_replica_has_its_own_seed_and_trajectory",),
             "replicas 1 and 2 (and all later ones) share a seed"),
    Mutation("replica_run_reuses_a_seed", "src/glassdyn/md/replicas.py",
             "    seed = replica_seed(T, c, r)\n", "    seed = replica_seed(T, c, min(r, 1))\n",
             (f"{MR}::test_every_replica_has_its_own_seed_and_trajectory",),
             "the replica run draws replica 2's velocities with replica 1's seed"),
    Mutation("velocities_sqrt_T_times_m", PROT,
             "v = rng.normal(0.0, math.sqrt(T / mass), size=(n, 3))",
             "v = rng.normal(0.0, math.sqrt(T * mass), size=(n, 3))",
             (f"{MR}::test_ideal_gas_self_intermediate_scattering_is_gaussian",),
             "Maxwell–Boltzmann velocities with variance T·m instead of T/m"),
    Mutation("md_fingerprint_ignores_T_high", "src/glassdyn/md/equilibrate.py",
             'fingerprint({"step": "equilibrate", "config": cfg,',
             'fingerprint({"step": "equilibrate", "config": {**cfg, "protocol": {q: v for q, v in '
             'cfg["protocol"].items() if q != "T_high"}},',
             ("tests/test_md.py::test_checkpoint_of_other_inputs_is_discarded_not_resumed",),
             "the MD (equilibration) checkpoint fingerprint ignores T_high"),
    Mutation("replica_fingerprint_ignores_times", "src/glassdyn/md/replicas.py",
             'return fingerprint({"step": "replicas", "config": cfg,',
             'return fingerprint({"step": "replicas", "config": {q: v for q, v in cfg.items() if q != "temperatures"},',
             (f"{MR}::test_fingerprints_change_with_every_input_of_the_trajectory",),
             "the replica checkpoint fingerprint ignores the sampling times"),
    Mutation("energy_drift_times_duration", "src/glassdyn/physics/thermodynamics.py",
             "return np.abs(e[:, -1] - e[:, 0]) / np.abs(e[:, 0]) / duration",
             "return np.abs(e[:, -1] - e[:, 0]) / np.abs(e[:, 0]) * duration",
             (f"{MR}::test_nve_replicas_conserve_energy",),
             "the NVE energy drift multiplied by the run time instead of divided"),
    Mutation("timestep_five_times", "src/glassdyn/md/engine.py",
             "f\"timestep {float(cfg['system']['timestep'])!r}\",",
             "f\"timestep {5 * float(cfg['system']['timestep'])!r}\",",
             (f"{MR}::test_nve_replicas_conserve_energy",),
             "LAMMPS runs at 5 Δt (energy conservation degrades as Δt²)"),
]

OG = "tests/test_ogn.py::test_short_training_learns_the_kinematics_and_the_rollout_beats_standing_still"
MUTATIONS += [
    # ----------------------------------------------------------------- OGN rollout
    Mutation("rollout_ignores_dr", "src/glassdyn/ogn/rollout.py",
             "pos.append(pos[-1] + y[:, :3])", "pos.append(pos[-1] + 0 * y[:, :3])", (OG,),
             "the OGN rollout never moves the particles (RMSE was only checked > 0)"),
    Mutation("rollout_dr_sign", "src/glassdyn/ogn/rollout.py",
             "pos.append(pos[-1] + y[:, :3])", "pos.append(pos[-1] - y[:, :3])", (OG,),
             "the OGN rollout moves particles against the predicted Δr"),
    Mutation("free_flight_twice_as_fast", "src/glassdyn/ogn/rollout.py",
             "times = (np.arange(n_md // k + 1) * k * dt)[:, None, None]",
             "times = (np.arange(n_md // k + 1) * 2 * k * dt)[:, None, None]", (OG,),
             "the free-flight baseline advanced with twice the elapsed time"),
]

MUTATIONS += [
    # ----------------------------------------------------------------- benchmarks and the report
    Mutation("bench_md_work_without_replicas", "benchmarks/bench_md.py",
             "work = REPLICAS * a.steps * a.n", "work = a.steps * a.n",
             ("tests/test_benchmarks.py::test_bench_md_smoke",),
             "bench_md's throughput counts one replica's atom-steps for a run of two"),
    Mutation("bench_ogn_rate_per_tau", "benchmarks/bench_ogn.py",
             '"atom_steps_per_s": n * a.steps / t,', '"atom_steps_per_s": n * a.steps / t_md,',
             ("tests/test_benchmarks.py::test_bench_ogn_smoke",),
             "bench_ogn reports LAMMPS' rate for the network rows"),
    Mutation("bench_labels_dilute", "benchmarks/bench_labels.py",
             "def synthetic(n: int, n_rep: int, n_t: int, seed: int = 0, density: float = 1.2) -> dict:",
             "def synthetic(n: int, n_rep: int, n_t: int, seed: int = 0, density: float = 1.0) -> dict:",
             ("tests/test_benchmarks.py::test_bench_labels_smoke",),
             "bench_labels times a configuration at ρ = 1.0 (fewer pairs than the campaign's ρ = 1.2)"),
    Mutation("report_fs_not_registered", "workflow/rules/report.smk",
             'fs=report(f"{R}/report/fs.png", caption="../report/fs.rst", category="Physics"),',
             'fs=f"{R}/report/fs.png",',
             ("tests/test_workflow_e2e.py::test_snakemake_html_report",),
             "the F_s figure is left out of the HTML report (minutes: the e2e campaign)"),
]


#: --baseline: the test files of the suite before issue 18 that exercise each mutated file (fast ones only).
BASELINE_TESTS = {
    "src/glassdyn/gnn/train.py": ("tests/test_training.py", "tests/test_predict.py", "tests/test_evaluation.py"),
    "src/glassdyn/gnn/data.py": ("tests/test_training.py", "tests/test_evaluation.py"),
    "src/glassdyn/gnn/batches.py": ("tests/test_training.py",),
    "src/glassdyn/gnn/evaluate.py": ("tests/test_evaluation.py", "tests/test_training.py", "tests/test_predict.py"),
    "src/glassdyn/physics/correlation.py": ("tests/test_evaluation.py", "tests/test_training.py"),
    "src/glassdyn/labels/extract.py": ("tests/test_labels.py", "tests/test_graphs.py", "tests/test_dynamics.py"),
    "src/glassdyn/physics/observables.py": ("tests/test_labels.py", "tests/test_dynamics.py"),
    "src/glassdyn/physics/neighbors.py": ("tests/test_neighbors.py", "tests/test_graphs.py", "tests/test_labels.py"),
    "src/glassdyn/physics/relaxation.py": ("tests/test_dynamics.py",),
    "src/glassdyn/physics/protocol.py": ("tests/test_md.py",),
    "src/glassdyn/physics/thermodynamics.py": ("tests/test_md.py",),
    "src/glassdyn/md/equilibrate.py": ("tests/test_md.py",),
    "src/glassdyn/md/replicas.py": ("tests/test_md.py",),
    "src/glassdyn/md/engine.py": ("tests/test_md.py",),
    "src/glassdyn/ogn/rollout.py": ("tests/test_ogn.py",),
    "benchmarks/bench_md.py": ("tests/test_benchmarks.py::test_bench_md_smoke",),
    "benchmarks/bench_ogn.py": ("tests/test_benchmarks.py::test_bench_ogn_smoke",),
    "benchmarks/bench_labels.py": ("tests/test_benchmarks.py::test_bench_labels_smoke",),
    "workflow/rules/report.smk": ("tests/test_workflow_e2e.py::test_snakemake_html_report",),
}


def run_one(m: Mutation, timeout: float, baseline: str | None = None) -> tuple[str, float, str]:
    with tempfile.TemporaryDirectory(prefix=f"mut-{m.name}-") as tmp:
        work = Path(tmp)
        export_tree(baseline, work)
        for file, old, new in ((m.file, m.old, m.new), *m.more):
            target = work / file
            text = target.read_text()
            if text.count(old) != 1:
                return "NOT APPLIED", 0.0, f"'old' text found {text.count(old)} times in {file}"
            target.write_text(text.replace(old, new))
        env = dict(os.environ, PYTHONPATH=str(work / "src"), OMP_NUM_THREADS="1")
        tests = m.tests if baseline is None else BASELINE_TESTS[m.file]
        marker = [] if baseline is None or any("::" in t for t in tests) else ["-m", "not slow and not slurm"]
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *marker, *tests]
        t0 = time.time()
        try:
            res = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "killed (timeout)", time.time() - t0, ""
        dt = time.time() - t0
        tail = (res.stdout + res.stderr).strip().splitlines()
        failed = [ln for ln in tail if ln.startswith(("FAILED", "ERROR"))]
        if res.returncode == 0:
            return "SURVIVED", dt, tail[-1] if tail else ""
        if res.returncode in (1,):
            names = [ln.split()[1].split("::")[-1].split(" ")[0] for ln in failed if len(ln.split()) > 1]
            return "killed", dt, ("failing: " + ", ".join(names)) if names else tail[-1]
        return f"ERROR (pytest exit {res.returncode})", dt, "\n".join(tail[-15:])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="mutations to run (default: all)")
    ap.add_argument("--list", action="store_true", help="list the mutations and their tests")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per mutation")
    ap.add_argument("--baseline", metavar="REV", help="instead run the (fast) tests of the suite at git revision REV "
                                                     "that exercise the mutated file: the mutation survived there")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    unknown = set(args.names) - {m.name for m in MUTATIONS}
    if unknown:
        ap.error(f"unknown mutation(s) {sorted(unknown)}; --list shows them")
    if args.list:
        for m in chosen:
            print(f"{m.name:36s} {m.what}\n{'':36s} {m.file}; tests: {', '.join(m.tests)}")
        return 0
    bad = 0
    for m in chosen:
        status, dt, detail = run_one(m, args.timeout, args.baseline)
        bad += not status.startswith("killed") if args.baseline is None else status != "SURVIVED"
        print(f"{m.name:36s} {status:12s} {dt:6.1f} s  {m.what}\n{'':36s} {detail}", flush=True)
    what = "killed" if args.baseline is None else f"surviving the suite of {args.baseline}"
    print(f"{len(chosen) - bad}/{len(chosen)} mutations {what}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
