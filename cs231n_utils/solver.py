"""Training a model with mini-batch gradient descent (小批量梯度下降): SGD, momentum, Adam.

Update rules are plain functions, as in the CS231n assignments:

    next_w, config = sgd(w, dw, config)            # w - learning_rate * dw
    next_w, config = sgd_momentum(w, dw, config)   # v = mu*v - lr*dw; w + v
    next_w, config = adam(w, dw, config)           # bias-corrected first/second moments

`config` is a dict holding the hyper-parameters and the rule's state (velocity, moments).

`Solver(model, data, ...)` runs epochs of shuffled mini-batches on any model with
`loss(X, y) -> (loss, grads)` and `params` (e.g. `models.Sequential`), keeps a history,
remembers the parameters with the best validation accuracy, stops a run whose loss diverges
(`TrainingDiverged`, naming the likely cause), and saves/loads checkpoints (.npz written
atomically: temp file + os.replace; a load checks every entry against the model before
assigning anything, so a bad file changes nothing).

    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3},
                    num_epochs=10, batch_size=64, seed=0, progress=False)
    solver.train()
    solver.history["val_acc"]      # one entry per epoch
"""
from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Callable

import numpy as np

from . import checks
from .checks import NpzReader, check_int
from .paths import atomic_write

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam", "UPDATE_RULES", "Solver", "random_shift",
           "TrainingDiverged", "read_checkpoint", "DIVERGENCE_FACTOR", "DIVERGENCE_PATIENCE"]


# --------------------------------------------------------------------------------------------
# Update rules
# --------------------------------------------------------------------------------------------

def sgd(w: np.ndarray, dw: np.ndarray, config: dict | None = None):
    """Vanilla SGD: w <- w - learning_rate * dw. config: learning_rate (1e-2)."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


def sgd_momentum(w: np.ndarray, dw: np.ndarray, config: dict | None = None):
    """SGD with momentum (动量): v <- momentum*v - learning_rate*dw; w <- w + v.

    config: learning_rate (1e-2), momentum (0.9), velocity (zeros like w, created on first use).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity")
    if v is None:
        v = np.zeros_like(w)
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def rmsprop(w: np.ndarray, dw: np.ndarray, config: dict | None = None):
    """RMSProp: cache <- decay*cache + (1-decay)*dw^2; w <- w - lr*dw/(sqrt(cache)+eps).

    config: learning_rate (1e-2), decay_rate (0.99), epsilon (1e-8), cache.
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    cache = config.get("cache")
    if cache is None:
        cache = np.zeros_like(w)
    cache = config["decay_rate"] * cache + (1 - config["decay_rate"]) * dw * dw
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def adam(w: np.ndarray, dw: np.ndarray, config: dict | None = None):
    """Adam: m <- b1*m + (1-b1)*dw; v <- b2*v + (1-b2)*dw^2; t <- t+1;
    w <- w - lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps).

    config: learning_rate (1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8), m, v, t (0).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    m = config.get("m")
    v = config.get("v")
    m = np.zeros_like(w) if m is None else m
    v = np.zeros_like(w) if v is None else v
    t = int(config.get("t", 0)) + 1
    b1, b2 = config["beta1"], config["beta2"]
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * (dw * dw)
    m_hat = m / (1 - b1 ** t)
    v_hat = v / (1 - b2 ** t)
    config.update(m=m, v=v, t=t)
    return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config


UPDATE_RULES: dict = {"sgd": sgd, "sgd_momentum": sgd_momentum, "momentum": sgd_momentum,
                      "rmsprop": rmsprop, "adam": adam}


# --------------------------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------------------------

