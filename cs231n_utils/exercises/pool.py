"""Max-pooling exercises: `max_pool_forward`, `max_pool_backward` (03_pooling)."""
from __future__ import annotations

import numpy as np

from .. import layers as L
from ..i18n import say
from .harness import (as_tuple, backward_case, call, case_rng, check_array, close, copy_args, overlap_only,
                      signature, wrong_values)
from .verdict import Case, Fail

_OVERLAP = ("window (i, j) starts at (i*stride, j*stride), not at (i*pool_height, j*pool_width)",
            "窗口 (i, j) 从 (i*stride, j*stride) 开始，而不是 (i*pool_height, j*pool_width)")
_OVERLAP_BACK = ("a pixel that is the max of two overlapping windows receives both gradients: dx[...] += dout[...], "
                 "not =", "同时是两个重叠窗口最大值的像素会得到两份梯度：dx[...] += dout[...]，而不是 =")


def pool_cases():
    # label, feature, forward hint, backward hint (en, zh each), x shape, pool height, width, stride
    spec = [
        # stride 2 differs from both 1 and the window size 3, so a forward that ignores the stride
        # (windows at i, or at i*pool_height) already fails this first case
        (("1 image, 1 channel, 5x5 input, 3x3 windows, stride 2", "1 张图、1 个通道、5x5 输入、3x3 窗口、步长 2"),
         ("", ""),
         ("out[n, c, i, j] = max of the window x[n, c, i*stride:i*stride+ph, j*stride:j*stride+pw]",
          "out[n, c, i, j] = 窗口 x[n, c, i*stride:i*stride+ph, j*stride:j*stride+pw] 的最大值"),
         ("route dout[n, c, i, j] to the position of its window's max (the 'switch') and add it there",
          "把 dout[n, c, i, j] 传给它所在窗口最大值的位置（“开关”），在那里累加"),
         (1, 1, 5, 5), 3, 3, 2),
        (("batch of 2, 3 channels, 4x4 input, 2x2 windows, stride 2", "一批 2 张图、3 个通道、4x4 输入、2x2 窗口、步长 2"),
         ("with several channels or a batch > 1", "有多个通道或批大小 > 1"),
         ("pool every image and every channel separately", "每张图、每个通道分别池化"),
         ("each image and channel routes its own dout[n, c]: never mix channels",
          "每张图、每个通道只传自己的 dout[n, c]：不要混用通道"), (2, 3, 4, 4), 2, 2, 2),
        (("non-square 4x6 input", "非方形 4x6 输入"), ("with non-square inputs", "输入不是方形"),
         ("H' = 1 + (H - pool_height) // stride and W' = 1 + (W - pool_width) // stride",
          "H' = 1 + (H - pool_height) // stride，W' = 1 + (W - pool_width) // stride"),
         ("loop over dout's height and width, which differ here", "对 dout 的高和宽循环，这里两者不同"),
         (2, 3, 4, 6), 2, 2, 2),
        (("overlapping 3x3 windows, stride 2", "重叠的 3x3 窗口、步长 2"),
         ("with overlapping windows (stride < window)", "窗口重叠（步长 < 窗口）"), _OVERLAP, _OVERLAP_BACK,
         (2, 2, 7, 9), 3, 3, 2),
        (("overlapping 2x2 windows, stride 1", "重叠的 2x2 窗口、步长 1"),
         ("with overlapping windows (stride < window)", "窗口重叠（步长 < 窗口）"), _OVERLAP, _OVERLAP_BACK,
         (2, 2, 5, 4), 2, 2, 1),
        (("non-square 2x3 windows, stride 2", "非方形 2x3 窗口、步长 2"), ("with non-square windows", "窗口不是方形"),
         ("pool_height goes with rows, pool_width with columns", "pool_height 对应行，pool_width 对应列"),
         ("in dx too, pool_height goes with rows and pool_width with columns",
          "在 dx 里也是 pool_height 对应行、pool_width 对应列"), (2, 2, 6, 7), 2, 3, 2),
        (("3x3 windows, stride 3", "3x3 窗口、步长 3"), ("with stride 3", "步长为 3"),
         ("window (i, j) starts at (i*stride, j*stride)", "窗口 (i, j) 从 (i*stride, j*stride) 开始"),
         ("window (i, j) starts at (i*stride, j*stride): route dout[n, c, i, j] into that window",
          "窗口 (i, j) 从 (i*stride, j*stride) 开始：把 dout[n, c, i, j] 传进这个窗口"), (1, 2, 9, 6), 3, 3, 3),
    ]
    cases = []
    for i, (label, feature, hint, back, xs, ph, pw, s) in enumerate(spec):
        rng = case_rng(50 + i)
        # distinct values, no ties; mostly negative (the first case more so) so "max starts at 0" shows
        x = rng.permutation(np.arange(np.prod(xs), dtype=np.float64)).reshape(xs)
        x = (x - (0.9 if i == 0 else 0.7) * x.size) / x.size * 4 + rng.uniform(0, 0.01, xs)
        cases.append(Case(say(*label), say(*feature), say(*hint), i, back=say(*back), x=x,
                          pool_param={"pool_height": ph, "pool_width": pw, "stride": s}))
    return cases


