"""Convolution exercises: `conv_output_size`, `conv_forward`, `conv_backward` (02_convolution)."""
from __future__ import annotations

import numpy as np

from .. import layers as L
from .harness import as_tuple, call, case_rng, check_array, close, copy_args, describe, overlap_only, shape_text, signature
from .verdict import Case, Fail, Todo, values_wrong


def check_conv_output_size(fn, forward=None) -> int:
    cases = [
        ((7, 3, 1, 0, 1), "", "W' = (W + 2*P - F) / S + 1; do not forget the + 1"),
        ((32, 5, 1, 0, 1), "", "W' = (W + 2*P - F) / S + 1"),
        ((5, 5, 1, 0, 1), "when the filter is as large as the input", "one position fits: (5 - 5)/1 + 1 = 1"),
        ((7, 3, 1, 1, 1), "with padding", "padding adds P zeros on EACH side: W + 2*P"),
        ((32, 5, 1, 2, 1), "with padding", "padding adds P zeros on EACH side: W + 2*P"),
        ((7, 3, 2, 0, 1), "when stride > 1", "divide by the stride: (W + 2*P - F) / S + 1"),
        ((9, 3, 2, 1, 1), "with stride and padding together", "(W + 2*P - F) / S + 1, padding first, then divide"),
        ((7, 3, 1, 0, 2), "with dilation > 1", "a dilated filter spans D*(F - 1) + 1 pixels: use that instead of F"),
        ((12, 3, 3, 1, 2), "with dilation, stride and padding together", "(W + 2*P - (D*(F - 1) + 1)) / S + 1"),
    ]
    invalid = [
        ((6, 3, 2, 0, 1), "(6 + 2*0 - 3)/2 + 1 = 2.5 is not an integer"),
        ((8, 3, 2, 1, 1), "(8 + 2*1 - 3)/2 + 1 = 4.5 is not an integer"),
        ((3, 5, 1, 0, 1), "filter 5 does not fit in input 3: (3 - 5)/1 + 1 = -1 < 1"),
        ((5, 3, 1, 0, 3), "a filter 3 with dilation 3 spans 7 > 5: (5 - 7)/1 + 1 = -1 < 1"),
    ]
    names = ("size", "filter_size", "stride", "pad", "dilation")
    for i, (args, feature, hint) in enumerate(cases):
        label = "conv_output_size" + str(args)
        expected = (args[0] + 2 * args[3] - (args[4] * (args[1] - 1) + 1)) // args[2] + 1
        case = Case(label, feature, hint, i)
        got = call(fn, args, case, "conv_output_size", names)
        if isinstance(got, bool) or not isinstance(got, (int, np.integer, float, np.floating)):
            raise Fail(f"returned {describe(got)} for {label}, expected the int {expected}",
                        "return a single integer")
        if isinstance(got, (float, np.floating)):
            if float(got) == expected:
                raise Fail(f"returns the float {float(got)!r} for {label}, expected the int {expected} "
                            f"— use // once you have checked that the division is exact",
                            "(W + 2*P - F) / S gives a float in Python 3; check `% S == 0`, then use //")
            raise Fail(f"returned {float(got):g} for {label}, expected the int {expected}", hint)
        if int(got) != expected:
            if i == 0 and int(got) == expected - 1:
                raise Fail(f"returned {int(got)} for {label}, expected {expected} — forgot the + 1 "
                            f"(the first position counts too)", hint)
            raise values_wrong(f"output size ({int(got)} for {label}, expected {expected})", case, i)
    for args, why in invalid:
        label = "conv_output_size" + str(args)
        try:
            got = call(fn, args, label, "conv_output_size", names, allow=(Exception,))
        except ValueError:
            continue
        except (Todo, Fail):
            raise
        except Exception as exc:
            raise Fail(f"raised {type(exc).__name__} for {label}, which does not fit ({why}) — raise "
                        f"ValueError instead, with a message that says why",
                        "`raise ValueError(...)`; assert can be switched off and says nothing useful") from None
        raise Fail(f"returned {got!r} for {label}, which does not fit ({why}) — raise ValueError "
                    f"with a message that says why",
                    "check `size + 2*pad >= effective filter` and `(size + 2*pad - eff) % stride == 0`, "
                    "and raise ValueError(f'...') when either fails")
    return len(cases) + len(invalid)

