"""A disk cache of frozen features (特征缓存): run the frozen layers once, reuse their outputs.

A frozen part of a network (冻结的层) is a fixed function of its input, so it only has to be
evaluated once per image: `cached_features(frozen_part, X, cache_dir)` runs it over the data
once, stores its outputs ("features") on disk, and later calls (other epochs, seeds or
experiments) load them instead. The transfer-learning experiments of `transfer` use it.

The cache must never hand back *stale* features. Its key is a SHA-256 hash of

    key = sha256( frozen weights: every name, shape, dtype and the raw bytes
                + the input data: shape, dtype and raw bytes
                + a text description of the frozen layers (the layer spec)
                + the version of the code computing the features (`feature_code_version`)
                + the expected shape and dtype of the features )

so changing one weight, one pixel, the architecture or the layer code gives a new file name.
Files are `.npz` archives written to a temporary file first and then moved into place with
`os.replace` (atomic: a crash mid-write never leaves half a file under the real name). They
are read as untrusted (`checks.NpzReader`): exactly the entries `key` and `features`,
uncompressed, with the shape and dtype expected, checked from the zip directory and the array
headers before anything is read. A file that fails is recomputed and rewritten with a
`FeatureCacheWarning` saying why. A folder that cannot be written (read-only, a file in its
place) gives a warning and the cache moves to a temporary folder, keeping the features;
another process clearing the cache meanwhile is tolerated.

    cache = FeatureCache("notebooks/.cache/transfer")
    feats, info = cached_features(FrozenPart(model, upto="relu3"), X, None, cache=cache)
    info.status          # "computed" the first time, "loaded from cache" afterwards
"""
from __future__ import annotations

import ast
import hashlib
import inspect
import os
import re
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from .checks import FileCheckError, NpzReader, check_int
from .paths import atomic_write

__all__ = ["FeatureCacheWarning", "hash_arrays", "hash_data", "feature_cache_key",
           "feature_code_version", "frozen_features_key", "CacheInfo", "FeatureCache",
           "cached_features"]

_FORMAT_VERSION = "2"
_PREFIX_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_WRITE_ATTEMPTS = 3


class FeatureCacheWarning(UserWarning):
    """A feature-cache file was unreadable or did not match its key and has been rebuilt, or
    the cache folder could not be written and a temporary folder is used instead."""


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


def feature_cache_key(weights: Mapping[str, np.ndarray], X: np.ndarray, spec: str = "", *,
                      code_version: str = "", expected_shape=None, expected_dtype=None) -> str:
    """The cache key: sha256 over (format version, weights hash, data hash, layer spec, the
    feature code's version, the expected features' shape and dtype)."""
    digest = hashlib.sha256()
    shape = "" if expected_shape is None else str(tuple(int(s) for s in expected_shape))
    dtype = "" if expected_dtype is None else np.dtype(expected_dtype).str
    for part in (_FORMAT_VERSION, hash_arrays(weights), hash_data(X), str(spec), str(code_version),
                 shape, dtype):
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# The version of the code that computes features: its source text, hashed
# --------------------------------------------------------------------------------------------

_PACKAGE_DIR = Path(__file__).resolve().parent


