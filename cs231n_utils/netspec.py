"""The spec language of `architectures` (网络结构描述) and the walker that costs it, layer by layer.

A network is a short declarative list of layer specs (`ConvSpec`, `Pool`, `AdaptiveAvgPool`,
`Linear`, `Concat`, `ResidualSpec`) grouped in a `NetSpec`. `walk(net, input_shape)` applies the
shape arithmetic of `cs231n_utils.shapes` to every layer and returns a `NetSummary`: one `Row`
per layer with its output shape (C, H, W), parameters, multiply-adds (MACs) and activation
bytes. The conventions (what counts as a parameter, which layers have MACs, in-place ReLU and
batch norm) are described in `architectures`, which holds the networks themselves.

Rounding: a spec states how a layer treats an output size that is not an integer, "exact"
(refuse, as notebooks 02 and 03 do), "floor" (PyTorch's default: drop the rows and columns
that do not fit) or "ceil" (Caffe and `ceil_mode=True` pooling). Every row where floor or ceil
actually changed the result carries a `rounding_note` with the formula and its numbers, e.g.
"(224 + 2*2 - 11)/4 + 1 = 55.25, floor -> 55", and is marked with `*` in the tables.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from fractions import Fraction

from .checks import check_int
from .shapes import conv_output_size, conv_size_formula, pool_output_size
from .tables import Table, shape_text

__all__ = ["ConvSpec", "Pool", "AdaptiveAvgPool", "Linear", "Concat", "ResidualSpec", "NetSpec",
           "Row", "NetSummary", "conv_layer_cost", "rounding_note", "walk", "iter_layers"]

_BYTES_PER_VALUE = 4  # float32

# ----------------------------------------------------------------------------- layer specs
@dataclass(frozen=True)
class ConvSpec:
    """A convolution (卷积层), optionally followed by batch norm (and a ReLU, which is free).

    out_channels: number of filters; kernel: filter size K (square); stride, pad, dilation as
    in `shapes.conv_output_size`; groups G (G = in_channels is a depthwise conv, 逐通道卷积);
    bias: whether the conv has its own bias; bn: a batch-norm layer follows (2 * out_channels
    parameters); rounding: "exact" / "floor" / "ceil" (None = the network's default).
    """
    name: str
    out_channels: int
    kernel: int
    stride: int = 1
    pad: int = 0
    bias: bool = True
    bn: bool = False
    groups: int = 1
    dilation: int = 1
    rounding: str | None = None


@dataclass(frozen=True)
class Pool:
    """Max or average pooling (池化层) with window `kernel`, `stride` (default = kernel), `pad`."""
    name: str
    kernel: int
    stride: int | None = None
    pad: int = 0
    mode: str = "max"
    rounding: str | None = None


@dataclass(frozen=True)
class AdaptiveAvgPool:
    """Average pooling to a fixed `output_size` x `output_size` grid (1 = global average pooling,
    全局平均池化). When the input already has that size it is the identity and adds no row."""
    name: str
    output_size: int = 1


@dataclass(frozen=True)
class Linear:
    """Fully connected layer (全连接层): flattens its input, then n_in -> out_features.

    `in_features`, when given, is checked against the flattened input so that a spec built for
    another input size fails with a message naming this layer instead of silently growing.
    """
    name: str
    out_features: int
    bias: bool = True
    in_features: int | None = None


@dataclass(frozen=True)
class Concat:
    """Parallel branches whose outputs are stacked along the channel axis (Inception, ShuffleNet).

    branches: one tuple of layers per branch (an empty tuple is the identity).
    split:    the input's channels are split evenly between the branches instead of each branch
              seeing all of them (ShuffleNet v2's channel split).
    shuffle:  groups for a channel shuffle (通道混洗) after the concatenation (0 = none).
    """
    name: str
    branches: tuple
    split: bool = False
    shuffle: int = 0


@dataclass(frozen=True)
class ResidualSpec:
    """y = body(x) + shortcut(x) (残差连接). An empty `shortcut` is the identity."""
    name: str
    body: tuple
    shortcut: tuple = ()


@dataclass(frozen=True)
class NetSpec:
    """A whole network: a name, its stages (group name, layers), the default rounding, where the
    spec comes from, the input it was designed for and the data set it was trained on."""
    name: str
    stages: tuple  # ((group name, (layer, ...)), ...)
    rounding: str = "floor"
    source: str = ""
    input_shape: tuple = (3, 224, 224)
    dataset: str = "ImageNet"


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Row:
    """One layer of a summary. `output_shape` is (C, H, W) or (F,). `rounding_note` is "" when the
    output size came out exact, else the formula and the rounding applied ("... = 55.25, floor -> 55")."""
    name: str
    kind: str
    output_shape: tuple
    params: int
    macs: int
    activation_bytes: int
    group: str = ""
    rounding_note: str = ""

    @property
    def activations(self) -> int:
        """Number of output values."""
        return math.prod(self.output_shape)


def _mb(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB"  # decimal megabytes, 1 MB = 10^6 bytes


@dataclass
class NetSummary:
    """Per-layer rows and totals of one network.

    rows: list of `Row`; total_params, total_macs, total_activation_bytes: ints (the input
    image's bytes are included in the activations, as in CS231n's VGG table).
    """
    name: str
    input_shape: tuple
    rows: list = field(default_factory=list)
    note: str = ""

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    @property
    def total_activation_bytes(self) -> int:
        return sum(r.activation_bytes for r in self.rows)

    @property
    def total_activations(self) -> int:
        return sum(r.activations for r in self.rows)

    @property
    def output_shape(self) -> tuple:
        return self.rows[-1].output_shape

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return (f"NetSummary({self.name!r}: {len(self.rows)} rows, {self.total_params:,} params, "
                f"{self.total_macs / 1e9:.3f} GMACs, {_mb(self.total_activation_bytes)} activations)")

    def row(self, name: str) -> Row:
        """The row called `name` (KeyError listing similar names if absent)."""
        for r in self.rows:
            if r.name == name:
                return r
        close = [r.name for r in self.rows if name.split(".")[0] in r.name][:5]
        raise KeyError(f"{self.name} has no layer {name!r}" + (f"; similar: {close}" if close else ""))

    def groups(self) -> list[dict]:
        """Stage-level totals: one dict per group (name, rows, output shape, params, macs, bytes)."""
        out: list[dict] = []
        for r in self.rows:
            if not out or out[-1]["group"] != r.group:
                out.append({"group": r.group, "rows": 0, "params": 0, "macs": 0,
                            "activation_bytes": 0, "output_shape": r.output_shape})
            g = out[-1]
            g["rows"] += 1
            for key in ("params", "macs", "activation_bytes"):
                g[key] += getattr(r, key)
            g["output_shape"] = r.output_shape
        return out

    def rounded_rows(self) -> list:
        """The rows whose output size was rounded (floor or ceil), each with its `rounding_note`."""
        return [r for r in self.rows if r.rounding_note]

    def rounding_notes(self) -> tuple:
        """One line per rounded row: "* conv1: (224 + 2*2 - 11)/4 + 1 = 55.25, floor -> 55"."""
        return tuple(f"* {r.name}: {r.rounding_note}" for r in self.rounded_rows())

    def totals_line(self) -> str:
        return (f"total: {self.total_params:,} params, {self.total_macs:,} MACs "
                f"({self.total_macs / 1e9:.3f} G), activations {self.total_activations:,} values "
                f"= {_mb(self.total_activation_bytes)} per image (float32)")

    # -- tables -----------------------------------------------------------------
    _HEADER = ("layer", "kind", "output", "params", "MACs", "memory")

    def _total(self) -> tuple:
        return ("total", "", shape_text(self.output_shape), f"{self.total_params:,}",
                f"{self.total_macs:,}", _mb(self.total_activation_bytes))

    def table(self) -> Table:
        """One row per layer and a total row, as a `tables.Table`."""
        rows = [(r.name, r.kind, shape_text(r.output_shape) + ("*" if r.rounding_note else ""),
                 f"{r.params:,}", f"{r.macs:,}", _mb(r.activation_bytes)) for r in self.rows]
        return Table(self._HEADER, rows, align="llrrrr", total=self._total(),
                     notes=(self.totals_line(),) + self.rounding_notes())

    def stage_table(self) -> Table:
        """One row per group of layers (stage) and a total row, as a `tables.Table`."""
        rows = [(g["group"], str(g["rows"]), shape_text(g["output_shape"]), f"{g['params']:,}",
                 f"{g['macs']:,}", _mb(g["activation_bytes"])) for g in self.groups()]
        return Table(("stage", "layers") + self._HEADER[2:], rows, align="lrrrrr", total=self._total())

    def to_text(self, max_rows: int | None = 40) -> str:
        """A fixed-width table. With more than `max_rows` rows, show the first and last
        max_rows // 2 rows and a "... k rows ..." line in between (None = all rows)."""
        return f"{self.name} on input {shape_text(self.input_shape)}\n" + self.table().to_text(max_rows)

    def __str__(self) -> str:
        return self.to_text()

    def to_html(self, max_rows: int = 40) -> str:
        """HTML for the notebook: the full table for short nets; for deep nets a stage-level
        table plus the full per-layer table inside a collapsible <details> element."""
        title = (f"<p><b>{html.escape(self.name)}</b> on input {shape_text(self.input_shape)}: "
                 f"{self.total_params:,} parameters, {self.total_macs / 1e9:.3f} GMACs, "
                 f"{_mb(self.total_activation_bytes)} of activations per image</p>")
        notes = self.rounding_notes()
        if notes:
            notes = ("<p style='font-size:90%'>* output size not an integer, rounded as the framework "
                     "does:<br>" + "<br>".join(html.escape(n[2:]) for n in notes) + "</p>")
        else:
            notes = ""
        if len(self.rows) <= max_rows:
            return title + self.table().to_html() + notes
        full = (f"<details><summary>all {len(self.rows)} layers of {html.escape(self.name)}</summary>"
                f"{self.table().to_html()}</details>")
        return title + self.stage_table().to_html() + notes + full

    def _repr_html_(self) -> str:
        return self.to_html()


# ----------------------------------------------------------------------------- cost of one conv
def _check_shape(input_shape) -> tuple:
    try:
        shape = tuple(int(v) for v in input_shape)
    except TypeError:
        raise TypeError(f"input_shape must be a tuple (C, H, W), got {input_shape!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (C, H, W) with positive sizes, got {input_shape!r}")
    return shape


def rounding_note(size: int, kernel: int, stride: int, pad: int = 0, dilation: int = 1,
                  rounding: str = "exact", *, pool: bool = False) -> str:
    """"" when the output size is an integer (or rounding is "exact", which refuses otherwise);
    else `shapes.conv_size_formula` with the rounding applied: "(112 + 2*1 - 3)/2 + 1 = 56.5, floor -> 56"."""
    if rounding == "exact":
        return ""
    exact = Fraction(size + 2 * pad - dilation * (kernel - 1) - 1, stride) + 1
    if exact.denominator == 1:
        return ""
    out = conv_output_size(size, kernel, stride, pad, dilation, rounding)
    return f"{conv_size_formula(size, kernel, stride, pad, dilation, pool=pool)}, {rounding} -> {out}"


def _conv_cost(shape, out_channels, kernel, stride, pad, bias, groups, dilation, rounding, bn=False):
    c, h, w = shape
    if out_channels < 1:
        raise ValueError(f"num_filters must be >= 1, got {out_channels}")
    if groups < 1 or c % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must divide both the input channels ({c}) and the "
                         f"number of filters ({out_channels}); e.g. groups=1 or groups={math.gcd(c, out_channels)}")
    ho = conv_output_size(h, kernel, stride, pad, dilation, rounding)
    wo = conv_output_size(w, kernel, stride, pad, dilation, rounding) if w != h else ho
    per_filter = (c // groups) * kernel * kernel
    params = out_channels * per_filter + (out_channels if bias else 0) + (2 * out_channels if bn else 0)
    macs = out_channels * ho * wo * per_filter
    return (out_channels, ho, wo), params, macs


def conv_layer_cost(input_shape, num_filters, filter_size, stride=1, pad=0, bias=True, groups=1,
                    dilation=1):
    """Output shape, parameter count and multiply-adds of one convolution layer.

    input_shape: (C, H, W); num_filters: F; filter_size: K (square K x K filters);
    stride S, zero padding P on each side, dilation D; groups G splits the C input channels and
    the F filters into G groups (G = C = F is a depthwise convolution).

    Returns (out_shape, params, macs) with
        out_shape = (F, H', W'),  H' = (H + 2P - D*(K-1) - 1)/S + 1  (must be an integer)
        params    = F * (C/G) * K * K  + F (if bias)
        macs      = F * H' * W' * (C/G) * K * K
    Raises ValueError (from `shapes.conv_output_size`) when the setting does not fit, or when G
    does not divide C and F.

    >>> conv_layer_cost((3, 32, 32), 10, 5, stride=1, pad=2)
    ((10, 32, 32), 760, 768000)

    Shown in 06, section 1.
    """
    shape = _check_shape(input_shape)
    for name, value in (("num_filters", num_filters), ("filter_size", filter_size), ("stride", stride),
                        ("pad", pad), ("groups", groups), ("dilation", dilation)):
        check_int(value, name)       # the bounds are checked with the formula by _conv_cost
    return _conv_cost(shape, num_filters, filter_size, stride, pad, bool(bias), groups, dilation, "exact")


# ----------------------------------------------------------------------------- the walker
def _kind_of_conv(layer: ConvSpec, c_in: int) -> str:
    if layer.groups == 1:
        base = "conv"
    elif layer.groups == c_in == layer.out_channels:
        base = "dwconv"
    else:
        base = "gconv"
    return base + ("+bn" if layer.bn else "")


def _shape_note(shape, kernel, stride, pad, dilation, rounding, pool=False) -> str:
    """Rounding notes for the height and (when it differs) the width of a (C, H, W) input."""
    _, h, w = shape
    notes = [rounding_note(h, kernel, stride, pad, dilation, rounding, pool=pool)]
    if w != h:
        notes.append(rounding_note(w, kernel, stride, pad, dilation, rounding, pool=pool))
    return "; ".join(n for n in notes if n)


class _Walker:
    def __init__(self, rounding: str, biases: bool):
        self.rounding = rounding
        self.biases = biases
        self.rows: list[Row] = []

    def add(self, name, kind, shape, params, macs, group, note=""):
        self.rows.append(Row(name, kind, tuple(shape), int(params), int(macs),
                             int(math.prod(shape)) * _BYTES_PER_VALUE, group, note))

    def walk(self, layers, shape, prefix, group):
        for layer in layers:
            shape = self.layer(layer, shape, prefix, group)
        return shape

    def layer(self, layer, shape, prefix, group):
        name = prefix + layer.name
        try:
            return self._layer(layer, shape, name, group)
        except (ValueError, TypeError) as exc:
            msg = str(exc)
            if msg.startswith("layer "):
                raise type(exc)(msg) from None
            where = shape_text(shape)
            raise type(exc)(f"layer {name!r} ({type(layer).__name__}) on input {where}: {msg}") from None

    def _layer(self, layer, shape, name, group):
        if isinstance(layer, (ConvSpec, Pool, AdaptiveAvgPool, Concat)) and len(shape) != 3:
            raise ValueError(f"a {type(layer).__name__} layer needs a (C, H, W) input, got {shape}")
        if isinstance(layer, ConvSpec):
            rounding = layer.rounding or self.rounding
            out, params, macs = _conv_cost(shape, layer.out_channels, layer.kernel, layer.stride,
                                           layer.pad, layer.bias and self.biases, layer.groups,
                                           layer.dilation, rounding, layer.bn)
            note = _shape_note(shape, layer.kernel, layer.stride, layer.pad, layer.dilation, rounding)
            self.add(name, _kind_of_conv(layer, shape[0]), out, params, macs, group, note)
            return out
        if isinstance(layer, Pool):
            rounding = layer.rounding or self.rounding
            c, h, w = shape
            ho = pool_output_size(h, layer.kernel, layer.stride, layer.pad, rounding)
            wo = pool_output_size(w, layer.kernel, layer.stride, layer.pad, rounding)
            out = (c, ho, wo)
            stride = layer.kernel if layer.stride is None else layer.stride
            note = _shape_note(shape, layer.kernel, stride, layer.pad, 1, rounding, pool=True)
            self.add(name, f"{layer.mode}pool", out, 0, 0, group, note)
            return out
        if isinstance(layer, AdaptiveAvgPool):
            out = (shape[0], layer.output_size, layer.output_size)
            if out != tuple(shape):
                self.add(name, "gap" if layer.output_size == 1 else "avgpool", out, 0, 0, group)
            return out
        if isinstance(layer, Linear):
            n_in = math.prod(shape)
            if layer.in_features is not None and n_in != layer.in_features:
                raise ValueError(f"expects {layer.in_features:,} inputs but the flattened input "
                                 f"{shape_text(shape)} has {n_in:,}; the spec assumes another input "
                                 f"size (try input_shape=(3, 224, 224))")
            n_out = layer.out_features
            params = n_in * n_out + (n_out if layer.bias and self.biases else 0)
            self.add(name, "fc", (n_out,), params, n_in * n_out, group)
            return (n_out,)
        if isinstance(layer, Concat):
            return self._concat(layer, shape, name, group)
        if isinstance(layer, ResidualSpec):
            body = self.walk(layer.body, shape, name + ".", group)
            short = self.walk(layer.shortcut, shape, name + ".", group)
            if tuple(body) != tuple(short):
                raise ValueError(f"residual branch gives {shape_text(body)} but the shortcut gives "
                                 f"{shape_text(short)}; they must match to be added (use a 1x1 conv "
                                 f"with the same stride as a projection shortcut)")
            self.add(name + ".add", "add", body, 0, 0, group)
            return body
        raise TypeError(f"unknown layer type {type(layer).__name__}")

    def _concat(self, layer, shape, name, group):
        n = len(layer.branches)
        c, h, w = shape
        if layer.split:
            if c % n:
                raise ValueError(f"cannot split {c} channels evenly into {n} branches")
            branch_in = (c // n, h, w)
        else:
            branch_in = tuple(shape)
        outs = [self.walk(b, branch_in, f"{name}.b{i + 1}.", group)
                for i, b in enumerate(layer.branches)]
        spatial = {tuple(o[1:]) for o in outs}
        if any(len(o) != 3 for o in outs) or len(spatial) != 1:
            shapes = ", ".join(shape_text(o) for o in outs)
            raise ValueError(f"branch outputs {shapes} differ in height/width and cannot be "
                             f"concatenated along channels")
        out = (sum(o[0] for o in outs),) + outs[0][1:]
        if layer.shuffle and out[0] % layer.shuffle:
            raise ValueError(f"channel shuffle with {layer.shuffle} groups needs channels divisible "
                             f"by {layer.shuffle}, got {out[0]}")
        self.add(name + ".concat", "concat" + ("+shuffle" if layer.shuffle else ""), out, 0, 0, group)
        return out




def walk(net: NetSpec, input_shape, *, biases: bool = True, note: str = "") -> NetSummary:
    """Cost every layer of `net` on an input of shape (C, H, W): a `NetSummary` whose first row
    is the input image. biases=False leaves out every conv/FC bias. Raises ValueError naming the
    layer when the spec does not fit the input."""
    shape = _check_shape(input_shape)
    walker = _Walker(net.rounding, biases)
    walker.add("input", "input", shape, 0, 0, "input")
    for group, layers in net.stages:
        shape = walker.walk(layers, shape, "", group)
    return NetSummary(net.name, tuple(input_shape), walker.rows, note)


def iter_layers(net: NetSpec):
    """Every leaf layer of `net` in order, as (row name, stage, layer), named as in `walk`'s rows
    (a residual block's layers as "block.conv1", an Inception branch's as "module.b2.3x3")."""
    def leaves(layers, prefix, stage):
        for layer in layers:
            name = prefix + layer.name
            if isinstance(layer, ResidualSpec):
                yield from leaves(layer.body, name + ".", stage)
                yield from leaves(layer.shortcut, name + ".", stage)
            elif isinstance(layer, Concat):
                for i, branch in enumerate(layer.branches):
                    yield from leaves(branch, f"{name}.b{i + 1}.", stage)
            else:
                yield name, stage, layer
    for stage, layers in net.stages:
        yield from leaves(layers, "", stage)
