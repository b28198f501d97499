"""Layer objects, a sequential model, and a parser for the lecture's pattern text.

The lecture's recipe for a ConvNet (卷积神经网络) is a line of text:

    INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC

This module turns such a line, with concrete numbers, into a trainable model:

    >>> model = build_from_pattern("INPUT -> [[CONV3-16 -> RELU]*2 -> POOL2]*2 "
    ...                            "-> [FC-64 -> RELU]*1 -> FC-10", input_shape=(1, 8, 8), seed=0)
    >>> print(model.summary())            # one row per layer: name, output shape, parameters
    >>> loss, grads = model.loss(X, y)    # grads keyed like model.params: "conv1.W", "conv1.b", ...

Layer objects wrap the plain functions of `cs231n_utils.layers` (forward -> (out, cache),
backward(dout, cache) -> gradients). Every layer has `params` and `grads` dicts (short keys
"W", "b", "gamma", "beta"), `forward(x, mode)`, `backward(dout)`, `output_shape(input_shape)`
(shapes without the batch axis: (C, H, W) for images, (D,) for vectors), a `trainable` flag
and `num_params()`. A `Sequential` model names its layers "conv1", "relu1", "pool1", "fc1", ...
and exposes all parameters as "<layer>.<param>", e.g. "conv2.W".

Pattern notation (case does not matter; spaces are optional)
------------------------------------------------------------
    INPUT                 optional, only at the start (the input shape is an argument)
    CONV<k>-<n>           k x k convolution with n filters, stride 1, "same" padding
                          pad = k//2 (so a CONV keeps the spatial size); options as
                          suffixes: -S<stride> -P<pad> -D<dilation> -G<groups>,
                          e.g. CONV7-64-S2-P3, CONV3-32-D2 (pad becomes D*(k-1)//2)
    POOL<k>               k x k max pooling (最大池化) with stride k (halves the size for k=2);
                          POOL3-S2 (or POOL3S2) for overlapping pools; MAXPOOL<k> is the same
    AVGPOOL<k>            average pooling, same options as POOL
    GAP                   global average pooling: (C, H, W) -> (C,)
    FC-<n>                fully connected (全连接) layer with n outputs (FC<n> also accepted);
                          flattens its input first
    RELU, BN, LRN, LRN<size>, FLATTEN, DROPOUT, DROPOUT-<p>   (p = probability of dropping)
    [ ... ]*<N>           repeat a group N times (N >= 0; *0 removes it; *1 keeps it once);
                          groups nest, and *N also works after a single layer
    SOFTMAX or SVM        optional, only at the end: the loss (softmax is the default)
    ->                    separates items (→ also accepted)

Text the parser cannot read raises ValueError naming the token, with a caret under it:

    unknown layer 'CONV3': a convolution is written CONV<k>-<filters>, e.g. CONV3-16
      INPUT -> CONV3 -> RELU
               ^^^^^

Shape problems (a POOL on a 1x1 map, a CONV after an FC) name the layer, its token and the
output-size formula with the numbers filled in.
"""
from __future__ import annotations

import difflib
import html as _html
import re
from collections import OrderedDict
from typing import Iterable, NamedTuple, Sequence

import numpy as np

from . import shapes

__all__ = ["Layer", "Conv", "ReLU", "MaxPool", "AvgPool", "Affine", "FC", "BatchNorm", "LRN",
           "Flatten", "GlobalAvgPool", "Dropout", "Residual", "Sequential", "Summary",
           "SummaryRow", "build_from_pattern", "parse_pattern", "LAYER_TYPES"]


def _L():
    """The layer functions (imported on first use, so this module imports instantly)."""
    from . import layers
    return layers


def _shape_str(shape) -> str:
    return "x".join(str(int(s)) for s in shape)


def _init_std(weight_scale, fan_in: int) -> float:
    if isinstance(weight_scale, str):
        if weight_scale.lower() != "he":
            raise ValueError(f"weight_scale must be 'he' or a positive number, got {weight_scale!r}")
        return float(np.sqrt(2.0 / fan_in))           # He et al. 2015, for ReLU nets
    weight_scale = float(weight_scale)
    if weight_scale <= 0:
        raise ValueError(f"weight_scale must be 'he' or a positive number, got {weight_scale}")
    return weight_scale


def _need_image(layer: "Layer", input_shape) -> tuple:
    if len(input_shape) != 3:
        raise ValueError(f"{layer.kind} needs an image volume (C, H, W) as input, but gets "
                         f"shape {tuple(input_shape)}; put {layer.kind} layers before the first "
                         f"FC/FLATTEN/GAP (they turn the volume into a vector)")
    return tuple(int(s) for s in input_shape)


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------

