"""Hostile checkpoints (issue 13): `Solver.load_checkpoint` on damaged, tampered, mismatched
and oversized files. Each load runs in a child process with an address-space limit and an
alarm (tests/hostile_helpers.py); it must refuse with a FileCheckError (or FileNotFoundError)
naming the file and the entry, and leave the model and the solver exactly as before (the
child compares a deep snapshot taken before the load with one taken after). A 2 MB file that
would expand to 2 GiB is refused from its zip directory."""
import struct
import warnings
import zipfile

import numpy as np
import pytest

from hostile_helpers import assert_ok, assert_refused, npy_header, run_cases, zip_bomb

PATTERN = "INPUT -> CONV3-4 -> BN -> RELU -> POOL2 -> FC-10"

SETUP = """
import copy, pathlib
import numpy as np
from cs231n_utils.pattern import build_from_pattern
from cs231n_utils.solver import Solver

FOLDER = pathlib.Path({folder!r})

def make(seed, epochs, rule="adam"):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((40, 1, 8, 8)), rng.integers(0, 10, 40)
    model = build_from_pattern({pattern!r}, (1, 8, 8), seed=seed)
    solver = Solver(model, dict(X_train=X[:30], y_train=y[:30], X_val=X[30:], y_val=y[30:]),
                    update_rule=rule, batch_size=10, num_epochs=epochs, seed=seed, progress=False)
    solver.train()
    return model, solver

model, solver = make(0, 1)

def snapshot():
    return (copy.deepcopy(model.state_dict()), copy.deepcopy(solver.optim_configs),
            copy.deepcopy(solver.history), copy.deepcopy(solver.best_params),
            solver.epoch, solver.iteration, solver.best_val_acc, solver.best_epoch,
            solver.rng.bit_generator.state)

def same(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a == b or (a != a and b != b)

def load(name):
    before = snapshot()
    try:
        solver.load_checkpoint(FOLDER / name)
    except Exception:
        if not same(before, snapshot()):
            raise AssertionError("a failed load changed the model or the solver")
        raise
"""


