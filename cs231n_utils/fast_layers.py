"""Vectorised kernels (快速实现) behind the fast layers in `cs231n_utils.layers`.

The readable loop definitions live in `layers`; the functions here compute the same numbers
(to ~1e-10 in float64) without Python loops over pixels. Each call picks a strategy by the
layer's shape (the kernels live in `fast_conv`, `winograd` and `fast_pool`):

Convolution forward
- 3x3, stride 1, no dilation, enough channels and positions: Winograd F(2x2, 3x3)
  (`winograd`), 16 transform-domain GEMMs that do 2.25x fewer multiplications than im2col;
- depthwise (groups == C): a multiply-add per kernel offset over all channels at once;
- anything else: im2col (图像块展开) + a GEMM per sample, stacked over a chunk of samples,
  the bias folded into the GEMM (`fast_conv.correlate`).
Convolution backward (each a function below, chosen by `conv_backward_fast`)
- Winograd layers: the same transforms transposed;
- stride 1, F/groups not much larger than C/groups: dx as a convolution of dout with the
  flipped filters, dw from the same columns of dout;
- stride > 1: dx by phases (the zero-dilated dout identity, without the zeros), dw from the
  columns of x;
- otherwise: dw from the columns of x and dx by col2im.
Max pooling: the forward records each window's switch (where its maximum was); the backward is
one scatter of dout onto those positions (`fast_pool`).

Memory and threads. Every conv works on chunks of the output (samples, or bands of rows or
columns of one sample) whose temporary buffers are about `CHUNK_BYTES` and all together never
more than `SCRATCH_BYTES`, for any shape; a layer whose smallest chunk (one output position)
would need more is refused with a `ScratchLimitError` naming the limit. Chunks are shared out
over `parallel.num_threads()` threads (`CS231N_THREADS`, threadpoolctl); results do not depend
on the thread count beyond float rounding.

You rarely import this module directly: `cs231n_utils.layers` re-exports `conv_forward_fast`,
`conv_backward_fast`, `max_pool_forward_fast` and `max_pool_backward_fast`.
"""
from __future__ import annotations

import numpy as np

from . import fast_conv, fast_pool, parallel, winograd
from .checks import check_dout, conv_cache_settings, conv_setup, pool_setup
from .fast_conv import ScratchLimitError

__all__ = ["conv_forward_fast", "conv_backward_fast", "max_pool_forward_fast",
           "max_pool_backward_fast", "conv_strategy", "SCRATCH_BYTES", "CHUNK_BYTES",
           "ScratchLimitError"]

#: Upper bound on the temporary buffers of one fast conv call (all threads together), in
#: bytes, for any shape and batch size. Raise it for layers refused with ScratchLimitError.
SCRATCH_BYTES = 64 * 2 ** 20
#: Preferred scratch per chunk, in bytes: small enough that a chunk's buffers stay in the CPU
#: cache between being written (im2col, transforms) and read (GEMM).
CHUNK_BYTES = 4 * 2 ** 20

#: Winograd is used for 3x3 stride-1 layers with at least this many input and output channels
#: per group (measured: with fewer, the transforms cost more than the multiplies they save) ...
WINOGRAD_MIN_CHANNELS = 16
#: ... at least this many 2x2 output tiles per sample per channel (of the larger of C and F per
#: group): with few positions and many channels the 16 transformed filters and their gradient
#: cost more than they save (measured: 128 channels on 14x14 runs 1.2-2x slower than im2col) ...
WINOGRAD_TILES_PER_CHANNEL = 4
#: ... and at least this many multiply-adds in the whole layer (smaller ones: im2col's single
#: GEMM has less overhead)
WINOGRAD_MIN_MACS = 1 << 20
#: A stride, pad or dilation over EXTENT_LIMIT * (input + 2*pad + filter size) along an axis is
#: refused at once: it would mean one window, no window, or an output of almost only padding
EXTENT_LIMIT = 4
#: A layer of fewer multiply-adds than this runs in one thread (thread start-up costs more)
THREAD_MIN_MACS = 1 << 22

# backward of a stride-1 conv: dx as a convolution of dout (dw from its columns) when
# F/groups <= _TRANSPOSED_RATIO * C/groups, or <= _TRANSPOSED_RATIO_WIDE times when
# C/groups >= _TRANSPOSED_MIN_C; otherwise dw from the columns of x and dx by col2im.
_TRANSPOSED_RATIO = 2
_TRANSPOSED_RATIO_WIDE = 8
_TRANSPOSED_MIN_C = 8


