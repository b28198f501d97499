"""Convolution exercises: `conv_output_size`, `conv_forward`, `conv_backward` (02_convolution)."""
from __future__ import annotations

import numpy as np

from .. import layers as L
from ..i18n import say
from .harness import (as_tuple, backward_case, call, case_rng, check_array, close, copy_args, describe, must_refuse,
                      overlap_only, shape_text, signature, wrong_values)
from .verdict import Case, Fail


def _size_cases():
    # (size, filter_size, stride, pad, dilation), feature (en, zh), hint (en, zh)
    return [
        ((7, 3, 1, 0, 1), ("", ""), ("W' = (W + 2*P - F) / S + 1; do not forget the + 1",
                                     "W' = (W + 2*P - F) / S + 1；别忘了 + 1")),
        ((32, 5, 1, 0, 1), ("", ""), ("W' = (W + 2*P - F) / S + 1", "W' = (W + 2*P - F) / S + 1")),
        ((5, 5, 1, 0, 1), ("when the filter is as large as the input", "滤波器和输入一样大"),
         ("one position fits: (5 - 5)/1 + 1 = 1", "只放得下一个位置：(5 - 5)/1 + 1 = 1")),
        ((7, 3, 1, 1, 1), ("with padding", "有零填充"),
         ("padding adds P zeros on EACH side: W + 2*P", "零填充在两侧各加 P 个零：W + 2*P")),
        ((32, 5, 1, 2, 1), ("with padding", "有零填充"),
         ("padding adds P zeros on EACH side: W + 2*P", "零填充在两侧各加 P 个零：W + 2*P")),
        ((7, 3, 2, 0, 1), ("when stride > 1", "步长 > 1"),
         ("divide by the stride: (W + 2*P - F) / S + 1", "要除以步长：(W + 2*P - F) / S + 1")),
        ((9, 3, 2, 1, 1), ("with stride and padding together", "步长和零填充同时出现"),
         ("(W + 2*P - F) / S + 1, padding first, then divide", "(W + 2*P - F) / S + 1，先加填充再除")),
        ((7, 3, 1, 0, 2), ("with dilation > 1", "空洞（dilation）> 1"),
         ("a dilated filter spans D*(F - 1) + 1 pixels: use that instead of F",
          "空洞滤波器覆盖 D*(F - 1) + 1 个像素：用它代替 F")),
        ((12, 3, 3, 1, 2), ("with dilation, stride and padding together", "空洞、步长和零填充同时出现"),
         ("(W + 2*P - (D*(F - 1) + 1)) / S + 1", "(W + 2*P - (D*(F - 1) + 1)) / S + 1")),
    ]


def _size_invalid():
    return [
        ((6, 3, 2, 0, 1), "(6 + 2*0 - 3)/2 + 1 = 2.5"),
        ((8, 3, 2, 1, 1), "(8 + 2*1 - 3)/2 + 1 = 4.5"),
        ((3, 5, 1, 0, 1), "(3 - 5)/1 + 1 = -1 < 1"),
        ((5, 3, 1, 0, 3), "(5 - 7)/1 + 1 = -1 < 1"),
    ]


def check_conv_output_size(fn, forward=None) -> int:
    cases, invalid = _size_cases(), _size_invalid()
    names = ("size", "filter_size", "stride", "pad", "dilation")
    who = "conv_output_size"
    for i, (args, feature, hint) in enumerate(cases):
        label = who + str(args)
        expected = (args[0] + 2 * args[3] - (args[4] * (args[1] - 1) + 1)) // args[2] + 1
        case = Case(label, say(*feature), say(*hint), i)
        got = call(fn, args, case, who, names)
        if isinstance(got, bool) or not isinstance(got, (int, np.integer, float, np.floating)):
            raise Fail(say(f"returned {describe(got)} for {label}, expected the int {expected}",
                           f"对 {label} 返回了{describe(got)}，应为整数 {expected}"),
                       say("return a single integer", "返回一个整数"))
        if isinstance(got, (float, np.floating)):
            if float(got) == expected:
                raise Fail(say(f"returns the float {float(got)!r} for {label}, expected the int {expected} "
                               f"— use // once you have checked that the division is exact",
                               f"对 {label} 返回了浮点数 {float(got)!r}，应为整数 {expected} —— 确认能整除后用 //"),
                           say("(W + 2*P - F) / S gives a float in Python 3; check `% S == 0`, then use //",
                               "Python 3 里 (W + 2*P - F) / S 得到浮点数；先检查 `% S == 0`，再用 //"))
            raise Fail(say(f"returned {float(got):g} for {label}, expected the int {expected}",
                           f"对 {label} 返回了 {float(got):g}，应为整数 {expected}"), case.hint)
        if int(got) != expected:
            if i == 0 and int(got) == expected - 1:
                raise Fail(say(f"returned {int(got)} for {label}, expected {expected} — forgot the + 1 "
                               f"(the first position counts too)",
                               f"对 {label} 返回了 {int(got)}，应为 {expected} —— 忘了 + 1（第一个位置也要算）"),
                           case.hint)
            raise wrong_values(say(f"output size ({int(got)} for {label}, expected {expected})",
                                   f"输出尺寸（{label} 得到 {int(got)}，应为 {expected}）"), got, expected, case, i)
    for args, why in invalid:
        must_refuse(fn, args, who + str(args), who, why, names,
                    say("check `size + 2*pad >= effective filter` and `(size + 2*pad - eff) % stride == 0`, "
                        "and raise ValueError(f'...') when either fails",
                        "检查 `size + 2*pad >= 有效滤波器尺寸` 和 `(size + 2*pad - eff) % stride == 0`，"
                        "任一不满足就 raise ValueError(f'...')"))
    return len(cases) + len(invalid)


