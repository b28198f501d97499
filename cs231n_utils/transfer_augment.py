"""Data augmentation (数据增广) for few labelled images: small random shifts, rotations, scalings.

With five labelled digits per class, a network (or a linear head on frozen features) sees the
same 50 pictures again and again. Moving, turning and resizing each one a little gives new
pictures of the same digit for free, because a 7 turned by 10 degrees is still a 7:

    X_aug = random_affine(X, rng, max_shift=2, max_degrees=12, max_scale=0.1, fill=bg)
    X_many, y_many = augmented_copies(X, y, copies=16, seed=0, fill=bg)   # 16 versions each

Every output pixel is read from the input at the inverse-transformed position with bilinear
interpolation; positions outside the image read `fill` (the background value). Labels and
shapes never change. `affine_augment` wraps `random_affine` for `Solver(augment=...)`.
"""
from __future__ import annotations

import numpy as np

from .checks import check_int

__all__ = ["random_affine", "affine_augment", "augmented_copies"]


def _check_images(X) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 4 or X.dtype.kind != "f":
        raise ValueError(f"X must be float images of shape (N, C, H, W), got shape {X.shape} and "
                         f"dtype {X.dtype}; add a channel axis with X[:, None] for (N, H, W) images")
    return X


def _check_range(value, name: str, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 <= float(value) <= high:
        raise ValueError(f"{name} must be a number in [0, {high}], got {value!r}")
    return float(value)


def random_affine(X, rng: np.random.Generator, *, max_shift: float = 2.0, max_degrees: float = 12.0,
                  max_scale: float = 0.1, fill: float = 0.0) -> np.ndarray:
    """Each image moved by (dy, dx), turned by an angle and scaled by a factor, all drawn per image.

    X:           (N, C, H, W) float images (every channel of an image gets the same transform)
    rng:         a numpy Generator (the only source of randomness)
    max_shift:   dy, dx uniform in [-max_shift, max_shift] pixels (fractions allowed)
    max_degrees: angle uniform in [-max_degrees, max_degrees] degrees, about the image centre
    max_scale:   scale factor uniform in [1 - max_scale, 1 + max_scale]
    fill:        value read outside the image (the background)
    Returns an array of X's shape and dtype: out[n, c, i, j] = X[n, c] sampled bilinearly at
    centre + R(-angle) (p - centre - shift) / scale, where p = (i, j).
    """
    X = _check_images(X)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got "
                        f"{type(rng).__name__}")
    max_shift = _check_range(max_shift, "max_shift (pixels)", max(X.shape[2:]) / 2)
    max_degrees = _check_range(max_degrees, "max_degrees", 180.0)
    max_scale = _check_range(max_scale, "max_scale", 0.5)
    N, C, H, W = X.shape
    shift = rng.uniform(-max_shift, max_shift, size=(N, 2))
    angle = np.deg2rad(rng.uniform(-max_degrees, max_degrees, size=N))
    scale = rng.uniform(1 - max_scale, 1 + max_scale, size=N)
    cy, cx = (H - 1) / 2, (W - 1) / 2
    ii, jj = np.meshgrid(np.arange(H, dtype=np.float64), np.arange(W, dtype=np.float64), indexing="ij")
    py = ii[None] - cy - shift[:, 0, None, None]                  # (N, H, W), centred
    px = jj[None] - cx - shift[:, 1, None, None]
    cos, sin = (np.cos(angle) / scale)[:, None, None], (np.sin(angle) / scale)[:, None, None]
    sy = cy + cos * py - sin * px                                 # inverse rotation and scaling
    sx = cx + sin * py + cos * px
    padded = np.pad(X, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=fill)
    y0 = np.clip(np.floor(sy), -1, H).astype(np.int64)
    x0 = np.clip(np.floor(sx), -1, W).astype(np.int64)
    wy = np.clip(sy - y0, 0.0, 1.0)[:, None]
    wx = np.clip(sx - x0, 0.0, 1.0)[:, None]
    y1, x1 = np.minimum(y0 + 1, H) + 1, np.minimum(x0 + 1, W) + 1
    y0, x0 = y0 + 1, x0 + 1                                       # indices into the padded image
    n = np.arange(N)[:, None, None]

    def at(yy, xx):
        return padded[n, :, yy, xx].transpose(0, 3, 1, 2)        # (N, C, H, W)

    out = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) + \
        wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1))
    return out.astype(X.dtype, copy=False)


def affine_augment(*, max_shift: float = 2.0, max_degrees: float = 12.0, max_scale: float = 0.1,
                   fill: float = 0.0):
    """`augment(X, rng)` for `Solver(augment=...)`: `random_affine` with these settings."""
    settings = dict(max_shift=max_shift, max_degrees=max_degrees, max_scale=max_scale, fill=fill)
    random_affine(np.zeros((1, 1, 4, 4)), np.random.default_rng(0), **settings)   # check them now

    def augment(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return random_affine(X, rng, **settings)

    return augment


def augmented_copies(X, y, copies: int, *, seed: int = 0, include_original: bool = True,
                     **settings):
    """`copies` versions of every image: (X_many, y_many) with copies * N rows, labels repeated.

    With include_original=True the first N rows are X itself, the rest random_affine copies.
    Row k * N + i is a version of image i (so y_many = np.tile(y, copies)). Deterministic in
    `seed`; `settings` are random_affine's keywords (max_shift, max_degrees, max_scale, fill).
    """
    X = _check_images(X)
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"X and y must be equally long, got {len(X)} and {len(y)}")
    copies = check_int(copies, "copies (versions of each image, at least 1)", 1)
    rng = np.random.default_rng(seed)
    versions = [X] if include_original else []
    while len(versions) < copies:
        versions.append(random_affine(X, rng, **settings))
    return np.concatenate(versions), np.tile(y, copies)
