"""im2col convolution kernels (图像块展开 + 矩阵乘法) behind `cs231n_utils.fast_layers`.

Everything here works on *chunks* of the output: a few samples, or for big images a band of
output rows (and, for huge filters, a band of columns), so that the scratch memory of a chunk
stays near `fast_layers.CHUNK_BYTES` and never exceeds `fast_layers.SCRATCH_BYTES` (`plan`).

- `correlate`: a convolution as im2col + one GEMM per chunk. The columns are laid out
  batch-major, cols[c, kh, kw, n, i, j] = x_pad[n, c, i*s + kh*d, j*s + kw*d], so that one
  matrix product W (F x C*KH*KW) @ cols (C*KH*KW x n*H'*W') covers the whole chunk, however
  small each sample is (the digits layer: one GEMM instead of 256 tiny ones). The columns are
  built by KH*KW strided slice copies that read x directly (entries in the zero padding are
  never written).
- `weight_grad`: dw = dout @ cols^T over the chunks, accumulated in place, optionally with
  dx by col2im (W^T @ dout added back onto the input with the same slice copies).
- `transposed_backward`: for stride 1, dx is a convolution of dout with the flipped filters
  (反向传播仍是卷积, 滤波器空间翻转) and dw comes from the same columns of dout.
- `polyphase_dx`: for stride s > 1, dx is the convolution of the *zero-dilated* dout (s-1
  zeros between its entries) with the flipped filters. Most of those products are with
  zeros; splitting dx into its s*s phases (rows and columns by their remainder mod s) leaves,
  for each phase, an ordinary stride-1 convolution of dout with the taps of the filter that
  reach that phase: no zeros multiplied, and each dx entry written once (no col2im).
- `depthwise_forward` / `depthwise_backward`: groups == C (MobileNet), one multiply-add per
  kernel offset over all channels at once.
"""
from __future__ import annotations

from functools import lru_cache
from math import ceil, gcd, prod

import numpy as np

from . import parallel

__all__ = ["plan", "ScratchLimitError", "correlate", "weight_grad", "transposed_backward",
           "polyphase_dx", "depthwise_forward", "depthwise_backward"]


class ScratchLimitError(ValueError):
    """A layer would need more scratch memory than `fast_layers.SCRATCH_BYTES` for even the
    smallest chunk (one output position of one sample)."""


# ----------------------------------------------------------------------------------------
# Chunk planning
# ----------------------------------------------------------------------------------------

def plan(N, rows, row_bytes, *, budget, target, threads, cols=1, extra_rows=0, fixed=0, partial=0,
         group_samples=False, split_for_threads=True, spread=True, name="conv",
         unit="one output position"):
    """Cut a layer's output into chunks of scratch about `target` bytes, never over `budget`.

    A chunk (s, e, r0, r1, c0, c1) of n = e - s samples, R = r1 - r0 rows and cols c0..c1 costs
    fixed + n * (R + extra_rows) * row_bytes * (c1 - c0) / cols bytes. Whole samples when one
    fits in `target`, else bands of rows, else (cols > 1) bands of columns of one row.
    The chunks are run in `blocks` blocks (parallel.BLOCKS, fewer when each block's result,
    `partial` bytes such as a dw accumulator, would take over half the budget), up to `threads`
    at a time, so a chunk gets (budget - blocks * partial) / blocks; a layer whose smallest
    chunk needs more (but fits) runs its blocks one at a time. Chunks and blocks depend on the
    shapes only, never on `threads`: the same sums in the same order, the same bits.
    With spread=False (a small layer, decided by its shapes) there is one block, chunks as big
    as `target` allows, and one thread.
    Returns (chunks, units, (threads, blocks)): units are lists of chunk indices a worker runs
    in order (with group_samples, all bands of one sample: their dx rows overlap).
    """
    if not spread:
        threads, split_for_threads = 1, False
    blocks = parallel.BLOCKS if spread else 1
    while blocks > 1 and blocks * partial > budget // 2:
        blocks //= 2
    room = budget - blocks * partial
    chunks = _cut(N, rows, row_bytes, room // blocks, min(target, room // blocks), cols, extra_rows,
                  fixed, blocks)
    if chunks is None:                         # only room for one block at a time
        threads = 1
        chunks = _cut(N, rows, row_bytes, room, min(target, room), cols, extra_rows, fixed, blocks)
    if chunks is None:
        need = fixed + partial + (1 + extra_rows) * row_bytes / cols
        raise ScratchLimitError(
            f"{name}: even {unit} needs {_mib(need)} of scratch, more than the budget "
            f"fast_layers.SCRATCH_BYTES = {_mib(budget)}; raise it "
            f"(cs231n_utils.fast_layers.SCRATCH_BYTES = ...) or use fewer channels, a "
            f"smaller filter or a smaller input")
    if split_for_threads and not group_samples and len(chunks) == 1 and rows > 1:
        s, e = chunks[0][:2]                   # one chunk: two bands, so that two cores can work
        half = (rows + 1) // 2
        chunks = [(s, e, 0, half, 0, cols), (s, e, half, rows, 0, cols)]
    if group_samples:
        units = []
        for k, ch in enumerate(chunks):
            if units and chunks[units[-1][-1]][0] == ch[0] and ch[1] - ch[0] == 1:
                units[-1].append(k)
            else:
                units.append([k])
    else:
        units = [[k] for k in range(len(chunks))]
    return chunks, units, (max(1, min(threads, len(units), blocks)), blocks)


