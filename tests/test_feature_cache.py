"""Tests for cs231n_utils.feature_cache: keys, hits and misses, stale and corrupt files, atomic writes."""
import os
import warnings

import numpy as np
import pytest

from cs231n_utils import feature_cache
from cs231n_utils.feature_cache import (CacheInfo, FeatureCache, FeatureCacheWarning, cached_features,
                                        feature_cache_key, frozen_features_key, hash_arrays,
                                        hash_data)


class _LinearPart:
    """A stand-in frozen part: features = relu(X.reshape(N, -1) @ W); counts forward calls."""

    spec = "flatten -> linear -> relu"

    def __init__(self, rng, d_in=16, d_out=5):
        self.W = rng.standard_normal((d_in, d_out))
        self.calls = 0

    def state_dict(self):
        return {"W": self.W}

    def forward(self, X):
        self.calls += 1
        return np.maximum(0, X.reshape(len(X), -1) @ self.W)


@pytest.fixture
def part_and_data(rng):
    return _LinearPart(rng), rng.standard_normal((7, 1, 4, 4))


# ---------------------------------------------------------------------------- hashing

def test_hash_arrays_sees_values_shapes_dtypes_and_names(rng):
    w = rng.standard_normal((3, 4))
    base = hash_arrays({"w": w})
    assert len(base) == 64
    assert hash_arrays({"w": w.copy()}) == base
    w2 = w.copy()
    w2[1, 2] += 1e-12
    assert hash_arrays({"w": w2}) != base
    assert hash_arrays({"w": w.reshape(4, 3)}) != base
    assert hash_arrays({"w": w.astype(np.float32)}) != base
    assert hash_arrays({"v": w}) != base


def test_hash_arrays_ignores_dict_order_and_memory_layout(rng):
    a, b = rng.standard_normal(3), rng.standard_normal((2, 2))
    assert hash_arrays({"a": a, "b": b}) == hash_arrays({"b": b, "a": a})
    assert hash_arrays({"b": np.asfortranarray(b)}) == hash_arrays({"b": b})


def test_hash_arrays_boundary_between_names_and_bytes_is_unambiguous():
    # the same concatenated bytes split differently must hash differently
    x = np.arange(4, dtype=np.uint8)
    assert hash_arrays({"a": x[:2], "b": x[2:]}) != hash_arrays({"a": x[:1], "b": x[1:]})


def test_hash_arrays_rejects_non_mapping():
    with pytest.raises(TypeError, match="mapping"):
        hash_arrays([np.zeros(2)])


def test_hash_data_and_key_change_with_data_and_spec(rng):
    X = rng.standard_normal((2, 1, 3, 3))
    w = {"w": np.ones(2)}
    assert hash_data(X) == hash_data(X.copy())
    X2 = X.copy()
    X2[0, 0, 0, 0] = 0.0
    assert hash_data(X2) != hash_data(X)
    k = feature_cache_key(w, X, "a")
    assert k == feature_cache_key({"w": np.ones(2)}, X.copy(), "a")
    assert k != feature_cache_key(w, X2, "a")
    assert k != feature_cache_key(w, X, "b")
    assert k != feature_cache_key({"w": np.full(2, 2.0)}, X, "a")


# ---------------------------------------------------------------------------- FeatureCache

def test_miss_then_hit_returns_the_same_features_without_recomputing(tmp_path, part_and_data):
    part, X = part_and_data
    cache = FeatureCache(tmp_path)
    f1, info1 = cached_features(part, X, tmp_path, cache=cache)
    assert info1.status == "computed" and not info1.hit
    assert part.calls == 1
    f2, info2 = cached_features(part, X, tmp_path, cache=cache)
    assert info2.status == "loaded from cache" and info2.hit
    assert part.calls == 1  # the frozen part did not run again
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(f1, part.forward(X))
    assert (cache.hits, cache.misses, cache.rebuilt) == (1, 1, 0)
    assert cache.summary() == "feature cache: 1 hit, 1 miss (0 rebuilt)"
    assert info1.path == info2.path and info1.path.exists()
    assert info2.shape == (7, 5)