def random_shift(max_shift: int = 1, fill="edge") -> Callable:
    """Augmentation (数据增强): shift each image by a random whole number of pixels in
    -max_shift..max_shift along each axis (dx and dy drawn independently, per image).

    The uncovered border is filled by repeating the edge pixels (fill="edge", right for digits
    whose border is background) or with a constant (fill=0.0 for example).
    Returns a function `augment(X, rng) -> X_shifted` for `Solver(augment=...)`; X (N, C, H, W).
    """
    max_shift = check_int(max_shift, "max_shift (pixels)", 0)
    if fill != "edge" and not isinstance(fill, (int, float)):
        raise ValueError(f"fill must be 'edge' or a number, got {fill!r}")
    s = int(max_shift)

    def augment(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if X.ndim != 4:
            raise ValueError(f"random_shift needs images (N, C, H, W), got shape {X.shape}")
        if s == 0:
            return X
        N, C, H, W = X.shape
        widths = ((0, 0), (0, 0), (s, s), (s, s))
        padded = np.pad(X, widths, mode="edge") if fill == "edge" else \
            np.pad(X, widths, mode="constant", constant_values=fill)
        dy = rng.integers(-s, s + 1, size=N)
        dx = rng.integers(-s, s + 1, size=N)
        out = np.empty_like(X)
        for oy in range(-s, s + 1):          # one slice per shift, not per image
            for ox in range(-s, s + 1):
                idx = np.nonzero((dy == oy) & (dx == ox))[0]
                if idx.size:
                    out[idx] = padded[idx, :, s - oy:s - oy + H, s - ox:s - ox + W]
        return out

    augment.max_shift = s
    return augment


# --------------------------------------------------------------------------------------------
# Solver
# --------------------------------------------------------------------------------------------

_REQUIRED = ("X_train", "y_train", "X_val", "y_val")

# The range of each hyper-parameter (low, high, high included, low included), the ones each
# built-in rule reads from optim_config, and the arrays of the parameter's shape it keeps.
_HYPER = {"learning_rate": (0.0, math.inf, False, True), "momentum": (0.0, 1.0, False, True),
          "decay_rate": (0.0, 1.0, False, True), "beta1": (0.0, 1.0, False, True),
          "beta2": (0.0, 1.0, False, True), "epsilon": (0.0, math.inf, False, False)}
_RULE_KEYS = {sgd: (("learning_rate",), ()),
              sgd_momentum: (("learning_rate", "momentum"), ("velocity",)),
              rmsprop: (("learning_rate", "decay_rate", "epsilon"), ("cache",)),
              adam: (("learning_rate", "beta1", "beta2", "epsilon"), ("m", "v"))}

_ALIASES = {"lr": "learning_rate", "mu": "momentum", "eps": "epsilon", "decay": "decay_rate",
            "beta_1": "beta1", "beta_2": "beta2", "rho": "decay_rate"}

DIVERGENCE_FACTOR = 10.0   # a loss this many times the first one (at least 1.0) ...
DIVERGENCE_PATIENCE = 3    # ... this many iterations in a row means training diverged


class TrainingDiverged(RuntimeError):
    """Training stopped because the loss became NaN/inf or kept growing (发散).

    `cause` is "learning rate", "regularisation" or "data"; the model has been given back the
    parameters with the best validation accuracy (or those from before this `train()` call).
    """

    def __init__(self, message: str, cause: str):
        super().__init__(message)
        self.cause = cause


def _number(value, name: str, low: float, high: float = math.inf, high_ok: bool = True,
            low_ok: bool = True) -> float:
    """`value` as a float, or a clear error: a real number (not a str/bool) in the range."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a number, got the text {value!r}; write the number "
                        f"without quotes")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < low or (value == low and not low_ok) \
            or value > high or (value == high and not high_ok):
        interval = f"{'[' if low_ok else '('}{low:g}, {high:g}{']' if high_ok else ')'}"
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    return value


def _labels(y, name: str, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{name} must be a 1-D array of {n} class labels (one per row of "
                         f"X_{name[2:]}), got shape {y.shape}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels 0, 1, 2, ..., got dtype {y.dtype}; "
                        f"use {name}.astype(int) if the values are whole numbers")
    if y.size and y.min() < 0:
        raise ValueError(f"{name} holds the label {y.min()}; class labels are 0, 1, 2, ...")
    return y


def _features(X, name: str) -> np.ndarray:
    if not isinstance(X, np.ndarray) or X.dtype.kind not in "fiu" or X.ndim < 2:
        what = f"{X.dtype} array of shape {X.shape}" if isinstance(X, np.ndarray) else type(X).__name__
        raise TypeError(f"{name} must be a numeric array (N, ...) with one example per row, got {what}")
    bad = 0
    if X.dtype.kind == "f":          # in slices: no bool copy of a whole large data set
        bad = sum(X[i:i + 4096].size - np.count_nonzero(np.isfinite(X[i:i + 4096]))
                  for i in range(0, len(X), 4096))
    if bad:
        raise ValueError(f"{name} holds {bad} NaN/inf value(s); training on them gives a NaN loss: "
                         f"clean or drop those examples first")
    return X


def _optional_int(value, name: str):
    return None if value is None else check_int(value, name, 1)


def _callable_or_none(value, name: str, signature: str):
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be a function {signature} or None, got {type(value).__name__}")
    return value


class Solver:
    """Mini-batch training loop with history, best-parameter tracking and checkpoints.

    Solver(model, data, *, update_rule="sgd_momentum", optim_config=None, lr_decay=1.0,
           batch_size=64, num_epochs=10, seed=0, augment=None, callback=None, progress=True,
           num_train_samples=1000, num_val_samples=None, eval_batch_size=256,
           restore_best=True, checkpoint_path=None)

    model:   has `params` (dict name -> array, updated in place), `loss(X, y) -> (loss, grads)`,
             `loss(X) -> scores`; if it has `trainable_params()`, only those are updated
             (frozen layers keep their values).
    data:    dict with X_train (N, ...), y_train (N,) integer labels, X_val, y_val.
    update_rule: "sgd", "sgd_momentum" (or "momentum"), "rmsprop", "adam", or a function
             with the signature of `sgd`. optim_config: its hyper-parameters (learning_rate...).
    lr_decay: the learning rate is multiplied by this (0 < lr_decay <= 1) after every epoch.
    augment: function (X_batch, rng) -> X_batch applied to each training batch, e.g. random_shift(1).
    callback: function(solver, event) called with event "iteration" after every update and
             "epoch" after every epoch's evaluation (and "end" once when training stops).
    progress: show a tqdm progress bar (`tqdm.auto`: a widget bar in Jupyter, text on stderr
             elsewhere); False for tests and for quiet runs.
    seed:    seeds the generator for shuffling, augmentation and accuracy subsampling.

    Every argument is checked when the solver is made (types, ranges, label values against the
    model's number of classes, NaN in the data). Training stops with `TrainingDiverged` when
    the loss becomes NaN/inf or stays above DIVERGENCE_FACTOR times the first loss for
    DIVERGENCE_PATIENCE iterations; the message names the likely cause (learning rate,
    regularisation, data) and the model gets back its best parameters.

    After `train()`: history["loss"] (one per iteration), history["train_acc"],
    history["val_acc"], history["lr"] (one per epoch), best_val_acc, best_params (copies);
    with restore_best=True the model ends with the best parameters.

    Shown in 04, section 3; 05, sections 6, 7, 8, 10; 06, section 6; 07, sections 3, 4, 5.
    """

    def __init__(self, model, data: dict, *, update_rule="sgd_momentum", optim_config: dict | None = None,
                 lr_decay: float = 1.0, batch_size: int = 64, num_epochs: int = 10, seed: int = 0,
                 augment: Callable | None = None, callback: Callable | None = None,
                 progress: bool = True, num_train_samples: int | None = 1000,
                 num_val_samples: int | None = None, eval_batch_size: int = 256,
                 restore_best: bool = True, checkpoint_path: str | os.PathLike | None = None):
        if not isinstance(getattr(model, "params", None), Mapping) or not callable(getattr(model, "loss", None)):
            raise TypeError(f"model must have `params` (a dict name -> array) and `loss(X, y)`, e.g. "
                            f"a models.Sequential; got {type(model).__name__}")
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a dict with {list(_REQUIRED)}, got {type(data).__name__}")
        missing = [k for k in _REQUIRED if k not in data]
        if missing:
            raise KeyError(f"data is missing {missing}; it needs {list(_REQUIRED)}")
        self.model = model
        self.X_train, self.X_val = _features(data["X_train"], "X_train"), _features(data["X_val"], "X_val")
        if len(self.X_train) != len(data["y_train"]) or len(self.X_val) != len(data["y_val"]):
            raise ValueError(f"X and y lengths differ: X_train {len(self.X_train)} vs y_train "
                             f"{len(data['y_train'])}, X_val {len(self.X_val)} vs y_val {len(data['y_val'])}")
        self.y_train = _labels(data["y_train"], "y_train", len(self.X_train))
        self.y_val = _labels(data["y_val"], "y_val", len(self.X_val))
        if len(self.X_train) == 0:
            raise ValueError("X_train is empty")
        self._check_against_model()
        if isinstance(update_rule, str):
            if update_rule not in UPDATE_RULES:
                raise ValueError(f"unknown update_rule {update_rule!r}; choose one of {sorted(UPDATE_RULES)}")
            self.update_rule_name = update_rule
            self.update_rule = UPDATE_RULES[update_rule]
        elif callable(update_rule):
            self.update_rule_name = getattr(update_rule, "__name__", "custom")
            self.update_rule = update_rule
        else:
            raise TypeError(f"update_rule must be a name or a function, got {type(update_rule).__name__}")
        check_int(batch_size, "batch_size", 1)
        check_int(num_epochs, "num_epochs", 0)
        self.lr_decay = _number(lr_decay, "lr_decay", 0.0, 1.0, low_ok=False)
        self.optim_config = self._check_optim_config(optim_config)
        self.batch_size, self.num_epochs = int(batch_size), int(num_epochs)
        self.seed = seed if seed is None else check_int(seed, "seed", 0)
        self.rng = np.random.default_rng(seed)
        self.augment = _callable_or_none(augment, "augment", "(X_batch, rng) -> X_batch")
        self.callback = _callable_or_none(callback, "callback", "(solver, event)")
        for flag, name in ((progress, "progress"), (restore_best, "restore_best")):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        self.progress, self.restore_best = bool(progress), bool(restore_best)
        self.num_train_samples = _optional_int(num_train_samples, "num_train_samples")
        self.num_val_samples = _optional_int(num_val_samples, "num_val_samples")
        self.eval_batch_size = check_int(eval_batch_size, "eval_batch_size", 1)
        if checkpoint_path is not None:
            if not isinstance(checkpoint_path, (str, os.PathLike)):
                raise TypeError(f"checkpoint_path must be a path or None, got {type(checkpoint_path).__name__}")
            _checkpoint_target(checkpoint_path)
        self.checkpoint_path = checkpoint_path
        self._reset()

    def _check_against_model(self) -> None:
        """Shapes and labels against what the model says it takes and outputs (if it says)."""
        in_shape = getattr(self.model, "input_shape", None)
        for name, X in (("X_train", self.X_train), ("X_val", self.X_val)):
            if in_shape is not None and len(X) and tuple(X.shape[1:]) != tuple(in_shape):
                raise ValueError(f"{name} has examples of shape {X.shape[1:]}, but the model takes "
                                 f"{tuple(in_shape)}")
        out_shape = getattr(self.model, "output_shape", None)
        if isinstance(out_shape, tuple) and len(out_shape) == 1:
            for name, y in (("y_train", self.y_train), ("y_val", self.y_val)):
                _check_label_range(y, name, out_shape[0])

    def _check_optim_config(self, optim_config) -> dict:
        if optim_config is not None and not isinstance(optim_config, Mapping):
            raise TypeError(f"optim_config must be a dict such as {{'learning_rate': 1e-3}}, got "
                            f"{type(optim_config).__name__}")
        config = dict(optim_config or {})
        known = _RULE_KEYS.get(self.update_rule)
        for key, value in config.items():
            if known is not None and key not in known[0]:
                close = [_ALIASES[key]] if _ALIASES.get(key) in known[0] else \
                    difflib.get_close_matches(str(key), known[0], n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ValueError(f"optim_config has the key {key!r}, which {self.update_rule_name} does "
                                 f"not use; {hint}its settings are {', '.join(known[0])}")
            if key in _HYPER:
                config[key] = _number(value, f"optim_config[{key!r}]", *_HYPER[key])
        if "learning_rate" not in config:
            config["learning_rate"] = self._default_lr()
        return config

    # -- state ------------------------------------------------------------------------------
    def _reset(self):
        self.epoch = 0
        self.iteration = 0
        self.best_val_acc = -1.0
        self.best_epoch = -1
        self.best_params: dict = {}
        self.history = {"loss": [], "train_acc": [], "val_acc": [], "lr": []}
        self.optim_configs = {k: dict(self.optim_config) for k in self.model.params}
        self.last_loss = float("nan")
        self.diverged: str | None = None

    @property
    def loss_history(self):
        return self.history["loss"]

    @property
    def train_acc_history(self):
        return self.history["train_acc"]

    @property
    def val_acc_history(self):
        return self.history["val_acc"]

    @property
    def iterations_per_epoch(self) -> int:
        return max(1, -(-len(self.X_train) // self.batch_size))

    def _trainable(self) -> dict:
        get = getattr(self.model, "trainable_params", None)
        return get() if callable(get) else self.model.params

    @property
    def learning_rate(self) -> float:
        """Current learning rate (after decay)."""
        cfg = next(iter(self.optim_configs.values()), self.optim_config)
        return float(cfg["learning_rate"])

    # -- one step -----------------------------------------------------------------------------
    def _step(self, X_batch, y_batch) -> float:
        if self.augment is not None:
            X_batch = self.augment(X_batch, self.rng)
        try:   # overflow is reported as divergence below, not as numpy warnings
            with np.errstate(over="ignore", invalid="ignore"):
                loss, grads = self.model.loss(X_batch, y_batch)
        except ValueError as exc:   # a layer refusing NaN/inf activations: the run has diverged
            if "NaN/inf" not in str(exc) and self._all_finite(X_batch):
                raise
            loss, grads = float("nan"), None
        loss = float(loss)
        self.iteration += 1
        self.last_loss = loss
        self.history["loss"].append(loss)
        if grads is None or not math.isfinite(loss):
            raise self._diverged(X_batch, loss)
        for name, w in self._trainable().items():
            next_w, self.optim_configs[name] = self.update_rule(w, grads[name], self.optim_configs[name])
            w[...] = next_w                       # in place: every reference stays valid
        return loss

    def _all_finite(self, X_batch) -> bool:
        arrays = [np.asarray(X_batch)] + list(self.model.params.values())
        return all(a.dtype.kind not in "fc" or bool(np.isfinite(a).all()) for a in arrays)

    def _growing(self) -> bool:
        losses = self.history["loss"]
        if len(losses) <= DIVERGENCE_PATIENCE:
            return False
        bound = DIVERGENCE_FACTOR * max(losses[0], 1.0)
        return all(l > bound for l in losses[-DIVERGENCE_PATIENCE:])

    def _cause(self, X_batch) -> tuple:
        """(cause, advice) for a diverged run."""
        if not np.isfinite(np.asarray(X_batch, dtype=np.float64)).all():
            return "data", ("a training batch holds NaN/inf values (after augmentation); check the "
                            "data and the augment function")
        reg = float(getattr(self.model, "reg", 0.0) or 0.0)
        lr = self.learning_rate
        if reg > 0:
            with np.errstate(over="ignore", invalid="ignore"):
                term = 0.5 * reg * sum(float(np.sum(np.square(v, dtype=np.float64)))
                                       for k, v in self._start_params.items() if k.rsplit(".", 1)[-1] == "W")
            first = self.history["loss"][self._start_iteration]     # this train() call's first loss
            # plain SGD shrinks W by (1 - lr*reg) each step: beyond 2 that factor is < -1
            bound = {sgd: 2.0, sgd_momentum: 2.0 * (1 + self.optim_config.get("momentum", 0.9))}.get(
                self.update_rule)
            if not math.isfinite(term) or term > DIVERGENCE_FACTOR * max(first - term, 1.0):
                suggest = 10 ** math.floor(math.log10(reg * 0.1 * max(first - term, 1.0) / term)) \
                    if 0 < term < math.inf else reg / 1e6
                return "regularisation", (f"the L2 term 0.5*reg*sum(W**2) is {term:.3g} at the start "
                                          f"(reg = {reg:g}), far above the data loss: lower reg, "
                                          f"e.g. to {suggest:g}")
            if bound is not None and lr * reg >= bound:
                return "regularisation", (f"learning_rate * reg = {lr:g} * {reg:g} = {lr * reg:g} >= "
                                          f"{bound:g}, so every step overshoots the weights' decay "
                                          f"towards 0 and they grow; lower reg (or the learning rate)")
        return "learning rate", f"the learning rate {lr:g} is probably too large: try {lr / 10:g}"

    def _diverged(self, X_batch, loss) -> TrainingDiverged:
        cause, advice = self._cause(X_batch)
        what = "became NaN/inf" if not math.isfinite(loss) else (
            f"grew to {loss:.3g}, more than {DIVERGENCE_FACTOR:g} times the first loss "
            f"({self.history['loss'][0]:.3g}) for {DIVERGENCE_PATIENCE} iterations")
        if self.best_params:
            self.model_load(self.best_params)
            kept = f"the model has the parameters of epoch {self.best_epoch} (best validation accuracy)"
        else:
            self.model_load(self._start_params)
            kept = "the model has the parameters it had before this train() call"
        self.optim_configs = {k: {key: v for key, v in cfg.items() if np.ndim(v) == 0 and key != "t"}
                              for k, cfg in self.optim_configs.items()}   # drop the diverged state
        self.diverged = (f"training diverged (发散) at iteration {self.iteration}: the loss {what}. "
                         f"Likely cause: {cause}: {advice}. Training stopped; {kept}.")
        return TrainingDiverged(self.diverged, cause)

    def check_accuracy(self, X, y, num_samples: int | None = None, batch_size: int | None = None) -> float:
        """Accuracy of the model on (X, y); on a random subset of `num_samples` if given."""
        y = np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} examples but y has {len(y)} labels")
        if num_samples is not None and len(X) > num_samples:
            idx = self.rng.choice(len(X), num_samples, replace=False)
            X, y = X[idx], y[idx]
        bs = batch_size or self.eval_batch_size
        preds, classes = [], None
        for i in range(0, len(X), bs):
            scores = self.model.loss(X[i:i + bs])
            classes = scores.shape[1]
            preds.append(np.argmax(scores, axis=1))
        if not preds:
            return float("nan")
        _check_label_range(y, "y", classes)
        return float(np.mean(np.concatenate(preds) == y))

    def _end_epoch(self):
        self.epoch += 1
        train_acc = self.check_accuracy(self.X_train, self.y_train, self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, self.num_val_samples)
        self.history["train_acc"].append(train_acc)
        self.history["val_acc"].append(val_acc)
        self.history["lr"].append(self.learning_rate)
        if val_acc > self.best_val_acc:
            self.best_val_acc, self.best_epoch = val_acc, self.epoch
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
        for cfg in self.optim_configs.values():
            cfg["learning_rate"] = cfg["learning_rate"] * self.lr_decay
        if self.checkpoint_path is not None:
            self.save_checkpoint(self.checkpoint_path)

    def _default_lr(self) -> float:
        _, cfg = self.update_rule(np.zeros(1), np.zeros(1), {})
        return float(cfg.get("learning_rate", 0.0))

    # -- training ---------------------------------------------------------------------------------
    def train(self, num_epochs: int | None = None) -> dict:
        """Run `num_epochs` more epochs (default: the constructor's). Returns the history.

        Each epoch visits every training example once in a fresh random order (mini-batches of
        `batch_size`, the last one may be smaller), then measures train/val accuracy.
        Calling train() again continues where it stopped (optimizer state, epoch count).
        Raises TrainingDiverged (model restored to its best parameters) if the loss diverges.
        """
        epochs = self.num_epochs if num_epochs is None else check_int(num_epochs, "num_epochs", 0)
        for name in self.model.params:          # parameters added after construction
            self.optim_configs.setdefault(name, dict(self.optim_config))
        self._start_params = {k: v.copy() for k, v in self.model.params.items()}
        self._start_iteration = self.iteration
        self.diverged = None
        bar = None
        if self.progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=epochs * self.iterations_per_epoch, desc="training", unit="batch",
                       leave=True)
        N = len(self.X_train)
        try:
            for _ in range(epochs):
                order = self.rng.permutation(N)
                for start in range(0, N, self.batch_size):
                    idx = order[start:start + self.batch_size]
                    loss = self._step(self.X_train[idx], self.y_train[idx])
                    if self._growing():
                        raise self._diverged(self.X_train[idx], loss)
                    if bar is not None:
                        bar.update(1)
                    if self.callback is not None:
                        self.callback(self, "iteration")
                self._end_epoch()
                if bar is not None:
                    bar.set_postfix(epoch=self.epoch, loss=f"{loss:.3f}",
                                    val_acc=f"{self.history['val_acc'][-1]:.3f}")
                if self.callback is not None:
                    self.callback(self, "epoch")
        finally:
            if bar is not None:
                bar.close()
            self._start_params = None
        if self.restore_best and self.best_params:
            self.model_load(self.best_params)
        if self.callback is not None:
            self.callback(self, "end")
        return self.history

    def model_load(self, params: dict) -> None:
        """Copy `params` (name -> array) into the model's parameters in place (all checked first)."""
        own = self.model.params
        for k, v in params.items():
            if k not in own:
                raise KeyError(f"parameter {k!r} is not in the model")
            if np.shape(v) != own[k].shape:
                raise ValueError(f"parameter {k!r} has shape {np.shape(v)}, the model's is {own[k].shape}")
        for k, v in params.items():
            own[k][...] = v

    # -- checkpoints -------------------------------------------------------------------------------
    def checkpoint_arrays(self) -> dict:
        """Everything a checkpoint stores, as named numpy arrays (no Python objects)."""
        arrays = {}
        for k, v in _state_targets(self.model).items():
            arrays[f"model/{k}"] = v.copy()
        for name, cfg in self.optim_configs.items():
            for key, val in cfg.items():
                arrays[f"optim/{name}/{key}"] = np.asarray(val)
        for key, vals in self.history.items():
            arrays[f"history/{key}"] = np.asarray(vals, dtype=np.float64)
        for k, v in self.best_params.items():
            arrays[f"best/{k}"] = v
        arrays["meta/epoch"] = np.asarray(self.epoch)
        arrays["meta/iteration"] = np.asarray(self.iteration)
        arrays["meta/best_val_acc"] = np.asarray(self.best_val_acc)
        arrays["meta/best_epoch"] = np.asarray(self.best_epoch)
        arrays["meta/update_rule"] = np.asarray(self.update_rule_name)
        arrays["meta/rng_state"] = np.asarray(_rng_state_to_array(self.rng))
        return arrays

    def save_checkpoint(self, path: str | os.PathLike) -> Path:
        """Save model, optimizer state, history and rng state to `path` (.npz).

        Written to a temporary file in the same folder, then moved over `path` with os.replace,
        so readers never see a half-written file and a crash leaves the old checkpoint intact.
        """
        path = _checkpoint_target(path)
        arrays = self.checkpoint_arrays()
        with atomic_write(path) as f:
            np.savez(f, **arrays)
        return path

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore a checkpoint written by `save_checkpoint`, all or nothing.

        The file is untrusted: its zip directory and array headers are checked against this
        model and update rule (names, shapes, dtypes, sizes; unknown entries refused) before any
        array is read, then every value is checked, and only then is anything assigned. A
        failed load raises `checks.FileCheckError` (a ValueError) naming the file and the
        entry, and leaves the model and the solver exactly as they were.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} does not exist" if not path.exists() else
                                    f"checkpoint {path} is not a regular file (a folder or device?)")
        state = read_checkpoint(path, self)
        self._apply_checkpoint(state)

    def _apply_checkpoint(self, state: dict) -> None:
        targets = _state_targets(self.model)
        before_model = {k: v.copy() for k, v in targets.items()}
        before = {k: getattr(self, k) for k in _SOLVER_STATE}
        try:
            for k, v in state["model"].items():
                targets[k][...] = v
            for k in _SOLVER_STATE:
                setattr(self, k, state[k])
        except BaseException:
            for k, v in before_model.items():
                targets[k][...] = v
            for k, v in before.items():
                setattr(self, k, v)
            raise


_SOLVER_STATE = ("optim_configs", "history", "best_params", "epoch", "iteration", "best_val_acc",
                 "best_epoch", "rng")
_HISTORY_KEYS = ("loss", "train_acc", "val_acc", "lr")
_META = {"epoch": "iu", "iteration": "iu", "best_epoch": "iu", "best_val_acc": "f",
         "update_rule": "U"}


def _check_label_range(y: np.ndarray, name: str, classes: int) -> None:
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise ValueError(f"{name} holds labels {y.min()}..{y.max()}, but the model outputs {classes} "
                         f"class scores (labels 0..{classes - 1}); relabel the data or change the "
                         f"last layer to FC-{int(y.max()) + 1}")


def _checkpoint_target(path) -> Path:
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"checkpoint path must end in .npz, got {path.name!r}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {path.parent} does not exist; create it first")
    return path


