"""Training a model with mini-batch gradient descent (小批量梯度下降): SGD, momentum, Adam.

Update rules are plain functions, as in the CS231n assignments:

    next_w, config = sgd(w, dw, config)            # w - learning_rate * dw
    next_w, config = sgd_momentum(w, dw, config)   # v = mu*v - lr*dw; w + v
    next_w, config = adam(w, dw, config)           # bias-corrected first/second moments

`config` is a dict holding the hyper-parameters and the rule's state (velocity, moments).

`Solver(model, data, ...)` runs epochs of shuffled mini-batches on any model with
`loss(X, y) -> (loss, grads)` and `params` (e.g. `models.Sequential`), keeps a history,
remembers the parameters with the best validation accuracy, and can save/load checkpoints
(.npz, read with allow_pickle=False, written atomically: temp file + os.replace).

    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3},
                    num_epochs=10, batch_size=64, seed=0, progress=False)
    solver.train()
    solver.history["val_acc"]      # one entry per epoch
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from .checks import check_int
from .paths import atomic_write

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam", "UPDATE_RULES", "Solver", "random_shift"]


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


class Solver:
    """Mini-batch training loop with history, best-parameter tracking and checkpoints.

    Solver(model, data, *, update_rule="sgd_momentum", optim_config=None, lr_decay=1.0,
           batch_size=64, num_epochs=10, seed=0, augment=None, callback=None, progress=True,
           num_train_samples=1000, num_val_samples=None, eval_batch_size=256,
           restore_best=True, checkpoint_path=None)

    model:   has `params` (dict name -> array, updated in place), `loss(X, y) -> (loss, grads)`,
             `loss(X) -> scores`; if it has `trainable_params()`, only those are updated
             (frozen layers keep their values).
    data:    dict with X_train (N, ...), y_train (N,), X_val, y_val.
    update_rule: "sgd", "sgd_momentum" (or "momentum"), "rmsprop", "adam", or a function
             with the signature of `sgd`. optim_config: its hyper-parameters (learning_rate...).
    lr_decay: the learning rate is multiplied by this after every epoch.
    augment: function (X_batch, rng) -> X_batch applied to each training batch, e.g. random_shift(1).
    callback: function(solver, event) called with event "iteration" after every update and
             "epoch" after every epoch's evaluation (and "end" once when training stops).
    progress: show a tqdm progress bar (`tqdm.auto`: a widget bar in Jupyter, text on stderr
             elsewhere); False for tests and for quiet runs.
    seed:    seeds the generator for shuffling, augmentation and accuracy subsampling.

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
        missing = [k for k in _REQUIRED if k not in data]
        if missing:
            raise KeyError(f"data is missing {missing}; it needs {list(_REQUIRED)}")
        self.model = model
        self.X_train, self.y_train = data["X_train"], np.asarray(data["y_train"])
        self.X_val, self.y_val = data["X_val"], np.asarray(data["y_val"])
        if len(self.X_train) != len(self.y_train) or len(self.X_val) != len(self.y_val):
            raise ValueError(f"X and y lengths differ: X_train {len(self.X_train)} vs y_train "
                             f"{len(self.y_train)}, X_val {len(self.X_val)} vs y_val {len(self.y_val)}")
        if len(self.X_train) == 0:
            raise ValueError("X_train is empty")
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
        if not lr_decay > 0:
            raise ValueError(f"lr_decay must be > 0, got {lr_decay}")
        self.optim_config = dict(optim_config or {})
        if "learning_rate" not in self.optim_config:
            self.optim_config["learning_rate"] = self._default_lr()
        self.lr_decay = float(lr_decay)
        self.batch_size, self.num_epochs = int(batch_size), int(num_epochs)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.augment, self.callback, self.progress = augment, callback, progress
        self.num_train_samples, self.num_val_samples = num_train_samples, num_val_samples
        self.eval_batch_size = int(eval_batch_size)
        self.restore_best = restore_best
        self.checkpoint_path = checkpoint_path
        self._reset()

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
        loss, grads = self.model.loss(X_batch, y_batch)
        for name, w in self._trainable().items():
            next_w, self.optim_configs[name] = self.update_rule(w, grads[name], self.optim_configs[name])
            w[...] = next_w                       # in place: every reference stays valid
        self.iteration += 1
        self.last_loss = float(loss)
        self.history["loss"].append(self.last_loss)
        return self.last_loss

    def check_accuracy(self, X, y, num_samples: int | None = None, batch_size: int | None = None) -> float:
        """Accuracy of the model on (X, y); on a random subset of `num_samples` if given."""
        y = np.asarray(y)
        if num_samples is not None and len(X) > num_samples:
            idx = self.rng.choice(len(X), num_samples, replace=False)
            X, y = X[idx], y[idx]
        bs = batch_size or self.eval_batch_size
        preds = [np.argmax(self.model.loss(X[i:i + bs]), axis=1) for i in range(0, len(X), bs)]
        if not preds:
            return float("nan")
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
        """
        epochs = self.num_epochs if num_epochs is None else int(num_epochs)
        for name in self.model.params:          # parameters added after construction
            self.optim_configs.setdefault(name, dict(self.optim_config))
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
        if self.restore_best and self.best_params:
            self.model_load(self.best_params)
        if self.callback is not None:
            self.callback(self, "end")
        return self.history

    def model_load(self, params: dict) -> None:
        """Copy `params` (name -> array) into the model's parameters in place."""
        own = self.model.params
        for k, v in params.items():
            if k not in own:
                raise KeyError(f"parameter {k!r} is not in the model")
            own[k][...] = v

    # -- checkpoints -------------------------------------------------------------------------------
    def checkpoint_arrays(self) -> dict:
        """Everything a checkpoint stores, as named numpy arrays (no Python objects)."""
        arrays = {}
        state = self.model.state_dict() if hasattr(self.model, "state_dict") else \
            {k: v.copy() for k, v in self.model.params.items()}
        for k, v in state.items():
            arrays[f"model/{k}"] = v
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
        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"checkpoint path must end in .npz, got {path.name!r}")
        if not path.parent.is_dir():
            raise FileNotFoundError(f"folder {path.parent} does not exist; create it first")
        arrays = self.checkpoint_arrays()
        with atomic_write(path) as f:
            np.savez(f, **arrays)
        return path

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore a checkpoint written by `save_checkpoint` (read with allow_pickle=False)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            raise ValueError(f"checkpoint {path} cannot be read ({exc}); it may be truncated or "
                             f"not a .npz file") from None
        if "meta/epoch" not in arrays:
            raise ValueError(f"{path} is not a solver checkpoint (no meta/epoch entry)")
        state = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
        if hasattr(self.model, "load_state_dict"):
            self.model.load_state_dict(state)
        else:
            self.model_load(state)
        configs: dict = {}
        for k, v in arrays.items():
            if k.startswith("optim/"):
                name, key = k[len("optim/"):].rsplit("/", 1)
                configs.setdefault(name, {})[key] = v if v.ndim else v.item()
        self.optim_configs = {k: configs.get(k, dict(self.optim_config)) for k in self.model.params}
        self.history = {k[len("history/"):]: [float(x) for x in v] for k, v in arrays.items()
                        if k.startswith("history/")}
        for key in ("loss", "train_acc", "val_acc", "lr"):
            self.history.setdefault(key, [])
        self.best_params = {k[len("best/"):]: v for k, v in arrays.items() if k.startswith("best/")}
        self.epoch = int(arrays["meta/epoch"])
        self.iteration = int(arrays["meta/iteration"])
        self.best_val_acc = float(arrays["meta/best_val_acc"])
        self.best_epoch = int(arrays["meta/best_epoch"])
        if "meta/rng_state" in arrays:
            self.rng = _rng_from_array(arrays["meta/rng_state"])


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
    bg = np.random.PCG64()
    bg.state = {"bit_generator": "PCG64", "state": {"state": (a[0] << 64) | a[1], "inc": (a[2] << 64) | a[3]},
                "has_uint32": a[4], "uinteger": a[5]}
    return np.random.Generator(bg)