class Layer:
    """Base class. Subclasses set `kind` (the lecture's name), `prefix` (for auto names) and
    implement `output_shape`, `forward`, `backward` and, if they have weights, `_init_params`.

    Attributes: `name` (set by the model if None), `params`/`grads` (dicts of arrays with short
    keys), `buffers` (non-trained state such as batch-norm running averages), `trainable`
    (False = frozen: gradients are still computed, but a solver does not update the params),
    `input_shape`/`out_shape` (set by `build`), `source` (pattern text position, if parsed).

    Parameter arrays are updated in place (solver, `load_state_dict`), never replaced, so
    every view of them (model.params, a Residual block's params) stays in sync.
    """

    kind = "LAYER"
    prefix = "layer"
    param_names: tuple = ()
    description = ""

    def __init__(self, name: str | None = None):
        self.name = name
        self.params: dict = {}
        self.grads: dict = {}
        self.buffers: dict = {}
        self.trainable = True
        self.input_shape: tuple | None = None
        self.out_shape: tuple | None = None
        self.source: tuple | None = None  # (text, column, token) when built from a pattern
        self._cache = None

    # -- shapes and parameters ------------------------------------------------------------
    def output_shape(self, input_shape: Sequence[int]) -> tuple:
        """Shape of one output example for one input example of `input_shape` (no batch axis)."""
        return tuple(int(s) for s in input_shape)

    def build(self, input_shape: Sequence[int], rng: np.random.Generator,
              dtype=np.float64) -> tuple:
        """Check the input shape, create the parameters (drawn from `rng`) and return the output shape."""
        input_shape = tuple(int(s) for s in input_shape)
        out = self.output_shape(input_shape)
        self.input_shape, self.out_shape = input_shape, out
        self.params, self.grads = {}, {}
        self._init_params(input_shape, rng, np.dtype(dtype))
        return out

    def _init_params(self, input_shape, rng, dtype) -> None:
        pass

    def num_params(self) -> int:
        """Number of learnable numbers in this layer (weights + biases + ...)."""
        return int(sum(p.size for p in self.params.values()))

    def hyperparameters(self) -> dict:
        """Settings chosen by hand (not learned), e.g. filter size and stride."""
        return {}

    def set_trainable(self, flag: bool) -> None:
        self.trainable = bool(flag)

    def describe(self) -> str:
        """The layer in pattern notation, e.g. 'CONV3-16' or 'POOL2'."""
        return self.kind

    # -- passes ---------------------------------------------------------------------------
    def forward(self, x: np.ndarray, mode: str = "train") -> np.ndarray:
        """x: (N, *input_shape) -> out: (N, *out_shape). mode: 'train' or 'test'."""
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: (N, *out_shape) -> dx: (N, *input_shape); fills self.grads."""
        raise NotImplementedError

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        name = f", name={self.name!r}" if self.name else ""
        return f"{type(self).__name__}({hp}{name})"


class Conv(Layer):
    """Convolution layer (卷积层): `num_filters` filters of size `filter_size` x `filter_size`.

    Input (N, C, H, W) -> output (N, F, H', W') with F = num_filters and
    H' = (H + 2*pad - dilation*(k-1) - 1) / stride + 1 (must be an integer).
    pad="same" means pad = dilation*(k-1)//2, which keeps H' = H for stride 1 and odd k.
    rounding="floor" drops rows/columns that do not fit instead of raising (PyTorch's rule,
    e.g. a 3x3 stride-2 pad-1 conv on 8x8 gives 4x4).
    Parameters: W (F, C/groups, k, k), b (F,). He initialisation by default
    (std = sqrt(2 / (C/groups * k * k))), or a fixed std via `weight_scale`.
    """

    kind = "CONV"
    prefix = "conv"
    param_names = ("W", "b")
    description = "slides filters over the input volume; each filter gives one activation map"

    def __init__(self, num_filters: int, filter_size: int = 3, stride: int = 1, pad="same",
                 dilation: int = 1, groups: int = 1, weight_scale="he", rounding: str = "exact",
                 name: str | None = None):
        super().__init__(name)
        if rounding not in ("exact", "floor"):
            raise ValueError(f"Conv: rounding must be 'exact' or 'floor', got {rounding!r}")
        self.rounding = rounding
        for arg, val, lo in (("num_filters", num_filters, 1), ("filter_size", filter_size, 1),
                             ("stride", stride, 1), ("dilation", dilation, 1), ("groups", groups, 1)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < lo:
                raise ValueError(f"Conv: {arg} must be an integer >= {lo}, got {val!r}")
        if pad != "same" and (isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0):
            raise ValueError(f"Conv: pad must be 'same' or an integer >= 0, got {pad!r}")
        if num_filters % groups:
            raise ValueError(f"Conv: num_filters={num_filters} must be divisible by groups={groups}")
        self.num_filters, self.filter_size = int(num_filters), int(filter_size)
        self.stride, self.dilation, self.groups = int(stride), int(dilation), int(groups)
        self.pad_setting = pad
        self.weight_scale = weight_scale

    @property
    def pad(self) -> int:
        if self.pad_setting == "same":
            return self.dilation * (self.filter_size - 1) // 2
        return int(self.pad_setting)

    def conv_param(self) -> dict:
        p = {"stride": self.stride, "pad": self.pad, "dilation": self.dilation, "groups": self.groups}
        if self.rounding != "exact":
            p["rounding"] = self.rounding
        return p

    def hyperparameters(self) -> dict:
        return {"num_filters": self.num_filters, "filter_size": self.filter_size,
                "stride": self.stride, "pad": self.pad, "dilation": self.dilation,
                "groups": self.groups}

    def output_shape(self, input_shape):
        C, H, W = _need_image(self, input_shape)
        if C % self.groups:
            raise ValueError(f"CONV with groups={self.groups} needs input channels divisible by "
                             f"{self.groups}, got C={C}")
        k, s, p, d = self.filter_size, self.stride, self.pad, self.dilation
        try:
            Ho = shapes.conv_output_size(H, k, s, p, d, self.rounding)
            Wo = shapes.conv_output_size(W, k, s, p, d, self.rounding)
        except ValueError as exc:
            raise ValueError(f"output size H' = (H + 2*pad - dilation*(k-1) - 1)/stride + 1 "
                             f"with H={H}, W={W}: {exc}") from None
        return (self.num_filters, Ho, Wo)

    def _init_params(self, input_shape, rng, dtype):
        C = input_shape[0]
        fan_in = C // self.groups * self.filter_size ** 2
        std = _init_std(self.weight_scale, fan_in)
        w = rng.standard_normal((self.num_filters, C // self.groups, self.filter_size,
                                 self.filter_size)) * std
        self.params = {"W": w.astype(dtype), "b": np.zeros(self.num_filters, dtype=dtype)}

    def forward(self, x, mode="train"):
        out, self._cache = _L().conv_forward_fast(x, self.params["W"], self.params["b"],
                                                  self.conv_param())
        return out

    def backward(self, dout):
        dx, dw, db = _L().conv_backward_fast(dout, self._cache)
        self.grads = {"W": dw, "b": db}
        return dx

    def describe(self):
        text = f"CONV{self.filter_size}-{self.num_filters}"
        if self.stride != 1:
            text += f"-S{self.stride}"
        if self.pad_setting != "same":
            text += f"-P{self.pad}"
        if self.dilation != 1:
            text += f"-D{self.dilation}"
        if self.groups != 1:
            text += f"-G{self.groups}"
        return text

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in (("stride", self.stride), ("pad", self.pad_setting),
                                                      ("dilation", self.dilation), ("groups", self.groups))
                        if v != {"stride": 1, "pad": "same", "dilation": 1, "groups": 1}[k])
        name = f", name={self.name!r}" if self.name else ""
        return f"Conv({self.num_filters}, {self.filter_size}{extra}{name})"


class ReLU(Layer):
    """Rectified linear unit (修正线性单元), elementwise max(0, x). Any shape, no parameters."""

    kind = "RELU"
    prefix = "relu"
    description = "elementwise max(0, x); keeps the shape"

    def forward(self, x, mode="train"):
        out, self._cache = _L().relu_forward(x)
        return out

    def backward(self, dout):
        return _L().relu_backward(dout, self._cache)


class _Pool(Layer):
    def __init__(self, pool_size: int = 2, stride: int | None = None, rounding: str = "exact",
                 name: str | None = None):
        super().__init__(name)
        if rounding not in ("exact", "floor"):
            raise ValueError(f"{type(self).__name__}: rounding must be 'exact' or 'floor', got {rounding!r}")
        self.rounding = rounding
        for arg, val in (("pool_size", pool_size), ("stride", pool_size if stride is None else stride)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
                raise ValueError(f"{type(self).__name__}: {arg} must be an integer >= 1, got {val!r}")
        self.pool_size = int(pool_size)
        self.stride = self.pool_size if stride is None else int(stride)

    def pool_param(self) -> dict:
        p = {"pool_height": self.pool_size, "pool_width": self.pool_size, "stride": self.stride}
        if self.rounding != "exact":
            p["rounding"] = self.rounding
        return p

    def hyperparameters(self):
        return {"pool_size": self.pool_size, "stride": self.stride}

    def output_shape(self, input_shape):
        C, H, W = _need_image(self, input_shape)
        try:
            Ho = shapes.pool_output_size(H, self.pool_size, self.stride, rounding=self.rounding)
            Wo = shapes.pool_output_size(W, self.pool_size, self.stride, rounding=self.rounding)
        except ValueError as exc:
            raise ValueError(f"output size H' = (H - k)/stride + 1 with H={H}, W={W}: {exc}") from None
        return (C, Ho, Wo)

    def describe(self):
        text = f"{self.kind}{self.pool_size}"
        return text + (f"-S{self.stride}" if self.stride != self.pool_size else "")

    def __repr__(self):
        extra = f", stride={self.stride}" if self.stride != self.pool_size else ""
        name = f", name={self.name!r}" if self.name else ""
        return f"{type(self).__name__}({self.pool_size}{extra}{name})"


class MaxPool(_Pool):
    """Max pooling (最大池化): maximum over k x k windows, stride k by default; per channel.

    (N, C, H, W) -> (N, C, H', W') with H' = (H - k)/stride + 1. No parameters.
    """

    kind = "POOL"
    prefix = "pool"
    description = "max over each window, channel by channel; shrinks H and W"

    def forward(self, x, mode="train"):
        out, self._cache = _L().max_pool_forward_fast(x, self.pool_param())
        return out

    def backward(self, dout):
        return _L().max_pool_backward_fast(dout, self._cache)


class AvgPool(_Pool):
    """Average pooling (平均池化) over k x k windows; same shapes as MaxPool. No parameters."""

    kind = "AVGPOOL"
    prefix = "avgpool"
    description = "mean over each window, channel by channel; shrinks H and W"

    def forward(self, x, mode="train"):
        out, self._cache = _L().avg_pool_forward(x, self.pool_param())
        return out

    def backward(self, dout):
        return _L().avg_pool_backward(dout, self._cache)


class Affine(Layer):
    """Fully connected layer (全连接层): out = x.reshape(N, D) @ W + b.

    Input (N, d1, ..., dk) with D = d1*...*dk (flattened first) -> output (N, M).
    Parameters: W (D, M), b (M,). He initialisation (std = sqrt(2/D)) by default, times
    `gain` (e.g. gain=0.01 for a classifier whose initial scores should be close to 0).
    """

    kind = "FC"
    prefix = "fc"
    param_names = ("W", "b")
    description = "every output is connected to every input: flatten, then x @ W + b"

    def __init__(self, num_outputs: int, weight_scale="he", gain: float = 1.0, name: str | None = None):
        super().__init__(name)
        if not gain > 0:
            raise ValueError(f"Affine: gain must be > 0, got {gain}")
        self.gain = float(gain)
        if isinstance(num_outputs, bool) or not isinstance(num_outputs, (int, np.integer)) or num_outputs < 1:
            raise ValueError(f"Affine: num_outputs must be an integer >= 1, got {num_outputs!r}")
        self.num_outputs = int(num_outputs)
        self.weight_scale = weight_scale

    def hyperparameters(self):
        return {"num_outputs": self.num_outputs}

    def output_shape(self, input_shape):
        return (self.num_outputs,)

    def _init_params(self, input_shape, rng, dtype):
        D = int(np.prod(input_shape))
        std = _init_std(self.weight_scale, D) * self.gain
        self.params = {"W": (rng.standard_normal((D, self.num_outputs)) * std).astype(dtype),
                       "b": np.zeros(self.num_outputs, dtype=dtype)}

    def forward(self, x, mode="train"):
        out, self._cache = _L().affine_forward(x, self.params["W"], self.params["b"])
        return out

    def backward(self, dout):
        dx, dw, db = _L().affine_backward(dout, self._cache)
        self.grads = {"W": dw, "b": db}
        return dx

    def describe(self):
        return f"FC-{self.num_outputs}"

    def __repr__(self):
        name = f", name={self.name!r}" if self.name else ""
        return f"Affine({self.num_outputs}{name})"


FC = Affine


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W). No parameters (FC layers flatten by themselves)."""

    kind = "FLATTEN"
    prefix = "flatten"
    description = "reshapes the volume into one long vector"

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x, mode="train"):
        self._cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self._cache)


