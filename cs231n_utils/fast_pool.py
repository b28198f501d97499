"""Max pooling with recorded switches (道岔, "switches") behind `cs231n_utils.fast_layers`.

The notes' advice: while pooling forward, remember where each window's maximum was, so that
the backward pass only routes gradients. The forward here finds the maximum and its position
separably, first over the window's columns (pw passes) and then over its rows (ph passes),
keeping for each window the index k = kh * pool_width + kw of its first maximum in row-major
order (the tie rule of `np.argmax` in the naive version). The cache holds these switches as
one small integer per window (uint8 for windows up to 16x16), not a copy of x.

The backward pass is one scatter: dx[window origin + offset of switch] gets dout. When
windows do not overlap (stride >= window) every pixel gets at most one value, so it is a plain
indexed assignment; when they overlap (AlexNet's 3x3 windows with stride 2) it is one
`np.bincount`, which adds the gradients of the windows sharing a pixel.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["max_pool_forward", "max_pool_backward", "switch_dtype"]

#: Samples per chunk: about this many bytes of x (chunks stay in the CPU cache, and several
#: chunks run in parallel threads)
POOL_CHUNK_BYTES = 1 << 20
#: Below this many bytes of x, everything runs in the calling thread
POOL_THREAD_BYTES = 4 << 20


def _span(k: int, stride: int, n_out: int) -> slice:
    return slice(k, k + stride * (n_out - 1) + 1, stride)


def switch_dtype(ph: int, pw: int):
    """The smallest unsigned integer type that holds a window index 0 .. ph*pw - 1."""
    k = ph * pw
    return np.uint8 if k <= 256 else np.uint16 if k <= 65536 else np.uint32


def _select(dst, hit, value, tmp):
    """dst = where(hit, value, dst) for small unsigned ints, as dst += hit * (value - dst)
    (wrap-around arithmetic; several times faster than np.copyto(..., where=hit))."""
    np.subtract(value, dst, out=tmp)
    tmp *= hit
    dst += tmp


def _pool_chunk(x, out, sw, ph, pw, stride):
    """Max and first-argmax of every window of x (n, C, H, W) into out and sw (n, C, Ho, Wo).

    Separable: over the window's columns (colmax, colarg per row), then over its rows. A later
    tap replaces the current maximum only when strictly greater: the first maximum wins."""
    Ho, Wo = out.shape[2:]
    used = slice(0, stride * (Ho - 1) + ph)
    st = sw.dtype.type
    v0 = x[:, :, used, _span(0, stride, Wo)]
    if pw == 1:
        colmax, colarg = v0, np.zeros(v0.shape, sw.dtype)
    else:
        v1 = x[:, :, used, _span(1, stride, Wo)]
        colmax = np.maximum(v0, v1)
        colarg = np.greater(v1, v0).astype(sw.dtype)
        hit, tmp = np.empty(colmax.shape, bool), np.empty(colmax.shape, sw.dtype)
        for kw in range(2, pw):
            v = x[:, :, used, _span(kw, stride, Wo)]
            np.greater(v, colmax, out=hit)
            np.maximum(colmax, v, out=colmax)
            _select(colarg, hit, st(kw), tmp)
    if ph == 1:
        out[...] = colmax[:, :, _span(0, stride, Ho)]
        sw[...] = colarg[:, :, _span(0, stride, Ho)]
        return
    r0, r1 = colmax[:, :, _span(0, stride, Ho)], colmax[:, :, _span(1, stride, Ho)]
    np.maximum(r0, r1, out=out)
    hit = np.greater(r1, r0)
    sw[...] = colarg[:, :, _span(0, stride, Ho)]
    tmp = np.empty(sw.shape, sw.dtype)
    _select(sw, hit, colarg[:, :, _span(1, stride, Ho)] + st(pw), tmp)
    for kh in range(2, ph):
        v = colmax[:, :, _span(kh, stride, Ho)]
        np.greater(v, out, out=hit)
        np.maximum(out, v, out=out)
        _select(sw, hit, colarg[:, :, _span(kh, stride, Ho)] + st(kh * pw), tmp)


def _chunks(N: int, per_sample: int):
    nb = max(1, min(N, POOL_CHUNK_BYTES // max(1, per_sample)))
    return [(s, min(N, s + nb)) for s in range(0, N, nb)]


def max_pool_forward(x, ph, pw, stride, Ho, Wo, run, threads):
    """Returns (out, switches); `run(fn, n, threads)` runs fn(lo, hi) over blocks of chunks."""
    N, C, H, W = x.shape
    out = np.empty((N, C, Ho, Wo), x.dtype)
    sw = np.empty((N, C, Ho, Wo), switch_dtype(ph, pw))
    if x.nbytes <= POOL_CHUNK_BYTES:                     # small: no chunks, no threads
        _pool_chunk(x, out, sw, ph, pw, stride)
        return out, sw
    chunks = _chunks(N, x[0].nbytes)
    if x.nbytes < POOL_THREAD_BYTES:
        threads = 1

    def work(lo, hi):
        for s, e in chunks[lo:hi]:
            _pool_chunk(x[s:e], out[s:e], sw[s:e], ph, pw, stride)
    run(work, len(chunks), threads)
    return out, sw


@lru_cache(maxsize=64)
def _origins(C, H, W, Ho, Wo, stride):
    """Flat index (within one sample) of the top-left pixel of every window: (C, Ho, Wo)."""
    return (np.arange(C)[:, None, None] * (H * W) + np.arange(Ho)[None, :, None] * (stride * W)
            + np.arange(Wo)[None, None, :] * stride)


@lru_cache(maxsize=64)
def _offsets(ph, pw, W):
    """Flat offset (within the image) of window position k = kh*pw + kw."""
    return (np.arange(ph)[:, None] * W + np.arange(pw)[None, :]).ravel()


def max_pool_backward(dout, sw, x_shape, dtype, ph, pw, stride, run, threads):
    """dx: each window's gradient sent to its recorded switch, in one scatter per chunk."""
    N, C, H, W = x_shape
    Ho, Wo = sw.shape[2:]
    overlap = stride < ph or stride < pw
    origins = _origins(C, H, W, Ho, Wo, stride)
    offsets = _offsets(ph, pw, W)
    dx = np.empty(x_shape, dtype)
    chunks = _chunks(N, C * H * W * np.dtype(dtype).itemsize)
    if dx.nbytes < POOL_THREAD_BYTES:
        threads = 1

    def work(lo, hi):
        for s, e in chunks[lo:hi]:
            n = e - s
            index = offsets[sw[s:e]]                    # (n, C, Ho, Wo) offsets in the window
            index += origins
            if n > 1:
                index += (np.arange(n) * (C * H * W))[:, None, None, None]
            flat = dx[s:e].reshape(-1)
            if overlap:
                flat[...] = np.bincount(index.ravel(), weights=dout[s:e].ravel(), minlength=flat.size)
            else:
                flat.fill(0)
                flat[index.ravel()] = dout[s:e].ravel()
    run(work, len(chunks), threads)
    return dx