def test_a_fresh_cache_object_reads_files_written_by_another(tmp_path, part_and_data):
    part, X = part_and_data
    cached_features(part, X, tmp_path)
    _, info = cached_features(part, X, tmp_path)
    assert info.status == "loaded from cache"


def test_changed_weights_never_reuse_stale_features(tmp_path, part_and_data):
    part, X = part_and_data
    cache = FeatureCache(tmp_path)
    f_old, info_old = cached_features(part, X, tmp_path, cache=cache)
    part.W = part.W.copy()
    part.W[0, 0] += 0.5
    f_new, info_new = cached_features(part, X, tmp_path, cache=cache)
    assert info_new.status == "computed"
    assert info_new.key != info_old.key
    np.testing.assert_array_equal(f_new, part.forward(X))
    assert not np.array_equal(f_new, f_old)
    assert cache.misses == 2 and cache.hits == 0


def test_changed_data_or_spec_misses(tmp_path, part_and_data):
    part, X = part_and_data
    cache = FeatureCache(tmp_path)
    cached_features(part, X, tmp_path, cache=cache)
    _, info = cached_features(part, X[:5], tmp_path, cache=cache)
    assert info.status == "computed"
    part.spec = "another architecture"
    _, info = cached_features(part, X, tmp_path, cache=cache)
    assert info.status == "computed"


def test_corrupt_file_is_rebuilt_with_a_warning(tmp_path, part_and_data):
    part, X = part_and_data
    cache = FeatureCache(tmp_path)
    f1, info = cached_features(part, X, tmp_path, cache=cache)
    info.path.write_bytes(b"this is not a zip archive")
    with pytest.warns(FeatureCacheWarning, match="corrupt or stale.*recomputing"):
        f2, info2 = cached_features(part, X, tmp_path, cache=cache)
    assert info2.status == "rebuilt"
    np.testing.assert_array_equal(f1, f2)
    assert cache.rebuilt == 1
    # the file was rewritten: the next lookup is a clean hit with no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, info3 = cached_features(part, X, tmp_path, cache=cache)
    assert info3.status == "loaded from cache"


