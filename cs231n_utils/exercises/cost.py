"""Architecture exercise: `conv_layer_cost`, a conv layer's output shape, parameters and MACs (06)."""
from __future__ import annotations

import numpy as np

from ..architectures import conv_layer_cost
from ..i18n import say
from .harness import as_tuple, call, describe, must_refuse
from .verdict import Case, Fail, values_wrong


def cost_cases():
    # (input_shape, num_filters, filter_size, stride, pad, bias, groups, dilation), feature, hint (en, zh each)
    return [
        (((3, 32, 32), 8, 3, 1, 1, True, 1, 1), ("", ""),
         ("params = F * C * k * k + F; macs = F * H' * W' * C * k * k",
          "params = F * C * k * k + F；macs = F * H' * W' * C * k * k")),
        (((3, 32, 32), 8, 3, 1, 1, False, 1, 1), ("without bias", "没有偏置"),
         ("no bias: params = F * C * k * k", "没有偏置：params = F * C * k * k")),
        (((3, 227, 227), 96, 11, 4, 0, True, 1, 1), ("when stride > 1", "步长 > 1"),
         ("H' = 1 + (H + 2*pad - k) // stride; MACs are counted per OUTPUT position",
          "H' = 1 + (H + 2*pad - k) // stride；MACs 按输出位置计数")),
        (((16, 14, 10), 32, 1, 1, 0, True, 1, 1), ("with a 1x1 filter on a non-square input", "1x1 滤波器、非方形输入"),
         ("a 1x1 conv mixes channels only: params = F * C + F", "1x1 卷积只混合通道：params = F * C + F")),
        (((32, 16, 16), 64, 3, 1, 1, True, 4, 1), ("with groups > 1", "分组数 > 1"),
         ("each filter sees only C / groups channels: params = F * (C // groups) * k * k + F",
          "每个滤波器只看 C / groups 个通道：params = F * (C // groups) * k * k + F")),
        (((32, 16, 16), 32, 3, 1, 1, True, 32, 1), ("for a depthwise conv (groups = C)", "深度可分离卷积（groups = C）"),
         ("depthwise: every filter sees one channel; params = C * k * k + C",
          "逐通道卷积：每个滤波器只看一个通道；params = C * k * k + C")),
        (((8, 20, 20), 8, 3, 1, 2, True, 1, 2), ("with dilation > 1", "空洞（dilation）> 1"),
         ("dilation spreads the taps (span D*(k-1)+1) but does not add parameters",
          "空洞让采样点分散（跨度 D*(k-1)+1），但不增加参数")),
    ]


def cost_invalid():
    """Settings that do not fit: the learner's function must raise ValueError, as conv_output_size does."""
    return [
        (((3, 32, 32), 8, 3, 2, 0, True, 1, 1), "(32 + 2*0 - 3)/2 + 1 = 15.5"),
        (((3, 4, 4), 8, 5, 1, 0, True, 1, 1), "(4 + 2*0 - 5)/1 + 1 = 0 < 1"),
    ]


def _label(args) -> str:
    return (say(f"input {args[0]}, {args[1]} filters {args[2]}x{args[2]}, stride {args[3]}, pad {args[4]}",
                f"输入 {args[0]}、{args[1]} 个 {args[2]}x{args[2]} 滤波器、步长 {args[3]}、填充 {args[4]}")
            + ("" if args[5] else say(", no bias", "、无偏置")) + (f", groups {args[6]}" if args[6] > 1 else "")
            + (f", dilation {args[7]}" if args[7] > 1 else ""))


