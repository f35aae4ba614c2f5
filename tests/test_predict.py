"""`glassdyn predict`: a trained model on structure files written by OVITO, ASE and glassdyn, its outputs opened
by OVITO and ASE, and its refusals (bad model files, overwrites, overlapping particles, other systems)."""
from __future__ import annotations

import logging
import re

import ase.io
import gnn_helpers as gh
import numpy as np
import pytest
import structure_helpers as sh
import torch

from glassdyn import cli
from glassdyn.gnn import predict as P
from glassdyn.gnn.train import train_cell
from glassdyn.gnn.trained import load_trained, predict_structure
from glassdyn.io import storage
from glassdyn.io import structures as S
from glassdyn.ogn.train import save_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A BOTAN (p = 0.4: node and edge decoders) cell trained for 2 epochs on small KA-like labels.

    Predictions are made on a jittered fcc KA-like structure (N = 108, ρ = 1.2, closest pair 0.77 σ).
    """
    root = tmp_path_factory.mktemp("predict")
    cfg = gh.small_config(n=128, n_conf=5, n_train=4)
    paths = gh.write_labels(cfg, root, range(4), replicas=3)
    out = root / "results" / "train" / "botan" / "T0.64" / "t1"
    model = train_cell(cfg, "botan", "0.64", 1, paths, out)
    s = sh.ka_structure(cells=3)
    direct = predict_structure(load_trained(model, device="cpu"), s.types, s.positions, s.box)
    return {"root": root, "model": model, "structure": s, "direct": direct}


def _errors(caplog, argv) -> tuple[int, str]:
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        rc = cli.main(argv)
    return rc, caplog.text


# --------------------------------------------------------------------------- inputs from OVITO, ASE, glassdyn
INPUTS = {  # file name -> the tool that writes it
    "ovito.dump": lambda p, s: sh.ovito_write(p, s, "lammps/dump", origin=(-1.0, 2.0, 0.5)),
    "ovito.data": lambda p, s: sh.ovito_write(p, s, "lammps/data", origin=(3.0, 0.0, -2.0)),
    "ase.data": lambda p, s: sh.ase_write(p, s, "lammps-data"),
    "ase.xyz": lambda p, s: sh.ase_write(p, s, "extxyz"),
    "POSCAR": lambda p, s: sh.ase_write(p, s, "vasp"),
    "glassdyn.h5": lambda p, s: S.write_h5(p, s),
}


@pytest.mark.parametrize("name", INPUTS)
def test_every_input_gives_the_direct_prediction(trained, tmp_path, name):
    s = trained["structure"]
    src = INPUTS[name](tmp_path / name, s)
    res = P.predict_file(src, trained["model"], [tmp_path / "out.xyz"])
    got = res["columns"]["propensity"]
    if name == "POSCAR":  # POSCAR groups particles by element and has no ids: compare per (type, position)
        key = lambda st: np.lexsort((st.positions[:, 0], st.types))  # noqa: E731
        got = got[key(res["structure"])][np.argsort(key(s))]
    np.testing.assert_allclose(got, trained["direct"]["nodes"], rtol=1e-4, atol=1e-5)
    assert set(res["columns"]) == {"propensity", "pair_distance_change_mean"}


def test_ovito_dump_in_outputs_open_in_ovito_and_ase(trained, tmp_path):
    """The acceptance round trip: OVITO dump ('abc origin' header) in; xyz, dump, h5, csv out, opened again."""
    s = trained["structure"]
    src = sh.ovito_write(tmp_path / "conf.dump", s, "lammps/dump", origin=(-1.0, 2.0, 0.5))
    outs = [tmp_path / "p.xyz", tmp_path / "p.dump", tmp_path / "p.h5", tmp_path / "p.csv"]
    res = P.predict_file(src, trained["model"], outs)
    prop = res["columns"]["propensity"]
    atoms = ase.io.read(outs[0])
    np.testing.assert_allclose(atoms.positions, s.positions, atol=1e-7)
    np.testing.assert_allclose(atoms.cell.lengths(), s.box)
    np.testing.assert_allclose(atoms.arrays["propensity"], prop, rtol=1e-6)
    np.testing.assert_array_equal(atoms.arrays["type"], s.types + 1)
    assert atoms.info["model"] == "botan" and atoms.info["T"] == 0.64 and atoms.info["time_index"] == 1
    for path, column in ((outs[0], "propensity"), (outs[1], "d_propensity")):
        d = sh.ovito_read(path)
        np.testing.assert_allclose(d.particles[column][...], prop, rtol=1e-6)
        np.testing.assert_allclose(d.particles.positions[...], s.positions, atol=1e-7)
        np.testing.assert_allclose(np.diag(d.cell[...][:, :3]), s.box)
    dump = ase.io.read(outs[1], format="lammps-dump-text")
    np.testing.assert_allclose(dump.arrays["d_propensity"], prop, rtol=1e-6)
    data, attrs = storage.read_h5(outs[2])
    np.testing.assert_allclose(data["per_atom/propensity"], prop)
    assert data["pair_distance_change"].shape == (data["edge_index"].shape[1],)
    assert attrs["model"] == "botan" and attrs["time_index"] == 1
    i0 = data["edge_index"][1] == 0  # the per-particle column is the mean of its edges' predictions
    assert data["per_atom/pair_distance_change_mean"][0] == pytest.approx(data["pair_distance_change"][i0].mean(),
                                                                           rel=1e-5)
    import pandas as pd

    np.testing.assert_allclose(pd.read_csv(outs[3], comment="#")["propensity"], prop, rtol=1e-6)


def test_periodic_replica_gives_tiled_predictions(trained, tmp_path):
    """N of any size: the 2×2×2 periodic replica predicts exactly the original per particle."""
    s = trained["structure"]
    shifts = np.array([[i, j, k] for i in range(2) for j in range(2) for k in range(2)], float) * s.box
    big = S.Structure(types=np.tile(s.types, 8), positions=(s.positions[None] + shifts[:, None]).reshape(-1, 3),
                      box=2 * s.box)
    res = P.predict_file(sh.ase_write(tmp_path / "big.data", big, "lammps-data"), trained["model"],
                         [tmp_path / "big.h5"])
    got = res["columns"]["propensity"].reshape(8, s.n)
    np.testing.assert_allclose(got, np.tile(trained["direct"]["nodes"], (8, 1)), rtol=1e-4, atol=1e-5)
    assert res["edges"]["edge_index"].shape[1] == 8 * trained["direct"]["edge_index"].shape[1]


def test_order_and_translation_do_not_matter(trained, tmp_path):
    s = trained["structure"]
    perm = np.random.default_rng(5).permutation(s.n)
    shuffled = S.Structure(types=s.types[perm], positions=np.mod(s.positions[perm] + [1.3, -0.7, 2.9], s.box),
                           box=s.box, ids=s.ids[perm])
    res = P.predict_file(sh.ase_write(tmp_path / "b.xyz", shuffled, "extxyz"), trained["model"], [tmp_path / "b.h5"])
    # the reader sorts by id, so particle i is the same particle in both
    np.testing.assert_allclose(res["columns"]["propensity"], trained["direct"]["nodes"], rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- other systems, other labels
def test_box_smaller_than_twice_the_cutoff_is_refused(trained, tmp_path):
    rng = np.random.default_rng(0)
    L = 3.9  # < 2 x 2.0
    n = int(round(1.2 * L**3))
    tiny = S.Structure(types=np.zeros(n, np.int8), positions=rng.random((n, 3)) * L, box=[L, L, L])
    with pytest.raises(P.CompatibilityError, match=r"x = 3.9.*twice the model's graph cutoff.*[Rr]eplicate"):
        P.predict_file(S.write_xyz(tmp_path / "tiny.xyz", tiny), trained["model"], [tmp_path / "o.xyz"])


def test_other_density_is_refused(trained, tmp_path):
    s = trained["structure"]
    dilute = S.Structure(types=s.types, positions=s.positions * 1.1, box=s.box * 1.1)
    path = sh.ase_write(tmp_path / "d.data", dilute, "lammps-data")
    with pytest.raises(P.CompatibilityError, match=r"density 0.9\d+ differs by 24.\d% from the density 1.2"):
        P.predict_file(path, trained["model"], [tmp_path / "o.xyz"])
    ok = P.predict_file(path, trained["model"], [tmp_path / "o.xyz"], density_tolerance=0.3)
    assert np.all(np.isfinite(ok["columns"]["propensity"]))


def test_swapped_types_are_refused(trained, tmp_path):
    s = trained["structure"]
    swapped = S.Structure(types=1 - s.types, positions=s.positions, box=s.box)
    path = sh.ase_write(tmp_path / "swapped.data", swapped, "lammps-data")
    with pytest.raises(P.CompatibilityError, match=r"A fraction 0.194 \(21 A, 87 B\).*A and B swapped.*--type-map"):
        P.predict_file(path, trained["model"], [tmp_path / "o.xyz"])
    fixed = P.predict_file(path, trained["model"], [tmp_path / "o.xyz"], type_map=S.parse_type_map("1=B,2=A"))
    np.testing.assert_allclose(fixed["columns"]["propensity"], trained["direct"]["nodes"], rtol=1e-4, atol=1e-5)


def test_other_species_get_a_mapping_hint_and_placeholders_are_configurable(trained, tmp_path, caplog):
    """ASE's Ar/Ne: the error lists each species with its count and proposes majority → A."""
    s = trained["structure"]
    src = sh.ase_write(tmp_path / "argon.xyz", s, "extxyz", symbols=("Ar", "Ne"))
    rc, text = _errors(caplog, ["predict", str(src), "--model", str(trained["model"])])
    assert rc == 2 and "species Ar (87), Ne (21) found" in text and "--type-map 'Ar=A,Ne=B'" in text
    out = tmp_path / "argon.pred.xyz"
    assert cli.main(["predict", str(src), "--model", str(trained["model"]), "--species", "A=Ar,B=Ne",
                     "--output", str(out)]) == 0
    atoms = ase.io.read(out)
    assert atoms.get_chemical_symbols() == list(np.array(["Ar", "Ne"])[s.types])
    np.testing.assert_allclose(atoms.arrays["propensity"], trained["direct"]["nodes"], rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- overlapping particles
def test_overlapping_particles_are_refused_naming_the_pair(trained, tmp_path, caplog):
    s = trained["structure"]
    twin = s.positions.copy()
    twin[17] = twin[40] + [0.0, 0.0, 1e-3]
    path = sh.ase_write(tmp_path / "twin.xyz", S.Structure(types=s.types, positions=twin, box=s.box), "extxyz")
    with pytest.raises(P.CompatibilityError, match=r"id 18 \([AB]\) and id 41 \([AB]\) are 0.001 σ apart.*0\.5"):
        P.predict_file(path, trained["model"], [tmp_path / "o.xyz"])
    one_point = S.Structure(types=s.types, positions=np.full((s.n, 3), 1.0), box=s.box)
    path = sh.ase_write(tmp_path / "point.xyz", one_point, "extxyz")
    rc, text = _errors(caplog, ["predict", str(path), "--model", str(trained["model"])])
    assert rc == 2 and "are 0 σ apart, closer than --min-distance 0.5" in text and not (tmp_path / "o.xyz").exists()
    assert len(text.strip().splitlines()) == 1
    close = s.positions.copy()
    close[17] = close[40] + [0.0, 0.0, 0.45]
    path = sh.ase_write(tmp_path / "close.xyz", S.Structure(types=s.types, positions=close, box=s.box), "extxyz")
    with pytest.raises(P.CompatibilityError, match="0.45 σ apart"):
        P.predict_file(path, trained["model"], [tmp_path / "o.xyz"])
    P.predict_file(path, trained["model"], [tmp_path / "o.xyz"], min_distance=0.4)


def test_min_distance_matches_brute_force(trained):
    s = trained["structure"]
    d = sh.minimum_image(s.positions[:, None] - s.positions[None], s.box)
    r = np.linalg.norm(d, axis=-1) + np.eye(s.n) * 1e9
    assert P.check_min_distance(s, 0.0) == pytest.approx(r.min(), rel=1e-12)


# --------------------------------------------------------------------------- outputs: names, no overwrites
def test_outputs_never_overwrite_the_input_or_an_existing_file(trained, tmp_path, caplog):
    s = trained["structure"]
    data = sh.ase_write(tmp_path / "conf.data", s, "lammps-data")
    S.write_dump(tmp_path / "conf.dump", s)
    before = data.read_bytes()
    model = ["--model", str(trained["model"])]
    for extra in ([], ["--force"]):
        rc, text = _errors(caplog, ["predict", str(data), *model, "--output", str(data), *extra])
        assert rc == 2 and "is the input structure" in text
    assert data.read_bytes() == before
    # default names: beside the input, input suffix and model cell in the name, so conf.data and conf.dump differ
    assert cli.main(["predict", str(data), *model]) == 0
    assert cli.main(["predict", str(tmp_path / "conf.dump"), *model]) == 0
    for name in ("conf.data", "conf.dump"):
        for ext in (".xyz", ".h5"):
            assert (tmp_path / f"{name}.botan_T0.64_t1{ext}").exists()
    out = tmp_path / "conf.data.botan_T0.64_t1.xyz"
    out.write_text("mine\n")
    rc, text = _errors(caplog, ["predict", str(data), *model])
    assert rc == 2 and "exists; pass --force" in text and out.read_text() == "mine\n"
    assert cli.main(["predict", str(data), *model, "--force"]) == 0
    np.testing.assert_allclose(ase.io.read(out).arrays["propensity"], trained["direct"]["nodes"], rtol=1e-4,
                               atol=1e-5)
    rc, text = _errors(caplog, ["predict", str(data), *model, "--output", str(tmp_path / "x.pdb")])
    assert rc == 2 and "use a .xyz" in text


# --------------------------------------------------------------------------- what predict is given as a model
def test_model_files_predict_does_not_take_are_named(trained, tmp_path, caplog):
    from glassdyn.models.ogn import OGN
    from glassdyn.models.tglassmlp import TGlassMLP
    from glassdyn.tglassmlp import fitting as tglassmlp

    src = S.write_xyz(tmp_path / "in.xyz", trained["structure"])
    ogn = save_model(tmp_path / "ogn.pt", OGN(hidden=8, layers=1), {"variant": "ogn", "k": 1})
    member = tglassmlp.save_member(tmp_path / "member.pt", TGlassMLP(3), {"T": 0.44})
    checkpoint = trained["model"].parent / "checkpoint.pt"  # as a killed training leaves it
    torch.save({"fingerprint": "0" * 64, "epoch": 1, "step": 0, "model": {}, "optimizer": {"state": {}}}, checkpoint)
    takes = "glassdyn predict takes a BOTAN or NT-GNN model.pt"
    cases = {ogn: f"this is an OGN simulator model.*{takes}", member: f"this is a tGlassMLP ensemble member.*{takes}",
             checkpoint: rf"training checkpoint \(resume state\), not a trained model: use {trained['model']}"}
    for path, message in cases.items():
        rc, text = _errors(caplog, ["predict", str(src), "--model", str(path)])
        assert rc == 2 and len(text.strip().splitlines()) == 1, text
        assert str(path) in text and re.search(message, text), text
        assert "weights_only" not in text and "missing key" not in text
    rc, text = _errors(caplog, ["predict", str(src), "--cell", "ogn,0.44,7"])
    assert rc == 2 and "ogn is an OGN simulator model" in text and "--cell botan,0.44,7" in text


def test_cli_by_cell_and_its_errors(trained, tmp_path, caplog):
    s = trained["structure"]
    src = sh.ase_write(tmp_path / "in.data", s, "lammps-data")
    results = ["--results", str(trained["root"] / "results")]
    assert cli.main(["predict", str(src), "--cell", "botan,0.64,1", *results]) == 0
    assert (tmp_path / "in.data.botan_T0.64_t1.xyz").exists() and (tmp_path / "in.data.botan_T0.64_t1.h5").exists()
    rc, text = _errors(caplog, ["predict", str(src), "--cell", "botan,0.64,9", *results])
    assert rc == 2 and "t9/model.pt" in text and "does not exist" in text
    text = src.read_text().replace("2 atom types", "3 atom types").splitlines()
    k = next(i for i, line in enumerate(text) if line.startswith("Atoms")) + 2
    text[k] = " ".join(text[k].split()[:1] + ["3"] + text[k].split()[2:])
    (tmp_path / "three.data").write_text("\n".join(text) + "\n")
    rc, out = _errors(caplog, ["predict", str(tmp_path / "three.data"), "--model", str(trained["model"])])
    assert rc == 2 and "LAMMPS types 1 (86), 2 (21), 3 (1) found" in out and "--type-map '1=A,2=B,3=B'" in out
    assert cli.main(["predict", str(tmp_path / "three.data"), "--model", str(trained["model"]),
                     "--type-map", "1=A,2=B,3=B", "--output", str(tmp_path / "mapped.csv")]) == 0
    assert (tmp_path / "mapped.csv").exists()


def test_cell_path():
    assert str(P.cell_model_path("botan,0.44,7", "res")) == "res/train/botan/T0.44/t7/model.pt"
    assert str(P.cell_model_path("botan,0.5,2", "res")) == "res/train/botan/T0.50/t2/model.pt"
    assert str(P.cell_model_path("botan,pretrain", "r")) == "r/train/botan/pretrain/model.pt"
    with pytest.raises(ValueError, match="MODEL,T,K"):
        P.cell_model_path("botan", "r")
    with pytest.raises(ValueError, match="tGlassMLP ensemble member"):
        P.cell_model_path("tglassmlp,0.44,7", "r")
