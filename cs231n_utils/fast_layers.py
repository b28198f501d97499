"""Vectorised kernels (快速实现) behind the fast layers in `cs231n_utils.layers`.

The readable loop definitions live in `layers`; the functions here compute the same numbers
(to ~1e-10 in float64) without Python loops over pixels:

- convolution: im2col (图像块展开) built as K*K strided slice copies (one per kernel offset,
  reading x directly: the entries that fall in the zero padding are simply never written),
  then one matrix multiplication per sample, W (F, C*K*K) @ cols (C*K*K, H'*W'), which gives
  the output directly in NCHW order. Backward: dw = (cols @ dout^T)^T; dx either as W^T @ dout
  scattered back (col2im) with the same K*K loop of slice additions (~10x faster than
  `np.add.at`), or, for stride 1 unless there are many more filters than input channels, as a
  convolution of dout with the flipped filters (im2col of dout + one matmul, no scatter), with
  dw from the same columns of dout (dw = dcols @ x^T: no im2col of x in that backward).
  The batch is processed in chunks of ~`CHUNK_BYTES` (4 MiB) of columns so they stay in the
  CPU cache, and never more than `SCRATCH_BYTES` (64 MiB) of scratch, whatever N is. When
  the whole batch fits in one chunk, the forward keeps its columns in the cache for backward.
- grouped convolution (分组卷积): the same with a batched matmul over groups; depthwise
  convolution (groups == C) uses an elementwise multiply-accumulate over kernel offsets.
- max pooling: an elementwise maximum over the strided kernel-offset slices, done separably
  (first over the window's columns, then over its rows: ph + pw passes, not ph*pw); the backward
  pass routes each window's gradient to the *first* maximum in row-major order (the same tie
  rule as `np.argmax` in the naive version).

You rarely import this module directly: `cs231n_utils.layers` re-exports `conv_forward_fast`,
`conv_backward_fast`, `max_pool_forward_fast` and `max_pool_backward_fast`.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .checks import check_dout, conv_cache_settings, conv_setup, pool_setup

__all__ = ["conv_forward_fast", "conv_backward_fast", "max_pool_forward_fast",
           "max_pool_backward_fast", "SCRATCH_BYTES", "CHUNK_BYTES"]

#: Upper bound on the temporary buffers (padded input + columns) of the fast convolution, in
#: bytes, whatever the batch size N: the batch is processed in chunks of samples.
SCRATCH_BYTES = 64 * 2 ** 20
#: Preferred chunk size in bytes: small enough that the columns of a chunk stay in the CPU
#: cache between being written (im2col) and read (matmul), which is ~1.3x faster than
#: building the columns of a whole 64 MiB chunk at once.
CHUNK_BYTES = 4 * 2 ** 20


# ----------------------------------------------------------------------------------------
# Convolution
# ----------------------------------------------------------------------------------------

def _span(k: int, dilation: int, stride: int, n_out: int) -> slice:
    """Rows of the padded input that kernel offset k touches for the n_out output rows."""
    start = k * dilation
    return slice(start, start + stride * (n_out - 1) + 1, stride)


def _chunk_size(N: int, per_sample_bytes: int) -> int:
    """Samples per chunk: scratch of about CHUNK_BYTES, never over SCRATCH_BYTES (at least 1 sample)."""
    budget = min(SCRATCH_BYTES, CHUNK_BYTES)
    return int(max(1, min(N, budget // max(1, per_sample_bytes))))


def _pad_into(buf: np.ndarray, x_chunk: np.ndarray, pad: int) -> np.ndarray:
    """Copy x_chunk into the interior of the zero-bordered buffer buf (same leading sizes)."""
    n = x_chunk.shape[0]
    view = buf[:n]
    H, W = x_chunk.shape[2:]
    view[:, :, pad:pad + H, pad:pad + W] = x_chunk
    return view


# backward of a stride-1 conv: im2col of dout + matmuls (dx, and dw from the same columns:
# no im2col of x) when F/groups <= _TRANSPOSED_RATIO * C/groups, or <= _TRANSPOSED_RATIO_WIDE
# times when C/groups >= _TRANSPOSED_MIN_C; otherwise matmul + col2im. Measured (2 threads):
# 1.3-1.9x faster backward for F = 2C..8C with C >= 8; slower when C <= 4 (a skinny GEMM with
# M = C rows) unless F <= 2C, and much slower for F >= 10C.
_TRANSPOSED_RATIO = 2
_TRANSPOSED_RATIO_WIDE = 8
_TRANSPOSED_MIN_C = 8


def _valid_range(k: int, dilation: int, stride: int, pad: int, size: int, n_out: int):
    """Output indices i whose input index i*stride + k*dilation - pad lies inside [0, size).

    Returns (i0, i1, in_slice): outputs i0..i1-1 read the input rows in_slice (i1 may equal i0).
    """
    offset = k * dilation - pad
    i0 = min(n_out, max(0, -(offset // stride)))          # ceil(-offset / stride), clipped
    i1 = min(n_out, max(i0, (size - 1 - offset) // stride + 1))
    start = i0 * stride + offset
    return i0, i1, slice(start, start + stride * (i1 - i0 - 1) + 1, stride) if i1 > i0 else slice(0, 0)


@lru_cache(maxsize=256)
def _offset_table(HH, WW, dilation, stride, pad, H, W, Ho, Wo):
    """For every kernel offset: (kh, kw, output rows, output cols, input rows, input cols)."""
    return _offset_table_rect(HH, WW, dilation, pad, pad, H, W, Ho, Wo, stride)


@lru_cache(maxsize=256)
def _offset_table_rect(HH, WW, dilation, pad_h, pad_w, H, W, Ho, Wo, stride=1):
    """_offset_table with different (possibly negative: cropping) paddings along H and W."""
    rows = [_valid_range(kh, dilation, stride, pad_h, H, Ho) for kh in range(HH)]
    cols = [_valid_range(kw, dilation, stride, pad_w, W, Wo) for kw in range(WW)]
    table = []
    for kh, (i0, i1, rin) in enumerate(rows):
        for kw, (j0, j1, cin) in enumerate(cols):
            if i1 > i0 and j1 > j0:
                table.append((kh, kw, slice(i0, i1), slice(j0, j1), rin, cin))
    return tuple(table)


def _im2col_direct(x: np.ndarray, cols: np.ndarray, table) -> np.ndarray:
    """cols[n, c, kh, kw, i, j] = x_pad[n, c, i*s + kh*d, j*s + kw*d], reading x without padding it.

    Only the entries that fall inside x are written: `cols` must start zeroed, and the entries
    that fall in the padding stay zero because no call writes them.
    """
    for kh, kw, io, jo, ri, ci in table:
        cols[:, :, kh, kw, io, jo] = x[:, :, ri, ci]
    return cols


#: im2col of at most this many column entries: pad a copy of x and read every kernel offset
#: in one strided copy (fewer numpy calls: ~30% faster on tiny layers, e.g. the toy shape)
_SMALL_COLS = 1 << 14


def _im2col(x: np.ndarray, cols: np.ndarray, table, HH, WW, dil, stride, pad_h, pad_w):
    """_im2col_direct (cols must start zeroed), or for small non-cropping cases one strided copy."""
    if cols.size > _SMALL_COLS or pad_h < 0 or pad_w < 0:
        return _im2col_direct(x, cols, table)
    n, C, H, W = x.shape
    xp = np.zeros((n, C, H + 2 * pad_h, W + 2 * pad_w), cols.dtype)
    xp[:, :, pad_h:pad_h + H, pad_w:pad_w + W] = x
    s0, s1, s2, s3 = xp.strides
    cols[...] = np.ndarray(cols.shape, xp.dtype, xp, 0,
                           (s0, s1, s2 * dil, s3 * dil, s2 * stride, s3 * stride))
    return cols


def _col2im_direct(dcols: np.ndarray, dx: np.ndarray, table) -> np.ndarray:
    """Adjoint of _im2col_direct: add the columns back onto dx (gradients of padding are dropped)."""
    for kh, kw, io, jo, ri, ci in table:
        dx[:, :, ri, ci] += dcols[:, :, kh, kw, io, jo]
    return dx


def _conv_chunks(x, pad, Hp, Wp, per_extra, dtype):
    """Yield (start, stop, padded chunk) over the batch, reusing one zero-bordered buffer."""
    N, C, H, W = x.shape
    itemsize = np.dtype(dtype).itemsize
    per_sample = (C * Hp * Wp * (1 if pad else 0) + per_extra) * itemsize
    nb = _chunk_size(N, per_sample)
    buf = np.zeros((nb, C, Hp, Wp), dtype) if pad else None
    for s in range(0, N, nb):
        xc = x[s:s + nb]
        if pad:
            xc = _pad_into(buf, xc, pad)
        elif xc.dtype != dtype:
            xc = xc.astype(dtype)
        yield s, s + xc.shape[0], xc


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
    stride, pad, dil, groups, _, Ho, Wo, dtype = conv_setup(x, w, b, conv_param, "conv_forward_fast")
    N, C, H, W = x.shape
    F, Cg, HH, WW = w.shape
    Hp, Wp = H + 2 * pad, W + 2 * pad
    Fg = F // groups
    wd = w.astype(dtype, copy=False)
    out = np.empty((N, F, Ho, Wo), dtype)
    if Cg == 1 and groups > 1:
        # depthwise: multiply-accumulate over kernel offsets, no im2col
        wk = wd.reshape(groups, Fg, HH, WW)
        tmp = None
        for s, e, xp in _conv_chunks(x, pad, Hp, Wp, 2 * F * Ho * Wo, dtype):
            o = out[s:e].reshape(e - s, groups, Fg, Ho, Wo)
            if tmp is None:
                tmp = np.empty(o.shape, dtype)
            t = tmp[:e - s]
            o[...] = b.astype(dtype, copy=False).reshape(groups, Fg)[:, :, None, None]
            for kh in range(HH):
                rows = _span(kh, dil, stride, Ho)
                for kw in range(WW):
                    xs = xp[:, :, rows, _span(kw, dil, stride, Wo)]
                    np.multiply(xs[:, :, None], wk[:, :, kh, kw, None, None], out=t)
                    o += t
    else:
        K = Cg * HH * WW
        w2 = wd.reshape(groups, Fg, K)
        bd = b.astype(dtype, copy=False)[:, None, None]
        table = _offset_table(HH, WW, dil, stride, pad, H, W, Ho, Wo)
        nb = _chunk_size(N, C * HH * WW * Ho * Wo * np.dtype(dtype).itemsize)
        cols_buf = np.zeros((nb, C, HH, WW, Ho, Wo), dtype)
        for s in range(0, N, nb):
            n = min(nb, N - s)
            cols = _im2col(x[s:s + n], cols_buf[:n], table, HH, WW, dil, stride, pad, pad)
            oc = out[s:s + n]
            np.matmul(w2, cols.reshape(n, groups, K, Ho * Wo), out=oc.reshape(n, groups, Fg, Ho * Wo))
            oc += bd                        # while the chunk is still in cache
    settings = {"stride": stride, "pad": pad, "dilation": dil, "groups": groups, "Ho": Ho, "Wo": Wo}
    if not (Cg == 1 and groups > 1) and nb >= N:
        settings["cols"] = cols_buf     # the whole batch fitted in one small chunk: keep it
    return out, (x, w, b, settings)


def conv_backward_fast(dout: np.ndarray, cache):
    """Convolution backward pass, vectorised.

    Inputs: dout (N, F, H', W') upstream gradient; cache from `conv_forward_fast`.
    Returns (dx, dw, db) with the shapes (and dtypes) of x, w, b.

    Picks one of three strategies (each a function below): depthwise multiply-accumulate
    (groups == C), dx as a convolution of dout (stride 1, F/groups not much larger than
    C/groups), or matmul + col2im (every other case).
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
    Fg = F // p["groups"]
    if Cg == 1 and p["groups"] > 1:
        dx, dw, db = _conv_backward_depthwise(dout, x, wd, p, dtype)
    elif p["stride"] == 1 and (Fg <= _TRANSPOSED_RATIO * Cg or
                               (Cg >= _TRANSPOSED_MIN_C and Fg <= _TRANSPOSED_RATIO_WIDE * Cg)):
        dx, dw, db = _conv_backward_transposed(dout, x, wd, p, dtype)
    else:
        dx, dw, db = _conv_backward_col2im(dout, x, wd, p, dtype)
    return (dx.astype(x.dtype, copy=False), dw.astype(w.dtype, copy=False),
            db.astype(b.dtype, copy=False))


