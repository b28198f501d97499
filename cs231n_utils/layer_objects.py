"""Layer objects (层对象): Conv, ReLU, MaxPool, AvgPool, Affine (FC), BatchNorm, LRN, Flatten,
GlobalAvgPool, Dropout and the Residual block, the bricks a `models.Sequential` is built from.

Each object wraps the plain functions of `cs231n_utils.layers` (forward -> (out, cache),
backward(dout, cache) -> gradients) and keeps its own state: `params` and `grads` dicts (short
keys "W", "b", "gamma", "beta"), `forward(x, mode)`, `backward(dout)`,
`output_shape(input_shape)` (shapes without the batch axis: (C, H, W) for images, (D,) for
vectors), a `trainable` flag and `num_params()`:

    >>> conv = Conv(8, 3)                 # 8 filters of 3x3, stride 1, "same" padding
    >>> conv.output_shape((1, 8, 8))
    (8, 8, 8)

A setting that does not fit its input raises ValueError naming the axis and the output-size
formula with the numbers filled in (`shapes.conv_size_formula`).
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

import numpy as np

from . import layers as L
from . import shapes
from .checks import LimitError, check_int, check_window

__all__ = ["Layer", "Conv", "ReLU", "MaxPool", "AvgPool", "Affine", "FC", "BatchNorm", "LRN",
           "Flatten", "GlobalAvgPool", "Dropout", "Residual", "LAYER_TYPES", "name_layers",
           "layer_list"]


def _init_std(weight_scale, fan_in: int) -> float:
    if isinstance(weight_scale, str):
        if weight_scale.lower() != "he":
            raise ValueError(f"weight_scale must be 'he' or a positive number, got {weight_scale!r}")
        return float(np.sqrt(2.0 / fan_in))           # He et al. 2015, for ReLU nets
    weight_scale = float(weight_scale)
    if weight_scale <= 0:
        raise ValueError(f"weight_scale must be 'he' or a positive number, got {weight_scale}")
    return weight_scale


def _per_axis(H: int, W: int, size) -> tuple:
    """(size(H), size(W)); an error says which axis did not fit, e.g. "height 7: stride 2 ..."."""
    out = []
    for axis, n in (("height", H), ("width", W)):
        try:
            out.append(size(n))
        except LimitError as exc:
            raise LimitError(f"{axis} {n}: {exc}", exc.limit) from None
        except ValueError as exc:
            raise ValueError(f"{axis} {n}: {exc}") from None
    return tuple(out)


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
    `input_shape`/`out_shape` (set by `build`).

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

    def param_count(self, input_shape: Sequence[int]) -> int:
        """Numbers `build(input_shape)` would allocate for parameters and buffers (computed
        before allocating, so a model can refuse a layer over its memory limit)."""
        return 0

    def activation_count(self, input_shape: Sequence[int]) -> int:
        """Numbers this layer outputs (and keeps inside, for a block) per example."""
        return math.prod(self.output_shape(input_shape))

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


class _FunctionPair(Layer):
    """A layer whose passes are one forward/backward pair of functions from `layers`:
    forward(x, *params, *settings) -> (out, cache) with the params in `param_names` order, and
    backward(dout, cache) -> dx, or (dx, *one gradient per param) for a layer with params."""

    _functions: tuple = ()   # (forward, backward), set by each subclass

    def _settings(self) -> tuple:
        return ()

    def forward(self, x, mode="train"):
        params = [self.params[k] for k in self.param_names]
        out, self._cache = self._functions[0](x, *params, *self._settings())
        return out

    def backward(self, dout):
        result = self._functions[1](dout, self._cache)
        if not self.param_names:
            return result
        dx, *grads = result
        self.grads = dict(zip(self.param_names, grads))
        return dx


class Conv(_FunctionPair):
    """Convolution layer (卷积层): `num_filters` filters of size `filter_size` x `filter_size`.

    Input (N, C, H, W) -> output (N, F, H', W') with F = num_filters and
    H' = (H + 2*pad - dilation*(k-1) - 1) / stride + 1 (must be an integer).
    pad="same" means pad = dilation*(k-1)//2, which keeps H' = H for stride 1 and odd k.
    rounding="floor" drops rows/columns that do not fit instead of raising (PyTorch's rule,
    e.g. a 3x3 stride-2 pad-1 conv on 8x8 gives 4x4).
    Parameters: W (F, C/groups, k, k), b (F,). He initialisation by default
    (std = sqrt(2 / (C/groups * k * k))), or a fixed std via `weight_scale`.

    Shown in 05, sections 4, 10.
    """

    kind = "CONV"
    prefix = "conv"
    param_names = ("W", "b")
    description = "slides filters over the input volume; each filter gives one activation map"
    _functions = (L.conv_forward_fast, L.conv_backward_fast)

    def __init__(self, num_filters: int, filter_size: int = 3, stride: int = 1, pad="same",
                 dilation: int = 1, groups: int = 1, weight_scale="he", rounding: str = "exact",
                 name: str | None = None):
        super().__init__(name)
        if rounding not in ("exact", "floor"):
            raise ValueError(f"Conv: rounding must be 'exact' or 'floor', got {rounding!r}")
        self.rounding = rounding
        self.num_filters = check_int(num_filters, "Conv: num_filters", 1)
        self.filter_size = check_int(filter_size, "Conv: filter_size", 1)
        self.stride = check_int(stride, "Conv: stride", 1)
        self.dilation = check_int(dilation, "Conv: dilation", 1)
        self.groups = check_int(groups, "Conv: groups", 1)
        if pad != "same":
            pad = check_int(pad, "Conv: pad (an integer or 'same')", 0)
        if self.num_filters % self.groups:
            raise ValueError(f"Conv: num_filters={num_filters} must be divisible by groups={groups}")
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

        def size(n):
            check_window(n, d * (k - 1) + 1, s, p, self.rounding)
            return shapes.conv_output_size(n, k, s, p, d, self.rounding)

        Ho, Wo = _per_axis(H, W, size)
        return (self.num_filters, Ho, Wo)

    def param_count(self, input_shape):
        C = int(input_shape[0])
        return self.num_filters * (C // self.groups) * self.filter_size ** 2 + self.num_filters

    def activation_count(self, input_shape):
        C, H, W = (int(s) for s in input_shape)          # the forward pass pads its input
        padded = C * (H + 2 * self.pad) * (W + 2 * self.pad) if self.pad else 0
        return math.prod(self.output_shape(input_shape)) + padded

    def _init_params(self, input_shape, rng, dtype):
        C = input_shape[0]
        fan_in = C // self.groups * self.filter_size ** 2
        std = _init_std(self.weight_scale, fan_in)
        w = rng.standard_normal((self.num_filters, C // self.groups, self.filter_size,
                                 self.filter_size)) * std
        self.params = {"W": w.astype(dtype), "b": np.zeros(self.num_filters, dtype=dtype)}

    def _settings(self) -> tuple:
        return (self.conv_param(),)

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


class ReLU(_FunctionPair):
    """Rectified linear unit (修正线性单元), elementwise max(0, x). Any shape, no parameters.

    Shown in 05, sections 4, 10.
    """

    kind = "RELU"
    prefix = "relu"
    description = "elementwise max(0, x); keeps the shape"
    _functions = (L.relu_forward, L.relu_backward)


class _Pool(_FunctionPair):
    def __init__(self, pool_size: int = 2, stride: int | None = None, rounding: str = "exact",
                 name: str | None = None):
        super().__init__(name)
        if rounding not in ("exact", "floor"):
            raise ValueError(f"{type(self).__name__}: rounding must be 'exact' or 'floor', got {rounding!r}")
        self.rounding = rounding
        self.pool_size = check_int(pool_size, f"{type(self).__name__}: pool_size", 1)
        self.stride = self.pool_size if stride is None else \
            check_int(stride, f"{type(self).__name__}: stride", 1)

    def pool_param(self) -> dict:
        p = {"pool_height": self.pool_size, "pool_width": self.pool_size, "stride": self.stride}
        if self.rounding != "exact":
            p["rounding"] = self.rounding
        return p

    def hyperparameters(self):
        return {"pool_size": self.pool_size, "stride": self.stride}

    def output_shape(self, input_shape):
        C, H, W = _need_image(self, input_shape)

        Ho, Wo = _per_axis(H, W, lambda n: shapes.pool_output_size(n, self.pool_size, self.stride,
                                                                   rounding=self.rounding))
        return (C, Ho, Wo)

    def _settings(self) -> tuple:
        return (self.pool_param(),)

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

    Shown in 05, section 4.
    """

    kind = "POOL"
    prefix = "pool"
    description = "max over each window, channel by channel; shrinks H and W"
    _functions = (L.max_pool_forward_fast, L.max_pool_backward_fast)