def _cut(N, rows, row_bytes, room, target, cols, extra_rows, fixed, blocks):
    """The chunks of `plan` when each may use `room` bytes (aiming at `target`), or None; at
    least `blocks` of them when there are that many samples."""
    target = max(1, target)
    sample = fixed + (rows + extra_rows) * row_bytes
    if sample <= target or (rows == 1 and cols == 1 and sample <= room):
        nb = max(1, min(N, (target - fixed) // max(1, sample - fixed), ceil(N / blocks)))
        return [(s, min(N, s + nb), 0, rows, 0, cols) for s in range(0, N, nb)]
    R = (target - fixed) // row_bytes - extra_rows
    if R < 1 and fixed + (1 + extra_rows) * row_bytes <= room:
        R = 1
    if R >= 1:
        R = min(rows, R)
        return [(s, s + 1, r, min(rows, r + R), 0, cols) for s in range(N) for r in range(0, rows, R)]
    col_bytes = (1 + extra_rows) * row_bytes / cols
    if cols == 1 or fixed + col_bytes > room:
        return None
    Cc = max(1, min(cols, int((max(target, fixed + col_bytes) - fixed) // col_bytes)))
    return [(s, s + 1, r, r + 1, c, min(cols, c + Cc))
            for s in range(N) for r in range(rows) for c in range(0, cols, Cc)]


def _mib(nbytes) -> str:
    return f"{nbytes / 2 ** 20:.1f} MiB" if nbytes >= 2 ** 17 else f"{int(nbytes)} bytes"


# ----------------------------------------------------------------------------------------
# im2col / col2im on chunks
# ----------------------------------------------------------------------------------------

def valid_range(k, dilation, stride, pad, size, n_out):
    """Output indices i whose input index i*stride + k*dilation - pad lies inside [0, size).

    Returns (i0, i1, in_slice): outputs i0..i1-1 read the input rows in_slice (i1 may equal i0).
    """
    offset = k * dilation - pad
    i0 = min(n_out, max(0, -(offset // stride)))          # ceil(-offset / stride), clipped
    i1 = min(n_out, max(i0, (size - 1 - offset) // stride + 1))
    start = i0 * stride + offset
    return i0, i1, slice(start, start + stride * (i1 - i0 - 1) + 1, stride) if i1 > i0 else slice(0, 0)


@lru_cache(maxsize=512)
def offset_table(KH, KW, dil, pad_h, pad_w, H, W, Ho, Wo, stride=1):
    """For every kernel offset (kh, kw) that reads some of the input: (kh, kw, output rows,
    output cols, input rows, input cols); and whether they cover every (offset, output) pair
    (then im2col writes every column entry and needs no zeroed buffer). Pads may be negative."""
    rows = [valid_range(kh, dil, stride, pad_h, H, Ho) for kh in range(KH)]
    cols = [valid_range(kw, dil, stride, pad_w, W, Wo) for kw in range(KW)]
    table = []
    full = True
    for kh, (i0, i1, rin) in enumerate(rows):
        for kw, (j0, j1, cin) in enumerate(cols):
            full = full and i0 == 0 and i1 == Ho and j0 == 0 and j1 == Wo
            if i1 > i0 and j1 > j0:
                table.append((kh, kw, slice(i0, i1), slice(j0, j1), rin, cin))
    return tuple(table), full


#: A layer with at most this many column entries is done at once: pad a copy of the input and
#: read every kernel offset with one strided copy (few numpy calls: tiny layers are all overhead)
SMALL_COLS = 1 << 14


class Scratch:
    """A reusable flat buffer from the thread's arena (`parallel.empty`); `take(shape, zero_key)`
    returns a view, zeroed when the key changes."""

    def __init__(self, size, dtype):
        self.buf = parallel.empty(size, dtype)
        self.key = None

    def take(self, shape, key=None):
        view = self.buf[:prod(shape)].reshape(shape)
        if key is not None and key != self.key:
            view.fill(0)
        self.key = key
        return view


def small_cols(src, geom, Ho, Wo):
    """im2col of a whole small input at once: pad a copy, then one strided copy of every kernel
    offset. Returns cols (N, Cin, KH, KW, Ho, Wo); needs pad_h, pad_w >= 0."""
    KH, KW, dil, stride, pad_h, pad_w = geom
    N, Cin, H, W = src.shape
    xp = np.zeros((N, Cin, H + 2 * pad_h, W + 2 * pad_w), src.dtype)
    xp[:, :, pad_h:pad_h + H, pad_w:pad_w + W] = src
    s0, s1, s2, s3 = xp.strides
    return np.ndarray((N, Cin, KH, KW, Ho, Wo), xp.dtype, xp, 0,
                      (s0, s1, s2 * dil, s3 * dil, s2 * stride, s3 * stride)).copy()


def is_small(Cin, KH, KW, N, Ho, Wo, geom) -> bool:
    """True when the whole layer's columns are tiny and need no cropping: `small_cols` then."""
    return Cin * KH * KW * N * Ho * Wo <= SMALL_COLS and geom[4] >= 0 and geom[5] >= 0


def small_correlate(src, wmat, geom, Ho, Wo, bias, dtype):
    """`correlate` for a tiny layer in a handful of numpy calls: returns (out, cols)."""
    g, Cout_g, K = wmat.shape
    N = src.shape[0]
    cols = small_cols(src if src.dtype == dtype else src.astype(dtype), geom, Ho, Wo)
    out = np.empty((N, g * Cout_g, Ho, Wo), dtype)
    np.matmul(wmat, cols.reshape(N, g, K, Ho * Wo), out=out.reshape(N, g, Cout_g, Ho * Wo))
    if bias is not None:
        o3 = out.reshape(N, g * Cout_g, Ho * Wo)
        np.add(o3, bias.astype(dtype, copy=False)[:, None], out=o3)
    return out, cols


def im2col(src, s, e, chunk_rc, geom, scratch, ones=False):
    """Columns (n, Cin, KH, KW, R, Cc) of samples s..e-1 of src for the output rows r0..r1 and
    cols c0..c1, geom = (KH, KW, dil, stride, pad_h, pad_w). With `ones`, the scratch holds
    (n, Cin*KH*KW + 1, R*Cc) with a last row of ones (a bias folded into the GEMM); the
    (n, Cin*KH*KW + 1, R*Cc) array is returned then."""
    r0, r1, c0, c1 = chunk_rc
    KH, KW, dil, stride, pad_h, pad_w = geom
    n, Cin, H, W = e - s, src.shape[1], src.shape[2], src.shape[3]
    R, Cc = r1 - r0, c1 - c0
    K = Cin * KH * KW
    table, full = offset_table(KH, KW, dil, pad_h - r0 * stride, pad_w - c0 * stride, H, W, R, Cc, stride)
    if ones:
        big = scratch.take((n, K + 1, R * Cc), (table, n, R, Cc, "ones"))
        big[:, K] = 1
        cols = big[:, :K].reshape(n, Cin, KH, KW, R, Cc)
    else:
        cols = scratch.take((n, Cin, KH, KW, R, Cc), None if full else (table, n, R, Cc))
    for kh, kw, io, jo, ri, ci in table:
        cols[:, :, kh, kw, io, jo] = src[s:e, :, ri, ci]
    return big if ones else cols


def col2im_add(dcols, dx, s, e, chunk_rc, geom):
    """Adjoint of im2col: add the columns (n, Cin, KH, KW, R, Cc) back onto dx[s:e]."""
    r0, r1, c0, c1 = chunk_rc
    KH, KW, dil, stride, pad_h, pad_w = geom
    H, W = dx.shape[2:]
    table, _ = offset_table(KH, KW, dil, pad_h - r0 * stride, pad_w - c0 * stride, H, W,
                            r1 - r0, c1 - c0, stride)
    for kh, kw, io, jo, ri, ci in table:
        dst = dx[s:e, :, ri, ci]
        dst += dcols[:, :, kh, kw, io, jo]


def _whole(dst, s, e, r0, r1, c0, c1):
    """dst[s:e] reshaped (n, channels, R*Cc) when the chunk covers whole contiguous samples
    (a GEMM can then write straight into it), else None."""
    part = dst[s:e]
    if r0 == 0 and c0 == 0 and r1 == dst.shape[2] and c1 == dst.shape[3] and part.flags.c_contiguous:
        return part.reshape(e - s, dst.shape[1], -1)
    return None


def _sum_over_samples(a, b, acc, tmp):
    """acc += sum over samples i of a[i] @ b[i] (a: (n, g, M, P), b: (n, g, P, K)): one
    stacked matmul and a sum when the per-sample products are small next to the inputs, else
    one GEMM per sample added in place (no (n, g, M, K) temporary)."""
    n, g, M, P = a.shape
    K = b.shape[-1]
    if n == 1 or M * K * 10 <= (M + K) * P:
        acc += np.matmul(a, b).sum(axis=0) if n > 1 else np.matmul(a[0], b[0], out=tmp)
    else:
        for i in range(n):
            np.matmul(a[i], b[i], out=tmp)
            acc += tmp


# ----------------------------------------------------------------------------------------
# Forward: correlate
# ----------------------------------------------------------------------------------------

class _Kept:
    """Scratch stand-in for the forward's kept columns: a chunk's slice of one zeroed array."""

    def __init__(self, array, s, e):
        self.view, self.key = array[s:e], "kept"

    def take(self, shape, key=None):
        return self.view.reshape(shape)


def _whole_samples(chunks, rows, cols):
    return all(c[2] == 0 and c[4] == 0 and c[3] == rows and c[5] == cols for c in chunks)


def correlate(src, wmat, geom, dst, bias, plan_info, run, keep_cols=0):
    """dst[n, :, i, j] = wmat @ columns of src at (i, j) (+ bias), chunk by chunk.

    src (N, Cin, H, W); wmat (groups, Coutg, Cing*KH*KW); dst an (N, Cout, Ho, Wo) array or
    strided view; geom = (KH, KW, dil, stride, pad_h, pad_w); plan_info = (chunks, units,
    threads) from `plan` with row_bytes from `correlate_bytes`. One GEMM per sample (stacked),
    written straight into dst when the chunk is whole samples; with one group the bias rides
    in the GEMM as an extra column of wmat times a row of ones. When the chunks are whole
    samples and all the columns take at most keep_cols bytes, they are built in one array that
    is returned (shape (N, Cin*KH*KW + 1, Ho*Wo) with the ones, else (N, Cin, KH, KW, Ho, Wo))
    for the backward pass; otherwise None.
    """
    chunks, units, schedule = plan_info
    g, Cout_g, K = wmat.shape
    Cin = src.shape[1]
    KH, KW = geom[:2]
    pos_max = max((c[1] - c[0]) * (c[3] - c[2]) * (c[5] - c[4]) for c in chunks)
    dtype = dst.dtype
    ones = bias is not None and g == 1
    if ones:
        wmat = np.concatenate([wmat, bias.astype(dtype, copy=False).reshape(1, Cout_g, 1)], axis=2)
    bias3 = bias.astype(dtype, copy=False)[:, None] if bias is not None and not ones else None
    N, (Ho, Wo) = src.shape[0], dst.shape[2:]
    kept = None
    if keep_cols and _whole_samples(chunks, Ho, Wo) and N * (K + ones) * Ho * Wo * dst.itemsize <= keep_cols:
        kept = np.zeros((N, K + 1, Ho * Wo) if ones else (N, Cin, KH, KW, Ho, Wo), dtype)

    def work(lo, hi):
        cols_s = Scratch((Cin * KH * KW + ones) * pos_max, dtype) if kept is None else None
        out_s = Scratch(g * Cout_g * pos_max, dtype)
        for u in range(lo, hi):
            for k in units[u]:
                s, e, r0, r1, c0, c1 = chunks[k]
                n, P = e - s, (r1 - r0) * (c1 - c0)
                cols = im2col(src, s, e, (r0, r1, c0, c1), geom, cols_s or _Kept(kept, s, e), ones)
                o = _whole(dst, s, e, r0, r1, c0, c1)
                direct = o is not None
                if not direct:
                    o = out_s.take((n, g * Cout_g, P))
                np.matmul(wmat, cols.reshape(n, g, K + ones, P), out=o.reshape(n, g, Cout_g, P))
                if bias3 is not None:
                    np.add(o, bias3, out=o)
                if not direct:
                    dst[s:e, :, r0:r1, c0:c1] = o.reshape(n, g * Cout_g, r1 - r0, c1 - c0)
    run(work, len(units), schedule)
    return kept


def correlate_bytes(Cin, KH, KW, Cout, itemsize):
    """Scratch bytes per output position of `correlate`: its columns and its GEMM output."""
    return (Cin * KH * KW + 1 + Cout) * itemsize


# ----------------------------------------------------------------------------------------
# Backward
# ----------------------------------------------------------------------------------------

def weight_grad(x, dout, w, groups, geom, plan_info, run, dx=None, saved_cols=None):
    """dw (F, Cg, KH, KW) = sum over chunks of dout @ cols(x)^T, accumulated in place; with dx
    given (zeroed), also dx += col2im(W^T @ dout). saved_cols: the forward's columns of the
    whole batch (N, C*KH*KW [+1], Ho*Wo), if it kept them."""
    chunks, units, schedule = plan_info
    F, Cg, KH, KW = w.shape
    Fg, K = F // groups, Cg * KH * KW
    dtype = dout.dtype
    C = x.shape[1]
    w2t = w.reshape(groups, Fg, K).transpose(0, 2, 1)
    pos_max = max((c[1] - c[0]) * (c[3] - c[2]) * (c[5] - c[4]) for c in chunks)
    use_saved = saved_cols is not None and _whole_samples(chunks, *dout.shape[2:])

    def work(lo, hi):
        cols_s = None if use_saved else Scratch(C * KH * KW * pos_max, dtype)
        d_s = Scratch(F * pos_max, dtype)
        dc_s = Scratch(C * KH * KW * pos_max, dtype) if dx is not None else None
        dwt = np.zeros((groups, Fg, K), dtype)
        tmp = np.empty((groups, Fg, K), dtype)
        for u in range(lo, hi):
            for k in units[u]:
                s, e, r0, r1, c0, c1 = chunks[k]
                n, P = e - s, (r1 - r0) * (c1 - c0)
                if use_saved:
                    cols = saved_cols[s:e, :C * KH * KW]
                else:
                    cols = im2col(x, s, e, (r0, r1, c0, c1), geom, cols_s)
                cols = cols.reshape(n, groups, K, P)
                d = _whole(dout, s, e, r0, r1, c0, c1)
                if d is None:
                    d = d_s.take((n, F, r1 - r0, c1 - c0))
                    d[...] = dout[s:e, :, r0:r1, c0:c1]
                d = d.reshape(n, groups, Fg, P)
                _sum_over_samples(d, cols.transpose(0, 1, 3, 2), dwt, tmp)
                if dx is not None:
                    dcols = dc_s.take((n, groups, K, P))
                    np.matmul(w2t, d, out=dcols)
                    col2im_add(dcols.reshape(n, C, KH, KW, r1 - r0, c1 - c0), dx, s, e,
                               (r0, r1, c0, c1), geom)
        return dwt
    parts = run(work, len(units), schedule)
    dw = parts[0]
    for p in parts[1:]:
        dw += p
    return dw.reshape(F, Cg, KH, KW)


def weight_grad_bytes(C, KH, KW, F, itemsize, col2im):
    return (C * KH * KW * (2 if col2im else 1) + F) * itemsize


def transposed_backward(dout, x, w, groups, dil, pad, plan_info, run):
    """Stride 1: dx = dout correlated with the flipped, transposed filters (padding
    dil*(K-1) - pad on each side), and dw from the same columns of dout:
    dw[f, c, a, b] = sum_p dcols[f, KH-1-a, KW-1-b, p] x[c, p]. No im2col of x at all.
    The chunks are chunks of dx (rows of x)."""
    chunks, units, schedule = plan_info
    F, Cg, KH, KW = w.shape
    Fg = F // groups
    N, C, H, W = x.shape
    dtype = dout.dtype
    geom = (KH, KW, dil, 1, dil * (KH - 1) - pad, dil * (KW - 1) - pad)
    wt = (w.reshape(groups, Fg, Cg, KH, KW)[:, :, :, ::-1, ::-1]
          .transpose(0, 2, 1, 3, 4).reshape(groups, Cg, Fg * KH * KW))
    KF = Fg * KH * KW
    if is_small(F, KH, KW, N, H, W, geom):                       # tiny: all at once
        dcols = small_cols(dout, geom, H, W).reshape(N, groups, KF, H * W)
        xs = x.astype(dtype, copy=False).reshape(N, groups, Cg, H * W)
        gt = np.matmul(dcols, xs.transpose(0, 1, 3, 2)).sum(axis=0)
        dx = np.matmul(wt, dcols).reshape(x.shape)
        return dx, _flip_back(gt, groups, Fg, KH, KW, Cg)
    dx = np.empty(x.shape, dtype)
    pos_max = max((c[1] - c[0]) * (c[3] - c[2]) * (c[5] - c[4]) for c in chunks)

    def work(lo, hi):
        cols_s = Scratch(F * KH * KW * pos_max, dtype)
        x_s = Scratch(C * pos_max, dtype)
        o_s = Scratch(C * pos_max, dtype)
        gt = np.zeros((groups, KF, Cg), dtype)
        tmp = np.empty_like(gt)
        for u in range(lo, hi):
            for k in units[u]:
                s, e, r0, r1, c0, c1 = chunks[k]
                n, P = e - s, (r1 - r0) * (c1 - c0)
                dcols = im2col(dout, s, e, (r0, r1, c0, c1), geom, cols_s).reshape(n, groups, KF, P)
                xs = _whole(x, s, e, r0, r1, c0, c1) if x.dtype == dtype else None
                if xs is None:
                    xs = x_s.take((n, C, r1 - r0, c1 - c0))
                    xs[...] = x[s:e, :, r0:r1, c0:c1]
                _sum_over_samples(dcols, xs.reshape(n, groups, Cg, P).transpose(0, 1, 3, 2), gt, tmp)
                o = _whole(dx, s, e, r0, r1, c0, c1)
                direct = o is not None
                if not direct:
                    o = o_s.take((n, C, P))
                np.matmul(wt, dcols, out=o.reshape(n, groups, Cg, P))
                if not direct:
                    dx[s:e, :, r0:r1, c0:c1] = o.reshape(n, C, r1 - r0, c1 - c0)
        return gt
    parts = run(work, len(units), schedule)
    gt = parts[0]
    for p in parts[1:]:
        gt += p
    return dx, _flip_back(gt, groups, Fg, KH, KW, Cg)


def _flip_back(gt, groups, Fg, KH, KW, Cg):
    """dw[f, c, a, b] = G[f, KH-1-a, KW-1-b, c] for G = dcols @ x^T of the transposed path."""
    return (gt.reshape(groups, Fg, KH, KW, Cg)[:, :, ::-1, ::-1]
            .transpose(0, 1, 4, 2, 3).reshape(groups * Fg, Cg, KH, KW))


def transposed_bytes(C, KH, KW, F, itemsize):
    return (F * KH * KW + 2 * C) * itemsize


def _phase_taps(K, dil, stride, rho, pad):
    """Taps k of one axis that reach the dx phase rho (x index = rho + stride*m), as
    (taps in increasing k, dilation of the sub-filter in dout, padding for m = 0)."""
    taps = [k for k in range(K) if (k * dil - rho - pad) % stride == 0]
    if not taps:
        return taps, 1, 0
    step = dil // gcd(dil, stride)
    delta_last = (taps[-1] * dil - rho - pad) // stride      # dout index = m - delta
    return taps, step, delta_last


def polyphase_dx(dout, w, groups, dil, stride, pad, x_shape, budget, target, threads, run, spread=True):
    """dx for stride > 1: for each of the stride**2 phases of dx (x[rho_h::s, rho_w::s]), a
    stride-1 correlation of dout with the (flipped, transposed) taps that reach that phase."""
    N, C, H, W = x_shape
    F, Cg, KH, KW = w.shape
    Fg = F // groups
    dtype = dout.dtype
    itemsize = np.dtype(dtype).itemsize
    dx = np.empty(x_shape, dtype)
    for rho_h in range(min(stride, H)):
        th, dh, ph = _phase_taps(KH, dil, stride, rho_h, pad)
        for rho_w in range(min(stride, W)):
            tw, dw_, pw = _phase_taps(KW, dil, stride, rho_w, pad)
            view = dx[:, :, rho_h::stride, rho_w::stride]
            if not th or not tw:
                view[...] = 0                      # no tap reaches these pixels
                continue
            sub = w[:, :, th[::-1]][:, :, :, tw[::-1]]          # reversed taps: (F, Cg, Th, Tw)
            Th, Tw = len(th), len(tw)
            wmat = sub.reshape(groups, Fg, Cg, Th, Tw).transpose(0, 2, 1, 3, 4).reshape(groups, Cg, Fg * Th * Tw)
            Mh, Mw = view.shape[2:]
            info = plan(N, Mh, correlate_bytes(F, Th, Tw, C, itemsize) * Mw, budget=budget,
                        target=target, threads=threads, cols=Mw, spread=spread,
                        name="conv_backward_fast")
            correlate(dout, wmat, (Th, Tw, dh, 1, ph, pw), view, None, info, run)   # dh == dw_
    return dx


# ----------------------------------------------------------------------------------------
# Depthwise (groups == C, one input channel per group)
# ----------------------------------------------------------------------------------------
#
# Stride 1: the padded input planes are stored flat, one after the other, and the output is
# computed on the padded grid (Hp x Wp per plane; the extra rows and columns are junk and
# dropped at the end). Kernel offset (kh, kw) is then the whole block of planes shifted by
# d*(kh*Wp + kw) elements: every multiply-add runs on contiguous memory (numpy's fastest case,
# 2-3x faster than on strided windows). Other strides use strided windows.

def _span(k, dilation, stride, n_out):
    start = k * dilation
    return slice(start, start + stride * (n_out - 1) + 1, stride)


def depthwise_bytes(H, W, pad, Ho, Wo, Fg, KH, KW, dil, stride, itemsize, backward):
    """Scratch bytes per (sample, channel) of the depthwise kernels."""
    P = (H + 2 * pad) * (W + 2 * pad)
    if stride == 1:
        return ((3 + 2 * Fg) if backward else (1 + 2 * Fg)) * P * itemsize
    return ((2 * P + (2 if Fg > 1 else 1) * Fg * Ho * Wo) if backward else (P + Fg * Ho * Wo)) * itemsize


def _padded_planes(x, s, e, g0, g1, pad, scratch, slack):
    """x[s:e, g0:g1] zero-padded, as flat planes (n, G, Hp*Wp) with `slack` zeros after them."""
    n, G = e - s, g1 - g0
    H, W = x.shape[2:]
    Hp, Wp = H + 2 * pad, W + 2 * pad
    L = n * G * Hp * Wp
    buf = scratch.take((L + slack,), ("pad", n, G))       # zero once per geometry
    buf.reshape(-1)[:L].reshape(n, G, Hp, Wp)[:, :, pad:pad + H, pad:pad + W] = x[s:e, g0:g1]
    return buf


def _depthwise_geometry(x, w, pad, dil, dtype, chunks):
    """Sizes shared by the depthwise kernels: (H, W, C, KH, KW, Fg, Hp, Wp, P = Hp*Wp, slack
    after the flat planes, filters (C, Fg, KH, KW) in dtype, largest samples*channels of a chunk)."""
    H, W = x.shape[2:]
    C = x.shape[1]
    F, _, KH, KW = w.shape
    Hp, Wp = H + 2 * pad, W + 2 * pad
    pos = max((c[1] - c[0]) * (c[3] - c[2]) for c in chunks)
    return (H, W, C, KH, KW, F // C, Hp, Wp, Hp * Wp, dil * ((KH - 1) * Wp + KW - 1),
            w.astype(dtype, copy=False).reshape(C, F // C, KH, KW), pos)


def depthwise_forward(x, w, b, stride, pad, dil, Ho, Wo, out, plan_info, run):
    """out[n, g*Fg + f] = b + sum over kernel offsets of w[g*Fg + f, 0, kh, kw] * shifted x[n, g].

    Chunks run over (samples, channel groups): plan rows are channel groups."""
    chunks, units, schedule = plan_info
    H, W, C, KH, KW, Fg, Hp, Wp, P, slack, wk, pos = _depthwise_geometry(x, w, pad, dil, out.dtype, chunks)
    dtype = out.dtype
    bk = b.astype(dtype, copy=False).reshape(C, Fg)

    def work(lo, hi):
        xp_s = Scratch(pos * P + slack, dtype)
        o_s = Scratch(pos * Fg * (P if stride == 1 else Ho * Wo), dtype)
        t_s = Scratch(pos * Fg * (P if stride == 1 else Ho * Wo), dtype)
        for u in range(lo, hi):
            for k in units[u]:
                s, e, g0, g1 = chunks[k][:4]
                n, G = e - s, g1 - g0
                xp = _padded_planes(x, s, e, g0, g1, pad, xp_s, slack)
                if stride == 1:
                    o, t = o_s.take((n, G, Fg, P)), t_s.take((n, G, Fg, P))
                    np.copyto(o, bk[g0:g1, :, None])
                    for kh in range(KH):
                        for kw in range(KW):
                            sh = dil * (kh * Wp + kw)
                            xs = xp[sh:sh + n * G * P].reshape(n, G, 1, P)
                            np.multiply(xs, wk[g0:g1, :, kh, kw, None], out=t)
                            o += t
                    out[s:e, g0 * Fg:g1 * Fg] = o.reshape(n, G * Fg, Hp, Wp)[:, :, :Ho, :Wo]
                else:
                    xv = xp[:n * G * P].reshape(n, G, Hp, Wp)
                    o = out[s:e, g0 * Fg:g1 * Fg].reshape(n, G, Fg, Ho, Wo)
                    t = t_s.take((n, G, Fg, Ho, Wo))
                    o[...] = bk[g0:g1, :, None, None]
                    for kh in range(KH):
                        rows = _span(kh, dil, stride, Ho)
                        for kw in range(KW):
                            xs = xv[:, :, rows, _span(kw, dil, stride, Wo)]
                            np.multiply(xs[:, :, None], wk[g0:g1, :, kh, kw, None, None], out=t)
                            o += t
    run(work, len(units), schedule)
    return out


def depthwise_backward(dout, x, w, stride, pad, dil, Ho, Wo, plan_info, run):
    """dx and dw of the depthwise conv, chunk by chunk over (samples, channel groups)."""
    chunks, units, schedule = plan_info
    H, W, C, KH, KW, Fg, Hp, Wp, P, slack, wk, pos = _depthwise_geometry(x, w, pad, dil, dout.dtype, chunks)
    dtype = dout.dtype
    F = C * Fg
    dx = np.empty(x.shape, dtype)

    def work(lo, hi):
        xp_s = Scratch(pos * P + slack, dtype)
        dxp_s = Scratch(pos * P + slack, dtype)
        d_s = Scratch(pos * Fg * P, dtype)
        t_s = Scratch(pos * max(Fg * Ho * Wo, P), dtype)
        dwk = np.zeros((C, Fg, KH, KW), dtype)
        for u in range(lo, hi):
            for k in units[u]:
                s, e, g0, g1 = chunks[k][:4]
                n, G = e - s, g1 - g0
                xp = _padded_planes(x, s, e, g0, g1, pad, xp_s, slack)
                dxp = dxp_s.take((n * G * P + slack,))
                dxp.fill(0)
                d5 = dout[s:e, g0 * Fg:g1 * Fg].reshape(n, G, Fg, Ho, Wo)
                if stride == 1:          # dout on the padded grid (junk = 0), flat planes
                    de = d_s.take((n, G, Fg, Hp, Wp), ("junk", n, G))
                    de[:, :, :, :Ho, :Wo] = d5
                    de = de.reshape(n, G, Fg, P)
                    t = t_s.take((n, G, P))
                    for kh in range(KH):
                        for kw in range(KW):
                            sh = dil * (kh * Wp + kw)
                            xs = xp[sh:sh + n * G * P].reshape(n, G, P)
                            dwk[g0:g1, :, kh, kw] += np.einsum("ngfp,ngp->gf", de, xs)
                            if Fg == 1:
                                np.multiply(de[:, :, 0], wk[g0:g1, 0, kh, kw, None], out=t)
                            else:
                                np.einsum("ngfp,gf->ngp", de, wk[g0:g1, :, kh, kw], out=t)
                            dst = dxp[sh:sh + n * G * P].reshape(n, G, P)
                            dst += t
                else:
                    xv = xp[:n * G * P].reshape(n, G, Hp, Wp)
                    dv = dxp[:n * G * P].reshape(n, G, Hp, Wp)
                    t = t_s.take((n, G, Ho, Wo))
                    for kh in range(KH):
                        rows = _span(kh, dil, stride, Ho)
                        for kw in range(KW):
                            cs = _span(kw, dil, stride, Wo)
                            dwk[g0:g1, :, kh, kw] += np.einsum("ngfhw,nghw->gf", d5, xv[:, :, rows, cs])
                            np.einsum("ngfhw,gf->nghw", d5, wk[g0:g1, :, kh, kw], out=t)
                            dst = dv[:, :, rows, cs]
                            dst += t
                dx[s:e, g0:g1] = dxp[:n * G * P].reshape(n, G, Hp, Wp)[:, :, pad:pad + H, pad:pad + W]
        return dwk
    parts = run(work, len(units), schedule)
    dwk = parts[0]
    for p in parts[1:]:
        dwk += p
    return dx, dwk.reshape(F, 1, KH, KW)
