"""Storage: corrupt, truncated and unfinished files are named in the error; writes are atomic."""
from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from glassdyn.io import storage
from glassdyn.labels.extract import extract_labels
from glassdyn.labels.imported import read_botan_npz


def _file(path, n=5000):
    return storage.write_h5(path, {"positions": np.random.default_rng(0).normal(size=(n, 3)),
                                   "group/x": np.arange(10)}, {"T": 0.44, "meta": {"a": 1}})


def test_round_trip(tmp_path):
    p = _file(tmp_path / "a.h5")
    data, attrs = storage.read_h5(p)
    assert set(data) == {"positions", "group/x"} and data["positions"].shape == (5000, 3)
    assert attrs["T"] == 0.44 and attrs["meta"] == {"a": 1} and attrs[storage.COMPLETE] is True


def test_truncated_file_is_named(tmp_path):
    p = _file(tmp_path / "replicas.h5")
    size = p.stat().st_size
    with open(p, "r+b") as fh:
        fh.truncate(size // 2)
    with pytest.raises(storage.StorageError, match=r"replicas\.h5.*(truncated|corrupt|unreadable)") as exc:
        storage.read_h5(p)
    assert exc.value.path == str(p)


def test_garbage_file_is_named(tmp_path):
    p = tmp_path / "labels.h5"
    p.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(storage.StorageError, match=r"labels\.h5.*not a readable HDF5"):
        storage.read_h5(p)


def test_file_without_complete_flag_is_named(tmp_path):
    p = tmp_path / "half.h5"
    with h5py.File(p, "w") as f:
        f["positions"] = np.zeros((4, 3))
    with pytest.raises(storage.StorageError, match=r"half\.h5.*never completed"):
        storage.read_h5(p)


def test_missing_file_and_dataset_are_named(tmp_path):
    with pytest.raises(storage.StorageError, match=r"nothere\.h5.*does not exist"):
        storage.read_h5(tmp_path / "nothere.h5")
    p = _file(tmp_path / "a.h5")
    with pytest.raises(storage.StorageError, match=r"a\.h5.*missing dataset 'velocities'"):
        storage.read_h5(p, ["positions", "velocities"])


def test_extract_labels_names_a_truncated_replicas_file(tmp_path, paper_config):
    p = _file(tmp_path / "md" / "replicas.h5")
    with open(p, "r+b") as fh:
        fh.truncate(p.stat().st_size - 1000)
    with pytest.raises(storage.StorageError, match=r"md/replicas\.h5"):
        extract_labels(paper_config, p, tmp_path / "labels.h5")
    assert not (tmp_path / "labels.h5").exists()


def test_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    p = tmp_path / "out.h5"
    with pytest.raises(TypeError):
        storage.write_h5(p, {"bad": np.array([object()], dtype=object)})
    assert not p.exists() and list(tmp_path.iterdir()) == []
    _file(p)
    before = p.read_bytes()
    with pytest.raises(TypeError):
        storage.write_h5(p, {"bad": np.array([object()], dtype=object)})
    assert p.read_bytes() == before and [q.name for q in tmp_path.iterdir()] == ["out.h5"]


def test_atomic_csv_and_json(tmp_path):
    storage.write_json(tmp_path / "a.json", {"x": np.float64(1.5), "v": np.arange(3)})
    assert '"x": 1.5' in (tmp_path / "a.json").read_text()
    with pytest.raises(TypeError):
        storage.write_json(tmp_path / "b.json", {"x": object()})
    assert not (tmp_path / "b.json").exists()
    storage.write_csv(tmp_path / "c.csv", pd.DataFrame({"a": [1, 2]}))
    assert sorted(q.name for q in tmp_path.iterdir()) == ["a.json", "c.csv"]


def test_botan_reader_names_bad_files(tmp_path):
    n = 20
    rng = np.random.default_rng(0)
    good = tmp_path / "isoconfig_N20T0.44_1_tc07.npz"
    np.savez(good, types=np.r_[np.zeros(16), np.ones(4)].astype(np.int8), initial_positions=rng.uniform(0, 5, (n, 3)),
             positions=rng.uniform(-1, 6, (3, n, 3)))
    d = read_botan_npz(good, box_length=5.0, time=4120.0)
    assert d["positions"].shape == (3, 1, n, 3) and d["types"].dtype == np.int8
    assert d["box"].tolist() == [5.0] * 3 and d["times"].tolist() == [4120.0]
    missing = tmp_path / "missing.npz"
    np.savez(missing, types=np.zeros(n, np.int8), positions=np.zeros((3, n, 3)))
    with pytest.raises(storage.StorageError, match=r"missing\.npz.*initial_positions"):
        read_botan_npz(missing)
    shape = tmp_path / "shape.npz"
    np.savez(shape, types=np.zeros(n, np.int8), initial_positions=np.zeros((n, 3)), positions=np.zeros((3, n + 1, 3)))
    with pytest.raises(storage.StorageError, match=r"shape\.npz.*bad shapes"):
        read_botan_npz(shape)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(good.read_bytes()[:200])
    with pytest.raises(storage.StorageError, match=r"broken\.npz"):
        read_botan_npz(broken)