class AvgPool(_Pool):
    """Average pooling (平均池化) over k x k windows; same shapes as MaxPool. No parameters."""

    kind = "AVGPOOL"
    prefix = "avgpool"
    description = "mean over each window, channel by channel; shrinks H and W"
    _functions = (L.avg_pool_forward, L.avg_pool_backward)


class Affine(_FunctionPair):
    """Fully connected layer (全连接层): out = x.reshape(N, D) @ W + b.

    Input (N, d1, ..., dk) with D = d1*...*dk (flattened first) -> output (N, M).
    Parameters: W (D, M), b (M,). He initialisation (std = sqrt(2/D)) by default, times
    `gain` (e.g. gain=0.01 for a classifier whose initial scores should be close to 0).

    Shown in 05, section 4.
    """

    kind = "FC"
    prefix = "fc"
    param_names = ("W", "b")
    description = "every output is connected to every input: flatten, then x @ W + b"
    _functions = (L.affine_forward, L.affine_backward)

    def __init__(self, num_outputs: int, weight_scale="he", gain: float = 1.0, name: str | None = None):
        super().__init__(name)
        if not gain > 0:
            raise ValueError(f"Affine: gain must be > 0, got {gain}")
        self.gain = float(gain)
        self.num_outputs = check_int(num_outputs, "Affine: num_outputs", 1)
        self.weight_scale = weight_scale

    def hyperparameters(self):
        return {"num_outputs": self.num_outputs}

    def output_shape(self, input_shape):
        return (self.num_outputs,)

    def param_count(self, input_shape):
        return (math.prod(int(s) for s in input_shape) + 1) * self.num_outputs

    def _init_params(self, input_shape, rng, dtype):
        D = math.prod(int(s) for s in input_shape)
        std = _init_std(self.weight_scale, D) * self.gain
        self.params = {"W": (rng.standard_normal((D, self.num_outputs)) * std).astype(dtype),
                       "b": np.zeros(self.num_outputs, dtype=dtype)}


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


