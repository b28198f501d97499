"""Winograd's minimal filtering F(2x2, 3x3) (Winograd 快速卷积, Lavin & Gray 2016).

A 3x3 stride-1 convolution computes each 2x2 block of outputs from a 4x4 tile of the input.
Done directly that is 2*2*3*3 = 36 multiplications; Winograd's algorithm needs only 4*4 = 16:

    Y = A^T [ (G g G^T) * (B^T d B) ] A          (* is the elementwise product)

with g the 3x3 filter, d the 4x4 input tile and the small constant matrices `B_T` (4x4),
`G` (4x3) and `A_T` (2x4) below. The filter transform G g G^T is done once per filter; the
input transform B^T d B and the output transform A^T m A only *add* and *subtract* (B and A
hold 0, 1, -1); the elementwise product is the only place where data meets weights: 16
multiplies instead of 36, 2.25x fewer (`multiply_count`).

Over a whole layer, the elementwise products of all tiles and channels are a matrix product
per transform position: for each of the 16 entries (a, b) of the 4x4 tile,
M[a, b] (F x tiles) = U[a, b] (F x C) @ V[a, b] (C x tiles). So the layer becomes 16 GEMMs
that are 2.25x smaller than im2col's one GEMM, plus cheap transforms. The fast conv uses this
for 3x3 stride-1 layers with enough channels (`cs231n_utils.fast_layers`); the backward pass
uses the same transforms transposed: dM = A dY A^T, dU = dM V^T (so dw = G^T dU G) and
dV = U^T dM, added back onto the input tiles with B.

Teaching helpers (used in notebook 02): `winograd_1d`, `winograd_tile`, `multiply_count`.
"""
from __future__ import annotations

import numpy as np

from . import parallel

__all__ = ["B_T", "G", "A_T", "winograd_1d", "winograd_tile", "filter_transform",
           "multiply_count", "layer_multiplies"]


def _constant(rows) -> np.ndarray:
    a = np.array(rows, dtype=np.float64)
    a.setflags(write=False)
    return a


#: Input transform: V = B^T d B for a 4x4 tile d (only additions and subtractions).
B_T = _constant([[1, 0, -1, 0],
                 [0, 1, 1, 0],
                 [0, -1, 1, 0],
                 [0, 1, 0, -1]])
#: Filter transform: U = G g G^T for a 3x3 filter g (done once per filter).
G = _constant([[1, 0, 0],
               [0.5, 0.5, 0.5],
               [0.5, -0.5, 0.5],
               [0, 0, 1]])
#: Output transform: Y = A^T m A turns the 4x4 product m into the 2x2 output block.
A_T = _constant([[1, 1, 1, 0],
                 [0, 1, -1, -1]])


def winograd_1d(d, g):
    """F(2, 3) in one dimension: two outputs of a 3-tap filter g on 4 inputs d, with 4 multiplies.

    Returns (y, products): y = [d0 g0 + d1 g1 + d2 g2, d1 g0 + d2 g1 + d3 g2] computed as
    A^T [(G g) * (B^T d)], and the 4 products (B^T d) * (G g), the only multiplications of
    data by weights (the direct way needs 2 * 3 = 6).
    """
    d = np.asarray(d, dtype=np.float64).reshape(4)
    g = np.asarray(g, dtype=np.float64).reshape(3)
    products = (B_T @ d) * (G @ g)
    return A_T @ products, products


