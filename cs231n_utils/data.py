"""Data sets: scikit-learn's bundled digits (no download) and a safe CIFAR-10 loader.

`load_digits_split` gives the 1,797 8x8 handwritten digits (0-9) that ship with
scikit-learn, split deterministically and stratified (分层) into train/val/test, normalised
with the training set's mean and standard deviation, shaped (N, 1, 8, 8).

`load_cifar10` reads the "CIFAR-10 python version" batches (data_batch_1..5, test_batch)
from a folder you downloaded yourself. Those files are Python pickles, and unpickling can run
arbitrary code, so they are read with a restricted unpickler that only rebuilds plain builtins
and numpy arrays (exactly numpy's `_reconstruct`, `ndarray` and `dtype`); anything else (e.g. a
pickle that calls os.system) is refused with UnsafePickleError. The official files (written by
Python 2) and files pickled by Python 3 with protocol 3 or 4 load; protocol 2 from Python 3
(stores bytes through `_codecs.encode`) and protocol 5 (`_frombuffer`) are refused: re-save
such files with `pickle.dump(batch, f, protocol=4)`.
"""
from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np

__all__ = ["load_digits_split", "load_cifar10", "load_cifar_batch", "safe_unpickle",
           "UnsafePickleError", "CIFAR10_CLASSES"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")


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


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for a Python object that the safe loader does not allow."""


# Exactly what a CIFAR-10 batch needs: numpy's array reconstruction and dtype objects.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            import importlib
            if module == "numpy.core.multiarray":      # old name; numpy 2 warns on import
                try:
                    return getattr(importlib.import_module("numpy._core.multiarray"), name)
                except ImportError:
                    pass
            return getattr(importlib.import_module(module), name)
        raise UnsafePickleError(f"refusing to load {module}.{name}: a CIFAR-10 batch only contains "
                                f"dicts, lists, strings, bytes, numbers and numpy arrays")


def safe_unpickle(data: bytes, encoding: str = "bytes"):
    """Unpickle `data` allowing only builtins (dict, list, str, bytes, int, ...) and numpy arrays.

    Raises UnsafePickleError for any other global (os.system, subprocess, eval, ...).
    """
    return _SafeUnpickler(io.BytesIO(data), encoding=encoding).load()


def _key(d: dict, name: str):
    for k in (name.encode(), name):
        if k in d:
            return d[k]
    return None


def load_cifar_batch(path: str | os.PathLike, dtype=np.float64):
    """One CIFAR-10 python batch file -> (X (N, 3, 32, 32) of `dtype`, pixel values 0..255; y (N,) int64)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 batch file {path} not found")
    raw = path.read_bytes()
    try:
        d = safe_unpickle(raw)
    except UnsafePickleError:
        raise
    except Exception as exc:
        raise ValueError(f"{path.name} is not a readable CIFAR-10 batch (corrupt or truncated "
                         f"pickle: {type(exc).__name__}: {exc}); download the 'python version' "
                         f"again") from None
    if not isinstance(d, dict):
        raise ValueError(f"{path.name}: expected a dict with 'data' and 'labels', got {type(d).__name__}")
    data, labels = _key(d, "data"), _key(d, "labels")
    if data is None or labels is None:
        raise ValueError(f"{path.name}: the batch has no 'data'/'labels' entries; is this a CIFAR-10 "
                         f"python batch?")
    data = np.asarray(data)
    labels = np.asarray(labels, dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != labels.shape[0]:
        raise ValueError(f"{path.name}: data has shape {data.shape} and labels {labels.shape}; "
                         f"expected (N, 3072) and (N,)")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{path.name}: labels must be 0..9, found {labels.min()}..{labels.max()}")
    X = data.reshape(-1, 3, 32, 32).astype(dtype)
    return X, labels


def load_cifar10(path: str | os.PathLike | None = None, dtype=np.float64, num_train_batches: int = 5) -> dict:
    """Load CIFAR-10 from `path` (or the CIFAR10_DIR environment variable).

    The folder must hold data_batch_1..data_batch_5 and test_batch (the "python version",
    cifar-10-batches-py). Returns a dict X_train (50000, 3, 32, 32), y_train, X_test, y_test,
    classes; X in 0..255 as `dtype` (normalise yourself). `num_train_batches` (1..5) loads
    fewer training batches for quick experiments.
    """
    if path is None:
        path = os.environ.get("CIFAR10_DIR")
        if not path:
            raise FileNotFoundError("no CIFAR-10 folder given: pass path=... or set the environment "
                                    "variable CIFAR10_DIR to the cifar-10-batches-py folder")
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"CIFAR-10 folder {folder} does not exist (expected the extracted "
                                f"cifar-10-batches-py folder)")
    if not 1 <= num_train_batches <= 5:
        raise ValueError(f"num_train_batches must be 1..5, got {num_train_batches}")
    names = [f"data_batch_{i}" for i in range(1, num_train_batches + 1)] + ["test_batch"]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} is missing {', '.join(missing)}; expected data_batch_1..5 "
                                f"and test_batch from the CIFAR-10 python version")
    xs, ys = zip(*(load_cifar_batch(folder / n, dtype) for n in names[:-1]))
    X_test, y_test = load_cifar_batch(folder / "test_batch", dtype)
    return {"X_train": np.concatenate(xs), "y_train": np.concatenate(ys), "X_test": X_test,
            "y_test": y_test, "classes": CIFAR10_CLASSES}
