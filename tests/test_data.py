"""Digits split (deterministic, stratified, normalised) and the CIFAR-10 loader (the hostile
batches are in tests/test_hostile_cifar.py)."""
import os
import pickle

import numpy as np
import pytest

from cifar_batch_writer import py2_batch, random_batch
from cs231n_utils.data import (CIFAR10_CLASSES, CifarFormatError, UnsafePickleError, load_cifar10,
                               load_cifar_batch, load_digits_split, parse_cifar_batch)


# ---------------------------------------------------------------------------- digits

def test_digits_split_shapes_sizes_and_dtype():
    d = load_digits_split(seed=0, val=0.15, test=0.2)
    n = len(d["y_train"]) + len(d["y_val"]) + len(d["y_test"])
    assert n == 1797
    assert d["X_train"].shape == (len(d["y_train"]), 1, 8, 8) and d["X_train"].dtype == np.float64
    assert abs(len(d["y_test"]) - 0.2 * 1797) < 10 and abs(len(d["y_val"]) - 0.15 * 1797) < 10
    assert d["y_train"].dtype == np.int64 and d["classes"] == tuple(range(10))
    assert load_digits_split(dtype=np.float32)["X_val"].dtype == np.float32


def test_digits_split_is_deterministic_and_seed_dependent():
    a, b, c = load_digits_split(seed=0), load_digits_split(seed=0), load_digits_split(seed=1)
    for k in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        assert np.array_equal(a[k], b[k])
    assert not np.array_equal(a["y_test"], c["y_test"])


def test_digits_split_is_disjoint_and_stratified():
    d = load_digits_split(seed=3, normalize=False)
    rows = {name: {x.tobytes() + bytes([int(y)]) for x, y in zip(d[f"X_{name}"], d[f"y_{name}"])}
            for name in ("train", "val", "test")}
    total = sum(len(r) for r in rows.values())
    assert len(rows["train"] | rows["val"] | rows["test"]) == total   # no image in two splits
    counts = np.bincount(d["y_test"], minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38                  # ~20% of each ~180 class


def test_digits_normalised_with_training_statistics():
    d = load_digits_split(seed=0)
    raw = load_digits_split(seed=0, normalize=False)
    assert abs(d["X_train"].mean()) < 1e-10 and abs(d["X_train"].std() - 1) < 1e-10
    assert np.allclose(d["X_test"], (raw["X_test"] - d["mean"]) / d["std"])
    assert d["mean"] == pytest.approx(raw["X_train"].mean())
    assert raw["X_train"].min() == 0 and raw["X_train"].max() == 16


def test_digits_bad_fractions():
    with pytest.raises(ValueError, match="val"):
        load_digits_split(val=0.6, test=0.5)
    with pytest.raises(ValueError, match="fractions"):
        load_digits_split(test=0)


# ---------------------------------------------------------------------------- CIFAR-10

def _write_batch(path, n=4, seed=0, protocol=4, override=None):
    rng = np.random.default_rng(seed)
    batch = {b"batch_label": b"testing batch", b"labels": [int(v) for v in rng.integers(0, 10, n)],
             b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
             b"filenames": [f"img_{i}.png".encode() for i in range(n)]}
    batch.update(override or {})
    path.write_bytes(pickle.dumps(batch, protocol=protocol))
    return batch


@pytest.fixture
def cifar_dir(tmp_path):
    for i in range(1, 6):
        _write_batch(tmp_path / f"data_batch_{i}", n=3, seed=i)
    _write_batch(tmp_path / "test_batch", n=5, seed=9)
    return tmp_path


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_good_batch_loads(tmp_path, protocol):
    batch = _write_batch(tmp_path / "data_batch_1", n=6, protocol=protocol)
    X, y = load_cifar_batch(tmp_path / "data_batch_1")
    assert X.shape == (6, 3, 32, 32) and X.dtype == np.float64
    assert np.array_equal(y, batch[b"labels"])
    # channel-first layout: the first 1024 values are the red plane, row by row
    assert np.array_equal(X[0, 0].ravel(), batch[b"data"][0, :1024])
    assert np.array_equal(X[2, 2, 31], batch[b"data"][2, 3072 - 32:])


def test_load_cifar10_from_path_and_env_var(cifar_dir, monkeypatch):
    d = load_cifar10(cifar_dir)
    assert d["X_train"].shape == (15, 3, 32, 32) and d["X_test"].shape == (5, 3, 32, 32)
    assert d["classes"] == CIFAR10_CLASSES and len(CIFAR10_CLASSES) == 10
    monkeypatch.setenv("CIFAR10_DIR", str(cifar_dir))
    d2 = load_cifar10(num_train_batches=2, dtype=np.float32)
    assert d2["X_train"].shape == (6, 3, 32, 32) and d2["X_train"].dtype == np.float32


def test_missing_folder_file_and_env(tmp_path, cifar_dir, monkeypatch):
    monkeypatch.delenv("CIFAR10_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="CIFAR10_DIR"):
        load_cifar10()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_cifar10(tmp_path / "nowhere")
    os.remove(cifar_dir / "data_batch_3")
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_cifar10(cifar_dir)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_cifar_batch(cifar_dir / "data_batch_3")


@pytest.mark.parametrize("content", [b"", b"\x80\x02}q\x00(X\x04", b"this is not a pickle at all"])
def test_corrupt_file_gives_clear_error(tmp_path, content):
    path = tmp_path / "data_batch_1"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="corrupt or truncated"):
        load_cifar_batch(path)


def test_truncated_real_batch(tmp_path):
    path = tmp_path / "data_batch_1"
    _write_batch(path, n=3)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        load_cifar_batch(path)


def test_wrong_contents_are_explained(tmp_path):
    path = tmp_path / "b"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ValueError, match="expected a dict"):
        load_cifar_batch(path)
    path.write_bytes(pickle.dumps({b"labels": [1]}))
    with pytest.raises(ValueError, match="no 'data'"):
        load_cifar_batch(path)
    _write_batch(path, n=2, override={b"data": np.zeros((2, 100), np.uint8)})
    with pytest.raises(ValueError, match=r"\(N, 3072\)"):
        load_cifar_batch(path)
    _write_batch(path, n=2, override={b"labels": [0, 12]})
    with pytest.raises(ValueError, match="0..9"):
        load_cifar_batch(path)