def _run(fn, n, schedule):
    """Run fn over blocks of n units; schedule = (threads, blocks) from fast_conv.plan, or a
    thread count (parallel.BLOCKS blocks)."""
    threads, blocks = schedule if isinstance(schedule, tuple) else (schedule, parallel.BLOCKS)
    return parallel.map_blocks(fn, n, threads, blocks)


def _check_extent(x, w, conv_param, name):
    """Refuse at once a stride, pad or dilation more than EXTENT_LIMIT times the (padded) input
    (before the generic checks, whose suggestions would otherwise search through them)."""
    if not (isinstance(conv_param, dict) and getattr(x, "ndim", 0) == 4 and getattr(w, "ndim", 0) == 4):
        return                                  # conv_setup explains what is wrong
    stride, pad, dil = conv_param.get("stride", 1), conv_param.get("pad", 0), conv_param.get("dilation", 1)
    if not (type(stride) is int and type(pad) is int and type(dil) is int and min(stride, pad, dil) >= 0):
        return                                  # (numpy integers too are checked by conv_setup)
    for axis, size, k in (("height", x.shape[2], w.shape[2]), ("width", x.shape[3], w.shape[3])):
        limit = EXTENT_LIMIT * (size + 2 * min(pad, size * EXTENT_LIMIT) + k)
        for key, value, why in (("pad", pad, "the output would be almost all padding"),
                                ("stride", stride, "there is room for one window only"),
                                ("dilation", dil, "the filter's taps cannot fit")):
            if value > limit:
                raise ValueError(
                    f"{name}: conv_param[{key!r}] = {value} is far larger than the input {axis} "
                    f"({size}; filter {k}): {why}. Settings over {EXTENT_LIMIT}x (input + 2*pad + "
                    f"filter) = {limit} are refused (fast_layers.EXTENT_LIMIT); use a smaller {key}")


def _threads(macs: int) -> int:
    return parallel.num_threads() if macs >= THREAD_MIN_MACS else 1


def _par(macs: int) -> dict:
    """fast_conv.plan's threads and spread: small layers run as one block in one thread (a
    choice made by the shapes alone, so results do not depend on the thread count)."""
    return {"threads": _threads(macs), "spread": macs >= THREAD_MIN_MACS}