def conv_cases():
    spec = [
        # label, feature, hint, x shape, w shape, stride, pad
        ("1 image, 1 channel, 4x4 input, 3x3 filter", "", "out[n, f, i, j] = sum(window * w[f]) + b[f]",
         (1, 1, 4, 4), (1, 1, 3, 3), 1, 0),
        ("3 input channels", "with several input channels",
         "sum over the input channels too: the filter w[f] has shape (C, HH, WW)",
         (1, 3, 4, 4), (1, 3, 3, 3), 1, 0),
        ("3 channels, 2 filters", "with several filters",
         "output channel f uses filter w[f] and bias b[f]",
         (1, 3, 4, 4), (2, 3, 3, 3), 1, 0),
        ("batch of 2", "with a batch > 1", "loop over every image n of the batch",
         (2, 3, 4, 4), (2, 3, 3, 3), 1, 0),
        ("non-square 5x7 input, 3x2 filter", "with non-square inputs or filters",
         "heights go with HH and H', widths with WW and W'; do not mix them up",
         (2, 3, 5, 7), (2, 3, 3, 2), 1, 0),
        ("padding 1", "with padding",
         "pad x with np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) and slide over the padded array",
         (2, 3, 5, 5), (2, 3, 3, 3), 1, 1),
        ("stride 2", "when stride > 1",
         "output position (i, j) starts at row i*stride and column j*stride of the (padded) input",
         (2, 3, 7, 7), (2, 3, 3, 3), 2, 0),
        ("stride 2, padding 1, non-square 7x9 input, 3x5 filter", "with stride, padding and non-square shapes together",
         "H' = 1 + (H + 2*pad - HH) // stride, W' = 1 + (W + 2*pad - WW) // stride; windows start at i*stride",
         (2, 3, 7, 9), (4, 3, 3, 5), 2, 1),
        ("padding 2, 5x5 filter, 4 filters", "with padding 2",
         "pad by `pad` on each side, then slide the filter over the padded input",
         (3, 2, 6, 6), (4, 2, 5, 5), 1, 2),
        ("2x2 filter, stride 2 (windows do not overlap)", "with stride 2 and a 2x2 filter",
         "output position (i, j) starts at row i*stride and column j*stride",
         (1, 2, 6, 4), (3, 2, 2, 2), 2, 0),
    ]
    cases = []
    for i, (label, feature, hint, xs, ws, stride, pad) in enumerate(spec):
        rng = case_rng(i)
        x = rng.standard_normal(xs)
        w = rng.standard_normal(ws)
        b = rng.standard_normal(ws[0])
        cases.append(Case(label, feature, hint, i, x=x, w=w, b=b,
                           conv_param={"stride": stride, "pad": pad}))
    return cases


def _conv_shape_hint(case) -> str:
    H, W = case.x.shape[2:]
    HH, WW = case.w.shape[2:]
    s, p = case.conv_param["stride"], case.conv_param["pad"]
    return (f"check H' = 1 + (H + 2*pad - HH) // stride = 1 + ({H} + 2*{p} - {HH}) // {s}, "
            f"W' = 1 + ({W} + 2*{p} - {WW}) // {s}, and out has shape (N, F, H', W')")


def check_conv_forward(fn, forward=None) -> int:
    ref = L.conv_forward_naive
    cases = conv_cases()
    for i, case in enumerate(cases):
        args = (case.x, case.w, case.b, case.conv_param)
        got = as_tuple(call(fn, args, case, "conv_forward", ("x", "w", "b", "conv_param")),
                     2, "(out, cache)", "conv_forward")
        expected = ref(*copy_args(args))[0]
        out = got[0]
        check_array("out", out, expected, case.label, _conv_shape_hint(case))
        if close(out, expected):
            continue
        signature(out, [
            (lambda: ref(case.x, case.w, np.zeros_like(case.b), case.conv_param)[0],
             "the bias is missing: add b[f] to every output of filter f",
             "out[n, f, i, j] = np.sum(window * w[f]) + b[f]"),
            (lambda: ref(case.x, case.w[:, :, ::-1, ::-1].copy(), case.b, case.conv_param)[0],
             "the filter is flipped: a conv layer computes cross-correlation, use w[f] as it is",
             "no flipping in the forward pass; the flip appears only in the backward pass"),
        ], case)
        raise values_wrong("out", case, i)
    return len(cases)