def _state_targets(model) -> dict:
    """The model's own parameter and buffer arrays (not copies), keyed like its state_dict."""
    get = getattr(model, "state_arrays", None)
    return get() if callable(get) else dict(model.params)


def read_checkpoint(path, solver: "Solver") -> dict:
    """Read and check a checkpoint for `solver` (its model and update rule), assigning nothing:
    returns {"model": {name: array}} plus the solver attributes of _SOLVER_STATE. Raises
    checks.FileCheckError naming the file and the entry for anything unexpected."""
    targets, params = _state_targets(solver.model), solver.model.params
    hyper, arrays = _RULE_KEYS.get(solver.update_rule, (None, None))
    per_param = 12 if hyper is None else len(hyper) + len(arrays) + 1
    budget = sum(8 * v.size + 512 for v in targets.values()) + \
        sum(8 * v.size + 512 for v in params.values()) * (2 + per_param) + 32 * checks.MAX_HISTORY_LENGTH
    with NpzReader(path, "checkpoint", max_entries=len(targets) + len(params) * (1 + per_param) + 12,
                   max_bytes=budget, allow_compressed=True) as npz:
        names = set(npz.names)
        if "meta/epoch" not in names:
            raise npz.error("it is not a solver checkpoint (no meta/epoch entry)")
        meta = {key: (npz.expect(f"meta/{key}", (), kinds), npz.read(f"meta/{key}").item())[1]
                for key, kinds in _META.items()}
        npz.expect("meta/rng_state", (6,), "u")
        epoch, iteration = meta["epoch"], meta["iteration"]
        if not 0 <= epoch <= iteration <= checks.MAX_HISTORY_LENGTH:
            raise npz.error(f"meta/epoch = {epoch} and meta/iteration = {iteration} are not counts of "
                            f"epochs and iterations (0 <= epochs <= iterations <= MAX_HISTORY_LENGTH)")
        if UPDATE_RULES.get(meta["update_rule"], meta["update_rule"]) not in (solver.update_rule,
                                                                          solver.update_rule_name):
            raise npz.error(f"it was written with update_rule={meta['update_rule']!r}, this solver uses "
                            f"{solver.update_rule_name!r}; make the Solver with the checkpoint's rule")
        if not (-1 <= meta["best_epoch"] <= epoch and -1.0 <= meta["best_val_acc"] <= 1.0):
            raise npz.error(f"meta/best_epoch = {meta['best_epoch']} or meta/best_val_acc = "
                            f"{meta['best_val_acc']} is out of range")
        # every header first: the whole file is checked before a single array is read
        best = [k for k in params if f"best/{k}" in names]
        wanted = {f"model/{k}": v.shape for k, v in targets.items()}
        wanted.update({f"history/{k}": (n,) for k, n in zip(_HISTORY_KEYS, (iteration, epoch, epoch, epoch))})
        wanted.update({f"best/{k}": params[k].shape for k in (params if best else ())})
        optim = {}
        for name in sorted(names):
            pname, _, key = name[len("optim/"):].rpartition("/")
            if name.startswith("optim/") and pname in params:
                shape = (params[pname].shape if key in arrays else ()) if hyper is not None else None
                if hyper is None or key in hyper + arrays or (key == "t" and solver.update_rule is adam):
                    optim[name] = (pname, key)
                    wanted[name] = shape
        unknown = sorted(names - set(wanted) - {f"meta/{k}" for k in (*_META, "rng_state")})
        if unknown:
            raise npz.error(f"entry {unknown[0]!r} is not part of a checkpoint for this model and "
                            f"update rule{f' (nor are {len(unknown) - 1} more)' if len(unknown) > 1 else ''}")
        for name, shape in wanted.items():
            if name not in names:
                raise npz.error(f"entry {name!r} is missing")
            got, _ = npz.expect(name, shape, "fiu" if name in optim else "f")
            if name in optim and got not in ((), params[optim[name][0]].shape):
                raise npz.error(f"entry {name!r} has shape {got}; expected () or {params[optim[name][0]].shape}")
        # then the values
        state = {"model": {k: _finite(npz, f"model/{k}") for k in targets},
                 "best_params": {k: _finite(npz, f"best/{k}") for k in best},
                 "history": {k: npz.read(f"history/{k}").tolist() for k in _HISTORY_KEYS}}
        configs: dict = {k: {} for k in params}
        for name, (pname, key) in optim.items():
            value = _finite(npz, name)
            if key == "t" and (value.ndim or value.dtype.kind not in "iu"):
                raise npz.error(f"entry {name!r} must be a whole number of steps, got {value.dtype} {value.shape}")
            if value.ndim == 0:
                value = value.item()
                if key in _HYPER or key == "t":
                    try:
                        value = _number(value, name, *_HYPER.get(key, (0, iteration, True, True)))
                    except (TypeError, ValueError) as exc:
                        raise npz.error(f"entry {name!r}: {exc}") from None
                    value = int(value) if key == "t" else value
            configs[pname][key] = value
        state["optim_configs"] = {k: cfg or dict(solver.optim_config) for k, cfg in configs.items()}
        try:
            state["rng"] = _rng_from_array(npz.read("meta/rng_state"))
        except (ValueError, TypeError, OverflowError) as exc:
            raise npz.error(f"entry 'meta/rng_state' is not a generator state ({exc})") from None
        state.update(epoch=int(epoch), iteration=int(iteration), best_epoch=int(meta["best_epoch"]),
                     best_val_acc=float(meta["best_val_acc"]))
    return state