class GlobalAvgPool(Layer):
    """Global average pooling: mean over all H x W positions, (N, C, H, W) -> (N, C)."""

    kind = "GAP"
    prefix = "gap"
    description = "mean of each whole activation map: one number per channel"

    def output_shape(self, input_shape):
        C, _, _ = _need_image(self, input_shape)
        return (C,)

    def forward(self, x, mode="train"):
        out, self._cache = _L().global_avg_pool_forward(x)
        return out

    def backward(self, dout):
        return _L().global_avg_pool_backward(dout, self._cache)


class BatchNorm(Layer):
    """Batch normalisation (批量归一化): spatial for (C, H, W) inputs, per feature for (D,) inputs.

    Train mode normalises with the batch mean/variance and updates the running averages
    (running = momentum*running + (1-momentum)*batch); test mode uses the running averages.
    Parameters: gamma, beta (C,) or (D,). Buffers: running_mean, running_var.
    A frozen BatchNorm (trainable=False) always uses its running averages and leaves them
    unchanged, the usual choice when fine-tuning on a small data set.
    """

    kind = "BN"
    prefix = "bn"
    param_names = ("gamma", "beta")
    description = "normalises each channel over the batch, then scales by gamma and shifts by beta"

    def __init__(self, momentum: float = 0.9, eps: float = 1e-5, name: str | None = None):
        super().__init__(name)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1), got {momentum}")
        if eps <= 0:
            raise ValueError(f"BatchNorm: eps must be > 0, got {eps}")
        self.momentum, self.eps = float(momentum), float(eps)

    def hyperparameters(self):
        return {"momentum": self.momentum, "eps": self.eps}

    def output_shape(self, input_shape):
        if len(input_shape) not in (1, 3):
            raise ValueError(f"BN needs a (C, H, W) or (D,) input, got shape {tuple(input_shape)}")
        return tuple(int(s) for s in input_shape)

    def _init_params(self, input_shape, rng, dtype):
        C = input_shape[0]
        self.params = {"gamma": np.ones(C, dtype=dtype), "beta": np.zeros(C, dtype=dtype)}
        self.buffers = {"running_mean": np.zeros(C, dtype=dtype), "running_var": np.ones(C, dtype=dtype)}

    def forward(self, x, mode="train"):
        use_batch = self.trainable and mode == "train"
        bn_param = {"mode": "train" if use_batch else "test", "eps": self.eps,
                    "momentum": self.momentum,
                    "running_mean": self.buffers["running_mean"].copy(),
                    "running_var": self.buffers["running_var"].copy()}
        fn = _L().spatial_batchnorm_forward if x.ndim == 4 else _L().batchnorm_forward
        out, cache = fn(x, self.params["gamma"], self.params["beta"], bn_param)
        if use_batch:
            self.buffers["running_mean"][...] = bn_param["running_mean"]
            self.buffers["running_var"][...] = bn_param["running_var"]
        self._cache = (x.ndim == 4, cache)
        return out

    def backward(self, dout):
        spatial, cache = self._cache
        fn = _L().spatial_batchnorm_backward if spatial else _L().batchnorm_backward
        dx, dgamma, dbeta = fn(dout, cache)
        self.grads = {"gamma": dgamma, "beta": dbeta}
        return dx