def conv_cases():
    # label, feature, forward hint, backward hint (en, zh each), x shape, w shape, stride, pad
    slide_back = ("add w[f] * dout[n, f, i, j] into dx_pad[n, :, i*stride:i*stride+HH, j*stride:j*stride+WW]",
                  "把 w[f] * dout[n, f, i, j] 加到 dx_pad[n, :, i*stride:i*stride+HH, j*stride:j*stride+WW] 上")
    spec = [
        (("1 image, 1 channel, 4x4 input, 3x3 filter", "1 张图、1 个通道、4x4 输入、3x3 滤波器"), ("", ""),
         ("out[n, f, i, j] = sum(window * w[f]) + b[f]", "out[n, f, i, j] = sum(窗口 * w[f]) + b[f]"),
         ("every window adds w[f] * dout[n, f, i, j] to dx and window * dout[n, f, i, j] to dw[f]",
          "每个窗口把 w[f] * dout[n, f, i, j] 加到 dx 上，把 窗口 * dout[n, f, i, j] 加到 dw[f] 上"),
         (1, 1, 4, 4), (1, 1, 3, 3), 1, 0),
        (("3 input channels", "3 个输入通道"), ("with several input channels", "有多个输入通道"),
         ("sum over the input channels too: the filter w[f] has shape (C, HH, WW)",
          "输入通道也要求和：滤波器 w[f] 的形状是 (C, HH, WW)"),
         ("dx gets w[f] over all C channels of the window: dx_pad[n, :, window] += w[f] * dout[n, f, i, j]",
          "dx 的窗口覆盖全部 C 个通道：dx_pad[n, :, 窗口] += w[f] * dout[n, f, i, j]"),
         (1, 3, 4, 4), (1, 3, 3, 3), 1, 0),
        (("3 channels, 2 filters", "3 个通道、2 个滤波器"), ("with several filters", "有多个滤波器"),
         ("output channel f uses filter w[f] and bias b[f]", "输出通道 f 用滤波器 w[f] 和偏置 b[f]"),
         ("each filter f adds its own contribution to dx: loop over (or sum over) f",
          "每个滤波器 f 都给 dx 贡献一份：对 f 循环（或求和）"),
         (1, 3, 4, 4), (2, 3, 3, 3), 1, 0),
        (("batch of 2", "一批 2 张图"), ("with a batch > 1", "批大小 > 1"),
         ("loop over every image n of the batch", "对批里的每张图 n 循环"),
         ("dx[n] comes from image n's dout only, while dw and db sum over every image n",
          "dx[n] 只来自第 n 张图的 dout，而 dw 和 db 要对所有图 n 求和"),
         (2, 3, 4, 4), (2, 3, 3, 3), 1, 0),
        (("non-square 5x7 input, 3x2 filter", "非方形 5x7 输入、3x2 滤波器"),
         ("with non-square inputs or filters", "输入或滤波器不是方形"),
         ("heights go with HH and H', widths with WW and W'; do not mix them up",
          "高度对应 HH 和 H'，宽度对应 WW 和 W'；不要弄混"),
         ("rows go with HH and dout's height, columns with WW and dout's width",
          "行对应 HH 和 dout 的高度，列对应 WW 和 dout 的宽度"),
         (2, 3, 5, 7), (2, 3, 3, 2), 1, 0),
        (("padding 1", "零填充 1"), ("with padding", "有零填充"),
         ("pad x with np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) and slide over the padded array",
          "用 np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) 填充 x，再在填充后的数组上滑动"),
         ("accumulate into dx_pad (the padded shape), use x_pad for dw, then crop: dx = dx_pad[:, :, pad:pad+H, pad:pad+W]",
          "在 dx_pad（填充后的形状）上累加，dw 用 x_pad，最后裁掉填充：dx = dx_pad[:, :, pad:pad+H, pad:pad+W]"),
         (2, 3, 5, 5), (2, 3, 3, 3), 1, 1),
        (("stride 2", "步长 2"), ("when stride > 1", "步长 > 1"),
         ("output position (i, j) starts at row i*stride and column j*stride of the (padded) input",
          "输出位置 (i, j) 对应（填充后）输入的第 i*stride 行、第 j*stride 列"), slide_back,
         (2, 3, 7, 7), (2, 3, 3, 3), 2, 0),
        (("stride 2, padding 1, non-square 7x9 input, 3x5 filter", "步长 2、零填充 1、非方形 7x9 输入、3x5 滤波器"),
         ("with stride, padding and non-square shapes together", "步长、零填充和非方形同时出现"),
         ("H' = 1 + (H + 2*pad - HH) // stride, W' = 1 + (W + 2*pad - WW) // stride; windows start at i*stride",
          "H' = 1 + (H + 2*pad - HH) // stride，W' = 1 + (W + 2*pad - WW) // stride；窗口从 i*stride 开始"),
         ("windows start at (i*stride, j*stride) of the padded input; crop dx_pad at the end",
          "窗口从填充后输入的 (i*stride, j*stride) 开始；最后裁剪 dx_pad"),
         (2, 3, 7, 9), (4, 3, 3, 5), 2, 1),
        (("padding 2, 5x5 filter, 4 filters", "零填充 2、5x5 滤波器、4 个滤波器"), ("with padding 2", "零填充为 2"),
         ("pad by `pad` on each side, then slide the filter over the padded input",
          "两侧各填充 `pad`，再让滤波器在填充后的输入上滑动"),
         ("crop dx_pad by `pad` on each side: dx = dx_pad[:, :, pad:pad+H, pad:pad+W]",
          "两侧各裁掉 `pad`：dx = dx_pad[:, :, pad:pad+H, pad:pad+W]"),
         (3, 2, 6, 6), (4, 2, 5, 5), 1, 2),
        (("2x2 filter, stride 2 (windows do not overlap)", "2x2 滤波器、步长 2（窗口不重叠）"),
         ("with stride 2 and a 2x2 filter", "步长 2、2x2 滤波器"),
         ("output position (i, j) starts at row i*stride and column j*stride",
          "输出位置 (i, j) 从第 i*stride 行、第 j*stride 列开始"), slide_back,
         (1, 2, 6, 4), (3, 2, 2, 2), 2, 0),
    ]
    cases = []
    for i, (label, feature, hint, back, xs, ws, stride, pad) in enumerate(spec):
        rng = case_rng(i)
        x = rng.standard_normal(xs)
        w = rng.standard_normal(ws)
        b = rng.standard_normal(ws[0])
        cases.append(Case(say(*label), say(*feature), say(*hint), i, back=say(*back), x=x, w=w, b=b,
                          conv_param={"stride": stride, "pad": pad}))
    return cases