def _windows(x, pp, step: str = "stride"):
    """(i, j, (rows, cols)) of every window; `step` "window" or "one" are the stride-ignoring mistakes."""
    ph, pw, s = pp["pool_height"], pp["pool_width"], pp["stride"]
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
    sr, sc = {"stride": (s, s), "window": (ph, pw), "one": (1, 1)}[step]
    for i in range(Ho):
        for j in range(Wo):
            yield i, j, (slice(i * sr, i * sr + ph), slice(j * sc, j * sc + pw))


def _pool_variant(x, pp, how):
    ph, pw, s = pp["pool_height"], pp["pool_width"], pp["stride"]
    N, C, H, W = x.shape
    out = np.zeros((N, C, 1 + (H - ph) // s, 1 + (W - pw) // s))
    step = how if how in ("window", "one") else "stride"
    for i, j, (r, c) in _windows(x, pp, step):
        win = x[:, :, r, c]
        out[:, :, i, j] = {"mean": lambda: win.mean(axis=(2, 3)),
                           "max0": lambda: np.maximum(win.max(axis=(2, 3)), 0),
                           "allc": lambda: np.broadcast_to(win.max(axis=(1, 2, 3))[:, None], (N, C)),
                           }.get(how, lambda: win.max(axis=(2, 3)))()
    return out


def _stride_mistakes(backward: bool = False):
    """The two ways of ignoring the stride, worded for the forward or the backward checker."""
    if backward:
        where = say(": route dout[n, c, i, j] into the window that starts at (i*stride, j*stride)",
                    "：把 dout[n, c, i, j] 传进从 (i*stride, j*stride) 开始的窗口")
        return [("window", say("the gradient goes to windows that step by the window size (i*pool_height) instead "
                               "of the stride", "梯度传给了按窗口大小（i*pool_height）移动的窗口，而不是按步长") + where),
                ("one", say("the gradient goes to windows that step by 1, ignoring the stride",
                            "梯度传给了每次只移动 1 的窗口，忽略了步长") + where)]
    where = say(": window (i, j) starts at (i*stride, j*stride)", "：窗口 (i, j) 从 (i*stride, j*stride) 开始")
    return [("window", say("the windows step by the window size (i*pool_height) instead of the stride",
                           "窗口按窗口大小（i*pool_height）移动，而不是按步长") + where),
            ("one", say("the windows step by 1, ignoring the stride", "窗口每次只移动 1，忽略了步长") + where)]


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
                    say("check", "检查") + f" H' = 1 + (H - pool_height) // stride = 1 + ({H} - {pp['pool_height']}) "
                    f"// {pp['stride']}, W' = 1 + ({W} - {pp['pool_width']}) // {pp['stride']}")
        if close(got[0], expected):
            continue
        signature(got[0], [
            (lambda: _pool_variant(case.x, pp, "mean"),
             say("you averaged the window: max pooling takes its maximum", "你对窗口取了平均：最大池化取的是最大值"),
             say("use window.max(), not window.mean()", "用 window.max()，不是 window.mean()")),
            (lambda: _pool_variant(case.x, pp, "max0"),
             say("values wrong when every value in a window is negative — start the running max from the "
                 "window's first value (or -inf), not from 0",
                 "窗口里全是负数时数值不对 —— 求最大值要从窗口的第一个值（或 -inf）开始，而不是从 0 开始"),
             say("np.max(window) needs no starting value", "np.max(window) 不需要初始值")),
            (lambda: _pool_variant(case.x, pp, "allc"),
             say("the max is taken across channels: pool each channel separately",
                 "最大值是跨通道取的：每个通道要分别池化"),
             say("window = x[n, c, rows, cols] for one channel c", "对单个通道 c 取 window = x[n, c, rows, cols]")),
        ] + [(lambda step=step: _pool_variant(case.x, pp, step), message, say(*_OVERLAP))
             for step, message in _stride_mistakes()], case)
        raise wrong_values("out", got[0], expected, case, i)
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
    for i, j, (r, c) in _windows(x, pp, how if how in ("window", "one") else "stride"):
        g = dout[:, :, i, j][:, :, None, None]
        win = x[:, :, r, c]
        if how == "assign":  # dx[window] = mask * dout: later windows wipe earlier ones
            dx[:, :, r, c] = (win == win.max(axis=(2, 3), keepdims=True)) * g
        elif how == "spread":
            dx[:, :, r, c] += g
        elif how == "mean":
            dx[:, :, r, c] += g / (ph * pw)
        else:  # the right routing, over windows placed the way `how` says
            dx[:, :, r, c] += (win == win.max(axis=(2, 3), keepdims=True)) * g
    return dx


def check_max_pool_backward(fn, forward=None) -> int:
    fwd = forward or L.max_pool_forward_naive
    cases = pool_cases()
    for i, case in enumerate(cases):
        dx, expected, dout = backward_case(fn, fwd, (L.max_pool_forward_naive, L.max_pool_backward_naive),
                                           (case.x, case.pool_param), case, 150 + i, "max_pool_backward")
        if isinstance(dx, tuple) and len(dx) == 1:
            dx = dx[0]
        check_array("dx", dx, expected, case.label, say("dx has the shape of x: (N, C, H, W)",
                                                        "dx 的形状与 x 相同：(N, C, H, W)"))
        if close(dx, expected):
            continue
        if overlap_only(dx, expected, route_count(case.x, case.pool_param)):
            raise Fail(say(f"dx wrong only where pooling windows overlap (case '{case.label}') — accumulate "
                           f"with += instead of =",
                           f"dx 只在池化窗口重叠的位置不对（用例 '{case.label}'）—— 用 += 累加，而不是 ="),
                       say("when two windows share their max, that pixel receives both gradients: dx[...] += dout[...]",
                           "两个窗口的最大值是同一个像素时，它会得到两份梯度：dx[...] += dout[...]"))
        pp = case.pool_param
        signature(dx, [
            (lambda: _pool_back_variant(case.x, pp, dout, "assign"),
             say("dx wrong where pooling windows overlap: later windows overwrite earlier ones — "
                 "accumulate with += instead of =",
                 "dx 在池化窗口重叠处不对：后面的窗口覆盖了前面的 —— 用 += 累加，而不是 ="),
             "dx[n, c, rows, cols] += mask * dout[n, c, i, j]"),
            (lambda: _pool_back_variant(case.x, pp, dout, "spread"),
             say("the gradient is spread over the whole window: route it only to the max (the 'switch')",
                 "梯度被分给了整个窗口：只应传给最大值的位置（“开关”）"),
             "mask = (window == window.max()); dx[window] += mask * dout[n, c, i, j]"),
            (lambda: _pool_back_variant(case.x, pp, dout, "mean"),
             say("that is average-pool backward: max pooling sends the whole gradient to the max",
                 "这是平均池化的反向传播：最大池化把全部梯度传给最大值"),
             say("only the position of the max gets dout[n, c, i, j]; the others get 0",
                 "只有最大值的位置得到 dout[n, c, i, j]；其他位置为 0")),
        ] + [(lambda step=step: _pool_back_variant(case.x, pp, dout, step), message, case.back)
             for step, message in _stride_mistakes(backward=True)], case)
        raise wrong_values("dx", dx, expected, case, i, hint=case.back)
    return len(cases)