def _finite(npz: NpzReader, name: str) -> np.ndarray:
    a = npz.read(name)
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise npz.error(f"entry {name!r} holds NaN/inf values (was it saved after training diverged?)")
    return a


def _rng_state_to_array(rng: np.random.Generator) -> np.ndarray:
    """PCG64 state as 6 uint64 numbers: state hi/lo, inc hi/lo, has_uint32, uinteger."""
    st = rng.bit_generator.state
    if st["bit_generator"] != "PCG64":
        raise ValueError(f"only PCG64 generators can be checkpointed, got {st['bit_generator']}")
    mask = (1 << 64) - 1
    s, inc = st["state"]["state"], st["state"]["inc"]
    return np.array([s >> 64, s & mask, inc >> 64, inc & mask, st["has_uint32"], st["uinteger"]],
                    dtype=np.uint64)


def _rng_from_array(a: np.ndarray) -> np.random.Generator:
    a = [int(x) for x in a]
    if a[4] not in (0, 1) or a[5] >= 1 << 32:
        raise ValueError(f"has_uint32 = {a[4]} must be 0 or 1 and uinteger = {a[5]} below 2**32")
    bg = np.random.PCG64()
    bg.state = {"bit_generator": "PCG64", "state": {"state": (a[0] << 64) | a[1], "inc": (a[2] << 64) | a[3]},
                "has_uint32": a[4], "uinteger": a[5]}
    return np.random.Generator(bg)