def _conv_shape_hint(case) -> str:
    H, W = case.x.shape[2:]
    HH, WW = case.w.shape[2:]
    s, p = case.conv_param["stride"], case.conv_param["pad"]
    return say(f"check H' = 1 + (H + 2*pad - HH) // stride = 1 + ({H} + 2*{p} - {HH}) // {s}, "
               f"W' = 1 + ({W} + 2*{p} - {WW}) // {s}, and out has shape (N, F, H', W')",
               f"检查 H' = 1 + (H + 2*pad - HH) // stride = 1 + ({H} + 2*{p} - {HH}) // {s}，"
               f"W' = 1 + ({W} + 2*{p} - {WW}) // {s}，并且 out 的形状是 (N, F, H', W')")


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
             say("the bias is missing: add b[f] to every output of filter f",
                 "缺了偏置：滤波器 f 的每个输出都要加上 b[f]"),
             "out[n, f, i, j] = np.sum(window * w[f]) + b[f]"),
            (lambda: ref(case.x, case.w[:, :, ::-1, ::-1].copy(), case.b, case.conv_param)[0],
             say("the filter is flipped: a conv layer computes cross-correlation, use w[f] as it is",
                 "滤波器被翻转了：卷积层算的是互相关，直接用 w[f]"),
             say("no flipping in the forward pass; the flip appears only in the backward pass",
                 "前向传播不翻转；翻转只出现在反向传播里")),
        ], case)
        raise wrong_values("out", out, expected, case, i)
    return len(cases)


def coverage(x_shape, w_shape, stride, pad) -> np.ndarray:
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