def _package_imports(path: Path) -> set:
    """Files of this package that `path` imports with relative imports (`from .x import y`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [a.name for a in node.names]
            for name in names:
                base = _PACKAGE_DIR.joinpath(*name.split("."))
                for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                    if candidate.is_file():
                        found.add(candidate)
    return found


@lru_cache(maxsize=64)
def _modules_version(files: frozenset) -> str:
    """sha256 of the given package files and every package file they import, transitively."""
    todo, seen = list(files), set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(_package_imports(path))
    digest = hashlib.sha256()
    for path in sorted(seen):
        digest.update(path.name.encode() + b"\x00" + path.read_bytes() + b"\x00")
    return digest.hexdigest()


def feature_code_version(frozen_part) -> str:
    """A hash of the code that computes `frozen_part`'s features, so that features computed
    by older code are never reused: the source of the part's class, plus (for a part made of
    layer objects, e.g. `transfer.FrozenPart`) every package module those layers' code uses,
    transitively (layer_objects, layers, fast_layers, checks, ...). A part may instead give
    its own `code_version` text."""
    own = getattr(frozen_part, "code_version", None)
    if isinstance(own, str):
        return own
    try:
        source = inspect.getsource(type(frozen_part))
    except (OSError, TypeError):        # defined interactively: its name is all we have
        source = type(frozen_part).__qualname__
    files = set()
    for layer in getattr(frozen_part, "layers", ()) or ():
        module_file = getattr(inspect.getmodule(type(layer)), "__file__", None)
        if module_file and Path(module_file).resolve().parent == _PACKAGE_DIR:
            files.add(Path(module_file).resolve())
    digest = hashlib.sha256(source.encode())
    if files:
        digest.update(_modules_version(frozenset(files)).encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CacheInfo:
    """What one cache lookup did.

    status:  "computed" (miss: nothing on disk), "loaded from cache" (hit), or "rebuilt"
             (a file existed but was unreadable or did not match, so it was recomputed)
    key:     the 64-hex-character cache key
    path:    the .npz file that now holds the features (None if none could be written)
    seconds: wall time of the lookup (computing or loading)
    shape:   shape of the features array
    """

    status: str
    key: str
    path: Path | None
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

    `prefix` starts every file name (`<prefix>-<key[:32]>.npz`; letters, digits, '_' and '-'
    only); the full key is stored inside the file and checked on load. `clear()` removes
    exactly this cache's files. When `directory` cannot be written, a warning says so and the
    files go to a temporary folder (`fallback`) for the rest of the session.

    Shown in 07, section 4.
    """

    directory: Path
    prefix: str = "features"
    hits: int = field(default=0, init=False)
    misses: int = field(default=0, init=False)
    rebuilt: int = field(default=0, init=False)
    fallback: Path | None = field(default=None, init=False)

    def __post_init__(self):
        if not isinstance(self.directory, (str, os.PathLike)):
            raise TypeError(f"directory must be a folder path, got {type(self.directory).__name__}")
        self.directory = Path(self.directory)
        if not isinstance(self.prefix, str) or not _PREFIX_RE.fullmatch(self.prefix):
            raise ValueError(f"prefix must be 1 to 64 letters, digits, '_' or '-' (starting with a "
                             f"letter or digit), got {self.prefix!r}")

    def _check_key(self, key: str) -> str:
        if not isinstance(key, str) or len(key) < 32 or len(key) > 128 or \
                any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"key must be a lowercase hex digest of 32 to 128 characters "
                             f"(use feature_cache_key(...)), got {key!r}")
        return key

    def path_for(self, key: str) -> Path:
        """File that holds (or would hold) the features for `key` in `directory`."""
        return self.directory / f"{self.prefix}-{self._check_key(key)[:32]}.npz"

    def _paths(self, key: str) -> list:
        paths = [self.path_for(key)]
        if self.fallback is not None:
            paths.append(self.fallback / paths[0].name)
        return paths

    def load(self, key: str, expected_shape=None, expected_dtype=None) -> np.ndarray | None:
        """Stored features for `key`, or None when there is no file.

        Raises ValueError (with the reason) when the file exists but is unreadable, holds
        another key, or features of another shape or dtype than expected (when given);
        `get_or_compute` turns that into a rebuild with a warning.
        """
        for path in self._paths(key):
            try:
                size = path.stat().st_size
            except OSError:       # missing (or a file where the folder should be): a miss
                continue
            try:
                return self._read(path, key, size, expected_shape, expected_dtype)
            except FileCheckError as err:
                if not path.exists():       # removed meanwhile by another process's clear()
                    continue
                raise ValueError(f"{path.name}: {err.reason}") from None
        return None

    def _read(self, path, key, size, expected_shape, expected_dtype) -> np.ndarray:
        with NpzReader(path, "feature cache file", max_entries=2, max_bytes=size) as npz:
            if sorted(npz.names) != ["features", "key"]:
                raise npz.error(f"it holds the entries {sorted(npz.names)[:4]}, not exactly "
                                f"'features' and 'key'")
            npz.expect("key", (), "U")
            stored_key = str(npz.read("key"))
            if stored_key != key:
                raise npz.error(f"it holds features for key {stored_key[:12]}..., not {key[:12]}...")
            shape, dtype = npz.expect("features", expected_shape, "fiub")
            if expected_dtype is not None and dtype != np.dtype(expected_dtype):
                raise npz.error(f"its features have dtype {dtype}, expected {np.dtype(expected_dtype)}")
            return npz.read("features")

    def save(self, key: str, features: np.ndarray) -> Path | None:
        """Write `features` for `key` atomically (temporary file + os.replace). Returns the path.

        If the folder cannot be written, warns and writes to a temporary folder instead; if
        that fails too, warns and returns None (the caller keeps its features).
        """
        features = np.asarray(features)
        if features.dtype.kind not in "fiub":
            raise TypeError(f"features must be a numeric array, got dtype {features.dtype}; object "
                            f"arrays would need pickle, which this cache refuses")
        path = self.path_for(key)
        if self.fallback is None:
            try:
                return self._write(path, key, features)
            except OSError as err:
                try:
                    self.fallback = Path(tempfile.mkdtemp(prefix="cs231n-feature-cache-"))
                except OSError:
                    self.fallback = None
                where = f"using the temporary folder {self.fallback} instead" if self.fallback \
                    else "and no temporary folder could be made either; the features are not stored"
                warnings.warn(f"cannot write the feature cache in {self.directory} "
                              f"({err.strerror or err}); {where} (the computed features are kept)",
                              FeatureCacheWarning, stacklevel=3)
                if self.fallback is None:
                    return None
        try:
            return self._write(self.fallback / path.name, key, features)
        except OSError as err:
            warnings.warn(f"cannot write the feature cache in {self.fallback} either ({err}); the "
                          f"features are not stored", FeatureCacheWarning, stacklevel=3)
            return None

    def _write(self, path: Path, key: str, features: np.ndarray) -> Path:
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_write(path) as fh:
                    np.savez(fh, features=features, key=np.array(key))
                return path
            except FileNotFoundError:   # another process cleared the folder or our temp file
                if attempt == _WRITE_ATTEMPTS - 1:
                    raise
        return path

    def get_or_compute(self, key: str, compute: Callable[[], np.ndarray],
                       expected_rows: int | None = None, expected_shape=None,
                       expected_dtype=None) -> tuple[np.ndarray, CacheInfo]:
        """Features for `key` from disk if present and valid, else `compute()` them and store.

        `expected_rows` (e.g. len(X)) is checked against a loaded file's first dimension;
        `expected_shape` / `expected_dtype`, when given, against the whole shape and the dtype
        (of a loaded file and of what `compute()` returns). Returns (features, CacheInfo).
        """
        start = time.perf_counter()
        if expected_shape is not None:
            expected_shape = tuple(int(s) for s in expected_shape)
            if expected_rows is not None and expected_shape[:1] != (expected_rows,):
                raise ValueError(f"expected_shape {expected_shape} does not start with expected_rows "
                                 f"= {expected_rows}")
        path = self.path_for(key)
        status = "computed"
        try:
            features = self.load(key, expected_shape, expected_dtype)
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
            if expected_shape is not None and features.shape != expected_shape:
                raise ValueError(f"compute() returned features of shape {features.shape}, expected "
                                 f"{expected_shape}")
            path = self.save(key, features)
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
        """Delete this cache's files and nothing else: names exactly `<prefix>-<32 hex>.npz`
        (and this cache's leftover temporary files), in `directory` and the fallback folder.
        Files removed meanwhile by another process are skipped. Returns how many were removed."""
        final = re.compile(re.escape(self.prefix) + r"-[0-9a-f]{32}\.npz")
        temp = re.compile(r"\." + re.escape(self.prefix) + r"-[0-9a-f]{32}\.npz\.[A-Za-z0-9_]+\.tmp")
        removed = 0
        for folder in (self.directory, self.fallback):
            try:
                entries = list(os.scandir(folder)) if folder is not None else []
            except OSError:          # missing, or not a folder
                continue
            for entry in entries:
                is_final = bool(final.fullmatch(entry.name))
                if (is_final or temp.fullmatch(entry.name)) and not entry.is_dir(follow_symlinks=False):
                    try:
                        os.unlink(entry.path)
                    except FileNotFoundError:
                        continue
                    removed += is_final
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


