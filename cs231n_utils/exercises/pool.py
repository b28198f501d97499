"""Max-pooling exercises: `max_pool_forward`, `max_pool_backward` (03_pooling)."""
from __future__ import annotations

import numpy as np

from .. import layers as L
from .harness import as_tuple, call, case_rng, check_array, close, copy_args, overlap_only, signature
from .verdict import Case, Fail, values_wrong


def pool_cases():
    spec = [
        ("1 image, 1 channel, 4x4 input, 2x2 windows, stride 2", "",
         "out[n, c, i, j] = max of the window x[n, c, i*stride:i*stride+ph, j*stride:j*stride+pw]",
         (1, 1, 4, 4), 2, 2, 2),
        ("batch of 2, 3 channels", "with several channels or a batch > 1",
         "pool every image and every channel separately", (2, 3, 4, 4), 2, 2, 2),
        ("non-square 4x6 input", "with non-square inputs",
         "H' = 1 + (H - pool_height) // stride and W' = 1 + (W - pool_width) // stride",
         (2, 3, 4, 6), 2, 2, 2),
        ("overlapping 3x3 windows, stride 2", "with overlapping windows (stride < window)",
         "window (i, j) starts at (i*stride, j*stride), not at (i*pool_height, j*pool_width); "
         "in the backward pass overlapping windows add up (+=)", (2, 2, 7, 9), 3, 3, 2),
        ("overlapping 2x2 windows, stride 1", "with overlapping windows (stride < window)",
         "window (i, j) starts at (i*stride, j*stride), not at (i*pool_height, j*pool_width); "
         "in the backward pass overlapping windows add up (+=)", (2, 2, 5, 4), 2, 2, 1),
        ("non-square 2x3 windows, stride 2", "with non-square windows",
         "pool_height goes with rows, pool_width with columns", (2, 2, 6, 7), 2, 3, 2),
        ("3x3 windows, stride 3", "with stride 3", "window (i, j) starts at (i*stride, j*stride)",
         (1, 2, 9, 6), 3, 3, 3),
    ]
    cases = []
    for i, (label, feature, hint, xs, ph, pw, s) in enumerate(spec):
        rng = case_rng(50 + i)
        # distinct values, no ties; mostly negative so "max starts at 0" shows
        x = rng.permutation(np.arange(np.prod(xs), dtype=np.float64)).reshape(xs)
        x = (x - 0.7 * x.size) / x.size * 4 + rng.uniform(0, 0.01, xs)
        cases.append(Case(label, feature, hint, i, x=x,
                           pool_param={"pool_height": ph, "pool_width": pw, "stride": s}))
    return cases


def _windows(x, pp):
    ph, pw, s = pp["pool_height"], pp["pool_width"], pp["stride"]
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
    for i in range(Ho):
        for j in range(Wo):
            yield i, j, (slice(i * s, i * s + ph), slice(j * s, j * s + pw))


