"""The arithmetic behind the interactive explorers (pure functions, no widgets, no plotting).

Every picture the convolution and pooling explorers draw is computed here first, so it can
be tested without a browser:

Convolution (卷积层), one spatial axis of size W, filter F, stride S (步长), zero padding P
(零填充), dilation D (扩张/空洞卷积):

- `conv_geometry(W, F, S, P, D)`  -> `ConvGeometry`: output size, formula with the numbers,
  whether the setting fits and, if not, the message from `shapes.conv_output_size`.
- `padded_grid(W, P)`             -> (W+2P, W+2P) int array, 1 = real input pixel, 0 = padding.
- `window_taps(i, j, F, S, D)`     -> (F*F, 2) int array of the (row, col) positions in the
  padded input that output (i, j) reads (its receptive field (感受野) in this layer).
- `conv_frame(W, F, S, P, D, position)` -> `ConvFrame`: everything one explorer picture shows.

Pooling (池化层) on a small 2-D array x (H, W) with a square window `size` and `stride`:

- `pool_geometry(H, size, stride)` -> `PoolGeometry` (formula, output size, message).
- `pool_forward_2d(x, size, stride, kind)` -> (out, switches) where kind is "max", "avg" or
  "l2" and `switches` (道岔) holds, for max pooling, the (row, col) of each window's maximum.
- `pool_backward_2d(x, dout, size, stride, kind, accumulate=True)` -> dx. With
  `accumulate=False` it reproduces the classic bug of writing `dx[...] = ...` instead of
  `dx[...] += ...`, which loses gradient where windows overlap.
- `pool_frame(x, size, stride, kind, position, dout=None)` -> `PoolFrame`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .shapes import conv_output_size, conv_size_formula, effective_filter_size, pool_output_size

__all__ = ["ConvGeometry", "ConvFrame", "conv_geometry", "padded_grid",
           "window_taps", "window_mask", "index_to_position", "conv_frame",
           "PoolGeometry", "PoolFrame", "POOL_KINDS", "pool_geometry", "pool_windows",
           "pool_forward_2d", "pool_backward_2d", "pool_frame", "demo_pool_input",
           "filter_activation"]


# --------------------------------------------------------------------------- convolution

@dataclass(frozen=True)
class ConvGeometry:
    """One conv setting along one axis (the explorer uses square inputs and filters).

    size W, filter_size F, stride S, pad P, dilation D as given; effective_filter D*(F-1)+1;
    padded_size W + 2P; formula: the output-size formula with numbers; valid: whether it fits;
    output_size W' (None when invalid); message: "" when valid, else the ValueError's text.
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
    message: str

    @property
    def n_positions(self) -> int:
        """How many windows the explorer steps through: W' * W' (0 when invalid)."""
        return (self.output_size or 0) ** 2

    @property
    def output_text(self) -> str:
        """'output 3 x 3', or 'no valid output' when the setting does not fit."""
        if self.valid:
            return f"output {self.output_size} x {self.output_size}"
        return "no valid output"


