"""Architecture exercise: `conv_layer_cost`, a conv layer's output shape, parameters and MACs (06)."""
from __future__ import annotations

import numpy as np

from ..architectures import conv_layer_cost
from .harness import as_tuple, call, describe
from .verdict import Case, Fail, values_wrong


def cost_cases():
    # (input_shape, num_filters, filter_size, stride, pad, bias, groups, dilation), feature, hint
    return [
        (((3, 32, 32), 8, 3, 1, 1, True, 1, 1), "", "params = F * C * k * k + F; macs = F * H' * W' * C * k * k"),
        (((3, 32, 32), 8, 3, 1, 1, False, 1, 1), "without bias", "no bias: params = F * C * k * k"),
        (((3, 227, 227), 96, 11, 4, 0, True, 1, 1), "when stride > 1",
         "H' = 1 + (H + 2*pad - k) // stride; MACs are counted per OUTPUT position"),
        (((16, 14, 10), 32, 1, 1, 0, True, 1, 1), "with a 1x1 filter on a non-square input",
         "a 1x1 conv mixes channels only: params = F * C + F"),
        (((32, 16, 16), 64, 3, 1, 1, True, 4, 1), "with groups > 1",
         "each filter sees only C / groups channels: params = F * (C // groups) * k * k + F"),
        (((32, 16, 16), 32, 3, 1, 1, True, 32, 1), "for a depthwise conv (groups = C)",
         "depthwise: every filter sees one channel; params = C * k * k + C"),
        (((8, 20, 20), 8, 3, 1, 2, True, 1, 2), "with dilation > 1",
         "dilation spreads the taps (span D*(k-1)+1) but does not add parameters"),
    ]


def check_conv_layer_cost(fn, forward=None) -> int:
    ref = conv_layer_cost
    cases = cost_cases()
    for i, (args, feature, hint) in enumerate(cases):
        label = f"input {args[0]}, {args[1]} filters {args[2]}x{args[2]}, stride {args[3]}, pad {args[4]}" + \
            ("" if args[5] else ", no bias") + (f", groups {args[6]}" if args[6] > 1 else "") + \
            (f", dilation {args[7]}" if args[7] > 1 else "")
        case = Case(label, feature, hint, i)
        got = as_tuple(call(fn, args, case, "conv_layer_cost"), 3, "(out_shape, params, macs)", "conv_layer_cost")
        e_shape, e_params, e_macs = ref(*args)
        e_shape = tuple(int(s) for s in e_shape)
        try:
            g_shape = tuple(int(s) for s in got[0])
        except Exception:
            raise Fail(f"out_shape is {describe(got[0])}, expected a tuple like {e_shape}",
                        "out_shape = (F, H', W')") from None
        if g_shape != e_shape:
            raise Fail(f"wrong out_shape {g_shape}, expected {e_shape} in case '{label}' — "
                        f"H' = 1 + (H + 2*pad - D*(k-1) - 1) // stride, and the depth is num_filters",
                        "out_shape = (num_filters, H', W')")
        for nm, g, e in (("params", got[1], e_params), ("macs", got[2], e_macs)):
            if isinstance(g, bool) or not isinstance(g, (int, np.integer)) and not (
                    isinstance(g, (float, np.floating)) and float(g).is_integer()):
                raise Fail(f"{nm} is {describe(g)}, expected an integer count", "counts are whole numbers")
            if int(g) == int(e):
                continue
            C, H, W = args[0]
            F, k, groups = args[1], args[2], args[6]
            Ho, Wo = e_shape[1:]
            signatures = {
                "params": [(F * C * k * k + (F if args[5] else 0),
                            "params ignores groups: each filter sees only C / groups input channels"),
                           (F * (C // groups) * k * k, "params is missing the bias (one per filter)"),
                           (F * (C // groups) * k * k + F, "params counts a bias although bias=False")],
                "macs": [(F * C * k * k * Ho * Wo, "macs ignores groups: each output sees only C / groups channels"),
                         (F * (C // groups) * k * k * H * W,
                          "macs counted over the input size; count one dot product per OUTPUT position"),
                         (e_macs + F * Ho * Wo, "macs counts the bias additions; count multiply-adds of the dot products only"),
                         (2 * e_macs, "that is FLOPs (2 per multiply-add); macs counts multiply-adds")],
            }[nm]
            for value, message in signatures:
                if int(g) == value and value != int(e):
                    raise Fail(f"{message} (case '{label}': got {int(g)}, expected {int(e)})", hint)
            raise values_wrong(f"{nm} ({int(g)}, expected {int(e)})", case, i)
    return len(cases)