def _pool_variant(x, pp, how):
    ph, pw, s = pp["pool_height"], pp["pool_width"], pp["stride"]
    N, C, H, W = x.shape
    out = np.zeros((N, C, 1 + (H - ph) // s, 1 + (W - pw) // s))
    for i, j, (r, c) in _windows(x, pp):
        win = x[:, :, r, c]
        out[:, :, i, j] = {"mean": win.mean(axis=(2, 3)), "max0": np.maximum(win.max(axis=(2, 3)), 0),
                           "allc": np.broadcast_to(win.max(axis=(1, 2, 3))[:, None], (N, C))}[how]
    return out


def check_max_pool_forward(fn, forward=None) -> int:
    ref = L.max_pool_forward_naive
    cases = pool_cases()
    for i, case in enumerate(cases):
        args = (case.x, case.pool_param)
        got = as_tuple(call(fn, args, case, "max_pool_forward", ("x", "pool_param")),
                     2, "(out, cache)", "max_pool_forward")
        expected = ref(*copy_args(args))[0]
        N, C, H, W = case.x.shape
        pp = case.pool_param
        check_array("out", got[0], expected, case.label,
               f"check H' = 1 + (H - pool_height) // stride = 1 + ({H} - {pp['pool_height']}) // {pp['stride']}, "
               f"W' = 1 + ({W} - {pp['pool_width']}) // {pp['stride']}")
        if close(got[0], expected):
            continue
        signature(got[0], [
            (lambda: _pool_variant(case.x, pp, "mean"), "you averaged the window: max pooling takes its maximum",
             "use window.max(), not window.mean()"),
            (lambda: _pool_variant(case.x, pp, "max0"),
             "values wrong when every value in a window is negative — start the running max from the "
             "window's first value (or -inf), not from 0", "np.max(window) needs no starting value"),
            (lambda: _pool_variant(case.x, pp, "allc"),
             "the max is taken across channels: pool each channel separately",
             "window = x[n, c, rows, cols] for one channel c"),
        ], case)
        raise values_wrong("out", case, i)
    return len(cases)


def route_count(x, pp) -> np.ndarray:
    """How many windows route their gradient to each input position (the argmax 'switches')."""
    count = np.zeros(x.shape, dtype=int)
    N, C = x.shape[:2]
    for i, j, (r, c) in _windows(x, pp):
        win = x[:, :, r, c].reshape(N, C, -1)
        k = win.argmax(axis=2)
        pw = c.stop - c.start
        rows, cols = r.start + k // pw, c.start + k % pw
        for n in range(N):
            for ch in range(C):
                count[n, ch, rows[n, ch], cols[n, ch]] += 1
    return count


def _pool_back_variant(x, pp, dout, how):
    dx = np.zeros_like(x)
    ph, pw = pp["pool_height"], pp["pool_width"]
    for i, j, (r, c) in _windows(x, pp):
        g = dout[:, :, i, j][:, :, None, None]
        if how == "assign":  # dx[window] = mask * dout: later windows wipe earlier ones
            win = x[:, :, r, c]
            dx[:, :, r, c] = (win == win.max(axis=(2, 3), keepdims=True)) * g
        elif how == "spread":
            dx[:, :, r, c] += g
        elif how == "mean":
            dx[:, :, r, c] += g / (ph * pw)
    return dx


def check_max_pool_backward(fn, forward=None) -> int:
    fwd = forward or L.max_pool_forward_naive
    ref_f, ref_b = L.max_pool_forward_naive, L.max_pool_backward_naive
    cases = pool_cases()
    for i, case in enumerate(cases):
        args = (case.x, case.pool_param)
        out, ref_cache = ref_f(*copy_args(args))
        dout = case_rng(150 + i).standard_normal(out.shape)
        _, cache = call(fwd, copy_args(args), case, "max_pool_forward")
        dx = call(fn, (dout, cache), case, "max_pool_backward", ("dout", "cache"))
        if isinstance(dx, tuple) and len(dx) == 1:
            dx = dx[0]
        expected = ref_b(dout.copy(), ref_cache)
        check_array("dx", dx, expected, case.label, "dx has the shape of x: (N, C, H, W)")
        if close(dx, expected):
            continue
        if overlap_only(dx, expected, route_count(case.x, case.pool_param)):
            raise Fail(f"dx wrong only where pooling windows overlap (case '{case.label}') — accumulate "
                        f"with += instead of =",
                        "when two windows share their max, that pixel receives both gradients: dx[...] += dout[...]")
        pp = case.pool_param
        signature(dx, [
            (lambda: _pool_back_variant(case.x, pp, dout, "assign"),
             "dx wrong where pooling windows overlap: later windows overwrite earlier ones — "
             "accumulate with += instead of =",
             "dx[n, c, rows, cols] += mask * dout[n, c, i, j]"),
            (lambda: _pool_back_variant(case.x, pp, dout, "spread"),
             "the gradient is spread over the whole window: route it only to the max (the 'switch')",
             "mask = (window == window.max()); dx[window] += mask * dout[n, c, i, j]"),
            (lambda: _pool_back_variant(case.x, pp, dout, "mean"),
             "that is average-pool backward: max pooling sends the whole gradient to the max",
             "only the position of the max gets dout[n, c, i, j]; the others get 0"),
        ], case)
        raise Fail(values_wrong("dx", case, i).message, case.hint)
    return len(cases)