def _signatures(nm, args, e_shape, e_macs):
    C, H, W = args[0]
    F, k, groups = args[1], args[2], args[6]
    Ho, Wo = e_shape[1:]
    if nm == "params":
        return [(F * C * k * k + (F if args[5] else 0),
                 say("params ignores groups: each filter sees only C / groups input channels",
                     "params 忽略了分组：每个滤波器只看 C / groups 个输入通道")),
                (F * (C // groups) * k * k, say("params is missing the bias (one per filter)",
                                                "params 少了偏置（每个滤波器一个）")),
                (F * (C // groups) * k * k + F, say("params counts a bias although bias=False",
                                                    "bias=False 时 params 仍然算了偏置"))]
    return [(F * C * k * k * Ho * Wo, say("macs ignores groups: each output sees only C / groups channels",
                                          "macs 忽略了分组：每个输出只看 C / groups 个通道")),
            (F * (C // groups) * k * k * H * W, say("macs counted over the input size; count one dot product per OUTPUT "
                                                    "position", "macs 按输入尺寸计数了；应当每个输出位置算一次点积")),
            (e_macs + F * Ho * Wo, say("macs counts the bias additions; count multiply-adds of the dot products only",
                                       "macs 把偏置的加法也算进去了；只数点积里的乘加")),
            (2 * e_macs, say("that is FLOPs (2 per multiply-add); macs counts multiply-adds",
                             "这是 FLOPs（每次乘加算 2 次）；macs 数的是乘加次数"))]


def check_conv_layer_cost(fn, forward=None) -> int:
    ref = conv_layer_cost
    cases = cost_cases()
    for i, (args, feature, hint) in enumerate(cases):
        label = _label(args)
        case = Case(label, say(*feature), say(*hint), i)
        got = as_tuple(call(fn, args, case, "conv_layer_cost"), 3, "(out_shape, params, macs)", "conv_layer_cost")
        e_shape, e_params, e_macs = ref(*args)
        e_shape = tuple(int(s) for s in e_shape)
        try:
            g_shape = tuple(int(s) for s in got[0])
        except Exception:
            raise Fail(say(f"out_shape is {describe(got[0])}, expected a tuple like {e_shape}",
                           f"out_shape 是{describe(got[0])}，应为像 {e_shape} 这样的元组"), "out_shape = (F, H', W')") from None
        if g_shape != e_shape:
            raise Fail(say(f"wrong out_shape {g_shape}, expected {e_shape} in case '{label}' — "
                           f"H' = 1 + (H + 2*pad - D*(k-1) - 1) // stride, and the depth is num_filters",
                           f"out_shape {g_shape} 不对，用例 '{label}' 中应为 {e_shape} —— "
                           f"H' = 1 + (H + 2*pad - D*(k-1) - 1) // stride，深度是 num_filters"),
                       "out_shape = (num_filters, H', W')")
        for nm, g, e in (("params", got[1], e_params), ("macs", got[2], e_macs)):
            if isinstance(g, bool) or not isinstance(g, (int, np.integer)) and not (
                    isinstance(g, (float, np.floating)) and float(g).is_integer()):
                raise Fail(say(f"{nm} is {describe(g)}, expected an integer count", f"{nm} 是{describe(g)}，应为整数计数"),
                           say("counts are whole numbers", "计数是整数"))
            if int(g) == int(e):
                continue
            for value, message in _signatures(nm, args, e_shape, e_macs):
                if int(g) == value and value != int(e):
                    raise Fail(message + say(f" (case '{label}': got {int(g)}, expected {int(e)})",
                                             f"（用例 '{label}'：得到 {int(g)}，应为 {int(e)}）"), case.hint)
            raise values_wrong(say(f"{nm} ({int(g)}, expected {int(e)})", f"{nm}（得到 {int(g)}，应为 {int(e)}）"), case, i)
    invalid = cost_invalid()
    for args, why in invalid:
        must_refuse(fn, args, _label(args), "conv_layer_cost", why, (),
                    say("compute H' and W' with conv_output_size (it raises ValueError when the filter does not fit)",
                        "用 conv_output_size 计算 H' 和 W'（滤波器放不下时它会 raise ValueError）"))
    return len(cases) + len(invalid)