def _conv_backward_depthwise(dout, x, wd, p, dtype):
    """Depthwise (C/groups == 1): multiply-accumulate over kernel offsets on a padded copy."""
    stride, pad, dil, groups, Ho, Wo = (p["stride"], p["pad"], p["dilation"], p["groups"],
                                        p["Ho"], p["Wo"])
    N, C, H, W = x.shape
    F, _, HH, WW = wd.shape
    Hp, Wp = H + 2 * pad, W + 2 * pad
    Fg = F // groups
    dx = np.empty(x.shape, dtype)
    wk = wd.reshape(groups, Fg, HH, WW)
    dwk = np.zeros((groups, Fg, HH, WW), dtype)
    dxp_buf = None
    for s, e, xp in _conv_chunks(x, pad, Hp, Wp, C * Hp * Wp + 2 * F * Ho * Wo, dtype):
        n = e - s
        if dxp_buf is None:
            dxp_buf = np.empty((n, C, Hp, Wp), dtype)
        dxp = dxp_buf[:n]
        dxp.fill(0)
        d5 = dout[s:e].reshape(n, groups, Fg, Ho, Wo)
        for kh in range(HH):
            rows = _span(kh, dil, stride, Ho)
            for kw in range(WW):
                cs = _span(kw, dil, stride, Wo)
                xs = xp[:, :, rows, cs]
                if Fg == 1:
                    d4 = d5[:, :, 0]
                    dwk[:, 0, kh, kw] += np.einsum("nghw,nghw->g", d4, xs)
                    dxp[:, :, rows, cs] += d4 * wk[None, :, 0, kh, kw, None, None]
                else:
                    dwk[:, :, kh, kw] += np.einsum("ngfhw,nghw->gf", d5, xs)
                    dxp[:, :, rows, cs] += np.einsum("ngfhw,gf->nghw", d5, wk[:, :, kh, kw])
        dx[s:e] = dxp[:, :, pad:pad + H, pad:pad + W]
    return dx, dwk.reshape(F, 1, HH, WW), dout.sum(axis=(0, 2, 3))