def _dx_shape(N, C, H, W, pad):
    def diagnose(shape):
        if shape == (N, C, H + 2 * pad, W + 2 * pad) and pad:
            return (say(f"dx has the padded shape {shape_text(shape)}, expected x's shape {shape_text((N, C, H, W))} "
                        f"— crop the padding: dx = dx_pad[:, :, pad:pad+H, pad:pad+W]",
                        f"dx 是填充后的形状 {shape_text(shape)}，应为 x 的形状 {shape_text((N, C, H, W))} "
                        f"—— 裁掉填充：dx = dx_pad[:, :, pad:pad+H, pad:pad+W]"),
                    say("the padding zeros are not inputs; their gradient is thrown away",
                        "填充的零不是输入；它们的梯度直接丢掉"))
        if len(shape) == 4 and shape[:2] == (N, C) and 0 in shape[2:]:
            return (say(f"dx is empty, shape {shape_text(shape)} — dx_pad[:, :, pad:-pad] is empty when pad = 0; "
                        f"crop with dx_pad[:, :, pad:pad+H, pad:pad+W]",
                        f"dx 是空的，形状 {shape_text(shape)} —— pad = 0 时 dx_pad[:, :, pad:-pad] 是空的；"
                        f"改用 dx_pad[:, :, pad:pad+H, pad:pad+W] 裁剪"),
                    say("-0 is 0, so a[0:-0] is a[0:0]", "-0 就是 0，所以 a[0:-0] 等于 a[0:0]"))
        return None
    return diagnose


def check_conv_backward(fn, forward=None) -> int:
    fwd = forward or L.conv_forward_naive
    cases = conv_cases()
    for i, case in enumerate(cases):
        got, exp, _ = backward_case(fn, fwd, (L.conv_forward_naive, L.conv_backward_naive),
                                    (case.x, case.w, case.b, case.conv_param), case, 100 + i, "conv_backward")
        got = as_tuple(got, 3, "(dx, dw, db)", "conv_backward")
        N, C, H, W = case.x.shape
        F = case.w.shape[0]
        pad, stride = case.conv_param["pad"], case.conv_param["stride"]

        def db_shape(shape, F=F):
            return (say(f"db summed over the wrong axes: got shape {shape_text(shape)}, expected (F,) = ({F},) "
                        f"— sum dout over axes (0, 2, 3)",
                        f"db 求和的轴不对：得到形状 {shape_text(shape)}，应为 (F,) = ({F},) —— 对 dout 的轴 (0, 2, 3) 求和"),
                    "db[f] = dout[:, f, :, :].sum()")

        check_array("dx", got[0], exp[0], case.label, say("dx has the shape of x", "dx 的形状与 x 相同"),
                    _dx_shape(N, C, H, W, pad))
        check_array("dw", got[1], exp[1], case.label, say("dw has the shape of w: (F, C, HH, WW)",
                                                          "dw 的形状与 w 相同：(F, C, HH, WW)"))
        check_array("db", got[2], exp[2], case.label, say("db has shape (F,)", "db 的形状是 (F,)"), db_shape)
        ok = [close(g, e) for g, e in zip(got, exp)]
        if all(ok):
            continue
        right = say(" and ", " 和 ").join(n for n, k in zip(("dx", "dw", "db"), ok) if k)
        if not ok[0]:
            if overlap_only(got[0], exp[0], coverage(case.x.shape, case.w.shape, stride, pad)):
                raise Fail(say(f"dx wrong only where windows overlap (case '{case.label}') — accumulate "
                               f"with dx_pad[..., window] += ..., not =",
                               f"dx 只在窗口重叠的位置不对（用例 '{case.label}'）—— 用 dx_pad[..., 窗口] += ... "
                               f"累加，而不是 ="),
                           say("a pixel inside several windows gets a gradient from each of them",
                               "落在多个窗口里的像素会从每个窗口各得到一份梯度"))
            raise wrong_values("dx", got[0], exp[0], case, i, right, case.back)
        if not ok[1]:
            signature(got[1], [(lambda: exp[1] / N,
                                say("dw is averaged over the batch: sum the contributions, do not divide by N",
                                    "dw 对批做了平均：应当把各项贡献相加，不要除以 N"),
                                "dw[f] += window * dout[n, f, i, j]")], case)
            raise wrong_values("dw", got[1], exp[1], case, i, right,
                               say("dw[f] += x_pad[n, :, window] * dout[n, f, i, j]: shared weights sum over "
                                   "every position and image",
                                   "dw[f] += x_pad[n, :, 窗口] * dout[n, f, i, j]：共享的权重要对所有位置和图求和"))
        signature(got[2], [(lambda: exp[2] / N, say("db is averaged over the batch: sum, do not divide",
                                                    "db 对批做了平均：应当求和，不要除"),
                            "db = dout.sum(axis=(0, 2, 3))")], case)
        raise wrong_values("db", got[2], exp[2], case, i, right, "db = dout.sum(axis=(0, 2, 3))")
    return len(cases)