def conv_geometry(size: int, filter_size: int, stride: int = 1, pad: int = 0,
                  dilation: int = 1) -> ConvGeometry:
    """Check a conv setting with `shapes.conv_output_size` and describe it; never raises ValueError.

    Type errors (non-integer settings) still raise TypeError: they are programming mistakes,
    not settings a learner can reach with the sliders.
    """
    eff = effective_filter_size(filter_size, dilation)
    try:
        out = conv_output_size(size, filter_size, stride, pad, dilation)
        valid, message = True, ""
    except ValueError as exc:
        out, valid, message = None, False, str(exc)
    return ConvGeometry(int(size), int(filter_size), int(stride), int(pad), int(dilation), eff,
                        int(size) + 2 * int(pad), conv_size_formula(size, filter_size, stride, pad, dilation),
                        valid, out, message)


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
    further: row = i*S + D*a, col = j*S + D*b.
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
    (i, j) being computed (None when invalid); taps: its (F*F, 2) padded-input positions
    (empty when invalid); output: (W', W') int array, 1 at the current output, 0 elsewhere
    (shape (0, 0) when invalid); covered: (W+2P, W+2P) bool, True where some window reads;
    leftover_rows: padded rows/cols no window reaches (why a setting does not fit).
    """
    geometry: ConvGeometry
    grid: np.ndarray
    index: tuple[int, int] | None
    taps: np.ndarray
    output: np.ndarray
    covered: np.ndarray
    leftover: tuple[int, ...] = field(default=())

    @property
    def text(self) -> str:
        """Formula line the explorer prints: "W' = (7 + 2*0 - 3)/2 + 1 = 3 -> output 3 x 3"."""
        g = self.geometry
        line = f"W' = {g.formula} -> {g.output_text}"
        if self.index is not None:
            r0, c0 = (int(v) for v in self.taps.min(axis=0))
            r1, c1 = (int(v) for v in self.taps.max(axis=0))
            line += (f"; output ({self.index[0]}, {self.index[1]}) reads padded rows {r0}..{r1}, "
                     f"cols {c0}..{c1}")
        return line


def _reach(geometry: ConvGeometry) -> int:
    """How many complete windows fit along one axis when we drop the remainder (floor)."""
    room = geometry.padded_size - geometry.effective_filter
    return room // geometry.stride + 1 if room >= 0 else 0


def conv_frame(size: int, filter_size: int, stride: int = 1, pad: int = 0, dilation: int = 1,
               position: int = 0) -> ConvFrame:
    """Data for the explorer picture at step `position` (row-major over the output grid).

    For a setting that does not fit, index is None and `leftover` lists the padded rows (and,
    by symmetry, columns) that no complete window reaches; `covered` then shows the windows
    that do fit, so the picture explains the error.

    Shown in 02, sections 2, 4, 8.
    """
    g = conv_geometry(size, filter_size, stride, pad, dilation)
    grid = padded_grid(g.size, g.pad)
    n_fit = _reach(g)
    covered_axis = np.zeros(g.padded_size, dtype=bool)
    for k in range(n_fit):
        covered_axis[k * g.stride + g.dilation * np.arange(g.filter_size)] = True
    covered = covered_axis[:, None] & covered_axis[None, :]
    last = (n_fit - 1) * g.stride + g.effective_filter if n_fit else 0
    leftover = tuple(range(last, g.padded_size))
    if not g.valid:
        return ConvFrame(g, grid, None, np.zeros((0, 2), dtype=np.int64),
                         np.zeros((0, 0), dtype=np.int64), covered, leftover)
    i, j = index_to_position(min(max(int(position), 0), g.n_positions - 1), g.output_size)
    out = np.zeros((g.output_size, g.output_size), dtype=np.int64)
    out[i, j] = 1
    return ConvFrame(g, grid, (i, j), window_taps(i, j, g.filter_size, g.stride, g.dilation),
                     out, covered, leftover)


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
    """A pooling setting along one axis: formula with numbers, output size (None if invalid), message."""
    size: int
    pool_size: int
    stride: int
    formula: str
    valid: bool
    output_size: int | None
    message: str

    @property
    def overlapping(self) -> bool:
        """True when stride < window: neighbouring windows share input pixels."""
        return self.stride < self.pool_size

    @property
    def output_text(self) -> str:
        if self.valid:
            return f"output {self.output_size} x {self.output_size}"
        return "no valid output"


def pool_geometry(size: int, pool_size: int, stride: int | None = None) -> PoolGeometry:
    """Check a pooling setting (no padding) with `shapes.pool_output_size`; never raises ValueError."""
    stride = pool_size if stride is None else stride
    formula = conv_size_formula(size, pool_size, stride, pool=True)
    try:
        out, valid, message = pool_output_size(size, pool_size, stride), True, ""
    except ValueError as exc:
        out, valid, message = None, False, str(exc)
    return PoolGeometry(int(size), int(pool_size), int(stride), formula, valid, out, message)


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
    computed (None if invalid); window: (rows, cols) slices of that window; out: pooled
    (H', W'); switches: (H', W', 2) argmax positions (max only, else -1); dout: upstream
    gradient (H', W'); dx: gradient routed back (H, W); hits: (H, W) int, how many windows read
    each pixel (> 1 where windows overlap).
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
    def text(self) -> str:
        g = self.geometry
        line = f"W' = {g.formula} -> {g.output_text}"
        if self.index is not None:
            i, j = self.index
            line += f"; {self.kind} pool of window ({i}, {j}) = {self.out[i, j]:.2f}"
            if self.kind == "max":
                line += f" at x[{self.switches[i, j, 0]}, {self.switches[i, j, 1]}]"
        return line


def pool_frame(x: np.ndarray, size: int, stride: int | None = None, kind: str = "max",
               position: int = 0, dout: np.ndarray | None = None) -> PoolFrame:
    """Data for the pooling-explorer picture at step `position` (row-major over the output).

    `dout` defaults to ones, so dx counts how much gradient each pixel receives. For a
    setting that does not fit, index/window are None and out/dx are empty / zeros.

    Shown in 03, sections 3, 5.
    """
    x = _check_2d(x)
    if x.shape[0] != x.shape[1]:
        raise ValueError(f"the explorer uses square inputs, got {x.shape}")
    stride = size if stride is None else stride
    g = pool_geometry(x.shape[0], size, stride)
    if not g.valid:
        empty = np.zeros((0, 0))
        return PoolFrame(x, g, kind, None, None, empty, np.zeros((0, 0, 2), dtype=np.int64),
                         empty, np.zeros_like(x), np.zeros(x.shape, dtype=np.int64))
    out, switches = pool_forward_2d(x, size, stride, kind)
    dout = np.ones_like(out) if dout is None else _check_2d(dout, "dout")
    dx = pool_backward_2d(x, dout, size, stride, kind)
    hits = np.zeros(x.shape, dtype=np.int64)
    windows = pool_windows(*x.shape, size, stride)
    for _, _, rs, cs in windows:
        hits[rs, cs] += 1
    k = min(max(int(position), 0), len(windows) - 1)
    i, j, rs, cs = windows[k]
    return PoolFrame(x, g, kind, (i, j), (rs, cs), out, switches, dout, dx, hits)