def _conv_backward_transposed(dout, x, wd, p, dtype):
    """Stride 1: dx is a stride-1 convolution of dout with the flipped, transposed filters
    (padding dil*(HH-1) - pad): im2col of dout and one matmul, no col2im. dw comes from the
    same columns of dout: dw[f, c, a, b] = sum_p x[c, p] * dcols[f, HH-1-a, WW-1-b, p], i.e.
    G = dcols @ x^T of shape (Fg*HH*WW, Cg) per group: no im2col of x at all."""
    pad, dil, groups = p["pad"], p["dilation"], p["groups"]
    Ho, Wo = p["Ho"], p["Wo"]
    N, C, H, W = x.shape
    F, Cg, HH, WW = wd.shape
    Fg = F // groups
    itemsize = np.dtype(dtype).itemsize
    dx = np.empty(x.shape, dtype)
    pad_h, pad_w = dil * (HH - 1) - pad, dil * (WW - 1) - pad
    table_t = _offset_table_rect(HH, WW, dil, pad_h, pad_w, Ho, Wo, H, W)
    wt = (wd.reshape(groups, Fg, Cg, HH, WW)[:, :, :, ::-1, ::-1]
          .transpose(0, 2, 1, 3, 4).reshape(groups, Cg, Fg * HH * WW))
    per = (C * Ho * Wo + F * H * W) * HH * WW * itemsize
    nb = _chunk_size(N, per)
    dcols_buf = np.zeros((nb, F, HH, WW, H, W), dtype)
    gt = np.zeros((groups, Fg * HH * WW, Cg), dtype)
    tmp = None
    db = dout.sum(axis=(0, 2, 3))
    for s in range(0, N, nb):
        n = min(nb, N - s)
        dcols = _im2col(dout[s:s + n], dcols_buf[:n], table_t, HH, WW, dil, 1, pad_h, pad_w)
        dcols = dcols.reshape(n, groups, Fg * HH * WW, H * W)
        xs = x[s:s + n].astype(dtype, copy=False).reshape(n, groups, Cg, H * W)
        if n <= 4 and Fg * HH * WW * H * W >= 65536:   # a few big samples: one GEMM each
            if tmp is None:
                tmp = np.empty((groups, Fg * HH * WW, Cg), dtype)
            for i in range(n):
                np.matmul(dcols[i], xs[i].transpose(0, 2, 1), out=tmp)
                gt += tmp
        else:
            gt += np.matmul(dcols, xs.transpose(0, 1, 3, 2)).sum(axis=0)
        np.matmul(wt, dcols, out=dx[s:s + n].reshape(n, groups, Cg, H * W))
    dw = (gt.reshape(groups, Fg, HH, WW, Cg)[:, :, ::-1, ::-1]
          .transpose(0, 1, 4, 2, 3).reshape(F, Cg, HH, WW))
    return dx, dw, db