class LRN(Layer):
    """Local response normalisation (局部响应归一化) across channels, as in AlexNet.

    b_c = a_c / (k + alpha/size * sum_{c' near c} a_c'^2) ** beta. Same shape in and out.
    """

    kind = "LRN"
    prefix = "lrn"
    description = "divides each activation by the energy of its neighbouring channels"

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0,
                 name: str | None = None):
        super().__init__(name)
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"LRN: size must be an integer >= 1, got {size!r}")
        self.size, self.alpha, self.beta, self.k = int(size), float(alpha), float(beta), float(k)

    def lrn_param(self) -> dict:
        return {"size": self.size, "alpha": self.alpha, "beta": self.beta, "k": self.k}

    def hyperparameters(self):
        return self.lrn_param()

    def output_shape(self, input_shape):
        return _need_image(self, input_shape)

    def forward(self, x, mode="train"):
        out, self._cache = _L().lrn_forward(x, self.lrn_param())
        return out

    def backward(self, dout):
        return _L().lrn_backward(dout, self._cache)

    def describe(self):
        return "LRN" if self.size == 5 else f"LRN{self.size}"


class Dropout(Layer):
    """Inverted dropout: in train mode zero each unit with probability `p` and scale the rest
    by 1/(1-p); identity in test mode. The mask comes from a generator seeded by `seed` (or
    drawn from the model's generator when the model is built)."""

    kind = "DROPOUT"
    prefix = "dropout"
    description = "randomly zeroes units while training (a regulariser)"

    def __init__(self, p: float = 0.5, seed: int | None = None, name: str | None = None):
        super().__init__(name)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p (probability of dropping) must be in [0, 1), got {p}")
        self.p = float(p)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def hyperparameters(self):
        return {"p": self.p}

    def _init_params(self, input_shape, rng, dtype):
        if self.seed is None:
            self._rng = np.random.default_rng(int(rng.integers(2 ** 32)))

    def forward(self, x, mode="train"):
        if mode != "train" or self.p == 0.0:
            self._cache = None
            return x
        mask = (self._rng.random(x.shape) >= self.p).astype(x.dtype) / (1.0 - self.p)
        self._cache = mask
        return x * mask

    def backward(self, dout):
        return dout if self._cache is None else dout * self._cache

    def describe(self):
        return "DROPOUT" if self.p == 0.5 else f"DROPOUT-{self.p:g}"


