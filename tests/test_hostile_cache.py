"""Hostile feature caches (issue 13): damaged, tampered, oversized and odd cache files are
read in a child process with an address-space limit and an alarm, and must be rebuilt with a
FeatureCacheWarning saying why (the features returned equal freshly computed ones); stale
keys (other shape, dtype, feature code); `clear()` touching only its own files; unwritable
folders falling back to a temporary folder; writers surviving a concurrent clear."""
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cs231n_utils import feature_cache
from cs231n_utils.feature_cache import (FeatureCache, FeatureCacheWarning, cached_features,
                                        feature_code_version, frozen_features_key)
from hostile_helpers import LinearPart, assert_ok, npy_header, run_cases, zip_bomb

TESTS = Path(__file__).parent
X = np.random.default_rng(7).standard_normal((7, 1, 4, 4))

SETUP = """
import tempfile, warnings
import numpy as np
from pathlib import Path
from cs231n_utils.feature_cache import FeatureCache, cached_features
from hostile_helpers import LinearPart

X = np.random.default_rng(7).standard_normal((7, 1, 4, 4))
part = LinearPart()
expected = X.reshape(7, -1) @ part.W

def lookup(folder):
    tempfile.tempdir = str(Path(folder).parent)        # a fallback folder stays in the test's tmp
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        feats, info = cached_features(part, X, None, cache=FeatureCache(Path(folder)))
    assert np.array_equal(feats, expected), "wrong features returned"
    return info.status, [str(w.message) for w in caught]
"""


