"""`glassdyn predict`: a trained model on structure files of any format and size, and its refusals."""
from __future__ import annotations

import logging

import gnn_helpers as gh
import numpy as np
import pytest

from glassdyn import cli
from glassdyn.gnn import predict as P
from glassdyn.gnn.train import train_cell
from glassdyn.io import storage
from glassdyn.io import structures as F
from glassdyn.models import load_trained, predict_structure


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A BOTAN (p = 0.4: node and edge decoders) cell trained for 2 epochs on small KA-like labels."""
    root = tmp_path_factory.mktemp("predict")
    cfg = gh.small_config(n=128, n_conf=5, n_train=4)
    paths = gh.write_labels(cfg, root, range(4), replicas=3)
    out = root / "results" / "train" / "botan" / "T0.64" / "t1"
    model = train_cell(cfg, "botan", "0.64", 1, paths, out)
    data, _ = storage.read_h5(paths[0], ["types", "positions", "box"])
    s = F.Structure(types=data["types"], positions=data["positions"], box=data["box"])
    return {"root": root, "model": model, "structure": s, "cfg": cfg}


def test_every_format_gives_the_direct_prediction(trained, tmp_path):
    s = trained["structure"]
    want = predict_structure(load_trained(trained["model"], device="cpu"), s.types, s.positions, s.box)
    files = [F.write_xyz(tmp_path / "s.xyz", s), F.write_data(tmp_path / "s.data", s),
             F.write_h5(tmp_path / "s.h5", s), F.write_csv(tmp_path / "s.csv", s)]
    for f in files:
        res = P.predict_file(f, trained["model"], [tmp_path / f"{f.stem}_{f.suffix[1:]}.pred.xyz"])
        np.testing.assert_allclose(res["columns"]["propensity"], want["nodes"], rtol=1e-4, atol=1e-5)
        assert set(res["columns"]) == {"propensity", "pair_distance_change_mean"}
        assert np.all(np.isfinite(res["columns"]["propensity"]))


def test_periodic_replica_gives_tiled_predictions(trained, tmp_path):
    """N of any size: the 2×2×2 periodic replica (N = 1024) predicts exactly the original per particle."""
    s = trained["structure"]
    shifts = np.array([[i, j, k] for i in range(2) for j in range(2) for k in range(2)], float) * s.box
    big = F.Structure(types=np.tile(s.types, 8), positions=(s.positions[None] + shifts[:, None]).reshape(-1, 3),
                      box=2 * s.box)
    F.write_data(tmp_path / "big.data", big)
    res = P.predict_file(tmp_path / "big.data", trained["model"], [tmp_path / "big.xyz"])
    small = P.predict_file(F.write_data(tmp_path / "small.data", s), trained["model"], [tmp_path / "small.xyz"])
    got = res["columns"]["propensity"].reshape(8, s.n)
    np.testing.assert_allclose(got, np.tile(small["columns"]["propensity"], (8, 1)), rtol=1e-4, atol=1e-5)
    assert res["edges"]["edge_index"].shape[1] == 8 * small["edges"]["edge_index"].shape[1]


def test_order_and_translation_do_not_matter(trained, tmp_path):
    s = trained["structure"]
    rng = np.random.default_rng(5)
    perm = rng.permutation(s.n)
    shuffled = F.Structure(types=s.types[perm], positions=F.wrap(s.positions[perm] + [1.3, -0.7, 2.9], s.box),
                           box=s.box, ids=s.ids[perm])
    a = P.predict_file(F.write_data(tmp_path / "a.data", s), trained["model"], [tmp_path / "a.h5"])
    b = P.predict_file(F.write_data(tmp_path / "b.data", shuffled), trained["model"], [tmp_path / "b.h5"])
    # the reader sorts by id, so particle i is the same particle in both
    np.testing.assert_allclose(a["columns"]["propensity"], b["columns"]["propensity"], rtol=1e-4, atol=1e-5)


def test_outputs(trained, tmp_path):
    s = trained["structure"]
    src = F.write_xyz(tmp_path / "in.xyz", s)
    outs = [tmp_path / "o.xyz", tmp_path / "o.h5", tmp_path / "o.csv"]
    res = P.predict_file(src, trained["model"], outs)
    head = outs[0].read_text().splitlines()[1]
    assert "Properties=species:S:1:pos:R:3:id:I:1:propensity:R:1:pair_distance_change_mean:R:1" in head
    assert "model=botan" in head and "T=0.64" in head
    back = F.read_structure(outs[0])
    np.testing.assert_allclose(back.per_atom["propensity"], res["columns"]["propensity"], rtol=1e-6)
    d, attrs = storage.read_h5(outs[1])
    assert d["pair_distance_change"].shape == (d["edge_index"].shape[1],)
    np.testing.assert_allclose(d["per_atom/propensity"], res["columns"]["propensity"])
    assert attrs["model"] == "botan" and attrs["time_index"] == 1
    # per-particle mean of the edge predictions is what the column says
    e = d["pair_distance_change"]
    i0 = d["edge_index"][1] == 0
    assert d["per_atom/pair_distance_change_mean"][0] == pytest.approx(e[i0].mean(), rel=1e-5)
    assert "propensity" in outs[2].read_text().splitlines()[1]


def test_box_smaller_than_twice_the_cutoff_is_refused(trained, tmp_path):
    rng = np.random.default_rng(0)
    L = 3.9  # < 2 x 2.0
    n = int(round(1.2 * L**3))
    tiny = F.Structure(types=np.zeros(n, np.int8), positions=rng.random((n, 3)) * L, box=[L, L, L])
    with pytest.raises(P.CompatibilityError, match=r"x = 3.9.*twice the model's graph cutoff.*replicate"):
        P.predict_file(F.write_xyz(tmp_path / "tiny.xyz", tiny), trained["model"], [tmp_path / "o.xyz"])


def test_other_density_is_refused(trained, tmp_path):
    s = trained["structure"]
    dilute = F.Structure(types=s.types, positions=s.positions * 1.1, box=s.box * 1.1)
    with pytest.raises(P.CompatibilityError, match=r"density 0.9\d+ differs by 24.\d% from the density 1.2"):
        P.predict_file(F.write_data(tmp_path / "d.data", dilute), trained["model"], [tmp_path / "o.xyz"])
    ok = P.predict_file(F.write_data(tmp_path / "d.data", dilute), trained["model"], [tmp_path / "o.xyz"],
                        density_tolerance=0.3)
    assert np.all(np.isfinite(ok["columns"]["propensity"]))


def test_swapped_types_are_refused(trained, tmp_path):
    s = trained["structure"]
    swapped = F.Structure(types=1 - s.types, positions=s.positions, box=s.box)
    path = F.write_data(tmp_path / "swapped.data", swapped)
    with pytest.raises(P.CompatibilityError, match=r"A fraction 0.195 \(25 A, 103 B\).*A and B swapped.*--type-map"):
        P.predict_file(path, trained["model"], [tmp_path / "o.xyz"])
    fixed = P.predict_file(path, trained["model"], [tmp_path / "o.xyz"], type_map=F.parse_type_map("1=B,2=A"))
    direct = P.predict_file(F.write_data(tmp_path / "s.data", s), trained["model"], [tmp_path / "p.xyz"])
    np.testing.assert_allclose(fixed["columns"]["propensity"], direct["columns"]["propensity"], rtol=1e-5)


def test_cli_by_cell_and_its_errors(trained, tmp_path, monkeypatch, caplog):
    s = trained["structure"]
    src = F.write_data(tmp_path / "in.data", s)
    monkeypatch.chdir(tmp_path)
    rc = cli.main(["predict", str(src), "--cell", "botan,0.64,1", "--results", str(trained["root"] / "results")])
    assert rc == 0
    assert (tmp_path / "in.pred.xyz").exists() and (tmp_path / "in.pred.h5").exists()
    # an extra species: the reader says how to map it
    text = src.read_text().replace("2 atom types", "3 atom types")
    lines = text.splitlines()
    k = lines.index("Atoms # atomic") + 2
    lines[k] = " ".join(lines[k].split()[:1] + ["3"] + lines[k].split()[2:])
    (tmp_path / "three.data").write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.ERROR):
        rc = cli.main(["predict", str(tmp_path / "three.data"), "--model", str(trained["model"])])
    assert rc == 2 and "--type-map" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        rc = cli.main(["predict", str(src), "--cell", "botan,0.64,9", "--results", str(trained["root"] / "results")])
    assert rc == 2 and "t9/model.pt" in caplog.text and "does not exist" in caplog.text
    rc = cli.main(["predict", str(tmp_path / "three.data"), "--model", str(trained["model"]), "--type-map", "1=A,2=B,3=B",
                   "--output", str(tmp_path / "mapped.csv")])
    assert rc == 0 and (tmp_path / "mapped.csv").exists()


def test_cell_path():
    assert str(P.cell_model_path("botan,0.44,7", "res")) == "res/train/botan/T0.44/t7/model.pt"
    assert str(P.cell_model_path("botan,0.5,2", "res")) == "res/train/botan/T0.50/t2/model.pt"
    assert str(P.cell_model_path("botan,pretrain", "r")) == "r/train/botan/pretrain/model.pt"
    with pytest.raises(ValueError, match="MODEL,T,K"):
        P.cell_model_path("botan", "r")