def _auto_names(layers: Sequence[Layer], prefix: str = "") -> None:
    counts: dict = {}
    taken = {l.name for l in layers if l.name}
    for layer in layers:
        if layer.name:
            continue
        while True:
            counts[layer.prefix] = counts.get(layer.prefix, 0) + 1
            name = f"{prefix}{layer.prefix}{counts[layer.prefix]}"
            if name not in taken:
                break
        layer.name = name
        taken.add(name)
    names = [l.name for l in layers]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"layer names must be unique, {dup[0]!r} is used twice")
    bad = [n for n in names if "." in n]
    if bad:
        raise ValueError(f"layer name {bad[0]!r} must not contain '.' (used in parameter keys)")


def _as_layer_list(layers, what: str) -> list:
    if isinstance(layers, Layer):
        layers = [layers]
    layers = list(layers)
    for i, l in enumerate(layers):
        if not isinstance(l, Layer):
            raise TypeError(f"{what}[{i}] must be a Layer (Conv, ReLU, ...), got {type(l).__name__}")
    return layers


class Residual(Layer):
    """Residual block (残差块): out = relu(F(x) + shortcut(x)) (or F(x) + shortcut(x)).

    `layers`: the residual branch F, e.g. [Conv(16, 3), BatchNorm(), ReLU(), Conv(16, 3), BatchNorm()].
    `projection`: None for the identity shortcut (F(x) must then have the shape of x), a layer
    or list of layers (e.g. Conv(32, 1, stride=2, pad=0)), or "auto" for a 1x1 conv with the
    stride needed to match F(x). `final_relu`: apply ReLU after the addition (as in ResNet).

    Parameters are exposed with the sublayer's name, e.g. "conv1.W", "bn2.gamma",
    "proj_conv1.W"; a Sequential model prefixes the block name: "res1.conv1.W".
    """

    kind = "RES"
    prefix = "res"
    description = "adds the block's input to its output, so gradients have a short path"

    def __init__(self, layers, projection=None, final_relu: bool = True, name: str | None = None):
        super().__init__(name)
        self.layers = _as_layer_list(layers, "Residual layers")
        if not self.layers:
            raise ValueError("Residual needs at least one layer in its branch")
        self._auto_projection = isinstance(projection, str)
        if self._auto_projection and projection != "auto":
            raise ValueError(f"projection must be None, 'auto' or layer(s), got {projection!r}")
        self.projection = [] if projection is None or self._auto_projection else \
            _as_layer_list(projection, "Residual projection")
        self.final_relu = bool(final_relu)
        _auto_names(self.layers)
        _auto_names(self.projection, prefix="proj_")

    def sublayers(self) -> list:
        return self.layers + self.projection

    def hyperparameters(self):
        return {"branch": " -> ".join(l.describe() for l in self.layers),
                "shortcut": " -> ".join(l.describe() for l in self.projection) or "identity"}

    def _chain_shape(self, layers, shape):
        for l in layers:
            try:
                shape = l.output_shape(shape)
            except ValueError as exc:
                raise ValueError(f"in block layer {l.name} ({l.describe()}): {exc}") from None
        return shape

    def output_shape(self, input_shape):
        input_shape = tuple(int(s) for s in input_shape)
        f_shape = self._chain_shape(self.layers, input_shape)
        if self._auto_projection and not self.projection and f_shape != input_shape:
            return f_shape  # build() will add the 1x1 projection
        s_shape = self._chain_shape(self.projection, input_shape)
        if f_shape != s_shape:
            hint = ("use projection='auto' (a 1x1 conv) or projection=Conv("
                    f"{f_shape[0]}, 1, stride=..., pad=0)") if len(f_shape) == 3 else \
                "use a projection layer that maps x to that shape"
            raise ValueError(f"residual block: F(x) has shape {f_shape} but the shortcut gives "
                             f"{s_shape}; they must match to be added; {hint}")
        return f_shape

    def build(self, input_shape, rng, dtype=np.float64):
        input_shape = tuple(int(s) for s in input_shape)
        if self._auto_projection:
            self.projection = []
            f_shape = self._chain_shape(self.layers, input_shape)
            if f_shape != input_shape:
                if len(f_shape) != 3 or len(input_shape) != 3 or input_shape[1] % f_shape[1]:
                    raise ValueError(f"residual block: projection='auto' cannot map {input_shape} "
                                     f"to {f_shape}; give the projection layers explicitly")
                H, Ho = input_shape[1], f_shape[1]
                # the 1x1 stride that maps H to Ho, exactly if possible, else with floor rounding
                exact = [s for s in range(1, H + 1) if (H - 1) % s == 0 and (H - 1) // s + 1 == Ho]
                floor = [s for s in range(1, H + 1) if (H - 1) // s + 1 == Ho]
                if not exact and not floor:
                    raise ValueError(f"residual block: no 1x1 stride maps size {H} to {Ho}; "
                                     f"give the projection layers explicitly")
                stride, rounding = (exact[0], "exact") if exact else (floor[0], "floor")
                self.projection = [Conv(f_shape[0], 1, stride=stride, pad=0, rounding=rounding,
                                        name="proj_conv1")]
        out = self.output_shape(input_shape)
        shape = input_shape
        for l in self.layers:
            shape = l.build(shape, rng, dtype)
        shape = input_shape
        for l in self.projection:
            shape = l.build(shape, rng, dtype)
        self.input_shape, self.out_shape = input_shape, out
        self.params = {f"{l.name}.{k}": v for l in self.sublayers() for k, v in l.params.items()}
        self.buffers = {f"{l.name}.{k}": v for l in self.sublayers() for k, v in l.buffers.items()}
        self.grads = {}
        return out

    def set_trainable(self, flag):
        self.trainable = bool(flag)
        for l in self.sublayers():
            l.set_trainable(flag)

    def forward(self, x, mode="train"):
        h = x
        for l in self.layers:
            h = l.forward(h, mode)
        s = x
        for l in self.projection:
            s = l.forward(s, mode)
        z = h + s
        if self.final_relu:
            mask = z > 0
            self._cache = mask
            return z * mask
        self._cache = None
        return z

    def backward(self, dout):
        dz = dout if self._cache is None else dout * self._cache
        dh = dz
        for l in reversed(self.layers):
            dh = l.backward(dh)
        ds = dz
        for l in reversed(self.projection):
            ds = l.backward(ds)
        self.grads = {f"{l.name}.{k}": g for l in self.sublayers() for k, g in l.grads.items()}
        return dh + ds

    def describe(self):
        inner = " -> ".join(l.describe() for l in self.layers)
        return f"RES[{inner}]"

    def __repr__(self):
        name = f", name={self.name!r}" if self.name else ""
        proj = ", projection='auto'" if self._auto_projection else (
            f", projection={self.projection!r}" if self.projection else "")
        return f"Residual({self.layers!r}{proj}{name})"


LAYER_TYPES = (Conv, MaxPool, AvgPool, Affine, ReLU, BatchNorm, LRN, Flatten, GlobalAvgPool,
               Dropout, Residual)


# --------------------------------------------------------------------------------------------
# Sequential model
# --------------------------------------------------------------------------------------------

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

    def to_text(self) -> str:
        head = ("layer", "type", "output shape", "params")
        body = [(r.name + ("" if r.trainable else " (frozen)"), r.layer, _shape_str(r.output_shape),
                 f"{r.params:,}") for r in self]
        body.insert(0, ("input", "INPUT", _shape_str(self.input_shape), "0"))
        widths = [max(len(row[i]) for row in [head] + body) for i in range(4)]
        fmt = lambda row: "  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                                    for i, (c, w) in enumerate(zip(row, widths)))
        lines = [fmt(head), "-" * len(fmt(head))] + [fmt(r) for r in body]
        lines.append(f"total parameters: {self.total:,}")
        if self.trainable_total != self.total:
            lines.append(f"trainable parameters: {self.trainable_total:,}")
        return "\n".join(lines)

    def to_html(self) -> str:
        esc = _html.escape
        rows = [f"<tr><td>input</td><td>INPUT</td><td>{_shape_str(self.input_shape)}</td>"
                f"<td style='text-align:right'>0</td></tr>"]
        for r in self:
            frozen = "" if r.trainable else " <i>(frozen)</i>"
            rows.append(f"<tr><td>{esc(r.name)}{frozen}</td><td>{esc(r.layer)}</td>"
                        f"<td>{_shape_str(r.output_shape)}</td>"
                        f"<td style='text-align:right'>{r.params:,}</td></tr>")
        foot = f"<tr><th colspan='3'>total parameters</th><th style='text-align:right'>{self.total:,}</th></tr>"
        return ("<table><thead><tr><th>layer</th><th>type</th><th>output shape</th><th>params</th>"
                "</tr></thead><tbody>" + "".join(rows) + foot + "</tbody></table>")

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
    """

    def __init__(self, layers: Iterable[Layer], input_shape: Sequence[int], *, seed: int | None = 0,
                 rng: np.random.Generator | None = None, dtype=np.float64, reg: float = 0.0,
                 loss: str = "softmax", pattern: str | None = None):
        self.layers = _as_layer_list(layers, "layers")
        if not self.layers:
            raise ValueError("a model needs at least one layer")
        if loss not in _LOSSES:
            raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        if reg < 0:
            raise ValueError(f"reg must be >= 0, got {reg}")
        self.reg, self.loss_name, self.pattern = float(reg), loss, pattern
        self.input_shape = tuple(int(s) for s in input_shape)
        if not self.input_shape or any(s < 1 for s in self.input_shape):
            raise ValueError(f"input_shape must be positive sizes like (1, 8, 8), got {input_shape!r}")
        self.seed = seed
        rng = rng if rng is not None else np.random.default_rng(seed)
        _auto_names(self.layers)
        shape = self.input_shape
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.build(shape, rng, self.dtype)
            except ValueError as exc:
                msg = f"layer {i + 1} '{layer.name}' ({layer.describe()}) with input shape {shape}: {exc}"
                if layer.source is not None:
                    text, col, tok = layer.source
                    msg += "\n" + _caret(text, col, len(tok))
                raise ValueError(msg) from None
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
            if isinstance(upto, bool) or not isinstance(upto, (int, np.integer)) or not 0 <= upto <= len(names):
                raise ValueError(f"upto must be a layer name or a count 0..{len(names)}, got {upto!r}")
            return self.layers[:int(upto)]
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
        fn = _L().softmax_loss if self.loss_name == "softmax" else _L().svm_loss
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
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Copies of all parameters and buffers (batch-norm running averages), keyed by name."""
        out = OrderedDict((k, v.copy()) for k, v in self.params.items())
        for l in self.layers:
            for k, v in l.buffers.items():
                out[f"{l.name}.{k}"] = v.copy()
        return out

    def load_state_dict(self, state, strict: bool = True) -> None:
        """Copy arrays from `state` into the model's parameters/buffers (in place).

        strict=True: the keys must match exactly. Shapes must always match.
        """
        targets = OrderedDict(self.params)
        for l in self.layers:
            for k, v in l.buffers.items():
                targets[f"{l.name}.{k}"] = v
        missing = [k for k in targets if k not in state]
        extra = [k for k in state if k not in targets]
        if strict and (missing or extra):
            raise KeyError(f"state does not match the model: missing {missing[:5]}, unexpected "
                           f"{extra[:5]}; use strict=False to load only the common keys")
        for k, target in targets.items():
            if k not in state:
                continue
            value = np.asarray(state[k])
            if value.shape != target.shape:
                raise ValueError(f"{k}: stored shape {value.shape} does not match the model's "
                                 f"{target.shape}")
            target[...] = value


# --------------------------------------------------------------------------------------------
# Pattern parser
# --------------------------------------------------------------------------------------------

def _caret(text: str, col: int, length: int) -> str:
    """The line of `text` containing position `col`, with ^ under the token."""
    start = text.rfind("\n", 0, col) + 1
    end = text.find("\n", col)
    end = len(text) if end < 0 else end
    line = text[start:end]
    return f"  {line}\n  {' ' * (col - start)}{'^' * max(1, length)}"


def _perr(text, col, length, message):
    return ValueError(f"{message}\n{_caret(text, col, length)}")


_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<arrow>->|→)
  | (?P<lbr>\[)
  | (?P<rbr>\])
  | (?P<star>\*|×)
  | (?P<int>\d+)
  | (?P<word>[A-Za-z][A-Za-z0-9_.]*(?:-(?!>)[A-Za-z0-9_.]+)*)
  | (?P<bad>.)
""", re.VERBOSE)

_KEYWORDS = ["INPUT", "CONV3-16", "POOL2", "MAXPOOL2", "AVGPOOL2", "FC-10", "RELU", "BN",
             "BATCHNORM", "LRN", "FLATTEN", "GAP", "DROPOUT", "SOFTMAX", "SVM"]


class _Tok(NamedTuple):
    kind: str
    text: str
    col: int


def _tokenize(text: str) -> list:
    toks = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind == "ws":
            continue
        tok = _Tok(kind, m.group(), m.start())
        if kind == "bad":
            ch = tok.text
            if ch == "?":
                hint = ("'?' marks an optional layer in the lecture's recipe; write the layer "
                        "(e.g. POOL2) or leave it out")
            elif ch in "()":
                hint = "groups are written with square brackets: [CONV3-16 -> RELU]*2"
            elif ch == "-":
                hint = "items are separated by '->'"
            elif ch == ">":
                hint = "items are separated by '->' (a '-' is missing?)"
            else:
                hint = "allowed are layer names, '->', '[', ']', '*' and numbers"
            raise _perr(text, tok.col, 1, f"unexpected character {ch!r}: {hint}")
        toks.append(tok)
    return toks


_CONV_RE = re.compile(r"CONV(\d+)-(\d+)((?:-?[SPDG]\d+)*)")
_POOL_RE = re.compile(r"(MAXPOOL|POOL|AVGPOOL)(\d+)(?:-?S(\d+))?")
_FC_RE = re.compile(r"FC-?(\d+)")
_LRN_RE = re.compile(r"LRN(\d+)?")
_DROP_RE = re.compile(r"DROPOUT(?:-(0?\.\d+|0))?")


def _make_layer(tok: _Tok, text: str) -> Layer:
    w = tok.text.upper()
    fail = lambda msg: _perr(text, tok.col, len(tok.text), msg)
    try:
        m = _CONV_RE.fullmatch(w)
        if m:
            k, n = int(m.group(1)), int(m.group(2))
            opts = {"S": 1, "P": "same", "D": 1, "G": 1}
            seen = set()
            for key, val in re.findall(r"([SPDG])(\d+)", m.group(3)):
                if key in seen:
                    raise fail(f"option {key} given twice in {tok.text!r}")
                seen.add(key)
                opts[key] = int(val)
            if k < 1 or n < 1:
                raise fail(f"{tok.text!r}: filter size and number of filters must be >= 1")
            return Conv(n, k, stride=opts["S"], pad=opts["P"], dilation=opts["D"], groups=opts["G"])
        m = _POOL_RE.fullmatch(w)
        if m:
            k = int(m.group(2))
            s = int(m.group(3)) if m.group(3) else None
            if k < 1 or (s is not None and s < 1):
                raise fail(f"{tok.text!r}: pool size and stride must be >= 1")
            return (AvgPool if m.group(1) == "AVGPOOL" else MaxPool)(k, s)
        m = _FC_RE.fullmatch(w)
        if m:
            if int(m.group(1)) < 1:
                raise fail(f"{tok.text!r}: an FC layer needs at least 1 output")
            return Affine(int(m.group(1)))
        if w == "RELU":
            return ReLU()
        if w in ("BN", "BATCHNORM"):
            return BatchNorm()
        m = _LRN_RE.fullmatch(w)
        if m:
            return LRN(int(m.group(1))) if m.group(1) else LRN()
        if w == "FLATTEN":
            return Flatten()
        if w in ("GAP", "GLOBALAVGPOOL"):
            return GlobalAvgPool()
        m = _DROP_RE.fullmatch(w)
        if m:
            return Dropout(float(m.group(1))) if m.group(1) else Dropout()
    except ValueError as exc:
        if "\n  " in str(exc):
            raise
        raise fail(f"{tok.text!r}: {exc}") from None
    # Not recognised: explain the closest form.
    if w.startswith("CONV"):
        msg = (f"unknown layer {tok.text!r}: a convolution is written CONV<k>-<filters>, e.g. "
               f"CONV3-16 (options -S<stride> -P<pad> -D<dilation> -G<groups>, e.g. CONV7-64-S2-P3)")
    elif "POOL" in w:
        msg = f"unknown layer {tok.text!r}: pooling is written POOL<k> (max), AVGPOOL<k> or POOL<k>-S<stride>, e.g. POOL2"
    elif w.startswith("FC"):
        msg = f"unknown layer {tok.text!r}: a fully connected layer is written FC-<outputs>, e.g. FC-10"
    else:
        close = difflib.get_close_matches(w, _KEYWORDS, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]}?" if close else \
            "; known layers: CONV<k>-<n>, POOL<k>, AVGPOOL<k>, FC-<n>, RELU, BN, LRN, FLATTEN, GAP, DROPOUT"
        msg = f"unknown layer {tok.text!r}{hint}"
    raise fail(msg)


class _Parser:
    def __init__(self, text):
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def err(self, tok, message):
        if tok is None:
            return _perr(self.text, len(self.text), 1, message + " (at the end of the text)")
        return _perr(self.text, tok.col, len(tok.text), message)

    def expect_item_start(self, where):
        tok = self.peek()
        if tok is None:
            raise self.err(None, f"expected a layer or '[' {where}")
        if tok.kind not in ("word", "lbr"):
            raise self.err(tok, f"expected a layer or '[' {where}, found {tok.text!r}")
        return tok

    def seq(self, depth):
        """item ('->' item)* ; returns list of (layer factory items)."""
        items = [self.item(depth)]
        while True:
            tok = self.peek()
            if tok is None or tok.kind == "rbr":
                return items
            if tok.kind != "arrow":
                raise self.err(tok, f"expected '->' between items, found {tok.text!r}")
            self.i += 1
            self.expect_item_start("after '->'")
            items.append(self.item(depth))

    def item(self, depth):
        tok = self.expect_item_start("here")
        if tok.kind == "lbr":
            self.i += 1
            if self.peek() is not None and self.peek().kind == "rbr":
                raise self.err(self.peek(), "empty group '[]'")
            body = self.seq(depth + 1)
            close = self.peek()
            if close is None or close.kind != "rbr":
                raise self.err(tok, "this '[' is never closed with ']'")
            self.i += 1
            node = ("group", tok, body)
        else:
            self.i += 1
            word = tok.text.upper()
            if word in ("INPUT", "SOFTMAX", "SVM"):
                node = ("special", tok, word)
            else:
                node = ("layer", tok, None)
        star = self.peek()
        if star is not None and star.kind == "star":
            self.i += 1
            num = self.peek()
            if num is None or num.kind != "int":
                bad = num if num is not None else None
                raise self.err(bad if bad is not None else star,
                               "a repeat count must be a whole number, e.g. *2 (the lecture's N, M, "
                               "K stand for numbers you choose)")
            self.i += 1
            if node[0] == "special":
                raise self.err(star, f"{node[1].text} cannot be repeated")
            node = ("repeat", star, (node, int(num.text)))
        elif star is not None and star.kind == "int":
            raise self.err(star, f"unexpected number {star.text!r}; to repeat, write '*{star.text}' "
                                 f"after a ']'")
        return node


def _expand(node, text, out):
    kind, tok, payload = node
    if kind == "layer":
        layer = _make_layer(tok, text)
        layer.source = (text, tok.col, tok.text)
        out.append(layer)
    elif kind == "group":
        for child in payload:
            _expand(child, text, out)
    elif kind == "repeat":
        child, n = payload
        for _ in range(n):
            _expand(child, text, out)
    else:
        where = "at the start of the pattern" if payload == "INPUT" else "at the end of the pattern"
        raise _perr(text, tok.col, len(tok.text), f"{tok.text} may only appear {where}")


def parse_pattern(text: str) -> tuple:
    """Parse pattern text (see the module docstring) into (list of fresh Layer objects, loss name).

    Raises ValueError with the offending token, its column marked by ^, for malformed text.
    """
    if not isinstance(text, str):
        raise TypeError(f"pattern must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("the pattern is empty; write e.g. 'INPUT -> CONV3-8 -> RELU -> POOL2 -> FC-10'")
    p = _Parser(text)
    items = p.seq(0)
    tok = p.peek()
    if tok is not None:  # a stray ']'
        raise p.err(tok, "this ']' has no matching '['")
    loss = "softmax"
    if items and items[0][0] == "special" and items[0][2] == "INPUT":
        items = items[1:]
    if items and items[-1][0] == "special" and items[-1][2] in ("SOFTMAX", "SVM"):
        loss = items[-1][2].lower()
        items = items[:-1]
    layers: list = []
    for node in items:
        _expand(node, text, layers)
    if not layers:
        raise ValueError(f"the pattern has no layers after expanding repeats (every group is *0?):\n"
                         f"  {text}")
    return layers, loss


def build_from_pattern(text: str, input_shape: Sequence[int], *, seed: int | None = 0,
                       rng: np.random.Generator | None = None, dtype=np.float64, reg: float = 0.0,
                       loss: str | None = None, head_gain: float = 0.01) -> Sequential:
    """Build a `Sequential` model from pattern text, e.g.

        build_from_pattern("INPUT -> [[CONV3-16 -> RELU]*2 -> POOL2]*2 -> [FC-64 -> RELU]*1 -> FC-10",
                           input_shape=(1, 8, 8), seed=0)

    `input_shape`: one example, (C, H, W). The last layer must output class scores (a vector).
    `loss`: "softmax"/"svm"; by default taken from a trailing SOFTMAX/SVM token (softmax if none).
    `head_gain`: the last layer, when it is an FC (the classifier), starts with He's std times
    this factor, so that the initial scores are close to zero and the initial softmax loss is
    about log(classes), the sanity check the course teaches (1.0 = plain He).
    Errors for bad text or shapes that do not work out name the token and show a caret under it.
    """
    layers, parsed_loss = parse_pattern(text)
    if isinstance(layers[-1], Affine):
        layers[-1].gain = float(head_gain)
    model = Sequential(layers, input_shape, seed=seed, rng=rng, dtype=dtype, reg=reg,
                       loss=loss or parsed_loss, pattern=text)
    if len(model.output_shape) != 1:
        last = model.layers[-1]
        t, col, tok = last.source
        raise ValueError(f"the last layer {last.name} ({tok}) outputs shape {model.output_shape}, "
                         f"but a classifier must end with class scores; add '-> FC-<classes>'\n"
                         + _caret(t, col, len(tok)))
    return model