def frozen_features_key(frozen_part, X: np.ndarray) -> str:
    """The key `cached_features` files the features of `frozen_part` on `X` under: weights,
    data, layer spec, `feature_code_version(frozen_part)` and the expected shape and dtype."""
    weights, spec = _frozen_weights_and_spec(frozen_part)
    shape, dtype = _feature_shape(frozen_part, np.asarray(X))
    return feature_cache_key(weights, np.asarray(X), spec, code_version=feature_code_version(frozen_part),
                             expected_shape=shape, expected_dtype=dtype)


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
    key = frozen_features_key(frozen_part, X)
    shape, dtype = _feature_shape(frozen_part, X)
    cache = cache if cache is not None else FeatureCache(cache_dir)

    def compute() -> np.ndarray:
        outs = [np.asarray(frozen_part.forward(X[i:i + batch_size]))
                for i in range(0, len(X), batch_size)]
        return np.concatenate(outs, axis=0)

    return cache.get_or_compute(key, compute, expected_rows=len(X), expected_shape=shape,
                                expected_dtype=dtype)


def _feature_shape(frozen_part, X: np.ndarray) -> tuple:
    """(shape, dtype) the features of X must have, from the part's `output_shape` (one
    example) and its `dtype` or its model's (e.g. FrozenPart); (None, None) when it does not
    say (then only the number of rows is checked)."""
    out_shape = getattr(frozen_part, "output_shape", None)
    dtype = getattr(frozen_part, "dtype", None) or getattr(getattr(frozen_part, "model", None), "dtype", None)
    if not isinstance(out_shape, tuple) or dtype is None:
        return None, None
    return (len(X), *(int(s) for s in out_shape)), np.dtype(dtype)