def _coverage(x_shape, w_shape, stride, pad) -> np.ndarray:
    """How many conv windows cover each input pixel (padding cropped)."""
    N, C, H, W = x_shape
    HH, WW = w_shape[2:]
    Ho = 1 + (H + 2 * pad - HH) // stride
    Wo = 1 + (W + 2 * pad - WW) // stride
    count = np.zeros((H + 2 * pad, W + 2 * pad), dtype=int)
    for i in range(Ho):
        for j in range(Wo):
            count[i * stride:i * stride + HH, j * stride:j * stride + WW] += 1
    return np.broadcast_to(count[pad:pad + H, pad:pad + W], x_shape)


def check_conv_backward(fn, forward=None) -> int:
    fwd = forward or L.conv_forward_naive
    ref_f, ref_b = L.conv_forward_naive, L.conv_backward_naive
    cases = conv_cases()
    for i, case in enumerate(cases):
        args = (case.x, case.w, case.b, case.conv_param)
        out, ref_cache = ref_f(*copy_args(args))
        dout = case_rng(100 + i).standard_normal(out.shape)
        _, cache = call(fwd, copy_args(args), case, "conv_forward")
        got = as_tuple(call(fn, (dout, cache), case, "conv_backward", ("dout", "cache")),
                     3, "(dx, dw, db)", "conv_backward")
        exp = ref_b(dout.copy(), ref_cache)
        N, C, H, W = case.x.shape
        F = case.w.shape[0]
        pad = case.conv_param["pad"]

        def dx_shape(shape, pad=pad, H=H, W=W):
            if shape == (N, C, H + 2 * pad, W + 2 * pad) and pad:
                return (f"dx has the padded shape {shape_text(shape)}, expected x's shape {shape_text((N, C, H, W))} "
                        f"— crop the padding: dx = dx_pad[:, :, pad:pad+H, pad:pad+W]",
                        "the padding zeros are not inputs; their gradient is thrown away")
            if len(shape) == 4 and shape[:2] == (N, C) and 0 in shape[2:]:
                return (f"dx is empty, shape {shape_text(shape)} — dx_pad[:, :, pad:-pad] is empty when pad = 0; "
                        f"crop with dx_pad[:, :, pad:pad+H, pad:pad+W]", "-0 is 0, so a[0:-0] is a[0:0]")
            return None

        def db_shape(shape, F=F):
            return (f"db summed over the wrong axes: got shape {shape_text(shape)}, expected (F,) = ({F},) "
                    f"— sum dout over axes (0, 2, 3)", "db[f] = dout[:, f, :, :].sum()")

        check_array("dx", got[0], exp[0], case.label, "dx has the shape of x", dx_shape)
        check_array("dw", got[1], exp[1], case.label, "dw has the shape of w: (F, C, HH, WW)")
        check_array("db", got[2], exp[2], case.label, "db has shape (F,)", db_shape)
        ok = [close(g, e) for g, e in zip(got, exp)]
        if all(ok):
            continue
        right = " and ".join(n for n, k in zip(("dx", "dw", "db"), ok) if k)
        if not ok[0]:
            s = case.conv_param["stride"]
            if overlap_only(got[0], exp[0], _coverage(case.x.shape, case.w.shape, s, pad)):
                raise Fail(f"dx wrong only where windows overlap (case '{case.label}') — accumulate "
                            f"with dx_pad[..., window] += ..., not =",
                            "a pixel inside several windows gets a gradient from each of them")
            raise Fail(values_wrong("dx", case, i, right).message,
                        "dx_pad[n, :, window] += w[f] * dout[n, f, i, j], then crop the padding")
        if not ok[1]:
            signature(got[1], [(lambda: exp[1] / N,
                                 "dw is averaged over the batch: sum the contributions, do not divide by N",
                                 "dw[f] += window * dout[n, f, i, j] for every n, i, j")], case)
            raise Fail(values_wrong("dw", case, i, right).message,
                        "dw[f] += x_pad[n, :, window] * dout[n, f, i, j]: shared weights sum over positions")
        signature(got[2], [(lambda: exp[2] / N, "db is averaged over the batch: sum, do not divide",
                             "db = dout.sum(axis=(0, 2, 3))")], case)
        raise Fail(values_wrong("db", case, i, right).message, "db = dout.sum(axis=(0, 2, 3))")
    return len(cases)
