"""The arithmetic behind the interactive explorers (pure functions, no widgets, no plotting).

Every picture the convolution and pooling explorers draw is computed here first, so it can
be tested without a browser. Messages come in English or Chinese (`i18n.set_language`).

Convolution (卷积层), one spatial axis of size W, filter F, stride S (步长), zero padding P
(零填充), dilation D (扩张卷积):

- `conv_geometry(W, F, S, P, D)`  -> `ConvGeometry`: output size, formula with the numbers,
  whether the setting fits exactly, what frameworks do when it does not (round down,
  `floor_size`), and a message whose advice only names settings that fit and that the
  explorer's sliders can reach (`CONV_RANGES`, `fitting_settings`).
- `padded_grid(W, P)`             -> (W+2P, W+2P) int array, 1 = real input pixel, 0 = padding.
- `window_taps(i, j, F, S, D)`     -> (F*F, 2) int array of the (row, col) positions in the
  padded input that output (i, j) reads (its receptive field (感受野) in this layer).
- `conv_frame(W, F, S, P, D, position)` -> `ConvFrame`: everything one explorer picture shows.
- `conv_numbers_frame(x, w, b, stride, pad, step)` -> `ConvNumbersFrame`: CS231n's numeric
  demo of a conv layer on a multi-channel input (every number, one window at a time).

Pooling (池化层) on a small 2-D array x (H, W) with a square window `size` and `stride`:

- `pool_geometry(H, size, stride)` -> `PoolGeometry` (formula, output size, floor and ceil
  mode sizes, message).
- `pool_forward_2d(x, size, stride, kind)` -> (out, switches) where kind is "max", "avg" or
  "l2" and `switches` (道岔) holds, for max pooling, the (row, col) of each window's maximum.
- `pool_backward_2d(x, dout, size, stride, kind, accumulate=True)` -> dx. With
  `accumulate=False` it reproduces the classic bug of writing `dx[...] = ...` instead of
  `dx[...] += ...`, which loses gradient where windows overlap.
- `pool_frame(x, size, stride, kind, position, dout=None)` -> `PoolFrame`.

Exact or rounded. The workbook's layers refuse a setting whose output size
(W + 2P - F)/S + 1 is not a whole number. Frameworks instead round down,
W' = floor((W - F + 2P + S)/S), and never read the last rows; pooling layers can also round
up (`ceil_mode=True`, Caffe). For such settings the explorers show both: the message says
the setting does not fit exactly, and the picture steps through the windows a framework
would compute, with the rows it never reads in blue.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .checks import check_int
from .i18n import say
from .shapes import conv_output_size, conv_size_formula, effective_filter_size, pool_output_size

__all__ = ["CONV_RANGES", "POOL_RANGES", "ConvGeometry", "ConvFrame", "conv_geometry",
           "fitting_settings", "padded_grid", "window_taps", "window_mask", "index_to_position",
           "conv_frame", "ConvNumbersFrame", "conv_numbers_demo_data", "conv_numbers_frame",
           "PoolGeometry", "PoolFrame", "POOL_KINDS", "pool_geometry", "pool_windows",
           "pool_forward_2d", "pool_backward_2d", "pool_frame", "demo_pool_input",
           "filter_activation"]

#: The conv explorer's slider ranges (inclusive): advice never leaves them.
CONV_RANGES = {"size": (1, 12), "filter_size": (1, 7), "stride": (1, 4), "pad": (0, 3), "dilation": (1, 3)}
#: The pooling explorer's slider ranges (inclusive).
POOL_RANGES = {"size": (1, 4), "stride": (1, 4), "input": (2, 8)}

_SYMBOL = {"size": "W", "filter_size": "F", "stride": "S", "pad": "P", "dilation": "D"}
_ADVICE_ORDER = ("pad", "stride", "size", "filter_size", "dilation")


# --------------------------------------------------------------------------- convolution

def _exact_and_floor(size: int, eff: int, stride: int, pad: int) -> tuple[int | None, int | None]:
    """(exact output size or None, floor output size or None when no window fits at all)."""
    room = size + 2 * pad - eff
    if room < 0:
        return None, None
    return (room // stride + 1 if room % stride == 0 else None), room // stride + 1


def fitting_settings(size: int, filter_size: int, stride: int = 1, pad: int = 0, dilation: int = 1,
                     ranges: Mapping[str, tuple[int, int]] | None = None,
                     limit: int = 3) -> list[tuple[tuple[tuple[str, int], ...], int]]:
    """Nearby conv settings that fit exactly, within `ranges` (the explorer's sliders).

    Returns up to `limit` pairs (changes, output size), where changes is a tuple of
    (setting name, new value). First ONE setting is changed: at most one suggestion per
    setting, in the order pad, stride, size, filter_size, dilation, each the value nearest to
    the current one (the smaller on a tie). Only when no single change fits are TWO settings
    changed, the nearest pairs first. `ranges` maps setting names to inclusive (low, high)
    bounds (default `CONV_RANGES`); a setting missing from `ranges` is never changed.
    """
    ranges = CONV_RANGES if ranges is None else ranges
    current = {"size": size, "filter_size": filter_size, "stride": stride, "pad": pad,
               "dilation": dilation}
    names = [n for n in _ADVICE_ORDER if n in ranges]

    def output(changes) -> int | None:
        s = dict(current, **dict(changes))
        return _exact_and_floor(s["size"], effective_filter_size(s["filter_size"], s["dilation"]),
                                s["stride"], s["pad"])[0]

    def nearest(name):
        lo, hi = ranges[name]
        return sorted((v for v in range(lo, hi + 1) if v != current[name]),
                      key=lambda v: (abs(v - current[name]), v))

    found = []
    for name in names:
        for value in nearest(name):
            out = output(((name, value),))
            if out is not None:
                found.append((((name, value),), out))
                break
    if not found:
        pairs = []
        for a_i, a in enumerate(names):
            for b in names[a_i + 1:]:
                for va in nearest(a):
                    for vb in nearest(b):
                        out = output(((a, va), (b, vb)))
                        if out is not None:
                            cost = abs(va - current[a]) + abs(vb - current[b])
                            pairs.append((cost, a_i, ((a, va), (b, vb)), out))
        found = [(changes, out) for _, _, changes, out in sorted(pairs, key=lambda p: p[:2])]
    return found[:limit]


def _advice(options: list, symbols: Mapping[str, str]) -> str:
    if not options:
        return say(" No setting within the sliders' ranges fits.", "滑块范围内没有能整除的设置。")

    def text(changes, joiner):
        return joiner.join(f"{symbols[n]}={v}" for n, v in changes)
    en = ", ".join(f"{text(c, ' and ')} (output {o} x {o})" for c, o in options)
    zh = "、".join(f"{text(c, ' 且 ')}（输出 {o} x {o}）" for c, o in options)
    return say(f" Settings that fit: {en}.", f"能整除的设置：{zh}。")


def _rows_text(rows: tuple[int, ...]) -> str:
    return f"{rows[0]}" if len(rows) == 1 else f"{rows[0]}..{rows[-1]}"


@dataclass(frozen=True)
class ConvGeometry:
    """One conv setting along one axis (the explorer uses square inputs and filters).

    size W, filter_size F, stride S, pad P, dilation D as given; effective_filter D*(F-1)+1;
    padded_size W + 2P; formula: `shapes.conv_size_formula` with the numbers; valid: whether
    it fits exactly; output_size W' (None unless valid); floor_size: what frameworks compute,
    floor((W - F_eff + 2P + S)/S) (= output_size when valid; None when the window is larger
    than the padded input); leftover: padded rows (and, by symmetry, columns) that no window
    reads when rounding down (all of them when no window fits); message: "" when valid, else why not and which settings fit
    (only settings inside the explorer's ranges), in the language of `i18n`.
    """
    size: int
    filter_size: int
    stride: int
    pad: int
    dilation: int
    effective_filter: int
    padded_size: int
    formula: str
    valid: bool
    output_size: int | None
    floor_size: int | None
    leftover: tuple[int, ...]
    message: str

    @property
    def n_positions(self) -> int:
        """How many windows the explorer steps through: floor_size ** 2 (0 without any window)."""
        return (self.floor_size or 0) ** 2

    @property
    def output_text(self) -> str:
        """'output 3 x 3', the rounded-down size for a setting that does not fit, or 'no output'."""
        if self.valid:
            n = self.output_size
            return say(f"output {n} x {n}, fits exactly", f"输出 {n} x {n}，恰好整除")
        if self.floor_size:
            n = self.floor_size
            return say(f"does not fit exactly; frameworks round down: output {n} x {n}",
                       f"不能整除；框架向下取整：输出 {n} x {n}")
        return say("no output: the window is larger than the padded input",
                   "没有输出：窗口比填充后的输入还大")


def conv_geometry(size: int, filter_size: int, stride: int = 1, pad: int = 0,
                  dilation: int = 1, ranges: Mapping[str, tuple[int, int]] | None = None) -> ConvGeometry:
    """Check a conv setting and describe it; never raises ValueError.

    The exact size comes from `shapes.conv_output_size`, the formula text from
    `shapes.conv_size_formula`. `ranges`: the sliders the advice may use (default
    `CONV_RANGES`). Type errors (non-integer settings) still raise TypeError: they are
    programming mistakes, not settings a learner can reach with the sliders.
    """
    size, filter_size, stride, pad, dilation = (
        check_int(v, name) for v, name in ((size, "size"), (filter_size, "filter_size"),
                                           (stride, "stride"), (pad, "pad"), (dilation, "dilation")))
    eff = effective_filter_size(filter_size, dilation)
    formula = conv_size_formula(size, filter_size, stride, pad, dilation)
    try:
        out = conv_output_size(size, filter_size, stride, pad, dilation)
    except ValueError:
        out = None
    _, floor = _exact_and_floor(size, eff, stride, pad)
    n = size + 2 * pad
    leftover = tuple(range((floor - 1) * stride + eff if floor else 0, n))
    message = ""
    if out is None:
        advice = _advice(fitting_settings(size, filter_size, stride, pad, dilation, ranges), _SYMBOL)
        if floor is None:
            spans = say(f" (F={filter_size} with D={dilation})", f"（F={filter_size}，D={dilation}）") \
                if dilation > 1 else ""
            message = say(f"The filter spans {eff} pixels{spans} but the padded input has only "
                          f"{n} (W + 2P = {size} + 2*{pad}): {formula} < 1, so there is no output.",
                          f"滤波器覆盖 {eff} 个像素{spans}，但填充后的输入只有 {n} 个"
                          f"（W + 2P = {size} + 2*{pad}）：{formula} < 1，没有输出。") + advice
        else:
            rows = _rows_text(leftover)
            message = say(f"S={stride} does not fit exactly: {formula} is not a whole number. "
                          f"Frameworks round down (floor) to {floor} x {floor} and never read "
                          f"padded row/column {rows}.",
                          f"S={stride} 不能恰好整除：{formula} 不是整数。框架向下取整（floor）"
                          f"得到 {floor} x {floor}，填充后的第 {rows} 行/列永远不会被读到。") + advice
    return ConvGeometry(size, filter_size, stride, pad, dilation, eff, n, formula, out is not None,
                        out, floor, leftover, message)


def padded_grid(size: int, pad: int) -> np.ndarray:
    """(size+2*pad, size+2*pad) int array: 1 where a real input pixel is, 0 for the zero padding."""
    if size < 1 or pad < 0:
        raise ValueError(f"need size >= 1 and pad >= 0, got size={size}, pad={pad}")
    grid = np.zeros((size + 2 * pad, size + 2 * pad), dtype=np.int64)
    grid[pad:pad + size, pad:pad + size] = 1
    return grid


def window_taps(i: int, j: int, filter_size: int, stride: int = 1, dilation: int = 1) -> np.ndarray:
    """(F*F, 2) array of the padded-input (row, col) positions read by output (i, j), row-major.

    Output (i, j) starts at (i*S, j*S); tap (a, b) of the filter sits D*a rows and D*b columns
    further: row = i*S + D*a, col = j*S + D*b. (Our dilation D leaves D - 1 pixels between
    taps, as in PyTorch: D = 1 is an ordinary filter.)
    """
    if min(i, j) < 0:
        raise ValueError(f"output index must be >= 0, got ({i}, {j})")
    a, b = np.meshgrid(np.arange(filter_size), np.arange(filter_size), indexing="ij")
    rows = i * stride + dilation * a.ravel()
    cols = j * stride + dilation * b.ravel()
    return np.stack([rows, cols], axis=1).astype(np.int64)


def window_mask(size: int, filter_size: int, stride: int, pad: int, dilation: int,
                i: int, j: int) -> np.ndarray:
    """Boolean (W+2P, W+2P) mask of the taps of output (i, j); ValueError if a tap falls outside."""
    taps = window_taps(i, j, filter_size, stride, dilation)
    n = size + 2 * pad
    if taps.max() >= n:
        raise ValueError(f"output ({i}, {j}) reads padded position {int(taps.max())}, outside the "
                         f"padded input of size {n}")
    mask = np.zeros((n, n), dtype=bool)
    mask[taps[:, 0], taps[:, 1]] = True
    return mask


def index_to_position(position: int, out_size: int) -> tuple[int, int]:
    """Row-major step number -> output index (i, j): the order the filter slides in."""
    if out_size < 1 or not 0 <= position < out_size * out_size:
        raise ValueError(f"position must be in 0..{out_size * out_size - 1}, got {position}")
    return divmod(int(position), int(out_size))


@dataclass(frozen=True)
class ConvFrame:
    """Everything one conv-explorer picture shows.

    geometry: the `ConvGeometry`; grid: `padded_grid` (1 input, 0 padding); index: the output
    (i, j) being computed (None when no window fits); taps: its (F*F, 2) padded-input
    positions (empty without a window); output: (n, n) int array, 1 at the current output, 0
    elsewhere, with n the exact size or, for a setting that does not fit exactly, the
    rounded-down size frameworks compute (shape (0, 0) without any window); covered: (W+2P,
    W+2P) bool, True where some window reads; leftover: padded rows/cols no window reaches
    (why a setting does not fit exactly).
    """
    geometry: ConvGeometry
    grid: np.ndarray
    index: tuple[int, int] | None
    taps: np.ndarray
    output: np.ndarray
    covered: np.ndarray
    leftover: tuple[int, ...] = field(default=())

    @property
    def exact(self) -> bool:
        """True when the setting fits exactly (the workbook's layers accept it)."""
        return self.geometry.valid

    @property
    def text(self) -> str:
        """Formula line the explorer prints: "W' = (7 + 2*0 - 3)/2 + 1 = 3 -> output 3 x 3, ..."."""
        g = self.geometry
        line = f"W' = {g.formula} -> {g.output_text}"
        if self.index is not None:
            r0, c0 = (int(v) for v in self.taps.min(axis=0))
            r1, c1 = (int(v) for v in self.taps.max(axis=0))
            i, j = self.index
            line += say(f"; output ({i}, {j}) reads padded rows {r0}..{r1}, cols {c0}..{c1}",
                        f"；输出 ({i}, {j}) 读取填充后的第 {r0}..{r1} 行、第 {c0}..{c1} 列")
        return line


def conv_frame(size: int, filter_size: int, stride: int = 1, pad: int = 0, dilation: int = 1,
               position: int = 0, ranges: Mapping[str, tuple[int, int]] | None = None) -> ConvFrame:
    """Data for the explorer picture at step `position` (row-major over the output grid).

    For a setting that does not fit exactly, the frame steps through the windows a framework
    computes when it rounds down, and `leftover` lists the padded rows (and, by symmetry,
    columns) that no window reaches; `covered` shows the cells the windows read, so the
    picture explains the message. Without any window (filter larger than the padded input)
    index is None.

    Shown in 02, sections 2, 4, 8.
    """
    g = conv_geometry(size, filter_size, stride, pad, dilation, ranges)
    grid = padded_grid(g.size, g.pad)
    n_fit = g.floor_size or 0
    covered_axis = np.zeros(g.padded_size, dtype=bool)
    for k in range(n_fit):
        covered_axis[k * g.stride + g.dilation * np.arange(g.filter_size)] = True
    covered = covered_axis[:, None] & covered_axis[None, :]
    if not n_fit:
        return ConvFrame(g, grid, None, np.zeros((0, 2), dtype=np.int64),
                         np.zeros((0, 0), dtype=np.int64), covered, g.leftover)
    i, j = index_to_position(min(max(int(position), 0), g.n_positions - 1), n_fit)
    out = np.zeros((n_fit, n_fit), dtype=np.int64)
    out[i, j] = 1
    return ConvFrame(g, grid, (i, j), window_taps(i, j, g.filter_size, g.stride, g.dilation),
                     out, covered, g.leftover)


# --------------------------------------------------------------------------- numbers, several channels

@dataclass(frozen=True)
class ConvNumbersFrame:
    """One step of the numeric conv demo (CS231n's animation of a conv layer on a volume).

    x: input (C, H, W); x_pad: zero-padded input (C, H+2P, W+2P); w: filters (K, C, F, F);
    b: biases (K,); stride, pad; out: the whole output (K, H', W'); step: the step number
    (filter-major: every position of filter 0, then filter 1, ...); filter_index k; index
    (i, j) of the output being computed; rows, cols: the window in padded coordinates;
    products: (C, F, F) = x_pad[:, rows, cols] * w[k]; channel_sums: (C,) sums of the
    products per input channel; value = channel_sums.sum() + b[k] = out[k, i, j].
    """
    x: np.ndarray
    x_pad: np.ndarray
    w: np.ndarray
    b: np.ndarray
    stride: int
    pad: int
    out: np.ndarray
    step: int
    filter_index: int
    index: tuple[int, int]
    rows: slice
    cols: slice
    products: np.ndarray
    channel_sums: np.ndarray
    value: float

    @property
    def n_steps(self) -> int:
        """K * H' * W': one step per output number."""
        return int(self.out.size)

    @property
    def text(self) -> str:
        """The sum written out: "out[0][1, 2] = (ch 0) 3 + (ch 1) -2 + (ch 2) 1 + (bias) 1 = 3"."""
        k, (i, j) = self.filter_index, self.index
        parts = " + ".join(f"({say('ch', '通道')} {c}) {_num(s)}" for c, s in enumerate(self.channel_sums))
        return (f"out[{k}][{i}, {j}] = {parts} + ({say('bias', '偏置')}) {_num(self.b[k])} "
                f"= {_num(self.value)}")


def _num(v: float) -> str:
    v = float(v)
    return f"{v:.0f}" if v == round(v) else f"{v:.2f}"


def conv_numbers_demo_data(seed: int = 3, channels: int = 3, size: int = 5, filters: int = 2,
                           filter_size: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Small integer data for the numeric demo, as in CS231n: x (C, H, W) with values 0..2,
    w (K, C, F, F) with values -1..1, biases b = (1, 0, 0, ...). Seeded."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size=(channels, size, size)).astype(np.float64)
    w = rng.integers(-1, 2, size=(filters, channels, filter_size, filter_size)).astype(np.float64)
    b = np.zeros(filters)
    b[0] = 1.0
    return x, w, b


def conv_numbers_frame(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 2, pad: int = 1,
                       step: int = 0) -> ConvNumbersFrame:
    """Step `step` of a conv layer computed number by number on a multi-channel input.

    x (C, H, W), w (K, C, F, F), b (K,); the output size follows `shapes.conv_output_size`
    (ValueError with the formula when the setting does not fit). `step` is clamped to
    0 .. K*H'*W' - 1 (filter-major order).

    Shown in 02, section 5.
    """
    x, w, b = (np.asarray(a, dtype=np.float64) for a in (x, w, b))
    if x.ndim != 3 or w.ndim != 4 or b.shape != (w.shape[0],) or w.shape[1] != x.shape[0]:
        raise ValueError(f"need x (C, H, W), w (K, C, F, F) and b (K,) with matching C and K; got "
                         f"x {x.shape}, w {w.shape}, b {b.shape}")
    if w.shape[2] != w.shape[3]:
        raise ValueError(f"the demo uses square filters, got {w.shape[2]}x{w.shape[3]}")
    f = w.shape[2]
    oh = conv_output_size(x.shape[1], f, stride, pad)
    ow = conv_output_size(x.shape[2], f, stride, pad)
    x_pad = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((w.shape[0], oh, ow))
    for k in range(w.shape[0]):
        for i in range(oh):
            for j in range(ow):
                out[k, i, j] = np.sum(x_pad[:, i * stride:i * stride + f, j * stride:j * stride + f] * w[k]) + b[k]
    step = min(max(int(step), 0), out.size - 1)
    k, rest = divmod(step, oh * ow)
    i, j = divmod(rest, ow)
    rows, cols = slice(i * stride, i * stride + f), slice(j * stride, j * stride + f)
    products = x_pad[:, rows, cols] * w[k]
    sums = products.sum(axis=(1, 2))
    return ConvNumbersFrame(x, x_pad, w, b, int(stride), int(pad), out, step, k, (i, j), rows, cols,
                            products, sums, float(out[k, i, j]))


def filter_activation(image: np.ndarray, kernel: np.ndarray, stride: int = 1) -> np.ndarray:
    """Activation map (激活映射) of one 2-D `kernel` (F, F) slid over a grey `image` (H, W).

    Uses the workbook's fast conv (`layers.conv_forward_fast`) with 'same' padding (F-1)//2,
    so each output pixel is the kernel's dot product with the patch around the same pixel
    (cross-correlation, as in every deep-learning library). Returns (H', W') with
    H' = (H + 2P - F)/S + 1; ValueError (with the formula) when the stride does not fit.
    """
    from .layers import conv_forward_fast  # imported here: explorers stays importable alone

    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"image must be (H, W) and kernel (F, F); got {image.shape} and {kernel.shape}")
    pad = (kernel.shape[0] - 1) // 2
    for axis, n in (("height", image.shape[0]), ("width", image.shape[1])):
        try:
            conv_output_size(n, kernel.shape[0], stride, pad)
        except ValueError as exc:
            raise ValueError(f"image {axis} {n}: {exc}") from None
    out, _ = conv_forward_fast(image[None, None], kernel[None, None], np.zeros(1),
                               {"stride": int(stride), "pad": pad})
    return out[0, 0]


# --------------------------------------------------------------------------- pooling

POOL_KINDS = ("max", "avg", "l2")


@dataclass(frozen=True)
class PoolGeometry:
    """A pooling setting along one axis (no padding).

    size: input W; pool_size: window F; stride S; formula: `shapes.conv_size_formula` (pool
    form) with the numbers; valid: whether it fits exactly; output_size (None unless valid);
    floor_size: what frameworks compute by default, floor((W - F + S)/S) (None when the window
    is larger than the input); ceil_size: with `ceil_mode=True` (Caffe, GoogLeNet), a partial
    last window is added; leftover: input rows/cols no window reads when rounding down;
    message: "" when valid, else why not and which settings inside the explorer's ranges fit.
    """
    size: int
    pool_size: int
    stride: int
    formula: str
    valid: bool
    output_size: int | None
    floor_size: int | None
    ceil_size: int | None
    leftover: tuple[int, ...]
    message: str

    @property
    def overlapping(self) -> bool:
        """True when stride < window: neighbouring windows share input pixels."""
        return self.stride < self.pool_size

    @property
    def n_positions(self) -> int:
        """How many windows the explorer steps through: floor_size ** 2."""
        return (self.floor_size or 0) ** 2

    @property
    def output_text(self) -> str:
        if self.valid:
            n = self.output_size
            return say(f"output {n} x {n}, fits exactly", f"输出 {n} x {n}，恰好整除")
        if self.floor_size:
            n, c = self.floor_size, self.ceil_size
            return say(f"does not fit exactly; frameworks round down: output {n} x {n} "
                       f"(ceil mode: {c} x {c})",
                       f"不能整除；框架向下取整：输出 {n} x {n}（ceil 模式：{c} x {c}）")
        return say("no output: the window is larger than the input", "没有输出：窗口比输入还大")


_POOL_SYMBOL = {"size": "input", "filter_size": "size", "stride": "stride"}


def pool_geometry(size: int, pool_size: int, stride: int | None = None,
                  ranges: Mapping[str, tuple[int, int]] | None = None) -> PoolGeometry:
    """Check a pooling setting (no padding) with `shapes.pool_output_size`; never raises ValueError.

    `ranges`: the pooling explorer's sliders the advice may use, keys "size" (window),
    "stride" and "input" (default `POOL_RANGES`; leave "input" out when the input is fixed).
    """
    stride = pool_size if stride is None else stride
    size, pool_size, stride = (check_int(v, name) for v, name in
                               ((size, "size"), (pool_size, "pool_size"), (stride, "stride")))
    formula = conv_size_formula(size, pool_size, stride, pool=True)
    try:
        out = pool_output_size(size, pool_size, stride)
    except ValueError:
        out = None
    _, floor = _exact_and_floor(size, pool_size, stride, 0)
    ceil = pool_output_size(size, pool_size, stride, rounding="ceil") if floor else None
    leftover = tuple(range((floor - 1) * stride + pool_size if floor else 0, size))
    message = ""
    if out is None:
        ranges = POOL_RANGES if ranges is None else ranges
        as_conv = {conv: ranges[pool] for conv, pool in (("size", "input"), ("filter_size", "size"),
                                                         ("stride", "stride")) if pool in ranges}
        advice = _advice(fitting_settings(size, pool_size, stride, 0, 1, as_conv), _POOL_SYMBOL)
        if floor is None:
            message = say(f"The window {pool_size} is larger than the input {size}: {formula} < 1, "
                          f"so there is no output.",
                          f"窗口 {pool_size} 比输入 {size} 还大：{formula} < 1，没有输出。") + advice
        else:
            rows = _rows_text(leftover)
            message = say(f"stride {stride} does not fit exactly: {formula} is not a whole number. "
                          f"Frameworks round down by default (floor: {floor} x {floor}, row/column "
                          f"{rows} is never pooled) or, with ceil_mode=True, up ({ceil} x {ceil}: "
                          f"the last window hangs over the edge).",
                          f"步长 {stride} 不能恰好整除：{formula} 不是整数。框架默认向下取整"
                          f"（floor：{floor} x {floor}，第 {rows} 行/列不参与池化），"
                          f"或在 ceil_mode=True 时向上取整（{ceil} x {ceil}：最后一个窗口越过边缘）。") + advice
    return PoolGeometry(size, pool_size, stride, formula, out is not None, out, floor, ceil,
                        leftover, message)


def _check_2d(x: np.ndarray, name: str = "x") -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (H, W), got shape {x.shape}")
    return x


def _pool_out_shape(x: np.ndarray, size: int, stride: int) -> tuple[int, int]:
    return (pool_output_size(x.shape[0], size, stride), pool_output_size(x.shape[1], size, stride))


def pool_windows(height: int, width: int, size: int, stride: int) -> list[tuple[int, int, slice, slice]]:
    """Row-major list of (i, j, rows, cols): output (i, j) pools x[rows, cols]. Raises if it does not fit."""
    oh, ow = pool_output_size(height, size, stride), pool_output_size(width, size, stride)
    return [(i, j, slice(i * stride, i * stride + size), slice(j * stride, j * stride + size))
            for i in range(oh) for j in range(ow)]


def pool_forward_2d(x: np.ndarray, size: int, stride: int | None = None,
                    kind: str = "max") -> tuple[np.ndarray, np.ndarray]:
    """Pool a 2-D array x (H, W) with a size x size window.

    kind "max": largest value; "avg": mean; "l2": sqrt of the sum of squares (L2 norm).
    Returns (out (H', W'), switches (H', W', 2) int): for "max" the (row, col) in x of each
    window's maximum (first one in row-major order on ties); -1 for the other kinds.

    Shown in 03, sections 1, 5.
    """
    if kind not in POOL_KINDS:
        raise ValueError(f"kind must be one of {POOL_KINDS}, got {kind!r}")
    x = _check_2d(x)
    stride = size if stride is None else stride
    oh, ow = _pool_out_shape(x, size, stride)
    out = np.zeros((oh, ow))
    switches = np.full((oh, ow, 2), -1, dtype=np.int64)
    for i, j, rs, cs in pool_windows(*x.shape, size, stride):
        win = x[rs, cs]
        if kind == "max":
            a, b = np.unravel_index(int(np.argmax(win)), win.shape)
            out[i, j] = win[a, b]
            switches[i, j] = (rs.start + a, cs.start + b)
        elif kind == "avg":
            out[i, j] = win.mean()
        else:
            out[i, j] = np.sqrt(np.sum(win * win))
    return out, switches


def pool_backward_2d(x: np.ndarray, dout: np.ndarray, size: int, stride: int | None = None,
                     kind: str = "max", accumulate: bool = True) -> np.ndarray:
    """Gradient dx (H, W) of pooling given upstream dout (H', W').

    max: each dout goes to its window's argmax (the switch); avg: dout/size**2 to every pixel of
    the window; l2: dout * x / ||window||. Where windows overlap (stride < size) a pixel gets
    the sum of its contributions, which is what `accumulate=True` (`dx[...] += ...`) does;
    `accumulate=False` (`dx[...] = ...`) keeps only the last window's share: the classic bug.

    Shown in 03, section 5.
    """
    if kind not in POOL_KINDS:
        raise ValueError(f"kind must be one of {POOL_KINDS}, got {kind!r}")
    x = _check_2d(x)
    dout = _check_2d(dout, "dout")
    stride = size if stride is None else stride
    if dout.shape != _pool_out_shape(x, size, stride):
        raise ValueError(f"dout has shape {dout.shape}, but pooling x {x.shape} with size {size}, "
                         f"stride {stride} gives {_pool_out_shape(x, size, stride)}")
    out, switches = pool_forward_2d(x, size, stride, kind)
    dx = np.zeros_like(x)
    for i, j, rs, cs in pool_windows(*x.shape, size, stride):
        if kind == "max":
            a, b = switches[i, j]
            if accumulate:
                dx[a, b] += dout[i, j]
            else:
                dx[a, b] = dout[i, j]
            continue
        if kind == "avg":
            share = np.full((size, size), dout[i, j] / (size * size))
        else:
            norm = out[i, j]
            share = dout[i, j] * x[rs, cs] / norm if norm > 0 else np.zeros((size, size))
        if accumulate:
            dx[rs, cs] += share
        else:
            dx[rs, cs] = share
    return dx


def demo_pool_input(size: int = 6, seed: int = 0) -> np.ndarray:
    """A (size, size) float array holding 1..size**2 in a seeded random order (no ties for max)."""
    rng = np.random.default_rng(seed)
    return rng.permutation(size * size).reshape(size, size).astype(np.float64) + 1.0


@dataclass(frozen=True)
class PoolFrame:
    """Everything one pooling-explorer picture shows.

    x: input (H, W); geometry: `PoolGeometry` (square inputs); kind; index: output (i, j) being
    computed (None without any window); window: (rows, cols) slices of that window; out:
    pooled (n, n), n the exact size or, for a setting that does not fit exactly, the
    rounded-down size frameworks compute; switches: (n, n, 2) argmax positions (max only,
    else -1); dout: upstream gradient (n, n); dx: gradient routed back (H, W); hits: (H, W)
    int, how many windows read each pixel (> 1 where windows overlap, 0 in the rows and
    columns that rounding down leaves out).
    """
    x: np.ndarray
    geometry: PoolGeometry
    kind: str
    index: tuple[int, int] | None
    window: tuple[slice, slice] | None
    out: np.ndarray
    switches: np.ndarray
    dout: np.ndarray
    dx: np.ndarray
    hits: np.ndarray

    @property
    def exact(self) -> bool:
        """True when the setting fits exactly (the workbook's layers accept it)."""
        return self.geometry.valid

    @property
    def text(self) -> str:
        g = self.geometry
        line = f"W' = {g.formula} -> {g.output_text}"
        if self.index is not None:
            i, j = self.index
            line += say(f"; {self.kind} pool of window ({i}, {j}) = {self.out[i, j]:.2f}",
                        f"；窗口 ({i}, {j}) 的 {self.kind} 池化 = {self.out[i, j]:.2f}")
            if self.kind == "max":
                r, c = self.switches[i, j]
                line += say(f" at x[{r}, {c}]", f"，位于 x[{r}, {c}]")
        return line


def pool_frame(x: np.ndarray, size: int, stride: int | None = None, kind: str = "max",
               position: int = 0, dout: np.ndarray | None = None,
               ranges: Mapping[str, tuple[int, int]] | None = None) -> PoolFrame:
    """Data for the pooling-explorer picture at step `position` (row-major over the output).

    `dout` defaults to ones, so dx counts how much gradient each pixel receives. For a
    setting that does not fit exactly, the frame pools the windows a framework keeps when it
    rounds down (the last rows and columns are never read: hits and dx are 0 there); with no
    window at all, index/window are None and out/dx are empty / zeros. `ranges`: see
    `pool_geometry`.

    Shown in 03, sections 3, 5.
    """
    x = _check_2d(x)
    if x.shape[0] != x.shape[1]:
        raise ValueError(f"the explorer uses square inputs, got {x.shape}")
    stride = size if stride is None else stride
    g = pool_geometry(x.shape[0], size, stride, ranges)
    if not g.floor_size:
        empty = np.zeros((0, 0))
        return PoolFrame(x, g, kind, None, None, empty, np.zeros((0, 0, 2), dtype=np.int64),
                         empty, np.zeros_like(x), np.zeros(x.shape, dtype=np.int64))
    used = (g.floor_size - 1) * stride + size          # = x.shape[0] when the setting fits exactly
    x_used = x[:used, :used]
    out, switches = pool_forward_2d(x_used, size, stride, kind)
    dout = np.ones_like(out) if dout is None else _check_2d(dout, "dout")
    dx = np.zeros_like(x)
    dx[:used, :used] = pool_backward_2d(x_used, dout, size, stride, kind)
    hits = np.zeros(x.shape, dtype=np.int64)
    windows = pool_windows(used, used, size, stride)
    for _, _, rs, cs in windows:
        hits[rs, cs] += 1
    k = min(max(int(position), 0), len(windows) - 1)
    i, j, rs, cs = windows[k]
    return PoolFrame(x, g, kind, (i, j), (rs, cs), out, switches, dout, dx, hits)