def test_truncated_file_is_rebuilt(tmp_path, part_and_data):
    part, X = part_and_data
    _, info = cached_features(part, X, tmp_path)
    data = info.path.read_bytes()
    info.path.write_bytes(data[: len(data) // 2])
    with pytest.warns(FeatureCacheWarning):
        _, info2 = cached_features(part, X, tmp_path)
    assert info2.status == "rebuilt"


def test_file_holding_another_key_is_rebuilt(tmp_path, part_and_data):
    part, X = part_and_data
    cache = FeatureCache(tmp_path)
    key = frozen_features_key(part, X)
    other = "f" * 64
    np.savez(cache.path_for(key), features=np.zeros((7, 5)), key=np.array(other))
    with pytest.warns(FeatureCacheWarning, match="holds features for key"):
        feats, info = cached_features(part, X, tmp_path, cache=cache)
    assert info.status == "rebuilt"
    np.testing.assert_array_equal(feats, part.forward(X))


def test_wrong_row_count_is_rebuilt(tmp_path, part_and_data):
    part, X = part_and_data
    cache = FeatureCache(tmp_path)
    key = frozen_features_key(part, X)
    cache.save(key, np.zeros((3, 5)))
    with pytest.warns(FeatureCacheWarning, match="3 rows, expected 7"):
        _, info = cache.get_or_compute(key, lambda: part.forward(X), expected_rows=7)
    assert info.status == "rebuilt"


def test_pickled_object_file_is_refused_and_rebuilt(tmp_path, part_and_data):
    part, X = part_and_data
    cache = FeatureCache(tmp_path)
    key = frozen_features_key(part, X)
    obj = np.empty(1, dtype=object)
    obj[0] = {"evil": 1}
    np.savez(cache.path_for(key), features=obj, key=np.array(key))
    with pytest.warns(FeatureCacheWarning):
        _, info = cached_features(part, X, tmp_path, cache=cache)
    assert info.status == "rebuilt"


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path / "sub")
    key = "a" * 64
    path = cache.save(key, np.arange(6.0).reshape(2, 3))
    assert path.exists() and path.parent == tmp_path / "sub"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == [path.name]
    # a failing write keeps the old file intact and removes the temporary file
    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(feature_cache.os, "replace", failing_replace)
    monkeypatch.setattr(feature_cache.tempfile, "tempdir", str(tmp_path))   # the fallback folder
    with pytest.warns(FeatureCacheWarning, match="disk full") as caught:
        assert cache.save(key, np.zeros((2, 3))) is None        # the temporary folder failed too
    assert "not stored" in str(caught[-1].message)
    np.testing.assert_array_equal(cache.load(key), np.arange(6.0).reshape(2, 3))
    assert [p.name for p in (tmp_path / "sub").iterdir()] == [path.name]
    assert list(cache.fallback.iterdir()) == []


def test_save_uses_os_replace(tmp_path, monkeypatch):
    calls = []
    real = os.replace
    monkeypatch.setattr(feature_cache.os, "replace", lambda a, b: (calls.append((a, b)), real(a, b)))
    path = FeatureCache(tmp_path).save("b" * 64, np.ones(2))
    assert len(calls) == 1 and str(calls[0][1]) == str(path) and str(calls[0][0]).endswith(".tmp")


def test_saved_file_is_a_plain_npz_readable_without_pickle(tmp_path):
    path = FeatureCache(tmp_path).save("c" * 64, np.ones((2, 2), dtype=np.float32))
    with np.load(path, allow_pickle=False) as z:
        assert z["features"].dtype == np.float32
        assert str(z["key"]) == "c" * 64


def test_save_refuses_object_arrays(tmp_path):
    with pytest.raises(TypeError, match="pickle"):
        FeatureCache(tmp_path).save("d" * 64, np.array([{}, 1], dtype=object))


def test_clear_removes_only_this_prefix(tmp_path):
    a = FeatureCache(tmp_path, prefix="a")
    b = FeatureCache(tmp_path, prefix="b")
    a.save("e" * 64, np.ones(1))
    b.save("e" * 64, np.ones(1))
    assert a.clear() == 1
    assert [p.name.split("-")[0] for p in tmp_path.iterdir()] == ["b"]
    assert FeatureCache(tmp_path / "missing").clear() == 0


def test_bad_arguments_teach(tmp_path, part_and_data):
    part, X = part_and_data
    with pytest.raises(ValueError, match="prefix"):
        FeatureCache(tmp_path, prefix="a/b")
    with pytest.raises(ValueError, match="hex digest"):
        FeatureCache(tmp_path).path_for("not-a-key")
    with pytest.raises(TypeError, match="state_dict"):
        cached_features(lambda x: x, X, tmp_path)
    with pytest.raises(ValueError, match="at least one example"):
        cached_features(part, X[:0], tmp_path)
    with pytest.raises(ValueError, match="batch_size"):
        cached_features(part, X, tmp_path, batch_size=0)
    with pytest.raises(ValueError, match="give cache_dir"):
        cached_features(part, X, None)


def test_compute_returning_wrong_rows_raises(tmp_path):
    with pytest.raises(ValueError, match="returned 2 rows, expected 3"):
        FeatureCache(tmp_path).get_or_compute("0" * 64, lambda: np.zeros((2, 1)), expected_rows=3)


def test_batched_forward_matches_one_pass(tmp_path, part_and_data):
    part, X = part_and_data
    feats, _ = cached_features(part, X, tmp_path, batch_size=3)
    assert part.calls == 3
    # A GEMM over 3 rows and one over all rows may block (and round) differently when BLAS
    # runs on several threads: equal to float64 rounding, not bit for bit.
    np.testing.assert_allclose(feats, part.forward(X), rtol=1e-12, atol=1e-12)


def test_cache_info_is_plain_data(tmp_path, part_and_data):
    part, X = part_and_data
    _, info = cached_features(part, X, tmp_path)
    assert isinstance(info, CacheInfo)
    assert info.seconds >= 0 and len(info.key) == 64