def _write_npz(path, **arrays):
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    root = tmp_path_factory.mktemp("caches")
    part = LinearPart()
    key = frozen_features_key(part, X)
    name = f"features-{key[:32]}.npz"
    good = X.reshape(7, -1) @ part.W
    c = {}

    def case(label, status, *fragments):
        folder = root / f"case{len(c)}"
        folder.mkdir()
        c[label] = (folder, status, fragments)
        return folder / name

    _write_npz(case("a good file is a hit", "loaded from cache"), features=good, key=np.array(key))
    case("no file is a miss", "computed")
    _write_npz(case("features of another shape", "rebuilt", "shape (7, 5)"), features=np.zeros((7, 6)),
               key=np.array(key))
    _write_npz(case("features of another dtype", "rebuilt", "dtype float32"), features=good.astype(np.float32),
               key=np.array(key))
    _write_npz(case("another key inside", "rebuilt", "holds features for key"), features=good,
               key=np.array("f" * 64))
    _write_npz(case("an extra entry", "rebuilt", "3 entries"), features=good, key=np.array(key), more=np.zeros(1))
    _write_npz(case("no key entry", "rebuilt", "not exactly"), features=good)
    _write_npz(case("a key that is a number", "rebuilt", "'key'", "text"), features=good, key=np.array(5))
    _write_npz(case("a key of 100000 characters", "rebuilt", "dtype"), features=good, key=np.array("a" * 100000))
    np.savez(case("pickled object features", "rebuilt", "pickle"),
             features=np.array([{}, 1], dtype=object), key=np.array(key))
    np.savez_compressed(case("a compressed file", "rebuilt", "uncompressed"), features=good, key=np.array(key))
    path = case("a truncated file", "rebuilt", "cannot be read")
    _write_npz(path, features=good, key=np.array(key))
    path.write_bytes(path.read_bytes()[:300])
    case("an empty file", "rebuilt", "cannot be read").write_bytes(b"")
    os.mkfifo(case("a FIFO in place of the file", "rebuilt", "not a regular file"))
    case("a link to /dev/zero", "rebuilt", "not a regular file").symlink_to("/dev/zero")
    case("a folder in place of the file", "rebuilt", "not a regular file", "cannot write").mkdir()
    with zipfile.ZipFile(case("5000 entries", "rebuilt", "entries"), "w") as zf:
        for i in range(5000):
            zf.writestr(f"x{i}.npy", b"")
    with zipfile.ZipFile(case("a header claiming 10**12 rows", "rebuilt", "declares"), "w") as zf:
        zf.writestr("features.npy", npy_header((10 ** 12, 5)) + good.tobytes())
        zf.writestr("key.npy", npy_header((), f"<U{len(key)}") + np.array(key).tobytes())
    size = zip_bomb(case("2 MB expanding to 2 GiB", "rebuilt", "is compressed"),
                    {"features.npy": npy_header(((2 << 30) // 8,)),
                     "key.npy": npy_header((), f"<U{len(key)}") + np.array(key).tobytes()})
    assert size < 3 << 20
    return c


@pytest.fixture(scope="module")
def results(cases):
    return run_cases(SETUP, {label: f"result = lookup({str(folder)!r})" for label, (folder, _, _) in cases.items()},
                     cwd=TESTS)


LABELS = ["a good file is a hit", "no file is a miss", "features of another shape", "features of another dtype",
          "another key inside", "an extra entry", "no key entry", "a key that is a number",
          "a key of 100000 characters", "pickled object features", "a compressed file", "a truncated file",
          "an empty file", "a FIFO in place of the file", "a link to /dev/zero", "a folder in place of the file",
          "5000 entries", "a header claiming 10**12 rows", "2 MB expanding to 2 GiB"]


@pytest.mark.parametrize("label", LABELS)
def test_hostile_cache_file_is_rebuilt_with_a_reason(cases, results, label):
    _, status, fragments = cases[label]
    result = results[label]
    assert_ok(result)
    got_status, messages = eval(result["result"])       # (status, [warning texts]) from the child
    assert got_status == status, result
    text = " ".join(messages)
    if status == "rebuilt":
        assert "corrupt or stale" in text
    for fragment in fragments:
        assert fragment in text, (fragment, text)


def test_every_case_is_listed(cases):
    assert sorted(cases) == sorted(LABELS)


def test_child_process_exited_normally(results):
    assert {r["returncode"] for r in results.values()} == {0}


# ---------------------------------------------------------------------------- stale keys

def test_key_includes_shape_dtype_and_code_version():
    part = LinearPart()
    key = frozen_features_key(part, X)
    assert frozen_features_key(LinearPart(), X) == key

    class Other(LinearPart):           # same weights, data and spec; other code
        pass
    assert frozen_features_key(Other(), X) != key
    part.output_shape = (6,)
    assert frozen_features_key(part, X) != key
    part.output_shape, part.dtype = (5,), "float32"
    assert frozen_features_key(part, X) != key
    part.dtype, part.code_version = "float64", "v2"
    assert frozen_features_key(part, X) != key


def test_code_version_follows_the_layer_code_transitively(monkeypatch):
    from cs231n_utils.pattern import build_from_pattern
    from cs231n_utils.transfer import FrozenPart

    frozen = FrozenPart(build_from_pattern("INPUT -> CONV3-4 -> RELU -> FC-3", (1, 4, 4), seed=0), upto="relu1")
    before = feature_code_version(frozen)
    assert before == feature_code_version(frozen)
    real = Path.read_bytes

    def edited(self):                  # fast_layers is imported by layers, which layer_objects imports
        data = real(self)
        return data + b"\n# edited\n" if self.name == "fast_layers.py" else data
    monkeypatch.setattr(Path, "read_bytes", edited)
    feature_cache._modules_version.cache_clear()
    try:
        assert feature_code_version(frozen) != before
    finally:
        monkeypatch.undo()
        feature_cache._modules_version.cache_clear()


def test_compute_of_the_wrong_shape_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"shape \(7, 4\), expected \(7, 5\)"):
        FeatureCache(tmp_path).get_or_compute("0" * 64, lambda: np.zeros((7, 4)), expected_rows=7,
                                              expected_shape=(7, 5))


# ---------------------------------------------------------------------------- clear()

def test_star_prefix_is_refused_and_clear_removes_only_exact_names(tmp_path):
    for bad in ("*", "features*", "", "../x", ".hidden", "a b", "x" * 65, 5):
        with pytest.raises(ValueError, match="prefix"):
            FeatureCache(tmp_path, prefix=bad)
    cache = FeatureCache(tmp_path)
    own = cache.save("1" * 64, np.ones(2))
    temp = tmp_path / f".{own.name}.abc123.tmp"                      # a leftover temporary file
    temp.write_bytes(b"x")
    target = tmp_path / "outside.txt"
    target.write_text("keep me")
    others = ["other-" + "1" * 32 + ".npz", "features-x-" + "1" * 32 + ".npz", "features-" + "1" * 31 + ".npz",
              "features-" + "1" * 32 + ".npz.bak", "features-" + "A" * 32 + ".npz", "notes.txt",
              "features-" + "2" * 32 + ".npzz"]
    for other in others:
        (tmp_path / other).write_bytes(b"x")
    (tmp_path / ("features-" + "3" * 32 + ".npz")).mkdir()             # a folder with a matching name
    (tmp_path / ("features-" + "4" * 32 + ".npz")).symlink_to(target)  # a link: removed, target kept
    assert cache.clear() == 2
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(others + ["features-" + "3" * 32 + ".npz", "outside.txt"])
    assert target.read_text() == "keep me"
    assert FeatureCache(tmp_path / "missing").clear() == 0
    (tmp_path / "afile").write_bytes(b"")
    assert FeatureCache(tmp_path / "afile").clear() == 0               # not a folder: nothing to do


def test_prefix_with_regex_characters_is_not_a_pattern(tmp_path):
    a = FeatureCache(tmp_path, prefix="a-b")
    other = tmp_path / ("aXb-" + "1" * 32 + ".npz")
    other.write_bytes(b"x")
    a.save("1" * 64, np.ones(1))
    assert a.clear() == 1 and other.exists()


# ---------------------------------------------------------------------------- unwritable folders

@pytest.fixture
def fallback_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(feature_cache.tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _lookup(folder):
    part = LinearPart()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache = FeatureCache(folder)
        feats, info = cached_features(part, X, None, cache=cache)
        feats2, info2 = cached_features(part, X, None, cache=cache)
    np.testing.assert_array_equal(feats, X.reshape(7, -1) @ part.W)
    np.testing.assert_array_equal(feats2, feats)
    return cache, info, info2, [str(w.message) for w in caught], part


def test_a_file_in_place_of_the_folder_falls_back_to_a_temporary_folder(fallback_in_tmp):
    blocker = fallback_in_tmp / "blocker"
    blocker.write_text("not a folder")
    cache, info, info2, messages, part = _lookup(blocker / "cache")
    assert info.status == "computed" and info2.status == "loaded from cache" and part.calls == 1
    assert len(messages) == 1 and "cannot write the feature cache" in messages[0]
    assert str(cache.fallback) in messages[0] and "kept" in messages[0]
    assert info.path.parent == cache.fallback and blocker.read_text() == "not a folder"


@pytest.mark.parametrize("errno_name", ["EACCES", "EROFS", "ENOSPC"])
def test_an_unwritable_folder_falls_back(fallback_in_tmp, monkeypatch, errno_name):
    import errno
    folder = fallback_in_tmp / "ro"
    folder.mkdir()
    real = feature_cache.os.replace

    def refuse(src, dst):   # the tests may run as root, who writes anywhere: the folder refuses here
        if Path(dst).parent == folder:
            raise OSError(getattr(errno, errno_name), os.strerror(getattr(errno, errno_name)))
        return real(src, dst)
    monkeypatch.setattr(feature_cache.os, "replace", refuse)
    cache, info, info2, messages, _ = _lookup(folder)
    assert info2.hit and os.strerror(getattr(errno, errno_name)) in messages[0]
    assert list(folder.iterdir()) == []                 # no temporary file left behind


# ---------------------------------------------------------------------------- concurrent clear

def test_a_clear_during_the_write_is_tolerated(tmp_path, monkeypatch):
    writer, clearer = FeatureCache(tmp_path), FeatureCache(tmp_path)
    real_savez, calls = np.savez, []

    def savez_then_clear(fh, **arrays):
        real_savez(fh, **arrays)
        if not calls:                  # the first attempt: the temp file vanishes before os.replace
            calls.append(clearer.clear())
            shutil.rmtree(tmp_path)
    monkeypatch.setattr(feature_cache.np, "savez", savez_then_clear)
    path = writer.save("5" * 64, np.arange(3.0))
    assert path.exists() and calls == [0]
    np.testing.assert_array_equal(writer.load("5" * 64), np.arange(3.0))


def test_writers_survive_another_process_clearing(tmp_path):
    """A real race: one process writes 40 entries while another clears the folder in a loop."""
    code = textwrap.dedent(f"""
        import sys, time, numpy as np
        from cs231n_utils.feature_cache import FeatureCache
        cache = FeatureCache({str(tmp_path)!r})
        if sys.argv[1] == "write":
            for i in range(40):
                cache.save(f"{{i:064x}}", np.arange(5000.0) + i)
        else:
            end = time.time() + 3
            while time.time() < end:
                cache.clear()
    """)
    (tmp_path / "tmp").mkdir()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", TMPDIR=str(tmp_path / "tmp"))   # any fallback folder
    clear = subprocess.Popen([sys.executable, "-c", code, "clear"], env=env)
    write = subprocess.run([sys.executable, "-c", code, "write"], env=env, capture_output=True, text=True,
                           timeout=120)
    clear.wait(timeout=60)
    assert write.returncode == 0 and "Traceback" not in write.stderr, write.stderr
    assert clear.returncode == 0