class _Evil:
    """Unpickling this would run os.system('echo pwned > <marker>')."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.marker}",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "marker.txt"
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": _Evil(marker), b"labels": [0]}))
    with pytest.raises(UnsafePickleError, match="refusing to load"):
        load_cifar_batch(path)
    assert not marker.exists()


@pytest.mark.parametrize("module, name", [("builtins", "eval"), ("subprocess", "Popen"),
                                          ("numpy", "load"), ("numpy.lib.npyio", "load"),
                                          ("posix", "system"), ("builtins", "getattr")])
def test_other_globals_are_refused(module, name):
    # protocol-2 GLOBAL opcode: c<module>\n<name>\n, then an empty tuple and REDUCE
    data = b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n)R."
    with pytest.raises(UnsafePickleError, match=f"{module}.{name}"):
        parse_cifar_batch(data)


def test_python2_batch_loads_exactly(tmp_path):
    data, labels = random_batch(7, seed=4)
    (tmp_path / "data_batch_1").write_bytes(py2_batch(data, labels))
    X, y = load_cifar_batch(tmp_path / "data_batch_1", dtype=np.uint8)
    assert np.array_equal(X.reshape(7, 3072), data) and y.tolist() == labels
    parsed = parse_cifar_batch((tmp_path / "data_batch_1").read_bytes())
    assert parsed["batch_label"] == "training batch 1 of 5" and parsed["filenames"][6] == "img_00006.png"
    assert parsed["labels"].dtype == np.int64 and not parsed["data"].flags.writeable


def test_parse_refuses_plain_pickles_of_other_things():
    for obj in ({"a": [1, 2.5]}, [1, 2], np.arange(6, dtype=np.int16)):
        with pytest.raises(CifarFormatError):
            parse_cifar_batch(pickle.dumps(obj, protocol=4))