def _conv_backward_col2im(dout, x, wd, p, dtype):
    """Any stride: dw^T = cols @ dout^T (columns of x rebuilt, or kept by the forward), and
    dcols = W^T @ dout scattered back onto dx (col2im)."""
    stride, pad, dil, groups, Ho, Wo = (p["stride"], p["pad"], p["dilation"], p["groups"],
                                        p["Ho"], p["Wo"])
    N, C, H, W = x.shape
    F, Cg, HH, WW = wd.shape
    Fg = F // groups
    K = Cg * HH * WW
    itemsize = np.dtype(dtype).itemsize
    table = _offset_table(HH, WW, dil, stride, pad, H, W, Ho, Wo)
    w2t = wd.reshape(groups, Fg, K).transpose(0, 2, 1)
    nb = _chunk_size(N, 2 * C * HH * WW * Ho * Wo * itemsize)
    dcols_buf = np.empty((nb, C, HH, WW, Ho, Wo), dtype)
    dx = np.zeros(x.shape, dtype)
    # dw^T = cols @ dout^T, accumulated as (groups, K, Fg) and transposed once at the end:
    # measured faster than dout @ cols^T in both float32 and float64 (OpenBLAS, 2 threads)
    dwt = np.zeros((groups, K, Fg), dtype)
    tmp = np.empty((groups, K, Fg), dtype)
    saved = p.get("cols")
    if saved is not None and (saved.shape[0] != N or saved.dtype != dtype):
        saved = None
    cols_buf = np.zeros((nb, C, HH, WW, Ho, Wo), dtype) if saved is None else None
    db = np.zeros(F, dtype)
    for s in range(0, N, nb):
        n = min(nb, N - s)
        if saved is None:
            cols = _im2col_direct(x[s:s + n], cols_buf[:n], table)
        else:
            cols = saved[s:s + n]
        cols = cols.reshape(n, groups, K, Ho * Wo)
        d4 = dout[s:s + n].reshape(n, groups, Fg, Ho * Wo)
        db += d4.sum(axis=(0, 3)).reshape(F)
        if n <= 4 and K * Ho * Wo >= 65536:      # a few big samples: one GEMM each
            for i in range(n):
                np.matmul(cols[i], d4[i].transpose(0, 2, 1), out=tmp)
                dwt += tmp
        else:
            dwt += np.matmul(cols, d4.transpose(0, 1, 3, 2)).sum(axis=0)
        dcols = dcols_buf[:n]
        np.matmul(w2t, d4, out=dcols.reshape(n, groups, K, Ho * Wo))
        _col2im_direct(dcols, dx[s:s + n], table)
    return dx, dwt.transpose(0, 2, 1).reshape(F, Cg, HH, WW), db