class GlobalAvgPool(_FunctionPair):
    """Global average pooling: mean over all H x W positions, (N, C, H, W) -> (N, C)."""

    kind = "GAP"
    prefix = "gap"
    description = "mean of each whole activation map: one number per channel"
    _functions = (L.global_avg_pool_forward, L.global_avg_pool_backward)

    def output_shape(self, input_shape):
        C, _, _ = _need_image(self, input_shape)
        return (C,)



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

    def param_count(self, input_shape):
        return 4 * int(input_shape[0])       # gamma, beta, running mean and variance

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
        fn = L.spatial_batchnorm_forward if x.ndim == 4 else L.batchnorm_forward
        out, cache = fn(x, self.params["gamma"], self.params["beta"], bn_param)
        if use_batch:
            self.buffers["running_mean"][...] = bn_param["running_mean"]
            self.buffers["running_var"][...] = bn_param["running_var"]
        self._cache = (x.ndim == 4, cache)
        return out

    def backward(self, dout):
        spatial, cache = self._cache
        fn = L.spatial_batchnorm_backward if spatial else L.batchnorm_backward
        dx, dgamma, dbeta = fn(dout, cache)
        self.grads = {"gamma": dgamma, "beta": dbeta}
        return dx


class LRN(_FunctionPair):
    """Local response normalisation (局部响应归一化) across channels, as in AlexNet.

    b_c = a_c / (k + alpha/size * sum_{c' near c} a_c'^2) ** beta. Same shape in and out.
    """

    kind = "LRN"
    prefix = "lrn"
    description = "divides each activation by the energy of its neighbouring channels"
    _functions = (L.lrn_forward, L.lrn_backward)

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0,
                 name: str | None = None):
        super().__init__(name)
        self.size = check_int(size, "LRN: size", 1)
        self.alpha, self.beta, self.k = float(alpha), float(beta), float(k)

    def lrn_param(self) -> dict:
        return {"size": self.size, "alpha": self.alpha, "beta": self.beta, "k": self.k}

    def hyperparameters(self):
        return self.lrn_param()

    def output_shape(self, input_shape):
        return _need_image(self, input_shape)

    def _settings(self) -> tuple:
        return (self.lrn_param(),)

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


