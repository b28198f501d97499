"""A disk cache of frozen features (特征缓存): run the frozen layers once, reuse their outputs.

A frozen part of a network (冻结的层) is a fixed function of its input, so it only has to be
evaluated once per image: `cached_features(frozen_part, X, cache_dir)` runs it over the data
once, stores its outputs ("features") on disk, and later calls (other epochs, seeds or
experiments) load them instead. The transfer-learning experiments of `transfer` use it.

The cache must never hand back *stale* features. Its key is a SHA-256 hash of

    key = sha256( frozen weights: every name, shape, dtype and the raw bytes
                + the input data: shape, dtype and raw bytes
                + a text description of the frozen layers (the layer spec) )

so changing one weight, one pixel, or the architecture gives a new file name. Files are
`.npz` archives read with `allow_pickle=False`, written to a temporary file first and then
moved into place with `os.replace` (atomic: a crash mid-write never leaves half a file under
the real name). A file that cannot be read, or whose stored key or shape does not match, is
recomputed and rewritten with a `FeatureCacheWarning` saying so.

    cache = FeatureCache("notebooks/.cache/transfer")
    feats, info = cached_features(FrozenPart(model, upto="relu3"), X, None, cache=cache)
    info.status          # "computed" the first time, "loaded from cache" afterwards
"""
from __future__ import annotations

import hashlib
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from .checks import check_int
from .paths import atomic_write

__all__ = ["FeatureCacheWarning", "hash_arrays", "hash_data", "feature_cache_key",
           "CacheInfo", "FeatureCache", "cached_features"]

_FORMAT_VERSION = "1"


class FeatureCacheWarning(UserWarning):
    """A feature-cache file was unreadable or did not match its key and has been rebuilt."""


def _update_with_array(digest, name: str, arr: np.ndarray) -> None:
    arr = np.ascontiguousarray(arr)
    header = f"{name}|{arr.shape}|{arr.dtype.str}|".encode()
    digest.update(len(header).to_bytes(8, "little"))
    digest.update(header)
    digest.update(arr.tobytes())


