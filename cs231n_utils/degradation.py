"""The degradation problem (退化问题): a deeper plain network trains *worse* than a shallower one.

He et al. (2015, Fig. 1 and Fig. 4) found that stacking more layers on a plain network raises
its *training* error, so the problem is optimisation, not overfitting; the same depth with
residual connections (残差连接) trains better than the shallower net. This module runs that
experiment at digit scale:

    deep_net(depth=34, residual=False)      # stem conv, 16 blocks of two 3x3 convs, GAP, FC
    run_depth(data, depth=34, residual=True, seed=0, learning_rate=0.05, epochs=15)

`depth` counts weight layers as He et al. do: 1 stem conv + 2 per block + 1 FC, so depth 18
has 8 blocks and depth 34 has 16. Every block is `conv3x3 -> BN -> ReLU -> conv3x3 -> BN`,
followed by a ReLU (plain) or added to its input first (residual); the plain and residual nets
of one depth have exactly the same layers and parameters.

`scripts/degradation.py` runs every configuration for several seeds (learning rate chosen on
validation data per configuration) and writes `assets/degradation_digits.json`;
`load_results()` reads that file back with checks (it is data from outside: parsed as JSON,
sizes and types verified, never executed).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .checks import check_int
from .results import check_runs, read_results

__all__ = ["deep_net", "blocks_for_depth", "run_depth", "summarize_runs", "load_results",
           "RESULTS_ASSET"]

RESULTS_ASSET = "degradation_digits.json"


def blocks_for_depth(depth: int) -> int:
    """Number of two-conv blocks in a net of `depth` weight layers: (depth - 2) / 2."""
    depth = check_int(depth, "depth", 4)
    if depth % 2:
        raise ValueError(f"depth counts 1 stem conv + 2 per block + 1 FC, so it must be even; "
                         f"got {depth} (try depth={depth - 1} or depth={depth + 1})")
    return (depth - 2) // 2


def deep_net(depth: int, residual: bool, width: int = 8, seed: int = 0, input_shape=(1, 8, 8),
             num_classes: int = 10, dtype=np.float64):
    """A `Sequential` of `depth` weight layers: conv3x3 stem, blocks, global average pooling
    (全局平均池化), FC. Plain and residual nets of one depth and seed start from the same weights.

    Shown in 06, section 6.
    """
    from .layer_objects import Affine, BatchNorm, Conv, GlobalAvgPool, ReLU, Residual
    from .models import Sequential

    blocks = blocks_for_depth(depth)
    width = check_int(width, "width", 1)
    layers = [Conv(width, 3), ReLU()]
    for _ in range(blocks):
        branch = [Conv(width, 3), BatchNorm(), ReLU(), Conv(width, 3), BatchNorm()]
        layers += [Residual(branch)] if residual else branch + [ReLU()]
    layers += [GlobalAvgPool(), Affine(num_classes)]
    return Sequential(layers, input_shape=input_shape, seed=seed, dtype=dtype)


def run_depth(data: dict, depth: int, residual: bool, *, seed: int = 0, learning_rate: float = 0.05,
              epochs: int = 10, batch_size: int = 100, width: int = 8, dtype=np.float32,
              on_epoch: Callable[[int], None] | None = None) -> dict:
    """Train one net with SGD + momentum and record, after every epoch, the mean mini-batch
    training loss of that epoch, the training error (whole training set, test-mode BN) and
    the validation error. The test split is never used.

    data: dict with X_train, y_train, X_val, y_val (e.g. `load_digits_split(seed=0)`).
    Returns {"depth", "residual", "seed", "learning_rate", "params", "train_loss", "train_err",
    "val_err"} (lists of `epochs` floats). `on_epoch(epoch)` is called after each epoch (e.g. to
    advance a progress bar). Used by scripts/degradation.py.
    """
    from .solver import Solver

    epochs = check_int(epochs, "epochs", 1)
    model = deep_net(depth, residual, width=width, seed=seed, dtype=dtype)
    cast = {k: (v.astype(dtype) if k.startswith("X_") else v) for k, v in data.items()
            if k in ("X_train", "y_train", "X_val", "y_val")}
    solver = Solver(model, cast, update_rule="sgd_momentum", optim_config={"learning_rate": learning_rate},
                    batch_size=batch_size, num_epochs=1, seed=seed, progress=False,
                    num_train_samples=None, restore_best=False)
    out = {"depth": int(depth), "residual": bool(residual), "seed": int(seed),
           "learning_rate": float(learning_rate), "params": int(model.num_params()),
           "train_loss": [], "train_err": [], "val_err": []}
    per_epoch = solver.iterations_per_epoch
    for epoch in range(1, epochs + 1):
        solver.train(1)
        losses = solver.history["loss"][-per_epoch:]
        loss = float(np.mean(losses)) if np.all(np.isfinite(losses)) else float("nan")
        out["train_loss"].append(loss)
        out["train_err"].append(1.0 - solver.history["train_acc"][-1])
        out["val_err"].append(1.0 - solver.history["val_acc"][-1])
        if on_epoch is not None:
            on_epoch(epoch)
    return out


def summarize_runs(runs: list[dict], key: str = "train_err", last: int = 1) -> dict:
    """Mean and standard deviation over seeds of `key` averaged over the `last` epochs.

    runs: dicts as returned by `run_depth` (one per seed). Returns {"mean", "std", "min", "max",
    "n", "values"} (std over seeds with ddof=0; values: one number per seed).
    """
    if not runs:
        raise ValueError("runs is empty; pass the runs of one configuration (one dict per seed)")
    last = check_int(last, "last", 1)
    values = []
    for r in runs:
        series = r.get(key)
        if series is None:
            raise KeyError(f"a run has no {key!r}; keys: {sorted(r)}")
        values.append(float(np.mean(series[-last:])))
    v = np.array(values)
    return {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()),
            "max": float(v.max()), "n": len(values), "values": values}


def _check_results(data) -> dict:
    """Verify the structure of the results file (types, lengths, finite numbers in range)."""
    epochs = data.get("recipe", {}).get("epochs") if isinstance(data, dict) else None
    if not isinstance(epochs, int) or not 1 <= epochs <= 1000:
        raise ValueError(f"recipe.epochs must be an integer in 1..1000, got {epochs!r}")
    return check_runs(data, ("train_loss", "train_err", "val_err"), epochs, ("train_err", "val_err"))


def load_results(path=None) -> dict:
    """Read the results written by `scripts/degradation.py` (default: assets/degradation_digits.json).

    Returns the parsed dict ("description", "recipe", "configs", "lr_search", "runs", ...).
    Raises ValueError naming what is wrong when the file is too large, is not JSON, or does not
    have the expected structure.

    Shown in 06, section 6.
    """
    return read_results(RESULTS_ASSET if path is None else path, _check_results, "scripts/degradation.py")