def name_layers(layers: Sequence[Layer], prefix: str = "") -> None:
    """Give every unnamed layer its default name, e.g. "conv1", "relu1", "conv2" (with `prefix`
    in front); raise ValueError for a name used twice or containing '.'."""
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
    dup = sorted(n for n, count in Counter(names).items() if count > 1)
    if dup:
        raise ValueError(f"layer names must be unique, {dup[0]!r} is used twice")
    bad = [n for n in names if "." in n]
    if bad:
        raise ValueError(f"layer name {bad[0]!r} must not contain '.' (used in parameter keys)")


def layer_list(layers, what: str) -> list:
    """`layers` (one Layer or an iterable of them) as a list; TypeError naming `what`[i] otherwise."""
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

    Shown in 06, section 6.
    """

    kind = "RES"
    prefix = "res"
    description = "adds the block's input to its output, so gradients have a short path"

    def __init__(self, layers, projection=None, final_relu: bool = True, name: str | None = None):
        super().__init__(name)
        self.layers = layer_list(layers, "Residual layers")
        if not self.layers:
            raise ValueError("Residual needs at least one layer in its branch")
        self._auto_projection = isinstance(projection, str)
        if self._auto_projection and projection != "auto":
            raise ValueError(f"projection must be None, 'auto' or layer(s), got {projection!r}")
        self.projection = [] if projection is None or self._auto_projection else \
            layer_list(projection, "Residual projection")
        self.final_relu = bool(final_relu)
        name_layers(self.layers)
        name_layers(self.projection, prefix="proj_")

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

    def _chain_counts(self, layers, shape) -> tuple:
        params = acts = 0
        for l in layers:
            params += l.param_count(shape)
            acts += l.activation_count(shape)
            shape = l.output_shape(shape)
        return params, acts, shape

    def param_count(self, input_shape):
        input_shape = tuple(int(s) for s in input_shape)
        params, _, f_shape = self._chain_counts(self.layers, input_shape)
        if self._auto_projection:      # a 1x1 conv when the shapes differ
            extra = (input_shape[0] + 1) * f_shape[0] if f_shape != input_shape else 0
        else:
            extra = self._chain_counts(self.projection, input_shape)[0]
        return params + extra

    def activation_count(self, input_shape):
        input_shape = tuple(int(s) for s in input_shape)
        _, acts, f_shape = self._chain_counts(self.layers, input_shape)
        if not self._auto_projection:
            acts += self._chain_counts(self.projection, input_shape)[1]
        return acts + 2 * math.prod(f_shape)        # the sum and its ReLU

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
