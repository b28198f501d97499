"""Glyphs (字形数据集): a generated colour image set that stands in for CIFAR-10 offline.

CIFAR-10 (32x32 colour photos, 10 classes, 50,000 training images) needs a download; this set
is drawn on your machine from files that installed packages ship, in a few seconds, the same
bytes every time: the 52 letters A-Z a-z (52 classes; no digits, so that scikit-learn's
handwritten digits stay a *different* task to transfer to) drawn with the 22 fonts matplotlib
ships, rotated, scaled, sheared, shifted, thinner or bolder, in random ink on random
backgrounds (flat colours, gradients, crops of scikit-learn's sample photos, and 15% plain
white-on-black like the digits). How each image is drawn: `cs231n_utils.glyph_render`;
sources and licences: assets/DATA_CARD.md.

    data = load_glyphs()                    # 400/60/60 per class: 20,800 / 3,120 / 3,120
    data["X_train"].shape                   # (20800, 3, 32, 32) float32 in [0, 1]
    data["y_train"]                         # (20800,) int64, index into data["classes"]
    data["classes"][:3]                     # ('A', 'B', 'C')

    grey = load_glyphs_grey(size=16)        # digits-like: (N, 1, 16, 16) float32 in [0, 1]

Determinism: a split is made of chunks of CHUNK_PER_CLASS images per class, each drawn from
`np.random.default_rng([seed, split, chunk])`, so the same arguments give the same bytes
whatever the number of worker processes, and a smaller request is a prefix of a larger one
(for each class, its first n images). Every split holds exactly n images of every class.

Cache (缓存): making the default set takes several seconds, so `load_glyphs` stores it in
`<repo>/.cache/glyphs/` (gitignored; `cache_dir=` or the environment variable
CS231N_GLYPHS_CACHE choose another folder) under a content hash of every argument, the
drawing code's source (glyph_render.py) and its inputs (font files, photo pixels, matplotlib's version). Cache
files are read as untrusted: exactly the expected entries, shapes and dtypes (checked before
reading), labels balanced and in range, and a sha256 of the contents that must match; a file
that fails any check is rebuilt with a `GlyphCacheWarning`.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from .checks import FileCheckError, NpzReader, check_int
from .glyph_render import CHUNK_PER_CLASS, SPLITS

__all__ = ["LETTERS", "SPLITS", "CHUNK_PER_CLASS", "GENERATOR_VERSION", "GlyphCacheWarning",
           "glyph_classes", "make_glyphs", "glyph_cache_key", "default_cache_dir", "load_glyphs",
           "to_digits_like", "upsample", "load_glyphs_grey", "sample_grid", "save_sample_grid"]

LETTERS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
#: bump when the drawing changes in a way the source hash would not show
GENERATOR_VERSION = "1"
CACHE_ENV_VAR = "CS231N_GLYPHS_CACHE"
_MAX_PER_CLASS = 5000
_MIN_SIZE, _MAX_SIZE = 8, 128


class GlyphCacheWarning(UserWarning):
    """A glyph cache file was damaged or did not match its key and has been rebuilt, or the
    cache folder could not be written."""


# --------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------

def glyph_classes(classes=None) -> tuple:
    """The class letters as a tuple: all 52 (`LETTERS`) for None, else the letters given.

    classes: None, a string such as "AaBb", or a sequence of one-letter strings. Labels are
    positions in this tuple. ValueError for unknown, repeated or fewer than two letters.
    """
    if classes is None:
        return LETTERS
    if isinstance(classes, str):
        classes = tuple(classes)
    try:
        classes = tuple(classes)
    except TypeError:
        raise TypeError(f"classes must be None, a string of letters such as 'AaBb' or a list of "
                        f"letters, got {type(classes).__name__}") from None
    unknown = [c for c in classes if not (isinstance(c, str) and c in LETTERS)]
    if unknown:
        raise ValueError(f"unknown class name(s) {unknown[:5]}: the glyph classes are the 52 "
                         f"letters A-Z and a-z (no digits), e.g. classes='AaBb'")
    repeated = sorted({c for c in classes if classes.count(c) > 1})
    if repeated:
        raise ValueError(f"class letters repeat: {repeated}; give each letter once")
    if len(classes) < 2:
        raise ValueError(f"need at least two classes to classify, got {list(classes)}")
    return classes


def _check_count(value, name: str) -> int:
    try:
        return check_int(value, name, 0, _MAX_PER_CLASS)
    except ValueError:
        raise ValueError(f"{name} is a number of images per class and must be in "
                         f"0..{_MAX_PER_CLASS:,}, got {value}") from None


def _check_size(size) -> int:
    try:
        return check_int(size, "size", _MIN_SIZE, _MAX_SIZE)
    except ValueError:
        raise ValueError(f"size (the image side in pixels) must be in {_MIN_SIZE}..{_MAX_SIZE}, "
                         f"got {size}: below {_MIN_SIZE} px a letter cannot be read; use 32 "
                         f"for CIFAR-10's geometry") from None


def _check_split(split) -> int:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return SPLITS.index(split)


def _check_seed(seed) -> int:
    return check_int(seed, "seed", 0, 2 ** 63 - 1)


# --------------------------------------------------------------------------------------------
# Drawing (serial or in worker processes; the result does not depend on which)
# --------------------------------------------------------------------------------------------

def _default_workers() -> int:
    """Processes for drawing: the thread count the package may use (CS231N_THREADS, or BLAS's,
    e.g. OMP_NUM_THREADS), at most os.cpu_count(); 1 where `fork` is unavailable."""
    from .parallel import num_threads
    if not sys.platform.startswith("linux"):
        return 1                      # spawn would re-import and redraw the fonts in each worker
    return max(1, min(num_threads(), os.cpu_count() or 1))


def make_glyphs(n_per_class: int, *, split: str = "train", seed: int = 0, size: int = 32,
                classes=None, workers: int | None = None) -> tuple:
    """Draw one split without any cache: (X, y, ink_brighter).

    n_per_class: images of each class (0..5000); split: "train", "val" or "test" (each split
    has its own random stream, so no image repeats across splits); size: image side in
    pixels (8..128; the geometry scales with it); classes: see `glyph_classes`; workers:
    processes (default: `parallel.num_threads()`; the bytes do not depend on it).

    Returns X (N, 3, size, size) uint8 (RGB, 0..255), y (N,) int64 labels into the classes,
    ink_brighter (N,) bool (the ink is lighter than the background), N = n_per_class * C.
    """
    from . import glyph_render as gr

    n = _check_count(n_per_class, "n_per_class")
    _check_split(split)
    seed, size, classes = _check_seed(seed), _check_size(size), glyph_classes(classes)
    workers = _default_workers() if workers is None else check_int(workers, "workers", 1, 64)
    return gr.draw_splits({split: n}, seed, size, classes, workers)[split]


# --------------------------------------------------------------------------------------------
# The disk cache
# --------------------------------------------------------------------------------------------

def _code_digest() -> str:
    """sha256 of glyph_render.py, where every pixel is decided (editing the loaders here does
    not throw the cache away; editing the drawing does)."""
    return hashlib.sha256((Path(__file__).parent / "glyph_render.py").read_bytes()).hexdigest()


def glyph_cache_key(counts: dict, seed: int, size: int, classes: tuple) -> str:
    """sha256 (hex) naming one cached data set: the arguments, GENERATOR_VERSION, the source of
    glyph_render.py, and the inputs (fonts, photo pixels, matplotlib version)."""
    from . import glyph_render as gr

    text = json.dumps({"version": GENERATOR_VERSION, "counts": {k: int(v) for k, v in counts.items()},
                       "seed": int(seed), "size": int(size), "classes": "".join(classes),
                       "chunk": CHUNK_PER_CLASS, "code": _code_digest(),
                       "inputs": gr.inputs_digest()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def default_cache_dir() -> Path:
    """$CS231N_GLYPHS_CACHE if set, else <repository>/.cache/glyphs (gitignored)."""
    env = os.environ.get(CACHE_ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    from .paths import REPO_ROOT
    return REPO_ROOT / ".cache" / "glyphs"


def _content_digest(arrays: dict) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{a.shape}|{a.dtype.str}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def _write_cache(path: Path, key: str, splits: dict) -> None:
    from .transfer import save_weights      # deterministic, atomic, uncompressed .npz

    arrays = {}
    for name, (X, y, ink) in splits.items():
        arrays[f"X_{name}"], arrays[f"y_{name}"], arrays[f"ink_{name}"] = X, y, ink
    arrays["key"] = np.array([key])        # 1-d: save_weights stores arrays of >= 1 dimension
    arrays["digest"] = np.array([_content_digest(arrays)])
    save_weights(path, arrays)


def _read_cache(path: Path, key: str, counts: dict, size: int, C: int) -> dict:
    """The splits stored in `path`, every entry checked; FileCheckError if anything is off."""
    names = {"key", "digest"} | {f"{p}_{s}" for s in counts for p in ("X", "y", "ink")}
    total = sum(counts.values()) * C
    max_bytes = total * (3 * size * size + 9) + 4096
    with NpzReader(path, "glyph cache", max_entries=len(names), max_bytes=max_bytes) as npz:
        if set(npz.names) != names:
            raise npz.error(f"its entries are {sorted(npz.names)}, expected {sorted(names)}")
        for text in ("key", "digest"):
            npz.expect(text, (1,), "U")
        if str(npz.read("key")[0]) != key:
            raise npz.error("it was made for other arguments or code (its key differs)")
        arrays, out = {"key": npz.read("key")}, {}
        for s, n in counts.items():
            N = n * C
            npz.expect(f"X_{s}", (N, 3, size, size), "u")
            npz.expect(f"y_{s}", (N,), "i")
            npz.expect(f"ink_{s}", (N,), "b")
            X, y, ink = npz.read(f"X_{s}"), npz.read(f"y_{s}"), npz.read(f"ink_{s}")
            if X.dtype != np.uint8 or y.dtype != np.int64:
                raise npz.error(f"split {s!r} has dtypes {X.dtype}/{y.dtype}, expected uint8/int64")
            if N and (y.min() < 0 or y.max() >= C or np.any(np.bincount(y, minlength=C) != n)):
                raise npz.error(f"the labels of split {s!r} are not {n} of each of {C} classes")
            arrays.update({f"X_{s}": X, f"y_{s}": y, f"ink_{s}": ink})
            out[s] = (X, y, ink)
        if str(npz.read("digest")[0]) != _content_digest(arrays):
            raise npz.error("its contents do not match the sha256 stored in it (damaged file)")
    return out


def _cached_splits(counts, seed, size, classes, cache, cache_dir, workers) -> tuple:
    """(splits, status) with status "loaded from cache", "generated" or "generated (no cache)"."""
    from . import glyph_render as gr

    if not cache:
        return gr.draw_splits(counts, seed, size, classes, workers), "generated (no cache)"
    key = glyph_cache_key(counts, seed, size, classes)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = folder / f"glyphs-{key[:32]}.npz"
    if path.exists():
        try:
            return _read_cache(path, key, counts, size, len(classes)), "loaded from cache"
        except FileCheckError as exc:
            warnings.warn(f"glyph cache rebuilt: {exc}", GlyphCacheWarning, stacklevel=3)
    splits = gr.draw_splits(counts, seed, size, classes, workers)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_cache(path, key, splits)
    except OSError as exc:
        warnings.warn(f"glyph cache folder {folder} cannot be written ({exc.strerror or exc}); "
                      f"the images were made but not cached: set {CACHE_ENV_VAR} or cache_dir= "
                      f"to a writable folder", GlyphCacheWarning, stacklevel=3)
    return splits, "generated"


# --------------------------------------------------------------------------------------------
# Public loaders
# --------------------------------------------------------------------------------------------

def load_glyphs(n_train: int = 400, n_val: int = 60, n_test: int = 60, *, seed: int = 0,
                size: int = 32, classes=None, dtype=np.float32, cache: bool = True,
                cache_dir=None, workers: int | None = None) -> dict:
    """The glyph data set, split into train/val/test, balanced: made once, then cached.

    n_train, n_val, n_test: images per class (0..5000 each); the defaults give 20,800 /
    3,120 / 3,120 images for the 52 letters. seed: the data set's seed; size: image side
    (8..128 px, default 32 = CIFAR-10's); classes: None (all 52 letters) or e.g. "AaBb".
    dtype: np.float32 or np.float64 (pixels / 255, in [0, 1]) or np.uint8 (0..255, a quarter
    of the memory). cache/cache_dir: see the module docstring. workers: processes that draw
    (default `parallel.num_threads()`); the bytes never depend on it.

    Returns a dict: X_train, X_val, X_test (N, 3, size, size) of `dtype`; y_train, y_val,
    y_test (N,) int64 (index into "classes"); ink_brighter_train/_val/_test (N,) bool;
    "classes" (tuple of letters), "mean" and "std" ((3,) float64, per channel, on the training
    pixels in [0, 1]; NaN when n_train=0), "seed", "size", "status" ("generated", "loaded from cache", ...) and
    "seconds" (time to make or load).
    """
    start = time.perf_counter()
    counts = {"train": _check_count(n_train, "n_train"), "val": _check_count(n_val, "n_val"),
              "test": _check_count(n_test, "n_test")}
    seed, size, classes = _check_seed(seed), _check_size(size), glyph_classes(classes)
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.uint8), np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be np.uint8 (0..255), np.float32 or np.float64 (0..1), got {dtype}")
    if not isinstance(cache, bool):
        raise TypeError(f"cache must be True or False, got {cache!r}")
    workers = _default_workers() if workers is None else check_int(workers, "workers", 1, 64)
    splits, status = _cached_splits(counts, seed, size, classes, cache, cache_dir, workers)
    out: dict = {}
    for name, (X, y, ink) in splits.items():
        out[f"X_{name}"] = X if dtype == np.uint8 else X.astype(dtype) * dtype.type(1 / 255)
        out[f"y_{name}"], out[f"ink_brighter_{name}"] = y, ink
    Xt = splits["train"][0]
    if len(Xt):
        s = Xt.reshape(len(Xt), 3, -1).transpose(1, 0, 2).reshape(3, -1)
        out["mean"] = s.mean(axis=1, dtype=np.float64) / 255
        out["std"] = s.std(axis=1, dtype=np.float64) / 255
    else:
        out["mean"], out["std"] = np.full(3, np.nan), np.full(3, np.nan)
    out.update(classes=classes, seed=seed, size=size, status=status,
               seconds=round(time.perf_counter() - start, 3))
    return out


def upsample(X: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of square images (..., H, H) to (..., size, size), half-pixel centres
    (as PIL / torch with align_corners=False), edges repeated. float32 out.

    Use the same function on the scikit-learn digits and on `to_digits_like` glyphs, so that
    source and target are enlarged in exactly the same way.
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim < 2 or X.shape[-1] != X.shape[-2]:
        raise ValueError(f"X must end in two equal sides (..., H, H), got shape {X.shape}")
    size = check_int(size, "size", 1, 1024)
    h = X.shape[-1]
    pos = np.clip((np.arange(size) + 0.5) * h / size - 0.5, 0, h - 1)
    lo = np.minimum(np.floor(pos).astype(np.intp), h - 1)
    hi = np.minimum(lo + 1, h - 1)
    f = (pos - lo).astype(np.float32)
    rows = X[..., lo, :] * (1 - f)[:, None] + X[..., hi, :] * f[:, None]
    return rows[..., lo] * (1 - f) + rows[..., hi] * f


def to_digits_like(X: np.ndarray, ink_brighter: np.ndarray, size: int = 16) -> np.ndarray:
    """Colour glyphs made to look like scikit-learn's 8x8 digits, then enlarged to `size`.

    X: (N, 3, 32, 32) uint8 (0..255) or float (0..1); ink_brighter: (N,) bool from
    `load_glyphs`. The digits were made from 32x32 black-and-white scans by counting the ink
    pixels in each 4x4 block (0..16); here the same: grey = 0.299 R + 0.587 G + 0.114 B,
    flipped where the ink is darker (ink bright, like the digits' values), stretched to
    [0, 1] between the image's 2nd and 98th percentiles, thresholded at 0.5, the "on" pixels
    of each 4x4 block counted (8x8, 0..16), divided by 16 and, for size > 8, enlarged with
    `upsample`. Returns (N, 1, size, size) float32 in [0, 1].
    """
    X = np.asarray(X)
    if X.ndim != 4 or X.shape[1:] != (3, 32, 32):
        raise ValueError(f"X must be colour glyphs of shape (N, 3, 32, 32), got {X.shape}; "
                         f"load them with load_glyphs(size=32)")
    ink = np.asarray(ink_brighter)
    if ink.shape != (len(X),) or ink.dtype != bool:
        raise ValueError(f"ink_brighter must be a bool array of shape ({len(X)},) (the "
                         f"'ink_brighter_<split>' entry of load_glyphs), got {ink.dtype} {ink.shape}")
    size = check_int(size, "size", 8, 128)
    if len(X) == 0:                                         # an empty split (count 0)
        return np.zeros((0, 1, size, size), np.float32)
    scale = 255.0 if X.dtype == np.uint8 else 1.0
    grey = np.tensordot(np.array([0.299, 0.587, 0.114], np.float32), X.astype(np.float32), axes=(0, 1)) / scale
    grey = np.where(ink[:, None, None], grey, 1 - grey)
    flat = grey.reshape(len(X), -1)
    k_lo, k_hi = int(0.02 * flat.shape[1]), int(0.98 * flat.shape[1])
    ends = np.partition(flat, (k_lo, k_hi), axis=1)        # 2nd and 98th percentile (no sort)
    lo, hi = ends[:, k_lo, None, None], ends[:, k_hi, None, None]
    on = (grey - lo) > 0.5 * np.maximum(hi - lo, 1e-6)
    counts = on.reshape(len(X), 8, 4, 8, 4).sum(axis=(2, 4)).astype(np.float32) / 16
    out = counts if size == 8 else upsample(counts, size)
    return out[:, None].astype(np.float32)


def load_glyphs_grey(n_train: int = 400, n_val: int = 60, n_test: int = 60, *, size: int = 16,
                     seed: int = 0, classes=None, cache: bool = True, cache_dir=None,
                     workers: int | None = None) -> dict:
    """`load_glyphs` at 32x32, turned digits-like with `to_digits_like(X, ink, size)`.

    Returns the same dict as `load_glyphs`, with X_* of shape (N, 1, size, size) float32 in
    [0, 1] and "mean"/"std" as (1,) arrays over the grey training pixels (NaN when
    n_train=0). A count of 0 gives an empty split of shape (0, 1, size, size).
    """
    data = load_glyphs(n_train, n_val, n_test, seed=seed, size=32, classes=classes,
                       dtype=np.uint8, cache=cache, cache_dir=cache_dir, workers=workers)
    for s in SPLITS:
        data[f"X_{s}"] = to_digits_like(data[f"X_{s}"], data[f"ink_brighter_{s}"], size)
    data["size"] = size
    Xt = data["X_train"]
    data["mean"] = np.array([Xt.mean(dtype=np.float64)]) if len(Xt) else np.full(1, np.nan)
    data["std"] = np.array([Xt.std(dtype=np.float64)]) if len(Xt) else np.full(1, np.nan)
    return data


# --------------------------------------------------------------------------------------------
# A picture of the set
# --------------------------------------------------------------------------------------------

def sample_grid(per_class: int = 2, *, seed: int = 0, columns: int = 13, zoom: int = 2,
                gap: int = 2, classes=None) -> np.ndarray:
    """A grid of training glyphs, `per_class` of every class in class order: (H, W, 3) uint8.

    Each 32x32 image is enlarged `zoom` times (nearest) and separated by `gap` white pixels;
    with the defaults, 104 images in 8 rows of 13: 856 x 526 pixels.
    """
    classes = glyph_classes(classes)
    per_class = check_int(per_class, "per_class", 1, 20)
    columns, zoom, gap = check_int(columns, "columns", 1, 200), check_int(zoom, "zoom", 1, 16), \
        check_int(gap, "gap", 0, 32)
    X, y, _ = make_glyphs(per_class, split="train", seed=seed, classes=classes)
    X = X[np.argsort(y, kind="stable")].transpose(0, 2, 3, 1)
    X = X.repeat(zoom, axis=1).repeat(zoom, axis=2)
    n, side = len(X), 32 * zoom
    rows = -(-n // columns)
    grid = np.full((rows * (side + gap) - gap, columns * (side + gap) - gap, 3), 255, np.uint8)
    for i, img in enumerate(X):
        r, c = divmod(i, columns)
        grid[r * (side + gap):r * (side + gap) + side, c * (side + gap):c * (side + gap) + side] = img
    return grid


def save_sample_grid(path, **kwargs) -> Path:
    """Write `sample_grid(**kwargs)` as a PNG (Pillow, optimised); returns the path."""
    from PIL import Image

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"the sample grid is written as PNG; give a path ending in .png, got {path.name!r}")
    Image.fromarray(sample_grid(**kwargs)).save(path, optimize=True)
    return path