def hash_arrays(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 (hex, 64 chars) of named arrays: each name, shape, dtype and raw bytes.

    Names are visited in sorted order, so the hash does not depend on dict order. Any change
    to a value, a shape, a dtype (float32 vs float64) or a name changes the hash.
    """
    if not isinstance(arrays, Mapping):
        raise TypeError(f"arrays must be a mapping name -> array (e.g. model.state_dict()), "
                        f"got {type(arrays).__name__}")
    digest = hashlib.sha256()
    for name in sorted(arrays):
        _update_with_array(digest, str(name), np.asarray(arrays[name]))
    return digest.hexdigest()


def hash_data(X: np.ndarray) -> str:
    """SHA-256 (hex) of one data array: its shape, dtype and raw bytes."""
    digest = hashlib.sha256()
    _update_with_array(digest, "X", np.asarray(X))
    return digest.hexdigest()


def feature_cache_key(weights: Mapping[str, np.ndarray], X: np.ndarray, spec: str = "") -> str:
    """The cache key: sha256 over (weights hash, data hash, layer spec, format version)."""
    digest = hashlib.sha256()
    for part in (_FORMAT_VERSION, hash_arrays(weights), hash_data(X), str(spec)):
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


@dataclass(frozen=True)
class CacheInfo:
    """What one cache lookup did.

    status:  "computed" (miss: nothing on disk), "loaded from cache" (hit), or "rebuilt"
             (a file existed but was unreadable or did not match, so it was recomputed)
    key:     the 64-hex-character cache key
    path:    the .npz file that now holds the features
    seconds: wall time of the lookup (computing or loading)
    shape:   shape of the features array
    """

    status: str
    key: str
    path: Path
    seconds: float
    shape: tuple

    @property
    def hit(self) -> bool:
        return self.status == "loaded from cache"


@dataclass
class FeatureCache:
    """A directory of cached feature arrays, one `.npz` file per key, with hit/miss counters.

        cache = FeatureCache("notebooks/.cache/transfer")
        feats, info = cache.get_or_compute(key, lambda: frozen.forward(X))
        info.status            # "computed" the first time, "loaded from cache" afterwards
        cache.hits, cache.misses, cache.rebuilt

    `prefix` starts every file name (`<prefix>-<key[:32]>.npz`); the full key is stored inside
    the file and checked on load.

    Shown in 07, section 4.
    """

    directory: Path
    prefix: str = "features"
    hits: int = field(default=0, init=False)
    misses: int = field(default=0, init=False)
    rebuilt: int = field(default=0, init=False)

    def __post_init__(self):
        self.directory = Path(self.directory)
        if not self.prefix or any(c in self.prefix for c in "/\\"):
            raise ValueError(f"prefix must be a non-empty file-name part without slashes, "
                             f"got {self.prefix!r}")

    def path_for(self, key: str) -> Path:
        """File that holds (or would hold) the features for `key`."""
        if not isinstance(key, str) or len(key) < 32 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"key must be a lowercase hex digest of at least 32 characters "
                             f"(use feature_cache_key(...)), got {key!r}")
        return self.directory / f"{self.prefix}-{key[:32]}.npz"

    def load(self, key: str) -> np.ndarray | None:
        """Stored features for `key`, or None when there is no file.

        Raises ValueError (with the reason) when the file exists but is unreadable or holds
        another key; `get_or_compute` turns that into a rebuild with a warning.
        """
        path = self.path_for(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as archive:
                stored_key = str(archive["key"])
                features = archive["features"]
        except Exception as err:  # any unreadable file (bad zip, truncated, pickled, missing entry)
            raise ValueError(f"cannot read {path.name}: {type(err).__name__}: {err}") from err
        if stored_key != key:
            raise ValueError(f"{path.name} holds features for key {stored_key[:12]}..., "
                             f"not {key[:12]}...")
        return features

    def save(self, key: str, features: np.ndarray) -> Path:
        """Write `features` for `key` atomically (temporary file + os.replace). Returns the path."""
        features = np.asarray(features)
        if features.dtype == object:
            raise TypeError("features must be a numeric array; object arrays would need pickle, "
                            "which this cache refuses (allow_pickle=False)")
        path = self.path_for(key)
        self.directory.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as fh:
            np.savez(fh, features=features, key=np.array(key))
        return path

    def get_or_compute(self, key: str, compute: Callable[[], np.ndarray],
                       expected_rows: int | None = None) -> tuple[np.ndarray, CacheInfo]:
        """Features for `key` from disk if present and valid, else `compute()` them and store.

        `expected_rows` (e.g. len(X)) is checked against a loaded file's first dimension.
        Returns (features, CacheInfo).
        """
        start = time.perf_counter()
        path = self.path_for(key)
        status = "computed"
        try:
            features = self.load(key)
            if features is not None and expected_rows is not None and len(features) != expected_rows:
                raise ValueError(f"{path.name} holds {len(features)} rows, expected {expected_rows}")
        except ValueError as err:
            warnings.warn(f"feature cache file {path} is corrupt or stale ({err}); "
                          f"recomputing the features and rewriting the file",
                          FeatureCacheWarning, stacklevel=2)
            features, status = None, "rebuilt"
        if features is None:
            features = np.asarray(compute())
            if expected_rows is not None and len(features) != expected_rows:
                raise ValueError(f"compute() returned {len(features)} rows, expected {expected_rows}")
            self.save(key, features)
            if status == "rebuilt":
                self.rebuilt += 1
            self.misses += 1
        else:
            status = "loaded from cache"
            self.hits += 1
        info = CacheInfo(status=status, key=key, path=path,
                         seconds=time.perf_counter() - start, shape=tuple(features.shape))
        return features, info

    def clear(self) -> int:
        """Delete this cache's files (those starting with `prefix`); returns how many."""
        if not self.directory.exists():
            return 0
        removed = 0
        for path in self.directory.glob(f"{self.prefix}-*.npz"):
            path.unlink()
            removed += 1
        for path in self.directory.glob(f".{self.prefix}-*.tmp"):
            path.unlink()
        return removed

    def summary(self) -> str:
        """One line: 'feature cache: 2 hits, 2 misses (0 rebuilt)'."""
        return (f"feature cache: {self.hits} hit{'s' * (self.hits != 1)}, "
                f"{self.misses} miss{'es' * (self.misses != 1)} ({self.rebuilt} rebuilt)")


def _frozen_weights_and_spec(frozen_part) -> tuple[Mapping[str, np.ndarray], str]:
    if not hasattr(frozen_part, "state_dict"):
        raise TypeError(f"frozen_part must have a state_dict() (a model or FrozenPart), "
                        f"got {type(frozen_part).__name__}")
    weights = frozen_part.state_dict()
    spec = getattr(frozen_part, "spec", None)
    if callable(spec):
        spec = spec()
    if spec is None:
        spec = type(frozen_part).__name__
    return weights, str(spec)


def cached_features(frozen_part, X: np.ndarray, cache_dir, *, cache: FeatureCache | None = None,
                    batch_size: int = 500) -> tuple[np.ndarray, CacheInfo]:
    """Outputs of the frozen layers for `X`, computed once and then read from `cache_dir`.

    frozen_part: anything with `state_dict()` (name -> array) and `forward(X)`; its optional
                 `spec` (text) describes the layers and joins the key. `FrozenPart(model, k)`
                 is the usual choice.
    X:           (N, C, H, W) inputs.
    cache_dir:   folder for the .npz files (ignored when `cache` is given).
    Returns (features of shape (N, ...), CacheInfo). Pass the same `cache` object to several
    calls to count hits and misses across them.

    Shown in 07, section 4.
    """
    X = np.asarray(X)
    if X.ndim < 1 or len(X) == 0:
        raise ValueError(f"X must hold at least one example, got shape {X.shape}")
    batch_size = check_int(batch_size, "batch_size", 1)
    if cache is None and cache_dir is None:
        raise ValueError("give cache_dir (a folder for the .npz files) or cache=FeatureCache(folder)")
    weights, spec = _frozen_weights_and_spec(frozen_part)
    key = feature_cache_key(weights, X, spec)
    cache = cache if cache is not None else FeatureCache(cache_dir)

    def compute() -> np.ndarray:
        outs = [np.asarray(frozen_part.forward(X[i:i + batch_size]))
                for i in range(0, len(X), batch_size)]
        return np.concatenate(outs, axis=0)

    return cache.get_or_compute(key, compute, expected_rows=len(X))