def _good_arrays(tmp, seed=1, epochs=2, rule="adam", name="good.npz"):
    """A real checkpoint of another run (other weights, 2 epochs), written by the solver."""
    import os
    import sys
    code = (f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
            + SETUP.format(folder=str(tmp), pattern=PATTERN)
            + f"\nm, s = make({seed}, {epochs}, {rule!r}); s.save_checkpoint(FOLDER / {name!r})")
    import subprocess
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
    with np.load(tmp / name, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _save(tmp, name, arrays, **extra):
    np.savez(tmp / name, **dict(arrays, **extra))
    return name


def _without(arrays, key):
    return {k: v for k, v in arrays.items() if k != key}


def _patch_zip_flags(src, dst, flag):
    """Copy a zip, setting general-purpose flag bits in every local and central header."""
    data = bytearray(src.read_bytes())
    for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = data.find(sig)
        while pos >= 0:
            (old,) = struct.unpack_from("<H", data, pos + at)
            struct.pack_into("<H", data, pos + at, old | flag)
            pos = data.find(sig, pos + 4)
    dst.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("checkpoints")
    good = _good_arrays(tmp)
    _good_arrays(tmp, rule="sgd", name="sgd.npz")
    W = "model/conv1.W"
    c = {}   # name -> (file, expected error, fragments) ; None error = must load

    def add(name, file, error=None, *fragments):
        c[name] = (file, error, list(fragments))

    add("the good checkpoint loads", "good.npz")
    np.savez_compressed(tmp / "compressed.npz", **good)
    add("a compressed good checkpoint loads", "compressed.npz")
    _save(tmp, "fortran.npz", good, **{W: np.asfortranarray(good[W])})
    add("Fortran-ordered arrays load", "fortran.npz")

    add("missing model entry", _save(tmp, "missing.npz", _without(good, "model/fc1.W")),
        "FileCheckError", "missing.npz", "'model/fc1.W' is missing")
    add("unknown extra entry", _save(tmp, "extra.npz", good, **{"model/evil": np.zeros(3)}),
        "FileCheckError", "'model/evil'", "not part of a checkpoint")
    add("another architecture", _save(tmp, "other.npz", {k.replace("conv1", "conv9"): v for k, v in good.items()}),
        "FileCheckError", "conv9")
    add("wrong-shaped model array", _save(tmp, "shape.npz", good, **{W: np.zeros((4, 1, 3, 2))}),
        "FileCheckError", W, "of shape (4, 1, 3, 3)")
    add("wrong-shaped best/ array", _save(tmp, "best.npz", good, **{"best/fc1.W": np.zeros((3, 3))}),
        "FileCheckError", "best/fc1.W")
    add("best/ with one parameter missing", _save(tmp, "bestpart.npz", _without(good, "best/fc1.b")),
        "FileCheckError", "best/fc1.b", "missing")
    add("wrong-shaped optim/ moment", _save(tmp, "optim.npz", good, **{"optim/fc1.W/m": np.zeros((2, 2))}),
        "FileCheckError", "optim/fc1.W/m")
    add("optim/ for a parameter the model lacks", _save(tmp, "optimp.npz", good, **{"optim/fc9.W/m": np.zeros(1)}),
        "FileCheckError", "optim/fc9.W/m")
    add("optim/ key adam does not keep", _save(tmp, "optimk.npz", good, **{"optim/fc1.W/velocity": np.zeros(1)}),
        "FileCheckError", "optim/fc1.W/velocity")
    add("negative learning rate", _save(tmp, "lr.npz", good, **{"optim/fc1.W/learning_rate": np.array(-1.0)}),
        "FileCheckError", "learning_rate")
    add("step count t as a float", _save(tmp, "t.npz", good, **{"optim/fc1.W/t": np.array(1.5)}),
        "FileCheckError", "optim/fc1.W/t", "whole number")
    add("step count t beyond the iterations", _save(tmp, "t2.npz", good, **{"optim/fc1.W/t": np.array(10 ** 9)}),
        "FileCheckError", "optim/fc1.W/t")
    add("integer weights", _save(tmp, "int.npz", good, **{W: good[W].astype(np.int64)}),
        "FileCheckError", W, "expected float")
    np.savez(tmp / "pickled.npz", **dict(good, **{W: np.array([{"a": 1}, 2], dtype=object)}))
    add("a pickled object array", "pickled.npz", "FileCheckError", W, "pickle")
    structured = np.zeros(good[W].shape, dtype=[("a", "<f8")])
    add("a structured dtype", _save(tmp, "struct.npz", good, **{W: structured}), "FileCheckError", W, "dtype")
    add("big-endian floats", _save(tmp, "be.npz", good, **{W: good[W].astype(">f8")}), "FileCheckError", W, "dtype")
    add("NaN weights", _save(tmp, "nan.npz", good, **{W: np.full_like(good[W], np.nan)}),
        "FileCheckError", W, "NaN/inf")
    add("history shorter than the iterations", _save(tmp, "hist.npz", good, **{"history/loss": np.zeros(1)}),
        "FileCheckError", "history/loss")
    add("negative epoch", _save(tmp, "epoch.npz", good, **{"meta/epoch": np.array(-1)}), "FileCheckError", "meta/epoch")
    add("10**12 iterations", _save(tmp, "iter.npz", good, **{"meta/iteration": np.array(10 ** 12)}),
        "FileCheckError", "meta/iteration", "MAX_HISTORY_LENGTH")
    add("epoch as text", _save(tmp, "epochs.npz", good, **{"meta/epoch": np.array("2")}), "FileCheckError", "meta/epoch")
    add("best_val_acc of 5", _save(tmp, "acc.npz", good, **{"meta/best_val_acc": np.array(5.0)}),
        "FileCheckError", "best_val_acc")
    add("a checkpoint of another update rule", "sgd.npz", "FileCheckError", "update_rule='sgd'", "'adam'")
    add("rng state of the wrong shape", _save(tmp, "rng.npz", good, **{"meta/rng_state": np.zeros(3, np.uint64)}),
        "FileCheckError", "meta/rng_state")
    add("rng state out of range", _save(tmp, "rng2.npz", good, **{"meta/rng_state": np.full(6, 2 ** 64 - 1, np.uint64)}),
        "FileCheckError", "meta/rng_state")
    add("an .npz without meta", _save(tmp, "nometa.npz", {"a": np.zeros(2)}), "FileCheckError", "not a solver checkpoint")

    raw = (tmp / "good.npz").read_bytes()
    (tmp / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    add("truncated to half", "truncated.npz", "FileCheckError", "truncated.npz", "cannot be read")
    (tmp / "empty.npz").write_bytes(b"")
    add("an empty file", "empty.npz", "FileCheckError", "cannot be read")
    (tmp / "text.npz").write_bytes(b"PK\x03\x04 not really a zip")
    add("not a zip", "text.npz", "FileCheckError", "cannot be read")
    flipped = bytearray(raw)
    flipped[len(raw) // 3] ^= 0xFF                  # one byte inside an array: the CRC catches it
    (tmp / "flipped.npz").write_bytes(bytes(flipped))
    add("one flipped byte", "flipped.npz", "FileCheckError", "flipped.npz")
    (tmp / "folder.npz").mkdir()
    add("a folder named .npz", "folder.npz", "FileNotFoundError", "not a regular file")
    add("a missing file", "nope.npz", "FileNotFoundError", "does not exist")
    _patch_zip_flags(tmp / "good.npz", tmp / "encrypted.npz", 0x1)
    add("entries marked encrypted", "encrypted.npz", "FileCheckError", "encrypted")

    with zipfile.ZipFile(tmp / "dup.npz", "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")                     # zipfile warns about the duplicate
        for k, v in good.items():
            zf.writestr(k + ".npy", npy_header(v.shape, v.dtype.str) + v.tobytes())
        zf.writestr(W + ".npy", npy_header(good[W].shape) + good[W].tobytes())
    add("a repeated entry", "dup.npz", "FileCheckError", "repeated")
    with zipfile.ZipFile(tmp / "txt.npz", "w") as zf:
        for k, v in good.items():
            zf.writestr(k + ".npy", npy_header(v.shape, v.dtype.str) + v.tobytes())
        zf.writestr("readme.txt", "hello")
    add("an entry that is not .npy", "txt.npz", "FileCheckError", "readme.txt")
    with zipfile.ZipFile(tmp / "many.npz", "w") as zf:
        for i in range(5000):
            zf.writestr(f"x{i}.npy", b"")
    add("5000 entries", "many.npz", "FileCheckError", "entries")
    with zipfile.ZipFile(tmp / "longhead.npz", "w") as zf:
        for k, v in good.items():
            head = npy_header(v.shape, v.dtype.str)
            if k == W:     # a header padded to 20 kB (numpy writes 128 bytes)
                head = head[:8] + struct.pack("<H", 20000 - 10) + head[10:-1] + b" " * (20000 - len(head)) + b"\n"
            zf.writestr(k + ".npy", head + v.tobytes())
    add("a 20 kB .npy header", "longhead.npz", "FileCheckError", W, "header")
    with zipfile.ZipFile(tmp / "liar.npz", "w") as zf:
        for k, v in good.items():
            shape = (10 ** 12,) if k == "history/loss" else v.shape
            zf.writestr(k + ".npy", npy_header(shape, v.dtype.str) + v.tobytes())
    add("a header claiming 10**12 numbers", "liar.npz", "FileCheckError", "history/loss")
    with zipfile.ZipFile(tmp / "v3.npz", "w") as zf:
        for k, v in good.items():
            head = npy_header(v.shape, v.dtype.str)
            zf.writestr(k + ".npy", (head[:6] + b"\x03\x00" + head[8:] if k == W else head) + v.tobytes())
    add("npy format version 3", "v3.npz", "FileCheckError", W)

    size = zip_bomb(tmp / "bomb.npz", {"model/conv1.W.npy": npy_header(((2 << 30) // 8,))})
    assert size < 3 << 20
    add("2 MB expanding to 2 GiB", "bomb.npz", "FileCheckError", "bomb.npz", "expand to 2,147,483,776 bytes")
    entries = {"model/conv1.W.npy": npy_header(good[W].shape)}     # declared shape fine, data huge
    entries.update({k + ".npy": npy_header(v.shape, v.dtype.str) + v.tobytes() for k, v in good.items() if k != W})
    zip_bomb(tmp / "bomb2.npz", entries, zeros=64 << 20)   # under the total budget
    add("a bomb behind a correct header", "bomb2.npz", "FileCheckError", W, "declares")
    return tmp, c


@pytest.fixture(scope="module")
def results(cases):
    tmp, c = cases
    setup = SETUP.format(folder=str(tmp), pattern=PATTERN)
    return run_cases(setup, {name: f"load({file!r})" for name, (file, _, _) in c.items()})


CASE_NAMES = ["the good checkpoint loads", "a compressed good checkpoint loads", "Fortran-ordered arrays load",
              "missing model entry", "unknown extra entry", "another architecture", "wrong-shaped model array",
              "wrong-shaped best/ array", "best/ with one parameter missing", "wrong-shaped optim/ moment",
              "optim/ for a parameter the model lacks", "optim/ key adam does not keep", "negative learning rate",
              "step count t as a float", "step count t beyond the iterations", "integer weights",
              "a pickled object array", "a structured dtype", "big-endian floats", "NaN weights",
              "history shorter than the iterations", "negative epoch", "10**12 iterations", "epoch as text",
              "best_val_acc of 5", "a checkpoint of another update rule", "rng state of the wrong shape",
              "rng state out of range", "an .npz without meta", "truncated to half", "an empty file", "not a zip",
              "one flipped byte", "a folder named .npz", "a missing file", "entries marked encrypted",
              "a repeated entry", "an entry that is not .npy", "5000 entries", "a 20 kB .npy header",
              "a header claiming 10**12 numbers", "npy format version 3", "2 MB expanding to 2 GiB",
              "a bomb behind a correct header"]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hostile_checkpoint(cases, results, name):
    _, c = cases
    _, error, fragments = c[name]
    if error is None:
        assert_ok(results[name])
    else:
        assert_refused(results[name], error, *fragments)


def test_every_case_is_listed(cases):
    assert sorted(cases[1]) == sorted(CASE_NAMES)


def test_child_process_exited_normally(results):
    assert {r["returncode"] for r in results.values()} == {0}


def test_a_loaded_checkpoint_continues_like_the_original(tmp_path):
    """In-process: after a failed load and then a good one, training continues exactly as the
    run that wrote the checkpoint (the failed load left nothing behind)."""
    from cs231n_utils.checks import FileCheckError
    from cs231n_utils.pattern import build_from_pattern
    from cs231n_utils.solver import Solver

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 1, 8, 8)), rng.integers(0, 10, 40)
    data = dict(X_train=X[:30], y_train=y[:30], X_val=X[30:], y_val=y[30:])

    def solver(seed):
        return Solver(build_from_pattern(PATTERN, (1, 8, 8), seed=seed), data, update_rule="adam",
                      batch_size=10, num_epochs=1, seed=seed, progress=False)
    a, b = solver(0), solver(5)
    a.train()
    a.save_checkpoint(tmp_path / "a.npz")
    with np.load(tmp_path / "a.npz") as f:
        arrays = {k: f[k] for k in f.files}
    arrays["best/fc1.W"] = np.zeros((1, 1))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(FileCheckError, match="best/fc1.W"):
        b.load_checkpoint(tmp_path / "bad.npz")
    b.load_checkpoint(tmp_path / "a.npz")
    a.train(1)
    b.train(1)
    assert a.history == b.history
    for k, v in a.model.state_dict().items():
        np.testing.assert_array_equal(v, b.model.state_dict()[k])


def test_load_state_dict_is_all_or_nothing():
    from cs231n_utils.pattern import build_from_pattern
    model = build_from_pattern(PATTERN, (1, 8, 8), seed=0)
    before = model.state_dict()
    bad = {k: v + 1 for k, v in before.items()}
    bad["fc1.W"] = np.zeros((2, 2))                      # the last key is wrong
    with pytest.raises(ValueError, match="fc1.W"):
        model.load_state_dict(bad)
    bad["fc1.W"] = np.full(before["fc1.W"].shape, np.inf)
    with pytest.raises(ValueError, match="finite"):
        model.load_state_dict(bad)
    for k, v in before.items():
        np.testing.assert_array_equal(model.state_dict()[k], v)
