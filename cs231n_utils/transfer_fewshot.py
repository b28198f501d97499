"""Few-shot transfer to the handwritten digits: the target split, four strategies, the table.

Notebook 07's main experiment. A network pretrained on a large source set (the grey glyphs of
`glyphs`, letters only) meets a target task with other classes (the ten digits of
scikit-learn) and few labels. Four columns, each with the same network:

- "from scratch":         random init, every layer trains, on augmented images
- "frozen + linear head": the pretrained layers up to `cut` frozen, a new softmax layer
                          fitted on their cached features (`LogisticHead`: standardised
                          features, L-BFGS to convergence, L2 strength from the recipe)
- "frozen + linear head, augmented": the same head fitted on `copies` augmented versions of
                          every labelled image (their features, computed once per run)
- "fine-tune all":        pretrained init with a new head, every layer trains, augmented

Honest protocol (验证集选择, 测试集只用一次): every recipe (learning rate, number of updates,
weight decay; for the linear heads the cut layer and the L2 strength) is chosen per column and per row on the *validation* split (mean over the
seeds); each trained model keeps its weights in memory until the choice is made, and only the
chosen ones are then evaluated on the test split, once. `run_column` is the single function
that trains one (column, row, seed, recipe), so the notebook can rerun one cell of the table
live and compare it with the stored file.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from .checks import check_int
from .transfer import FrozenPart, few_shot, fresh_model, train_classifier, with_new_head
from .transfer_augment import affine_augment, augmented_copies

__all__ = ["COLUMNS", "SHOTS", "AUGMENT", "digits_target", "LogisticHead", "run_column", "select_and_test",
           "ResultTable", "check_results", "gain_line"]

COLUMNS = ("from scratch", "frozen + linear head", "frozen + linear head, augmented", "fine-tune all")
SHOTS = (1, 5, 20, None)               # labels per class; None = the whole labelled pool
AUGMENT = {"max_shift": 2.0, "max_degrees": 12.0, "max_scale": 0.1}   # at 16x16 input


def digits_target(to_input: Callable[[np.ndarray], np.ndarray], *, pool_per_class: int = 70,
                  val_per_class: int = 30, seed: int = 0) -> dict:
    """scikit-learn's 1,797 digits split into a labelled pool, a validation and a test split.

    to_input: maps (N, 8, 8) pixels in [0, 1] to the network's input (N, C, H, W), e.g. the
              glyph set's upsampling + the source normalisation; the target then looks like
              the source did in pretraining.
    Per class (deterministic in `seed`): `pool_per_class` images for the labelled pool (the
    few-shot subsets are drawn from it), `val_per_class` for validation, the rest (~797) test.
    Returns X_train/y_train (pool), X_val/y_val, X_test/y_test, "classes" (0..9), "bg" (the
    input value of a blank pixel, the fill for augmentation).

    Shown in 07, section 1.
    """
    from sklearn.datasets import load_digits

    pool_per_class = check_int(pool_per_class, "pool_per_class", 1)
    val_per_class = check_int(val_per_class, "val_per_class", 1)
    digits = load_digits()
    X = digits.images.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    parts: dict = {"train": [], "val": [], "test": []}
    for c in range(10):
        idx = rng.permutation(np.nonzero(y == c)[0])
        if len(idx) <= pool_per_class + val_per_class:
            raise ValueError(f"digit {c} has {len(idx)} images: too few for pool_per_class="
                             f"{pool_per_class} + val_per_class={val_per_class} and a test split")
        parts["train"].append(idx[:pool_per_class])
        parts["val"].append(idx[pool_per_class:pool_per_class + val_per_class])
        parts["test"].append(idx[pool_per_class + val_per_class:])
    out: dict = {"classes": tuple(range(10))}
    for name, chunks in parts.items():
        idx = np.sort(np.concatenate(chunks))
        out[f"X_{name}"], out[f"y_{name}"] = np.asarray(to_input(X[idx])), y[idx]
    out["bg"] = float(np.asarray(to_input(np.zeros((1, 8, 8)))).reshape(-1)[0])
    return out


def _linear_head(num_features: int, num_classes: int, seed: int, reg: float):
    from .layer_objects import Affine
    from .models import Sequential

    return Sequential([Affine(num_classes)], (num_features,), seed=seed, reg=reg)


def _flat(F: np.ndarray) -> np.ndarray:
    return F.reshape(len(F), -1)


class LogisticHead:
    """A linear softmax head fitted to convergence on standardised frozen features.

    fit(F, y): F of shape (N, D) (any trailing shape is flattened). Every feature is centred and
    scaled with the mean and std of *these* training rows only (the few labelled images, or
    their augmented versions), then scikit-learn's multinomial LogisticRegression (L-BFGS, L2
    penalty, objective = sum of the N cross-entropies + ||W||^2 / (2 C)) is run until it
    converges. Smaller C = stronger weight decay. accuracy(F, y) and predict(F) standardise
    with the training statistics. Used by `run_column` for recipes with a "C".
    """

    def __init__(self, C: float, max_iter: int = 2000):
        self.C, self.max_iter = _number(C, "C (inverse L2 strength)", 1e-12), int(max_iter)
        self.output_shape = None

    def fit(self, F: np.ndarray, y: np.ndarray) -> "LogisticHead":
        from sklearn.linear_model import LogisticRegression

        F = _flat(np.asarray(F, dtype=np.float64))
        self.mean, self.std = F.mean(axis=0), F.std(axis=0) + 1e-6
        self.clf = LogisticRegression(C=self.C, max_iter=self.max_iter, tol=1e-6)
        self.clf.fit((F - self.mean) / self.std, y)
        self.output_shape = (len(self.clf.classes_),)
        return self

    def predict(self, F: np.ndarray) -> np.ndarray:
        return self.clf.predict((_flat(np.asarray(F, dtype=np.float64)) - self.mean) / self.std)

    def accuracy(self, F: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(F) == np.asarray(y)))


def run_column(column: str, recipe: Mapping, pretrained, target: Mapping, idx: np.ndarray,
               seed: int, *, features: Mapping | None = None, cut: str = "pool3",
               copies: int = 16, memo: dict | None = None):
    """Train one cell of the table: `column` with `recipe` on the labelled images `idx`.

    recipe:   network columns and SGD heads: {"learning_rate", "num_updates"} and optionally
              "reg" (L2 weight decay). Linear-head columns may instead give {"C"} (and
              optionally "cut"): a `LogisticHead` fitted to convergence on standardised
              features of layer recipe["cut"] (default `cut`)
    idx:      indices into target["X_train"] (a few-shot subset of the pool)
    features: {"train": ..., "val": ..., "test": ...} frozen features up to the cut of the
              target splits (from the feature cache); computed here when None
    copies:   versions of every labelled image for the augmented linear head (1 original)
    memo:     optional dict reused between calls with the same (idx, seed): keeps the
              augmented features so several recipes do not recompute them
    Returns (model, evaluate) where evaluate(split) -> accuracy on "val" or "test": the test
    split is only touched when the caller asks for it.

    Shown in 07, section 5.
    """
    if column not in COLUMNS:
        raise ValueError(f"unknown column {column!r}; choose from {COLUMNS}")
    num_classes = len(target["classes"])
    X, y = target["X_train"][idx], target["y_train"][idx]
    init = 1000 + seed
    if column in ("from scratch", "fine-tune all"):
        fit = dict(num_updates=int(recipe["num_updates"]), learning_rate=float(recipe["learning_rate"]),
                   seed=seed)
        augment = affine_augment(**AUGMENT, fill=target["bg"])
        model = fresh_model(pretrained, num_classes, seed=init) if column == "from scratch" \
            else with_new_head(pretrained, num_classes, seed=init)
        model.reg = float(recipe.get("reg", 0.0))
        train_classifier(model, X, y, augment=augment, **fit)
        return model, lambda split: model.accuracy(target[f"X_{split}"], target[f"y_{split}"])
    cut = recipe.get("cut", cut)
    frozen = FrozenPart(pretrained, cut)
    if features is None:
        features = {s: frozen.forward(target[f"X_{s}"]) for s in ("train", "val", "test")}
    if column == "frozen + linear head":
        F, y_fit = _flat(features["train"][idx]), y
    else:
        key = ("augmented", cut, seed, copies, np.asarray(idx).tobytes())
        if memo is None or key not in memo:
            X_many, y_many = augmented_copies(X, y, copies, seed=seed, **AUGMENT, fill=target["bg"])
            found = (_flat(frozen.forward(X_many)), y_many)
            if memo is not None:
                memo[key] = found
        F, y_fit = memo[key] if memo is not None else found
    if "C" in recipe:
        head = LogisticHead(recipe["C"]).fit(F, y_fit)
    else:
        head = _linear_head(F.shape[1], num_classes, init, float(recipe.get("reg", 0.0)))
        train_classifier(head, F, y_fit, num_updates=int(recipe["num_updates"]),
                         learning_rate=float(recipe["learning_rate"]), seed=seed)
    return head, lambda split: head.accuracy(_flat(features[split]), target[f"y_{split}"])


def select_and_test(candidates: Mapping[str, list]) -> tuple:
    """Choose the recipe with the best mean validation accuracy, then evaluate it on test.

    candidates: recipe name -> list over seeds of (val_accuracy, evaluate) pairs, evaluate as
                returned by `run_column`. Ties go to the first recipe in order.
    Returns (chosen name, its validation accuracies, its test accuracies): the only calls of
    evaluate("test").
    """
    if not candidates:
        raise ValueError("no candidate recipes to choose from")
    best = max(candidates, key=lambda name: (np.mean([v for v, _ in candidates[name]]),
                                             -list(candidates).index(name)))
    runs = candidates[best]
    return best, [float(v) for v, _ in runs], [float(ev("test")) for _, ev in runs]


@dataclass
class ResultTable:
    """Mean and std of the test accuracy (in %) for each row (labels per class) and column.

    acc: {(shots, column): list of per-seed test accuracies in [0, 1]}
    """

    shots: tuple
    columns: tuple
    seeds: tuple
    acc: dict
    pool_per_class: int = 70

    @classmethod
    def from_results(cls, data: Mapping) -> "ResultTable":
        """From a checked results dict (see `check_results`)."""
        shots = tuple(None if s == "all" else int(s) for s in data["shots"])
        acc = {(None if r["shots"] == "all" else int(r["shots"]), r["column"]): r["test"]
               for r in data["cells"]}
        return cls(shots, tuple(data["columns"]), tuple(data["seeds"]), acc,
                   int(data["target"]["pool_per_class"]))

    def stats(self, shots, column) -> tuple:
        a = 100 * np.asarray(self.acc[(shots, column)], dtype=np.float64)
        return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0

    def gain(self, shots) -> tuple:
        """(best transfer column, mean gain over scratch in points, std of the per-seed gain)."""
        transfer_cols = [c for c in self.columns if c != "from scratch"]
        best = max(transfer_cols, key=lambda c: self.stats(shots, c)[0])
        diff = 100 * (np.asarray(self.acc[(shots, best)]) - np.asarray(self.acc[(shots, "from scratch")]))
        return best, float(diff.mean()), float(diff.std(ddof=1)) if len(diff) > 1 else 0.0

    def to_text(self) -> str:
        """The table: one row per labels/class, mean +- std in %, and the gain column."""
        from .tables import Table

        rows = []
        for k in self.shots:
            label = f"all ({self.pool_per_class})" if k is None else str(k)
            cells = [f"{m:.1f} ± {s:.1f}" for m, s in (self.stats(k, c) for c in self.columns)]
            _, g, gs = self.gain(k)
            rows.append([label] + cells + [f"{g:+.1f} ± {gs:.1f}"])
        note = f"(test accuracy in %, mean ± std over {len(self.seeds)} seeds; gain = best transfer column minus scratch)"
        return Table(("labels/class",) + self.columns + ("gain",), rows, notes=(note,)).to_text()

    def __str__(self):
        return self.to_text()


def gain_line(table: ResultTable, shots: int = 5) -> str:
    """The one line notebook 07 prints about the gain at `shots` labels per class."""
    _, g, _ = table.gain(shots)
    return (f"transfer gain at {shots} labels/class: {g:+.1f} points (best transfer column minus "
            f"from scratch, mean of {len(table.seeds)} seeds)")


def _number(x, name: str, low: float = -math.inf, high: float = math.inf) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or not low <= x <= high:
        raise ValueError(f"{name} must be a finite number in [{low}, {high}], got {x!r}")
    return float(x)


def check_results(data) -> dict:
    """Structure check for assets/transfer_results.json (used by results.read_results).

    Expects {"columns": [...], "shots": [1, 5, ..., "all"], "seeds": [...], "target": {...},
    "cells": [{"shots", "column", "recipe", "val": [...], "test": [...]}, ...]} with one cell
    per (shots, column), accuracies in [0, 1], one per seed; raises ValueError otherwise.
    """
    if not isinstance(data, dict):
        raise ValueError("a transfer results file is a JSON object")
    columns, shots, seeds = data["columns"], data["shots"], data["seeds"]
    if not (isinstance(columns, list) and set(columns) <= set(COLUMNS) and "from scratch" in columns):
        raise ValueError(f"columns must be a list drawn from {COLUMNS} including 'from scratch'")
    if not (isinstance(seeds, list) and 1 <= len(seeds) <= 100 and all(isinstance(s, int) for s in seeds)):
        raise ValueError("seeds must be a list of 1..100 integers")
    if not (isinstance(shots, list) and shots and all(s == "all" or (isinstance(s, int) and s >= 1) for s in shots)):
        raise ValueError("shots must be a list of positive integers or 'all'")
    check_int(data["target"]["pool_per_class"], "target.pool_per_class", 1)
    seen = set()
    for cell in data["cells"]:
        key = (cell["shots"], cell["column"])
        if key[0] not in shots or key[1] not in columns or key in seen:
            raise ValueError(f"unexpected or repeated cell {key}")
        seen.add(key)
        for split in ("val", "test"):
            if not isinstance(cell[split], list) or len(cell[split]) != len(seeds):
                raise ValueError(f"cell {key}: {split} must hold one accuracy per seed")
            for a in cell[split]:
                _number(a, f"cell {key} {split} accuracy", 0.0, 1.0)
        if not isinstance(cell["recipe"], dict):
            raise ValueError(f"cell {key}: recipe must be an object")
    if len(seen) != len(columns) * len(shots):
        raise ValueError(f"expected {len(columns) * len(shots)} cells, found {len(seen)}")
    return data


# --------------------------------------------------------------------------------------------
# The source (grey glyphs) and the input transform shared by source and target
# --------------------------------------------------------------------------------------------

def input_transform(provenance: Mapping) -> Callable[[np.ndarray], np.ndarray]:
    """The function that turns (N, 8, 8) digit pixels in [0, 1] into the source network's input
    (N, 1, 16, 16): enlarged with `glyphs.upsample` exactly as the grey glyphs were, then
    normalised with the source's mean and std (provenance["input_normalization"]), so the
    digits reach the network the way its source images did.

    Shown in 07, section 1.
    """
    from .glyphs import upsample

    norm = provenance["input_normalization"]
    mean, std = _number(norm["mean"], "input mean"), _number(norm["std"], "input std", 1e-6)

    def to_input(X8: np.ndarray) -> np.ndarray:
        X8 = np.asarray(X8, dtype=np.float64)
        if X8.ndim != 3 or X8.shape[1:] != (8, 8):
            raise ValueError(f"expected digit images of shape (N, 8, 8) in [0, 1], got {X8.shape}")
        return ((upsample(X8, 16).astype(np.float64) - mean) / std)[:, None]

    return to_input


GLYPH_COUNTS = {"n_train": 400, "n_val": 60, "n_test": 60}     # per letter: 20,800 / 3,120 / 3,120


def glyph_source(seed: int = 0, scale: float = 1.0) -> dict:
    """The grey glyphs (`glyphs.load_glyphs_grey`, 16x16, 52 letters) as a source task.

    Returns X_train/y_train/X_val/y_val/X_test/y_test, X of shape (N, 1, 16, 16) float64
    normalised with the training pixels' mean and std (kept as floats "mean" and "std"),
    "num_classes" (52) and a one-line "description". `scale` < 1 keeps that fraction of
    every split (for quick tests); made once, then loaded from the glyph cache.
    """
    from .glyphs import load_glyphs_grey

    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    counts = {k: max(1, int(round(v * scale))) for k, v in GLYPH_COUNTS.items()}
    data = load_glyphs_grey(**counts, size=16, seed=seed)
    mean, std = float(data["mean"][0]), float(data["std"][0])
    out = {"mean": mean, "std": std, "num_classes": len(data["classes"]),
           "description": f"glyphs.load_glyphs_grey(n_train={counts['n_train']}, n_val="
                          f"{counts['n_val']}, n_test={counts['n_test']}, size=16, seed={seed})"}
    for split in ("train", "val", "test"):
        out[f"X_{split}"] = (data[f"X_{split}"].astype(np.float64) - mean) / std
        out[f"y_{split}"] = data[f"y_{split}"]
    return out
