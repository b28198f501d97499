"""A sequential model (顺序模型): layer objects applied one after the other, with a
classification loss on top.

The layers are the objects of `cs231n_utils.layer_objects` (Conv, ReLU, MaxPool, ...). A
`Sequential` model names them "conv1", "relu1", "pool1", "fc1", ... and exposes all
parameters as "<layer>.<param>", e.g. "conv2.W"; it trains with `loss(X, y)`, can freeze
layers (`freeze(upto="pool2")`), saves and loads its state, and summarises itself:

    >>> from cs231n_utils.layer_objects import Affine, Conv, MaxPool, ReLU
    >>> model = Sequential([Conv(8, 3), ReLU(), MaxPool(2), Affine(10)], input_shape=(1, 8, 8))
    >>> print(model.summary())            # one row per layer: name, output shape, parameters
    >>> loss, grads = model.loss(X, y)    # grads keyed like model.params: "conv1.W", "conv1.b", ...

The lecture's pattern text ("INPUT -> [[CONV3-16 -> RELU]*2 -> POOL2]*2 -> FC-10") is read by
`cs231n_utils.pattern.build_from_pattern`, which builds one of these models.

A layer that does not fit its input raises `LayerBuildError` (a ValueError) naming the layer,
its input shape and the output-size formula with the numbers filled in. A model is refused,
naming the first layer over the limit, before anything is allocated when it has more than
`checks.MAX_LAYERS` layers, more than `checks.MAX_PARAMETER_BYTES` of parameters and buffers,
or more than `checks.MAX_ACTIVATION_BYTES` of layer outputs for one example.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from typing import Iterable, NamedTuple, Sequence

import numpy as np

from . import checks
from . import layers as L
from .checks import check_int
from .layer_objects import Layer, layer_list, name_layers
from .tables import Table, shape_text

__all__ = ["Sequential", "Summary", "SummaryRow", "LayerBuildError"]


class LayerBuildError(ValueError):
    """A layer of a model cannot be built on its input (a shape or setting that does not fit).

    `index` is the layer's position in the model (0-based), so a caller that knows where the
    layer came from (e.g. `pattern.build_from_pattern`, which points at its token) can say so.
    `limit` names the `checks` limit the layer is over (None for a shape that does not fit).
    """

    def __init__(self, message: str, index: int, limit: str | None = None):
        super().__init__(message)
        self.index = index
        self.limit = limit


class SummaryRow(NamedTuple):
    name: str
    layer: str          # pattern notation, e.g. "CONV3-16"
    output_shape: tuple
    params: int
    trainable: bool


class Summary(list):
    """Rows of `Sequential.summary()` (a list of SummaryRow) that print as a table."""

    def __init__(self, rows, input_shape, total, trainable):
        super().__init__(rows)
        self.input_shape, self.total, self.trainable_total = input_shape, total, trainable

    def table(self) -> Table:
        """The rows as a `tables.Table` (input row first, frozen layers marked)."""
        rows = [("input", "INPUT", shape_text(self.input_shape), "0")]
        rows += [(r.name + ("" if r.trainable else " (frozen)"), r.layer, shape_text(r.output_shape),
                  f"{r.params:,}") for r in self]
        notes = [f"total parameters: {self.total:,}"]
        if self.trainable_total != self.total:
            notes.append(f"trainable parameters: {self.trainable_total:,}")
        return Table(("layer", "type", "output shape", "params"), rows, align="lllr", notes=tuple(notes))

    def to_text(self) -> str:
        return self.table().to_text()

    def to_html(self) -> str:
        table = self.table()
        return table.to_html() + "".join(f"<p>{note}</p>" for note in table.notes)

    def __str__(self):
        return self.to_text()

    __repr__ = __str__

    def _repr_html_(self):
        return self.to_html()


_LOSSES = ("softmax", "svm")


class Sequential:
    """A stack of layers applied one after the other, with a classification loss on top.

    Sequential(layers, input_shape, *, seed=0, rng=None, dtype=np.float64, reg=0.0, loss="softmax")

    `input_shape` is one example's shape, (C, H, W) or (D,). Layers get default names
    ("conv1", "relu1", "pool1", "fc1", ...) and are built at once: shapes are checked and weights
    drawn from `rng` (default `np.random.default_rng(seed)`), He-initialised unless a layer says
    otherwise. `dtype` float64 (exact gradient checks) or float32 (faster). `reg` is the L2
    strength: loss += 0.5 * reg * sum(W**2) over weight matrices/filters (not biases, gamma, beta).
    `pattern`: the text the model was written as, if any (kept as `model.pattern`, unused here).
    A layer that does not fit raises `LayerBuildError` naming it and its input shape.

    Shown in 05, sections 4, 10; 06, section 6.
    """

    def __init__(self, layers: Iterable[Layer], input_shape: Sequence[int], *, seed: int | None = 0,
                 rng: np.random.Generator | None = None, dtype=np.float64, reg: float = 0.0,
                 loss: str = "softmax", pattern: str | None = None):
        self.layers = layer_list(layers, "layers")
        if not self.layers:
            raise ValueError("a model needs at least one layer")
        checks.check_limit(len(self.layers), "MAX_LAYERS", "the number of layers")
        if len({id(l) for l in self.layers}) != len(self.layers):
            raise ValueError("the same layer object appears twice in the model; create a new "
                             "layer for every position (e.g. [ReLU() for _ in range(3)])")
        if loss not in _LOSSES:
            raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        if isinstance(reg, bool) or not isinstance(reg, (int, float, np.integer, np.floating)) \
                or not math.isfinite(reg) or reg < 0:
            raise ValueError(f"reg must be a finite number >= 0, got {reg!r}")
        self.reg, self.loss_name, self.pattern = float(reg), loss, pattern
        if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__len__") \
                or not 1 <= len(input_shape) <= 3:
            raise ValueError(f"input_shape must be one example's shape like (1, 8, 8) or (64,), "
                             f"got {input_shape!r}")
        self.input_shape = tuple(check_int(s, "every input_shape size", 1) for s in input_shape)
        self.seed = seed
        rng = rng if rng is not None else np.random.default_rng(seed)
        name_layers(self.layers)
        shape = self.input_shape
        size = self.dtype.itemsize
        param_bytes, act_bytes = 0, math.prod(shape) * size
        checks.check_limit(act_bytes, "MAX_ACTIVATION_BYTES", f"the memory of one input example "
                           f"{shape} ({self.dtype})", "use a smaller input", unit="bytes")
        for i, layer in enumerate(self.layers):
            try:
                layer.output_shape(shape)                    # shape errors first, then limits
                param_bytes += layer.param_count(shape) * size
                act_bytes += layer.activation_count(shape) * size
                checks.check_limit(param_bytes, "MAX_PARAMETER_BYTES",
                                   f"the memory of the parameters up to this layer ({self.dtype})",
                                   "use fewer filters or outputs, or pool before the FC layers",
                                   unit="bytes")
                checks.check_limit(act_bytes, "MAX_ACTIVATION_BYTES",
                                   f"the memory of the layer outputs for one example up to this "
                                   f"layer ({self.dtype})", "use a smaller input, fewer filters or "
                                   "pooling", unit="bytes")
                shape = layer.build(shape, rng, self.dtype)
            except ValueError as exc:
                raise LayerBuildError(f"layer {i + 1} '{layer.name}' ({layer.describe()}) with input "
                                      f"shape {shape}: {exc}", i, getattr(exc, "limit", None)) from None
        self.output_shape = shape

    # -- access -----------------------------------------------------------------------------
    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, key):
        if isinstance(key, str):
            for l in self.layers:
                if l.name == key:
                    return l
            raise KeyError(f"no layer named {key!r}; layers are {[l.name for l in self.layers]}")
        return self.layers[key]

    @property
    def params(self) -> "OrderedDict[str, np.ndarray]":
        """All parameters, "<layer>.<param>" -> array (the model's own arrays, not copies)."""
        return OrderedDict((f"{l.name}.{k}", v) for l in self.layers for k, v in l.params.items())

    @property
    def grads(self) -> "OrderedDict[str, np.ndarray]":
        """Gradients from the last backward pass, keyed like `params` (without the reg term)."""
        return OrderedDict((f"{l.name}.{k}", v) for l in self.layers for k, v in l.grads.items())

    def trainable_params(self) -> "OrderedDict[str, np.ndarray]":
        """The parameters a solver should update: those of layers that are not frozen."""
        return OrderedDict((f"{l.name}.{k}", v) for l in self.layers if l.trainable
                           for k, v in l.params.items())

    def num_params(self, trainable_only: bool = False) -> int:
        return int(sum(l.num_params() for l in self.layers if l.trainable or not trainable_only))

    # -- freezing -----------------------------------------------------------------------------
    def _select(self, which, upto) -> list:
        names = [l.name for l in self.layers]
        if which is not None and upto is not None:
            raise ValueError("give either layer names or upto=..., not both")
        if upto is not None:
            if isinstance(upto, str):
                if upto not in names:
                    raise KeyError(f"upto={upto!r} is not a layer name; layers are {names}")
                return self.layers[:names.index(upto) + 1]
            count = check_int(upto, "upto (a layer name or a count of layers)", 0, len(names))
            return self.layers[:count]
        if which is None:
            return list(self.layers)
        if isinstance(which, str):
            which = [which]
        chosen = []
        for n in which:
            chosen.append(self[n])
        return chosen

    def freeze(self, which=None, *, upto=None) -> list:
        """Freeze layers (冻结): their gradients are still computed but solvers skip them.

        `freeze()` freezes every layer; `freeze("conv1")` or `freeze(["conv1", "conv2"])` the
        named ones; `freeze(upto="pool2")` every layer up to and including pool2;
        `freeze(upto=3)` the first 3 layers. Returns the names of the layers changed.
        """
        chosen = self._select(which, upto)
        for l in chosen:
            l.set_trainable(False)
        return [l.name for l in chosen]

    def unfreeze(self, which=None, *, upto=None) -> list:
        """Undo `freeze` (same arguments). `unfreeze()` makes every layer trainable."""
        chosen = self._select(which, upto)
        for l in chosen:
            l.set_trainable(True)
        return [l.name for l in chosen]

    def frozen_layers(self) -> list:
        return [l.name for l in self.layers if not l.trainable]

    # -- passes -------------------------------------------------------------------------------
    def _check_input(self, X) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != len(self.input_shape) + 1 or tuple(X.shape[1:]) != self.input_shape:
            raise ValueError(f"X must have shape (N, {', '.join(map(str, self.input_shape))}) for this "
                             f"model, got {X.shape}")
        return X.astype(self.dtype, copy=False)

    def forward(self, X, mode: str = "test", return_activations: bool = False):
        """Run all layers. Returns the scores (N, *output_shape), or with
        `return_activations=True` the pair (scores, OrderedDict layer name -> activation)."""
        if mode not in ("train", "test"):
            raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
        h = self._check_input(X)
        acts = OrderedDict()
        for l in self.layers:
            h = l.forward(h, mode)
            if return_activations:
                acts[l.name] = h
        return (h, acts) if return_activations else h

    def _weight_keys(self):
        return [k for k in self.params if k.rsplit(".", 1)[-1] == "W"]

    def loss(self, X, y=None):
        """Scores (N, classes) when y is None (test mode); otherwise (loss, grads) in train mode.

        grads is a dict keyed like `params`, including the L2 term reg * W for weights.
        """
        if y is None:
            return self.forward(X, "test")
        scores = self.forward(X, "train")
        if scores.ndim != 2:
            raise ValueError(f"the last layer outputs shape {scores.shape[1:]} per example; a "
                             f"classifier needs class scores (N, classes): end with FC-<classes>")
        y = np.asarray(y)
        if y.shape != (scores.shape[0],):
            raise ValueError(f"y must have shape ({scores.shape[0]},), got {y.shape}")
        if y.size and (y.min() < 0 or y.max() >= scores.shape[1]):
            raise ValueError(f"labels must be in 0..{scores.shape[1] - 1}, got {y.min()}..{y.max()}")
        fn = L.softmax_loss if self.loss_name == "softmax" else L.svm_loss
        loss, dout = fn(scores, y)
        for l in reversed(self.layers):
            dout = l.backward(dout)
        grads = self.grads
        if self.reg:
            params = self.params
            for k in self._weight_keys():
                loss += 0.5 * self.reg * float(np.sum(params[k] * params[k]))
                grads[k] = grads[k] + self.reg * params[k]
        return float(loss), grads

    def scores(self, X, batch_size: int = 256) -> np.ndarray:
        """Test-mode scores in batches (memory stays bounded for large X)."""
        X = self._check_input(X)
        return np.concatenate([self.forward(X[i:i + batch_size], "test")
                               for i in range(0, len(X), batch_size)], axis=0)

    def predict(self, X, batch_size: int = 256) -> np.ndarray:
        """Predicted class (argmax of the scores) for each example, shape (N,)."""
        return np.argmax(self.scores(X, batch_size), axis=1)

    def accuracy(self, X, y, batch_size: int = 256) -> float:
        """Fraction of examples whose predicted class equals y."""
        return float(np.mean(self.predict(X, batch_size) == np.asarray(y)))

    # -- description ----------------------------------------------------------------------------
    def summary(self) -> Summary:
        """One SummaryRow(name, layer, output_shape, params, trainable) per layer; prints as a
        table (`str(...)`, `.to_text()`) and shows as HTML in notebooks (`.to_html()`)."""
        rows = [SummaryRow(l.name, l.describe(), l.out_shape, l.num_params(), l.trainable)
                for l in self.layers]
        return Summary(rows, self.input_shape, self.num_params(), self.num_params(trainable_only=True))

    def describe(self) -> str:
        """The model in pattern notation (repeats written out)."""
        return " -> ".join(["INPUT"] + [l.describe() for l in self.layers])

    def __repr__(self):
        return f"Sequential({self.describe()!r}, input_shape={self.input_shape})"

    # -- saving -----------------------------------------------------------------------------------
    def state_arrays(self) -> "OrderedDict[str, np.ndarray]":
        """The model's own parameter and buffer arrays (not copies), keyed like `state_dict`."""
        out = OrderedDict(self.params)
        for l in self.layers:
            for k, v in l.buffers.items():
                out[f"{l.name}.{k}"] = v
        return out

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Copies of all parameters and buffers (batch-norm running averages), keyed by name."""
        return OrderedDict((k, v.copy()) for k, v in self.state_arrays().items())

    def load_state_dict(self, state, strict: bool = True) -> None:
        """Copy arrays from `state` into the model's parameters/buffers (in place).

        strict=True: the keys must match exactly. Shapes must always match, and values be
        finite numbers. Everything is checked before anything is copied, so a failed load
        leaves the model as it was.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict name -> array (e.g. from state_dict()), got "
                            f"{type(state).__name__}")
        targets = self.state_arrays()
        missing = [k for k in targets if k not in state]
        extra = [k for k in state if k not in targets]
        if strict and (missing or extra):
            raise KeyError(f"state does not match the model: missing {missing[:5]}, unexpected "
                           f"{extra[:5]}; use strict=False to load only the common keys")
        values = {}
        for k, target in targets.items():
            if k not in state:
                continue
            value = np.asarray(state[k])
            if value.shape != target.shape:
                raise ValueError(f"{k}: stored shape {value.shape} does not match the model's "
                                 f"{target.shape}")
            if value.dtype.kind not in "fiu" or (value.dtype.kind == "f" and not np.isfinite(value).all()):
                raise ValueError(f"{k}: stored values must be finite numbers, got dtype {value.dtype}"
                                 f"{' with NaN/inf' if value.dtype.kind == 'f' else ''}")
            values[k] = value
        for k, value in values.items():
            targets[k][...] = value
