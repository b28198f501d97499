"""Group normalisation (组归一化) as a trainable layer, and batch norm vs group norm vs batch size.

Batch norm (批量归一化) normalises each channel with statistics of the *batch*: with a few
images per batch those statistics are noisy, and the running averages used at test time no
longer match what the network saw while training. Group norm (Wu & He 2018) normalises each
image on its own, over groups of channels, so it behaves the same for any batch size.

* `GroupNorm(groups)`: a layer object for `models.Sequential` (wraps `layers.groupnorm_forward`
  / `groupnorm_backward`);
* `batch_dependence(x, ...)`: how much one image's normalised output moves when the *other*
  images of its batch change, for BN and GN, per batch size (no training needed);
* `norm_net(norm, ...)`, `run_norm(...)`: the small ConvNet and training run behind
  `scripts/groupnorm_batch.py`, which writes `assets/groupnorm_batch_digits.json`
  (`load_results()` reads it back).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import layers as L
from .checks import check_int
from .layer_objects import BatchNorm, _FunctionPair
from .results import check_runs, read_results

__all__ = ["GroupNorm", "batch_dependence", "norm_net", "run_norm", "load_results", "RESULTS_ASSET"]

RESULTS_ASSET = "groupnorm_batch_digits.json"


class GroupNorm(_FunctionPair):
    """Group normalisation layer: (C, H, W) -> same shape; `groups` must divide C.

    Parameters gamma, beta (C,); no running averages (train and test mode are identical).
    Used by `norm_net` (scripts/groupnorm_batch.py).
    """

    kind = "GN"
    prefix = "gn"
    param_names = ("gamma", "beta")
    description = "normalises each image over groups of channels, then scales by gamma and shifts by beta"
    _functions = (L.groupnorm_forward, L.groupnorm_backward)

    def __init__(self, groups: int = 4, eps: float = 1e-5, name: str | None = None):
        super().__init__(name)
        self.groups = check_int(groups, "GroupNorm: groups", 1)
        if not eps > 0:
            raise ValueError(f"GroupNorm: eps must be > 0, got {eps}")
        self.eps = float(eps)

    def hyperparameters(self):
        return {"groups": self.groups, "eps": self.eps}

    def output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"GN needs a (C, H, W) input, got shape {tuple(input_shape)}")
        if input_shape[0] % self.groups:
            raise ValueError(f"GN: groups={self.groups} does not divide the {input_shape[0]} input channels")
        return tuple(int(s) for s in input_shape)

    def _init_params(self, input_shape, rng, dtype):
        C = input_shape[0]
        self.params = {"gamma": np.ones(C, dtype=dtype), "beta": np.zeros(C, dtype=dtype)}

    def _settings(self):
        return ({"groups": self.groups, "eps": self.eps},)

    def describe(self):
        return f"GN{self.groups}"


def batch_dependence(x: np.ndarray, batch_sizes=(2, 4, 8, 16, 32), groups: int = 2, trials: int = 20,
                     seed: int = 0) -> dict:
    """How much image 0's normalised output depends on the rest of its batch.

    x: (N, C, H, W) activations (N > max(batch_sizes)). For each batch size B, `trials` batches
    are drawn that all contain image 0 plus B-1 random others; each is normalised with spatial
    batch norm (train mode) and with group norm. The spread is the standard deviation of image
    0's output over the trials, averaged over its values. Returns {"batch_sizes", "bn_spread",
    "gn_spread"} (arrays): GN's spread is 0 up to rounding, BN's shrinks as B grows.

    Shown in 04, section 4.
    """
    x = np.asarray(x, dtype=np.float64)
    N, C = x.shape[:2]
    sizes = [check_int(b, "batch size", 2, N - 1) for b in batch_sizes]
    trials = check_int(trials, "trials", 2)
    rng = np.random.default_rng(seed)
    gamma, beta = np.ones(C), np.zeros(C)
    bn_spread, gn_spread = [], []
    for B in sizes:
        bn_out, gn_out = [], []
        for _ in range(trials):
            idx = np.concatenate([[0], 1 + rng.choice(N - 1, B - 1, replace=False)])
            bn_out.append(L.spatial_batchnorm_forward(x[idx], gamma, beta, {"mode": "train"})[0][0])
            gn_out.append(L.groupnorm_forward(x[idx], gamma, beta, {"groups": groups})[0][0])
        bn_spread.append(float(np.std(bn_out, axis=0).mean()))
        gn_spread.append(float(np.std(gn_out, axis=0).mean()))
    return {"batch_sizes": np.array(sizes), "bn_spread": np.array(bn_spread), "gn_spread": np.array(gn_spread)}


def norm_net(norm: str, width: int = 16, groups: int = 4, seed: int = 0, dtype=np.float64):
    """[CONV3 -> NORM -> RELU]*2 -> POOL2 -> CONV3 -> NORM -> RELU -> POOL2 -> FC-10 on 1x8x8
    digits, with NORM = batch norm ("bn") or group norm ("gn", `groups` groups)."""
    from .layer_objects import Affine, Conv, MaxPool, ReLU
    from .models import Sequential

    if norm not in ("bn", "gn"):
        raise ValueError(f"norm must be 'bn' or 'gn', got {norm!r}")
    make = (lambda: BatchNorm()) if norm == "bn" else (lambda: GroupNorm(groups))
    layers = [Conv(width, 3), make(), ReLU(), Conv(width, 3), make(), ReLU(), MaxPool(2),
              Conv(2 * width, 3), make(), ReLU(), MaxPool(2), Affine(10)]
    return Sequential(layers, input_shape=(1, 8, 8), seed=seed, dtype=dtype)


def run_norm(data: dict, norm: str, batch_size: int, *, seed: int = 0, base_lr: float = 0.05,
             epochs: int = 4, groups: int = 4, on_epoch: Callable[[int], None] | None = None) -> dict:
    """Train `norm_net(norm)` with SGD + momentum on mini-batches of `batch_size`, learning rate
    base_lr * batch_size / 32 (the linear scaling rule Wu & He use), for `epochs` epochs.
    Records the validation error after every epoch (test mode: BN uses its running averages).
    Returns {"norm", "batch_size", "seed", "learning_rate", "val_err"}. Used by scripts/groupnorm_batch.py.
    """
    from .solver import Solver

    batch_size = check_int(batch_size, "batch_size", 1)
    model = norm_net(norm, groups=groups, seed=seed)
    lr = base_lr * batch_size / 32
    solver = Solver(model, {k: data[k] for k in ("X_train", "y_train", "X_val", "y_val")},
                    update_rule="sgd_momentum", optim_config={"learning_rate": lr},
                    batch_size=batch_size, num_epochs=1, seed=seed, progress=False,
                    num_train_samples=200, restore_best=False)
    out = {"norm": norm, "batch_size": batch_size, "seed": int(seed), "learning_rate": lr, "val_err": []}
    for epoch in range(1, check_int(epochs, "epochs", 1) + 1):
        solver.train(1)
        out["val_err"].append(1.0 - solver.history["val_acc"][-1])
        if on_epoch is not None:
            on_epoch(epoch)
    return out


def _check_results(data) -> dict:
    epochs = data.get("recipe", {}).get("epochs") if isinstance(data, dict) else None
    if not isinstance(epochs, int) or not 1 <= epochs <= 1000:
        raise ValueError(f"recipe.epochs must be an integer in 1..1000, got {epochs!r}")
    return check_runs(data, ("val_err",), epochs, ("val_err",))


def load_results(path=None) -> dict:
    """Read `assets/groupnorm_batch_digits.json` (written by scripts/groupnorm_batch.py), checked.

    Shown in 04, section 4.
    """
    return read_results(RESULTS_ASSET if path is None else path, _check_results, "scripts/groupnorm_batch.py")
