"""Data sets: scikit-learn's bundled digits (no download) and CIFAR-10 (read without unpickling).

`load_digits_split` gives the 1,797 8x8 handwritten digits (0-9) that ship with
scikit-learn, split deterministically and stratified (分层) into train/val/test, normalised
with the training set's mean and standard deviation, shaped (N, 1, 8, 8).

`load_cifar10` reads the "CIFAR-10 python version" batches (data_batch_1..5, test_batch) from
the folder that `python3 workbook.py data cifar10` downloads (or one you give). Those files
are Python pickles, and unpickling can run arbitrary code, so they are never unpickled: the
parser in `cs231n_utils.cifar` reads the pickle's opcodes and accepts only the published
layout (see that module); this module re-exports its loaders.
"""
from __future__ import annotations

import numpy as np

from .cifar import (CIFAR10_CLASSES, CifarFormatError, UnsafePickleError, load_cifar10,
                    load_cifar_batch, parse_cifar_batch)

__all__ = ["load_digits_split", "load_cifar10", "load_cifar_batch", "parse_cifar_batch",
           "CifarFormatError", "UnsafePickleError", "CIFAR10_CLASSES"]


def load_digits_split(seed: int = 0, val: float = 0.15, test: float = 0.2,
                      dtype=np.float64, normalize: bool = True) -> dict:
    """The scikit-learn digits split into train/val/test (stratified, deterministic in `seed`).

    val, test: fractions of the 1,797 images (each class is split in these proportions).
    Returns a dict with X_train, y_train, X_val, y_val, X_test, y_test (X: (N, 1, 8, 8) of
    `dtype`, y: (N,) int64), plus "mean" and "std" (scalars computed on the training pixels,
    pixel values 0..16) and "classes" (0..9). With normalize=True,
    X = (pixels - mean) / std for every split, using the training statistics only.
    """
    from sklearn.datasets import load_digits

    if not (0 < val < 1 and 0 < test < 1 and val + test < 1):
        raise ValueError(f"val and test must be fractions in (0, 1) with val + test < 1, got "
                         f"val={val}, test={test}")
    digits = load_digits()
    X = digits.images.astype(np.float64)[:, None, :, :]
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    parts: dict = {"train": [], "val": [], "test": []}
    for c in np.unique(y):
        idx = rng.permutation(np.nonzero(y == c)[0])
        n_test = int(round(test * len(idx)))
        n_val = int(round(val * len(idx)))
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test:n_test + n_val])
        parts["train"].append(idx[n_test + n_val:])
    out: dict = {}
    for name, chunks in parts.items():
        idx = rng.permutation(np.concatenate(chunks))   # mix the classes
        out[f"X_{name}"], out[f"y_{name}"] = X[idx], y[idx]
    mean = float(out["X_train"].mean())
    std = float(out["X_train"].std())
    if normalize:
        for name in parts:
            out[f"X_{name}"] = (out[f"X_{name}"] - mean) / std
    for name in parts:
        out[f"X_{name}"] = out[f"X_{name}"].astype(dtype)
    out["mean"], out["std"], out["classes"] = mean, std, tuple(range(10))
    return out