def winograd_tile(d, g) -> np.ndarray:
    """F(2x2, 3x3) on one tile: the 2x2 outputs of 3x3 filter g on 4x4 tile d (16 multiplies).

    Equal to the direct cross-correlation out[i, j] = sum_ab d[i+a, j+b] g[a, b].
    """
    d = np.asarray(d, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if d.shape != (4, 4) or g.shape != (3, 3):
        raise ValueError(f"winograd_tile needs a 4x4 tile and a 3x3 filter, got {d.shape} and {g.shape}")
    return A_T @ ((G @ g @ G.T) * (B_T @ d @ B_T.T)) @ A_T.T


def filter_transform(w: np.ndarray) -> np.ndarray:
    """U[a, b, f, c] = (G w[f, c] G^T)[a, b] for filters w of shape (F, C, 3, 3); shape (4, 4, F, C)."""
    return np.einsum("ai,fcij,bj->abfc", G, w, G, optimize=True)


def multiply_count(m: int = 2, r: int = 3) -> dict:
    """Multiplications per output tile of F(m x m, r x r): direct m^2 r^2 vs Winograd (m+r-1)^2.

    `multiply_count()` is F(2x2, 3x3): {'direct': 36, 'winograd': 16, 'saving': 2.25}.
    Shown in 02, section 5.
    """
    for name, v in (("m", m), ("r", r)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    direct, wino = m * m * r * r, (m + r - 1) ** 2
    return {"direct": direct, "winograd": wino, "saving": direct / wino}


def layer_multiplies(N: int, C: int, H: int, W: int, F: int) -> dict:
    """Multiplications of a 3x3 'same' conv (pad 1) on (N, C, H, W) with F filters.

    Direct (im2col): N*F*C*H*W*9. Winograd F(2x2, 3x3): 16 per 2x2 output tile, i.e.
    N*F*C*ceil(H/2)*ceil(W/2)*16 (the transforms only add). Returns both and their ratio.
    """
    tiles = N * ((H + 1) // 2) * ((W + 1) // 2)
    direct = N * F * C * H * W * 9
    wino = tiles * F * C * 16
    return {"direct": direct, "winograd": wino, "saving": direct / wino}


# ----------------------------------------------------------------------------------------
# The batched kernel used by fast_layers
# ----------------------------------------------------------------------------------------
#
# Layout. A chunk holds n samples and R rows of 2x2 output tiles (tile rows r0..r0+R-1) of
# tW tile columns. The padded input is split by phase (the parity of row and column):
#     xq[ph, pw, c, s, q, t] = x_pad[s, c, 2(r0+q) + ph, 2t + pw],  q <= R, t <= tW,
# so the 4 rows of the tiles of tile row q are the rows q and q+1 of the two row phases, and
# likewise for columns. Every plane xq[ph, pw] is stored flat (C*n*(R+1)*(tW+1) numbers): the
# rows "q+1" are the flat plane shifted by tW+1 and the columns "t+1" the plane shifted by 1.
# All transforms are then whole-plane additions on contiguous memory (numpy's fastest case),
# at the price of one junk tile row (q = R) and one junk tile column (t = tW) per sample,
# which are computed and thrown away (their GEMM columns are ~7-13% extra work).

def _sizes(C, F, n, R, tW):
    """(plane length per channel P, slack) of a chunk: P = (R+1)*(tW+1)."""
    P = (R + 1) * (tW + 1)
    return P, tW + 2


def scratch_per_tile(C: int, F: int, itemsize: int, backward: bool = False) -> int:
    """Bytes of scratch per (junk-padded) tile position of a chunk: the planes below."""
    if backward:      # xq 4C, T 8C, V 16C, D 16F, two adjoint temporaries 2C
        return (30 * C + 16 * F) * itemsize
    return (28 * C + 24 * F) * itemsize     # xq 4C, T 8C, V 16C, M 16F, S 8F


class _Buffers:
    """Scratch planes for chunks of at most n_max samples and R_max tile rows (reused)."""

    def __init__(self, C, F, n_max, R_max, tW, dtype, backward=False):
        P, slack = _sizes(C, F, n_max, R_max, tW)
        empty = parallel.empty                 # the thread's reusable scratch
        self.xq = empty(4 * C * n_max * P + slack, dtype)
        self.T = empty(8 * C * n_max * P + slack, dtype)
        self.V = empty(16 * C * n_max * P, dtype)
        self.split_key = self.dout_key = None
        if backward:
            self.D = empty(16 * F * n_max * P, dtype)
            self.tmp = empty(2 * C * n_max * P, dtype)
        else:
            self.M = empty(16 * F * n_max * P, dtype)
            self.S = empty(8 * F * n_max * P, dtype)


def _planes(buf, k, L):
    """buf[:k*L] viewed as (k, L)."""
    return buf[:k * L].reshape(k, L)


def _phase_ranges(r0, R, tW, pad, H, W):
    """For each phase (ph, pw): (ph, pw, h0, w0, q_lo, q_hi, t_lo, t_hi): the polyphase rows
    q_lo..q_hi-1 and columns t_lo..t_hi-1 that fall inside x, whose first x row is h0 + 2*q_lo
    and first x column w0 + 2*t_lo."""
    out = []
    for ph in range(2):
        h0 = 2 * r0 + ph - pad                           # x row of polyphase row q = 0
        q_lo = min(R + 1, max(0, (-h0 + 1) // 2))
        q_hi = max(q_lo, min(R + 1, (H - 1 - h0) // 2 + 1))
        for pw in range(2):
            w0 = pw - pad
            t_lo = min(tW + 1, max(0, (-w0 + 1) // 2))
            t_hi = max(t_lo, min(tW + 1, (W - 1 - w0) // 2 + 1))
            out.append((ph, pw, h0, w0, q_lo, q_hi, t_lo, t_hi))
    return tuple(out)


def _split(x, s, n, pad, r0, R, tW, buf, L):
    """Fill buf.xq[ph, pw] (flat planes of length L = C*n*P) from samples s..s+n-1 of x; the
    zero border (padding, junk) is written only when the chunk's geometry changes."""
    N, C, H, W = x.shape
    xq = buf.xq
    q = xq[:4 * L].reshape(2, 2, C, n, R + 1, tW + 1)
    xq[4 * L:4 * L + tW + 2] = 0                         # slack read by the shifted views
    ranges = _phase_ranges(r0, R, tW, pad, H, W)
    zero = buf.split_key != (n, R, ranges)
    buf.split_key = (n, R, ranges)
    for ph, pw, h0, w0, q_lo, q_hi, t_lo, t_hi in ranges:
        blk = q[ph, pw]
        if zero:
            blk[:, :, :q_lo] = 0
            blk[:, :, q_hi:] = 0
            blk[:, :, q_lo:q_hi, :t_lo] = 0
            blk[:, :, q_lo:q_hi, t_hi:] = 0
        if q_hi > q_lo and t_hi > t_lo:
            src = x[s:s + n, :, h0 + 2 * q_lo:h0 + 2 * q_hi - 1:2,
                    w0 + 2 * t_lo:w0 + 2 * t_hi - 1:2]
            blk[:, :, q_lo:q_hi, t_lo:t_hi] = src.transpose(1, 0, 2, 3)


def _input_transform(xq, T, V, L, sh):
    """V[a, b] = (B^T d B)[a, b] for every tile, as 24 whole-plane additions (sh = tW + 1)."""
    T[8 * L] = 0                                  # read by the last shifted view (a junk tile)

    def plane(buf, k, off=0):
        return buf[k * L + off:k * L + off + L]
    for pw in range(2):            # rows: t_a = (B^T d)_a, reading rows q (phase 0/1) and q+1
        d0, d1, d2, d3 = plane(xq, pw), plane(xq, 2 + pw), plane(xq, pw, sh), plane(xq, 2 + pw, sh)
        np.subtract(d0, d2, out=plane(T, pw))
        np.add(d1, d2, out=plane(T, 2 + pw))
        np.subtract(d2, d1, out=plane(T, 4 + pw))
        np.subtract(d1, d3, out=plane(T, 6 + pw))
    Vp = _planes(V, 16, L)
    for a in range(4):             # columns: the same combination of columns t and t+1
        c0, c1, c2, c3 = plane(T, 2 * a), plane(T, 2 * a + 1), plane(T, 2 * a, 1), plane(T, 2 * a + 1, 1)
        np.subtract(c0, c2, out=Vp[4 * a])
        np.add(c1, c2, out=Vp[4 * a + 1])
        np.subtract(c2, c1, out=Vp[4 * a + 2])
        np.subtract(c1, c3, out=Vp[4 * a + 3])


def _forward_chunk(x, U, bias, pad, chunk, tW, buf, out):
    """One chunk (s, e, r0, r1) of the forward pass, written into out."""
    s, e, r0, r1 = chunk
    n, R = e - s, r1 - r0
    C, F = x.shape[1], out.shape[1]
    g = U.shape[1]
    P = (R + 1) * (tW + 1)
    L = C * n * P
    _split(x, s, n, pad, r0, R, tW, buf, L)
    _input_transform(buf.xq, buf.T, buf.V, L, tW + 1)
    Lf = F * n * P
    M = _planes(buf.M, 16, Lf)
    V = buf.V[:16 * L].reshape(16, g, C // g, n * P)
    np.matmul(U, V, out=M.reshape(16, g, F // g, n * P))
    m11 = M[5].reshape(F, n * P)
    np.add(m11, bias, out=m11)                     # A^T[:, 1] = (1, 1): M[1, 1] reaches all 4 outputs
    # output transform: Y = A^T M A (rows: m0+m1+m2, m1-m2-m3; then the same over columns)
    S = _planes(buf.S, 8, Lf)
    for b in range(4):
        np.add(M[b], M[4 + b], out=S[b])
        S[b] += M[8 + b]
        np.subtract(M[4 + b], M[8 + b], out=S[4 + b])
        S[4 + b] -= M[12 + b]
    Ho, Wo = out.shape[2:]
    rows = slice(2 * r0, min(Ho, 2 * r1))
    o = out[s:e, :, rows].transpose(1, 0, 2, 3)              # (F, n, rows, Wo)
    y = M[0]                                                # M is no longer needed: reuse it
    for i in range(2):
        for j in range(2):
            if j == 0:
                np.add(S[4 * i], S[4 * i + 1], out=y)
                y += S[4 * i + 2]
            else:
                np.subtract(S[4 * i + 1], S[4 * i + 2], out=y)
                y -= S[4 * i + 3]
            dst = o[:, :, i::2, j::2]
            dst[...] = y.reshape(F, n, R + 1, tW + 1)[:, :, :dst.shape[2], :dst.shape[3]]


def forward(x, w, b, pad, groups, out, plan_info, run):
    """Winograd forward of a 3x3 stride-1 conv into `out` (N, F, Ho, Wo).

    plan_info = (chunks, units, threads): chunks (s, e, r0, r1, ...) of samples and tile rows;
    run(fn, n_units, threads) calls fn(lo, hi) over blocks of units (possibly in threads).
    """
    chunks, units, schedule = plan_info
    tW = (out.shape[3] + 1) // 2
    F, Cg = w.shape[:2]
    dtype = out.dtype
    U = filter_transform(w.astype(np.float64)).reshape(16, groups, F // groups, Cg).astype(dtype)
    bias = b.astype(dtype)[:, None]
    n_max = max(c[1] - c[0] for c in chunks)
    R_max = max(c[3] - c[2] for c in chunks)

    def work(lo, hi):
        buf = _Buffers(x.shape[1], F, n_max, R_max, tW, dtype)
        for u in range(lo, hi):
            for k in units[u]:
                _forward_chunk(x, U, bias, pad, chunks[k][:4], tW, buf, out)
    run(work, len(units), schedule)
    return out


# signs of the stored planes D[a, b] of dM = A dY A^T: dM[a, b] = SIGN[a, b] * D[a, b]
_SA = np.array([1.0, 1.0, 1.0, -1.0])
_SIGN = np.outer(_SA, _SA).reshape(16)


def _dout_split(dout, s, n, r0, R, tW, D, Lf):
    """D[(0,0)], D[(0,3)], D[(3,0)], D[(3,3)] <- the 4 output phases of dout (zero-padded)."""
    N, F, Ho, Wo = dout.shape
    Dp = D[:16 * Lf].reshape(4, 4, F, n, R + 1, tW + 1)
    for i in range(2):
        rows = dout[s:s + n, :, 2 * r0 + i:min(Ho, 2 * (r0 + R)):2]
        for j in range(2):
            dst = Dp[3 * i, 3 * j]
            cols = rows[:, :, :, j::2]
            hr, wc = cols.shape[2], cols.shape[3]
            dst[:, :, hr:] = 0
            dst[:, :, :hr, wc:] = 0
            dst[:, :, :hr, :wc] = cols.transpose(1, 0, 2, 3)


def _backward_chunk(dout, x, Us, pad, chunk, tW, buf, dx, dU):
    """One chunk of the backward pass: adds its part of dU, writes its part of dx."""
    s, e, r0, r1 = chunk
    n, R = e - s, r1 - r0
    C, F = x.shape[1], dout.shape[1]
    g = Us.shape[1]
    P = (R + 1) * (tW + 1)
    L, Lf = C * n * P, F * n * P
    sh = tW + 1
    _split(x, s, n, pad, r0, R, tW, buf, L)
    _input_transform(buf.xq, buf.T, buf.V, L, sh)
    # dM = A dY A^T, stored as D with signs _SIGN: from dY (corners) by 12 plane additions
    _dout_split(dout, s, n, r0, R, tW, buf.D, Lf)
    D = _planes(buf.D, 16, Lf)
    for j in (0, 3):
        np.add(D[j], D[12 + j], out=D[4 + j])
        np.subtract(D[j], D[12 + j], out=D[8 + j])
    for a in range(4):
        np.add(D[4 * a], D[4 * a + 3], out=D[4 * a + 1])
        np.subtract(D[4 * a], D[4 * a + 3], out=D[4 * a + 2])
    D4 = D.reshape(16, g, F // g, n * P)
    V4 = buf.V[:16 * L].reshape(16, g, C // g, n * P)
    dU += np.matmul(D4, V4.transpose(0, 1, 3, 2))          # signs are applied once at the end
    dV = _planes(buf.V, 16, L)                             # V is no longer needed: reuse it
    np.matmul(Us, D4, out=dV.reshape(16, g, C // g, n * P))
    # adjoint of the input transform: columns (shift 1), then rows (shift tW+1)
    dT = _planes(buf.T, 8, L)
    u, v = _planes(buf.tmp, 2, L)
    for a in range(4):
        v0, v1, v2, v3 = dV[4 * a:4 * a + 4]
        np.add(v1, v2, out=u)
        np.subtract(u, v0, out=u)                         # -v0 + v1 + v2 (goes to column t+1)
        np.subtract(v1, v2, out=v)
        v += v3                                           # v1 - v2 + v3 (column t, phase 1)
        _shift_add(dT[2 * a], v0, u, 1)
        _shift_add(dT[2 * a + 1], v, v3, 1, subtract=True)
    dxq = _planes(buf.xq, 4, L)
    for pw in range(2):
        t0, t1, t2, t3 = dT[pw], dT[2 + pw], dT[4 + pw], dT[6 + pw]
        np.add(t1, t2, out=u)
        np.subtract(u, t0, out=u)                         # -t0 + t1 + t2 (row q+1, phase 0)
        np.subtract(t1, t2, out=v)
        v += t3                                           # t1 - t2 + t3 (row q, phase 1)
        _shift_add(dxq[pw], t0, u, sh)
        _shift_add(dxq[2 + pw], v, t3, sh, subtract=True)
    _merge(dxq, dx, s, n, pad, r0, R, tW, C)


def _shift_add(dst, a, b, k, subtract=False):
    """dst[p] = a[p] + b[p - k] (or minus), with b[p - k] = 0 for p < k."""
    dst[:k] = a[:k]
    (np.subtract if subtract else np.add)(a[k:], b[:-k], out=dst[k:])


def _merge(dxq, dx, s, n, pad, r0, R, tW, C):
    """Write the polyphase planes of a chunk into dx (rows of polyphase row 0 are added when
    the chunk starts below tile row 0: the previous band of the same sample wrote them)."""
    H, W = dx.shape[2:]
    q = dxq.reshape(2, 2, C, n, R + 1, tW + 1)
    for ph in range(2):
        h0 = 2 * r0 + ph - pad
        q_lo = min(R + 1, max(0, (-h0 + 1) // 2))
        q_hi = max(q_lo, min(R + 1, (H - 1 - h0) // 2 + 1))
        if q_hi <= q_lo:
            continue
        for pw in range(2):
            w0 = pw - pad
            t_lo = min(tW + 1, max(0, (-w0 + 1) // 2))
            t_hi = max(t_lo, min(tW + 1, (W - 1 - w0) // 2 + 1))
            if t_hi <= t_lo:
                continue
            src = q[ph, pw, :, :, q_lo:q_hi, t_lo:t_hi].transpose(1, 0, 2, 3)
            dst = dx[s:s + n, :, h0 + 2 * q_lo:h0 + 2 * q_hi - 1:2, w0 + 2 * t_lo:w0 + 2 * t_hi - 1:2]
            if r0 > 0 and q_lo == 0:
                dst[:, :, :1] += src[:, :, :1]
                dst[:, :, 1:] = src[:, :, 1:]
            else:
                dst[...] = src


def backward(dout, x, w, pad, groups, plan_info, run):
    """Winograd backward: returns (dx, dw, db). The plan's units must keep the row bands of
    one sample together, in order (neighbouring bands share a row of dx)."""
    chunks, units, schedule = plan_info
    tW = (dout.shape[3] + 1) // 2
    N, C, H, W = x.shape
    F, Cg = w.shape[:2]
    dtype = dout.dtype
    U = filter_transform(w.astype(np.float64)).reshape(16, groups, F // groups, Cg)
    Us = (U * _SIGN[:, None, None, None]).transpose(0, 1, 3, 2).astype(dtype)   # signed U^T
    n_max = max(c[1] - c[0] for c in chunks)
    R_max = max(c[3] - c[2] for c in chunks)
    dx = np.empty(x.shape, dtype)

    def work(lo, hi):
        buf = _Buffers(C, F, n_max, R_max, tW, dtype, backward=True)
        dU = np.zeros((16, groups, F // groups, Cg), dtype)
        for u in range(lo, hi):
            for k in units[u]:
                _backward_chunk(dout, x, Us, pad, chunks[k][:4], tW, buf, dx, dU)
        return dU
    parts = run(work, len(units), schedule)
    dU = parts[0]
    for p in parts[1:]:
        dU += p
    dU = dU.astype(np.float64) * _SIGN[:, None, None, None]
    dw = np.einsum("ai,abfc,bj->fcij", G, dU.reshape(4, 4, F, Cg), G, optimize=True)
    return dx, dw.astype(dtype), dout.sum(axis=(0, 2, 3))