# ----------------------------------------------------------------------------------------
# Max pooling
# ----------------------------------------------------------------------------------------

def max_pool_forward_fast(x: np.ndarray, pool_param: dict):
    """Max pooling forward pass, vectorised (same numbers as `layers.max_pool_forward_naive`).

    Inputs: x (N, C, H, W); pool_param with `pool_height`, `pool_width`, `stride` (defaults to
    the window size for square windows) and optional `rounding` ('exact' or 'floor').
    Returns (out, cache); out (N, C, H', W') with H' = 1 + (H - pool_height) // stride.
    Computed as an elementwise maximum over strided slices, first along W then along H.
    """
    ph, pw, stride, Ho, Wo = pool_setup(x, pool_param, "max_pool_forward_fast")
    # separable: max over the window's columns first (rows of x that some window touches),
    # then over its rows; ph + pw passes instead of ph * pw
    used_rows = slice(0, stride * (Ho - 1) + ph)
    if pw == 1:
        colmax = x[:, :, used_rows, _span(0, 1, stride, Wo)]
    else:
        colmax = np.maximum(x[:, :, used_rows, _span(0, 1, stride, Wo)],
                            x[:, :, used_rows, _span(1, 1, stride, Wo)])
        for kw in range(2, pw):
            np.maximum(colmax, x[:, :, used_rows, _span(kw, 1, stride, Wo)], out=colmax)
    if ph == 1:
        out = colmax[:, :, _span(0, 1, stride, Ho)].copy()
    else:
        out = np.maximum(colmax[:, :, _span(0, 1, stride, Ho)], colmax[:, :, _span(1, 1, stride, Ho)])
        for kh in range(2, ph):
            np.maximum(out, colmax[:, :, _span(kh, 1, stride, Ho)], out=out)
    cache = (x, out, (ph, pw, stride))
    return out, cache