def conv_strategy(x_shape, w_shape, stride=1, pad=0, dilation=1, groups=1) -> str:
    """Name of the forward strategy the fast conv uses for these shapes: 'winograd',
    'depthwise' or 'im2col' (the backward of a 'winograd' layer is Winograd too)."""
    N, C, H, W = x_shape
    F, Cg, HH, WW = w_shape
    if Cg == 1 and groups > 1:
        return "depthwise"
    Ho, Wo = H + 2 * pad - 2, W + 2 * pad - 2
    tiles = ((Ho + 1) // 2) * ((Wo + 1) // 2)
    if (HH == WW == 3 and stride == 1 and dilation == 1 and Ho >= 1 and Wo >= 1
            and min(Cg, F // groups) >= WINOGRAD_MIN_CHANNELS
            and tiles >= WINOGRAD_TILES_PER_CHANNEL * max(Cg, F // groups)
            and N * F * Ho * Wo * Cg * 9 >= WINOGRAD_MIN_MACS):
        return "winograd"
    return "im2col"


def _winograd_plan(N, C, F, Ho, Wo, itemsize, backward, macs):
    tW, tH = (Wo + 1) // 2, (Ho + 1) // 2
    row = (tW + 1) * winograd.scratch_per_tile(C, F, itemsize, backward)
    du = 16 * F * C * itemsize if backward else 0             # dU of a block, and its product
    try:
        return fast_conv.plan(N, tH, row, extra_rows=1, fixed=du, partial=du, budget=SCRATCH_BYTES,
                              target=CHUNK_BYTES, **_par(macs), group_samples=backward,
                              name="winograd")
    except ScratchLimitError:
        return None                         # fall back to im2col, which can cut finer


def conv_forward_fast(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict | None = None):
    """Convolution forward pass, vectorised (same numbers as `layers.conv_forward_naive`).

    Inputs:
    - x: (N, C, H, W) input
    - w: (F, C/groups, HH, WW) filters (HH != WW allowed)
    - b: (F,) biases
    - conv_param: dict with `stride` (default 1), `pad` (zeros on each side, default 0),
      optional `dilation` (default 1), `groups` (default 1; groups == C is depthwise) and
      `rounding` ('exact' default: the setting must fit; 'floor': drop what does not fit).

    Returns (out, cache); out has shape (N, F, H', W') with
    H' = 1 + (H + 2*pad - dilation*(HH-1) - 1) // stride, and the same for W'.
    """
    _check_extent(x, w, conv_param, "conv_forward_fast")
    stride, pad, dil, groups, _, Ho, Wo, dtype = conv_setup(x, w, b, conv_param, "conv_forward_fast")
    N, C, H, W = x.shape
    F, Cg, HH, WW = w.shape
    itemsize = np.dtype(dtype).itemsize
    macs = N * F * Ho * Wo * Cg * HH * WW
    out = np.empty((N, F, Ho, Wo), dtype)
    settings = {"stride": stride, "pad": pad, "dilation": dil, "groups": groups, "Ho": Ho, "Wo": Wo}
    strategy = conv_strategy(x.shape, w.shape, stride, pad, dil, groups)
    info = _winograd_plan(N, C, F, Ho, Wo, itemsize, False, macs) if strategy == "winograd" else None
    if info is not None:
        winograd.forward(x, w, b, pad, groups, out, info, _run)
    elif strategy == "depthwise":
        _depthwise_forward(x, w, b, stride, pad, dil, Ho, Wo, out, macs)
    else:
        geom = (HH, WW, dil, stride, pad, pad)
        w2 = w.astype(dtype, copy=False).reshape(groups, F // groups, Cg * HH * WW)
        if fast_conv.is_small(C, HH, WW, N, Ho, Wo, geom):
            out, cols = fast_conv.small_correlate(x, w2, geom, Ho, Wo, b, dtype)
        else:
            info = fast_conv.plan(N, Ho, fast_conv.correlate_bytes(C, HH, WW, F, itemsize) * Wo, cols=Wo,
                                  budget=SCRATCH_BYTES, target=CHUNK_BYTES, **_par(macs),
                                  name="conv_forward_fast")
            cols = fast_conv.correlate(x, w2, geom, out, b, info, _run, keep_cols=CHUNK_BYTES)
        if cols is not None:
            settings["cols"] = cols     # small enough (<= CHUNK_BYTES): kept for the backward
    return out, (x, w, b, settings)


def _depthwise_plan(x_shape, w_shape, pad, dil, stride, Ho, Wo, itemsize, backward, macs):
    N, C, H, W = x_shape
    F, _, KH, KW = w_shape
    per_channel = fast_conv.depthwise_bytes(H, W, pad, Ho, Wo, F // C, KH, KW, dil, stride,
                                            itemsize, backward)
    dwk = F * KH * KW * itemsize if backward else 0
    return fast_conv.plan(N, C, per_channel, fixed=2 * dil * (KH + 1) * (W + 2 * pad + 1) * itemsize,
                          partial=dwk, budget=SCRATCH_BYTES, target=CHUNK_BYTES, **_par(macs),
                          split_for_threads=not backward, name="conv (depthwise)",
                          unit="one channel of one sample")


def _depthwise_forward(x, w, b, stride, pad, dil, Ho, Wo, out, macs):
    info = _depthwise_plan(x.shape, w.shape, pad, dil, stride, Ho, Wo, out.itemsize, False, macs)
    fast_conv.depthwise_forward(x, w, b, stride, pad, dil, Ho, Wo, out, info, _run)


def conv_backward_fast(dout: np.ndarray, cache):
    """Convolution backward pass, vectorised.

    Inputs: dout (N, F, H', W') upstream gradient; cache from `conv_forward_fast` (a
    CS231n-style `(x, w, b, conv_param)` works too).
    Returns (dx, dw, db) with the shapes (and dtypes) of x, w, b.

    Picks one strategy (each a function below): Winograd (3x3 stride-1 layers with enough
    channels), depthwise, dx as a convolution of dout (stride 1, F/groups not much larger
    than C/groups), dx by phases (stride > 1), or col2im.
    """
    x, w, b, p = cache
    p = conv_cache_settings(x, w, p)
    N, C, H, W = x.shape
    F, Cg, HH, WW = w.shape
    check_dout(dout, (N, F, p["Ho"], p["Wo"]))
    dtype = (x.dtype if x.dtype == w.dtype == b.dtype == dout.dtype
             else np.result_type(x.dtype, w.dtype, b.dtype, dout.dtype))
    dout = dout.astype(dtype, copy=False)
    wd = w.astype(dtype, copy=False)
    stride, pad, dil, groups = p["stride"], p["pad"], p["dilation"], p["groups"]
    Fg = F // groups
    strategy = conv_strategy(x.shape, w.shape, stride, pad, dil, groups)
    macs = N * F * p["Ho"] * p["Wo"] * Cg * HH * WW
    result = None
    if strategy == "winograd":
        result = _conv_backward_winograd(dout, x, wd, p, macs)
    if result is not None:
        dx, dw, db = result
    elif strategy == "depthwise":
        dx, dw, db = _conv_backward_depthwise(dout, x, wd, p, macs)
    elif stride == 1 and (Fg <= _TRANSPOSED_RATIO * Cg or
                          (Cg >= _TRANSPOSED_MIN_C and Fg <= _TRANSPOSED_RATIO_WIDE * Cg)):
        dx, dw, db = _conv_backward_transposed(dout, x, wd, p, macs)
    elif stride > 1:
        dx, dw, db = _conv_backward_phases(dout, x, wd, p, macs)
    else:
        dx, dw, db = _conv_backward_col2im(dout, x, wd, p, macs)
    return (dx.astype(x.dtype, copy=False), dw.astype(w.dtype, copy=False),
            db.astype(b.dtype, copy=False))


def _conv_backward_winograd(dout, x, wd, p, macs):
    """3x3 stride 1: dM = A dY A^T, dw = G^T (dM V^T) G, dx = B (U^T dM) B^T, tile by tile."""
    N, C = x.shape[:2]
    F = wd.shape[0]
    info = _winograd_plan(N, C, F, p["Ho"], p["Wo"], dout.itemsize, True, macs)
    if info is None:
        return None
    return winograd.backward(dout, x, wd, p["pad"], p["groups"], info, _run)


def _conv_backward_depthwise(dout, x, wd, p, macs):
    """Depthwise (C/groups == 1): multiply-accumulate over kernel offsets on a padded copy."""
    info = _depthwise_plan(x.shape, wd.shape, p["pad"], p["dilation"], p["stride"], p["Ho"], p["Wo"],
                           dout.itemsize, True, macs)
    dx, dw = fast_conv.depthwise_backward(dout, x, wd, p["stride"], p["pad"], p["dilation"],
                                          p["Ho"], p["Wo"], info, _run)
    return dx, dw, dout.sum(axis=(0, 2, 3))


def _conv_backward_transposed(dout, x, wd, p, macs):
    """Stride 1: dx is a stride-1 convolution of dout with the flipped, transposed filters
    (padding dil*(HH-1) - pad): im2col of dout and one matmul, no col2im. dw comes from the
    same columns of dout: no im2col of x at all."""
    N, C, H, W = x.shape
    F, Cg, HH, WW = wd.shape
    info = fast_conv.plan(N, H, fast_conv.transposed_bytes(C, HH, WW, F, dout.itemsize) * W, cols=W,
                          fixed=wd.nbytes, partial=wd.nbytes, budget=SCRATCH_BYTES,
                          target=CHUNK_BYTES, **_par(macs), name="conv_backward_fast")
    dx, dw = fast_conv.transposed_backward(dout, x, wd, p["groups"], p["dilation"], p["pad"], info, _run)
    return dx, dw, dout.sum(axis=(0, 2, 3))


def _weight_grad(dout, x, wd, p, macs, dx=None):
    N, C = x.shape[:2]
    F, Cg, HH, WW = wd.shape
    Ho, Wo = p["Ho"], p["Wo"]
    info = fast_conv.plan(N, Ho, fast_conv.weight_grad_bytes(C, HH, WW, F, dout.itemsize, dx is not None) * Wo,
                          cols=Wo, fixed=wd.nbytes, partial=wd.nbytes, budget=SCRATCH_BYTES,
                          target=CHUNK_BYTES, **_par(macs), group_samples=dx is not None,
                          name="conv_backward_fast")
    saved = p.get("cols")
    if saved is not None and (saved.shape not in ((N, C, HH, WW, Ho, Wo), (N, C * HH * WW + 1, Ho * Wo))
                              or saved.dtype != dout.dtype or p["groups"] != 1 and saved.ndim == 3):
        saved = None
    geom = (HH, WW, p["dilation"], p["stride"], p["pad"], p["pad"])
    return fast_conv.weight_grad(x, dout, wd, p["groups"], geom, info, _run, dx=dx, saved_cols=saved)


def _conv_backward_phases(dout, x, wd, p, macs):
    """Stride > 1: dx phase by phase (each a stride-1 conv of dout with some of the filter's
    taps, written once, no col2im); dw from the columns of x, accumulated in place."""
    dw = _weight_grad(dout, x, wd, p, macs)
    dx = fast_conv.polyphase_dx(dout, wd, p["groups"], p["dilation"], p["stride"], p["pad"], x.shape,
                                SCRATCH_BYTES, CHUNK_BYTES, _threads(macs), _run,
                                spread=macs >= THREAD_MIN_MACS)
    return dx, dw, dout.sum(axis=(0, 2, 3))


def _conv_backward_col2im(dout, x, wd, p, macs):
    """Any stride: dw = dout @ cols^T (columns of x rebuilt, or kept by the forward), and
    W^T @ dout added back onto dx (col2im)."""
    dx = np.zeros(x.shape, dout.dtype)
    dw = _weight_grad(dout, x, wd, p, macs, dx=dx)
    return dx, dw, dout.sum(axis=(0, 2, 3))


# ----------------------------------------------------------------------------------------
# Max pooling
# ----------------------------------------------------------------------------------------

def _check_pool_extent(x, pool_param, name):
    """Refuse at once a pooling stride more than EXTENT_LIMIT times the input."""
    if not (isinstance(pool_param, dict) and getattr(x, "ndim", 0) == 4):
        return
    stride = pool_param.get("stride")
    limit = EXTENT_LIMIT * max(x.shape[2], x.shape[3])
    if type(stride) is int and stride > limit:
        raise ValueError(f"{name}: pool_param['stride'] = {stride} is far larger than the input "
                         f"({x.shape[2]}x{x.shape[3]}): there is room for one window only. "
                         f"Strides over {EXTENT_LIMIT}x the input = {limit} are refused "
                         f"(fast_layers.EXTENT_LIMIT); use a smaller stride")


def max_pool_forward_fast(x: np.ndarray, pool_param: dict):
    """Max pooling forward pass, vectorised (same numbers as `layers.max_pool_forward_naive`).

    Inputs: x (N, C, H, W); pool_param with `pool_height`, `pool_width`, `stride` (defaults to
    the window size for square windows) and optional `rounding` ('exact' or 'floor').
    Returns (out, cache); out (N, C, H', W') with H' = 1 + (H - pool_height) // stride.
    The cache holds the switches: for each window, the index kh*pool_width + kw of its first
    maximum (a small unsigned integer), plus x's shape and dtype; not x itself.
    """
    _check_pool_extent(x, pool_param, "max_pool_forward_fast")
    ph, pw, stride, Ho, Wo = pool_setup(x, pool_param, "max_pool_forward_fast")
    threads = parallel.num_threads() if x.nbytes >= fast_pool.POOL_THREAD_BYTES else 1
    out, switches = fast_pool.max_pool_forward(x, ph, pw, stride, Ho, Wo, _run, threads)
    return out, (switches, x.shape, x.dtype, (ph, pw, stride))


def max_pool_backward_fast(dout: np.ndarray, cache):
    """Max pooling backward pass: each window's gradient goes to its recorded switch.

    When several entries tie for the maximum, the switch is the first one in row-major order
    (as `np.argmax` in the naive version). Overlapping windows add their gradients.
    Returns dx with the shape of x.
    """
    if not (isinstance(cache, tuple) and len(cache) == 4 and isinstance(cache[0], np.ndarray)
            and cache[0].dtype.kind == "u"):
        raise TypeError("max_pool_backward_fast needs the cache of max_pool_forward_fast "
                        "(switches, x shape, dtype, (pool_height, pool_width, stride)); for the "
                        "cache of max_pool_forward_naive use max_pool_backward_naive")
    switches, x_shape, dtype, (ph, pw, stride) = cache
    check_dout(dout, switches.shape)
    dout = dout.astype(dtype, copy=False)
    threads = parallel.num_threads() if dout.nbytes * 4 >= fast_pool.POOL_THREAD_BYTES else 1
    return fast_pool.max_pool_backward(dout, switches, x_shape, dtype, ph, pw, stride, _run, threads)