def max_pool_backward_fast(dout: np.ndarray, cache):
    """Max pooling backward pass, vectorised.

    Each window's gradient goes to its maximum; when several entries tie for the maximum, to
    the first one in row-major order (as `np.argmax` in the naive version). Overlapping
    windows add their gradients. Returns dx with the shape of x.
    """
    x, out, (ph, pw, stride) = cache
    check_dout(dout, out.shape)
    dout = dout.astype(x.dtype, copy=False)
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2:]
    overlap = stride < ph or stride < pw
    if overlap and x.dtype == np.float64:
        # float64: one np.bincount beats ph*pw read-modify-write passes over dx (measured ~1.4x)
        return _max_pool_backward_overlapping(dout, x, out, ph, pw, stride)
    if not overlap and stride == ph == pw and Ho * ph == H and Wo * pw == W:
        dx = np.empty_like(x)        # the windows tile x exactly: every pixel is written once
    else:
        dx = np.zeros_like(x)
    hit = np.empty(out.shape, bool)
    pending = np.ones(out.shape, bool)   # windows whose (first) maximum is not found yet
    tmp = np.empty_like(out) if overlap else None
    for kh in range(ph):
        rows = _span(kh, 1, stride, Ho)
        for kw in range(pw):
            cs = _span(kw, 1, stride, Wo)
            np.equal(x[:, :, rows, cs], out, out=hit)
            np.logical_and(hit, pending, out=hit)
            np.greater(pending, hit, out=pending)          # pending and not hit
            if overlap:                                    # windows share pixels: add
                np.multiply(hit, dout, out=tmp)
                dx[:, :, rows, cs] += tmp
            else:                                          # each pixel in one window: write
                np.multiply(hit, dout, out=dx[:, :, rows, cs])
    return dx


def _max_pool_backward_overlapping(dout, x, out, ph, pw, stride):
    """Overlapping windows: find each window's first maximum, then add all gradients at once.

    arg[n, c, i, j] = index k = kh*pw + kw of the first maximum of window (i, j) (the loop runs
    backwards so the smallest k wins); its pixel's flat index in x gets dout via np.bincount,
    which adds the contributions of windows that share a pixel.
    """
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2:]
    arg = np.empty(out.shape, np.intp)    # every window has a maximum: k = 0..K-1 all set it
    hit = np.empty(out.shape, bool)
    for k in range(ph * pw - 1, -1, -1):
        kh, kw = divmod(k, pw)
        np.equal(x[:, :, _span(kh, 1, stride, Ho), _span(kw, 1, stride, Wo)], out, out=hit)
        np.copyto(arg, k, where=hit)
    offsets = (np.arange(ph)[:, None] * W + np.arange(pw)[None, :]).ravel()
    base = ((np.arange(N * C) * (H * W))[:, None, None]
            + (np.arange(Ho) * (stride * W))[None, :, None]
            + (np.arange(Wo) * stride)[None, None, :]).reshape(N, C, Ho, Wo)
    index = offsets[arg]
    index += base
    dx = np.bincount(index.ravel(), weights=dout.ravel(), minlength=x.size)
    return dx.reshape(x.shape).astype(x.dtype, copy=False)
