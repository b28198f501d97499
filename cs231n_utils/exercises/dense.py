"""Fully connected exercises: `affine_forward`, `affine_backward`, `relu_backward`, `softmax_loss` (05)."""
from __future__ import annotations

import numpy as np

from .. import layers as L
from ..i18n import say
from .harness import (as_tuple, backward_case, call, case_rng, check_array, close, copy_args, describe, shape_text,
                      signature, wrong_values)
from .verdict import Case, Fail


def affine_cases():
    # label, feature, hint (en, zh each), x shape, M
    spec = [
        (("2-D input (2, 4), 3 outputs", "二维输入 (2, 4)、3 个输出"), ("", ""), ("out = x @ w + b", "out = x @ w + b"),
         (2, 4), 3),
        (("1 example (1, 5)", "1 个样本 (1, 5)"), ("with a batch of 1", "批大小为 1"),
         ("keep the batch axis: out has shape (1, M)", "保留批这一维：out 的形状是 (1, M)"), (1, 5), 2),
        (("3-D input (3, 2, 5)", "三维输入 (3, 2, 5)"), ("with inputs of more than 2 dimensions", "输入多于 2 维"),
         ("flatten each example first: x.reshape(N, -1) @ w + b", "先把每个样本拉平：x.reshape(N, -1) @ w + b"),
         (3, 2, 5), 4),
        (("4-D input (2, 3, 4, 4)", "四维输入 (2, 3, 4, 4)"), ("with 4-D (image) input", "四维（图像）输入"),
         ("flatten each example first: x.reshape(x.shape[0], -1), row-major (the default order)",
          "先把每个样本拉平：x.reshape(x.shape[0], -1)，按行优先（默认顺序）"), (2, 3, 4, 4), 5),
        (("4-D input, 1 example (1, 2, 3, 3)", "四维输入、1 个样本 (1, 2, 3, 3)"),
         ("with a single 4-D example", "只有一个四维样本"),
         ("x.reshape(x.shape[0], -1) keeps the batch axis even for N = 1",
          "x.reshape(x.shape[0], -1) 在 N = 1 时也保留批这一维"), (1, 2, 3, 3), 3),
    ]
    cases = []
    for i, (label, feature, hint, xs, M) in enumerate(spec):
        rng = case_rng(200 + i)
        D = int(np.prod(xs[1:]))
        cases.append(Case(say(*label), say(*feature), say(*hint), i, x=rng.standard_normal(xs),
                          w=rng.standard_normal((D, M)), b=rng.standard_normal(M)))
    return cases


def check_affine_forward(fn, forward=None) -> int:
    ref = L.affine_forward
    for i, case in enumerate(cases := affine_cases()):
        args = (case.x, case.w, case.b)
        got = as_tuple(call(fn, args, case, "affine_forward", ("x", "w", "b")),
                       2, "(out, cache)", "affine_forward")
        expected = ref(*copy_args(args))[0]
        check_array("out", got[0], expected, case.label,
                    say("out has shape (N, M): flatten x to (N, D) with x.reshape(x.shape[0], -1)",
                        "out 的形状是 (N, M)：用 x.reshape(x.shape[0], -1) 把 x 拉平成 (N, D)"))
        if close(got[0], expected):
            continue
        x2 = case.x.reshape(case.x.shape[0], -1)
        signature(got[0], [
            (lambda: x2 @ case.w, say("the bias is missing: out = x @ w + b", "缺了偏置：out = x @ w + b"),
             say("add b, it broadcasts over the rows", "加上 b，它会沿行广播")),
            (lambda: case.x.reshape(case.x.shape[0], -1, order="F") @ case.w + case.b,
             say("x is flattened in the wrong order: use x.reshape(N, -1) (row-major)",
                 "x 拉平的顺序不对：用 x.reshape(N, -1)（行优先）"),
             say("order='F' or a transpose before reshaping scrambles the features",
                 "order='F' 或 reshape 之前转置都会打乱特征")),
        ], case)
        raise wrong_values("out", got[0], expected, case, i)
    return len(cases)


def _affine_shape_diagnosis(case, N, D, M):
    def dx_shape(shape):
        if shape == (N, D) and case.x.ndim != 2:
            return (say(f"dx has the flattened shape {shape_text(shape)}, expected x's shape {shape_text(case.x.shape)} "
                        f"— reshape it back: dx = (dout @ w.T).reshape(x.shape)",
                        f"dx 是拉平后的形状 {shape_text(shape)}，应为 x 的形状 {shape_text(case.x.shape)} "
                        f"—— 变回去：dx = (dout @ w.T).reshape(x.shape)"),
                    say("dx must match x exactly", "dx 必须和 x 形状完全一样"))
        return None

    def dw_shape(shape):
        if shape == (M, D):
            return (say(f"dw is transposed: shape {shape_text(shape)}, expected w's shape {shape_text((D, M))} "
                        f"— dw = x_flat.T @ dout", f"dw 转置了：形状 {shape_text(shape)}，应为 w 的形状 "
                        f"{shape_text((D, M))} —— dw = x_flat.T @ dout"),
                    say("dw has the shape of w: (D, M)", "dw 的形状与 w 相同：(D, M)"))
        return None

    def db_shape(shape):
        shared = say("the bias is shared by every example", "所有样本共用同一个偏置")
        if shape == (N, M):
            return (say(f"db not summed over the batch: shape {shape_text(shape)}, expected (M,) = ({M},) "
                        f"— db = dout.sum(axis=0)", f"db 没有对批求和：形状 {shape_text(shape)}，应为 (M,) = ({M},) "
                        f"—— db = dout.sum(axis=0)"), shared)
        return (say(f"db summed over the wrong axis: shape {shape_text(shape)}, expected (M,) = ({M},) "
                    f"— db = dout.sum(axis=0)", f"db 求和的轴不对：形状 {shape_text(shape)}，应为 (M,) = ({M},) "
                    f"—— db = dout.sum(axis=0)"), shared)
    return dx_shape, dw_shape, db_shape


def check_affine_backward(fn, forward=None) -> int:
    fwd = forward or L.affine_forward
    for i, case in enumerate(cases := affine_cases()):
        got, exp, _ = backward_case(fn, fwd, (L.affine_forward, L.affine_backward), (case.x, case.w, case.b),
                                    case, 250 + i, "affine_backward")
        got = as_tuple(got, 3, "(dx, dw, db)", "affine_backward")
        N = case.x.shape[0]
        D, M = case.w.shape
        dx_shape, dw_shape, db_shape = _affine_shape_diagnosis(case, N, D, M)
        check_array("dx", got[0], exp[0], case.label, say("dx has the shape of x", "dx 的形状与 x 相同"), dx_shape)
        check_array("dw", got[1], exp[1], case.label, say("dw has the shape of w", "dw 的形状与 w 相同"), dw_shape)
        check_array("db", got[2], exp[2], case.label, say("db has shape (M,)", "db 的形状是 (M,)"), db_shape)
        ok = [close(g, e) for g, e in zip(got, exp)]
        if all(ok):
            continue
        right = say(" and ", " 和 ").join(n for n, k in zip(("dx", "dw", "db"), ok) if k)
        for k, nm, formula in ((0, "dx", "dx = (dout @ w.T).reshape(x.shape)"),
                               (1, "dw", "dw = x.reshape(N, -1).T @ dout"), (2, "db", "db = dout.sum(axis=0)")):
            if not ok[k]:
                signature(got[k], [(lambda k=k: exp[k] / N,
                                    say(f"{nm} is averaged over the batch: sum, do not divide by N",
                                        f"{nm} 对批做了平均：应当求和，不要除以 N"), formula)], case)
                raise wrong_values(nm, got[k], exp[k], case, i, right, formula)
    return len(cases)


def relu_cases():
    rng = case_rng(300)
    x1 = rng.standard_normal((3, 4))
    x2 = rng.standard_normal((2, 3, 4, 4))
    x3 = rng.standard_normal((2, 2, 3, 5))
    x3[x3 < -1] = 0.0  # exact zeros: ReLU's gradient there is taken as 0
    return [
        Case(say("2-D input (3, 4)", "二维输入 (3, 4)"), "", "dx = dout * (x > 0)", x=x1),
        Case(say("4-D input (2, 3, 4, 4)", "四维输入 (2, 3, 4, 4)"), say("with 4-D input", "四维输入"),
             say("the mask x > 0 has the shape of x", "掩码 x > 0 的形状与 x 相同"), 1, x=x2),
        Case(say("input with exact zeros", "含有恰好为 0 的输入"), say("where x == 0 exactly", "x 恰好等于 0"),
             say("ReLU's gradient at x = 0 is taken as 0: use x > 0, not x >= 0",
                 "ReLU 在 x = 0 处的梯度取 0：用 x > 0，不是 x >= 0"), 2, x=x3),
    ]


def check_relu_backward(fn, forward=None) -> int:
    ref = L.relu_backward
    for i, case in enumerate(cases := relu_cases()):
        dout = case_rng(310 + i).standard_normal(case.x.shape)
        dx = call(fn, (dout, case.x.copy()), case, "relu_backward", ("dout", "cache"))
        expected = ref(dout.copy(), case.x.copy())
        check_array("dx", dx, expected, case.label, say("dx has the shape of x and dout", "dx 的形状与 x、dout 相同"))
        if close(dx, expected):
            continue
        x = case.x
        signature(dx, [
            (lambda: (x > 0).astype(float), say("dx is just the mask: multiply it by dout", "dx 只是掩码：还要乘以 dout"),
             "dx = dout * (x > 0)"),
            (lambda: dout * (dout > 0), say("the mask comes from dout > 0; it must come from the forward input x > 0",
                                            "掩码来自 dout > 0；它应当来自前向传播的输入 x > 0"),
             say("the cache is x, the ReLU's input; use it for the mask", "cache 就是 ReLU 的输入 x；用它做掩码")),
            (lambda: dout * x, say("dx = dout * x is the gradient of x**2/2, not of ReLU: use the mask (x > 0)",
                                   "dx = dout * x 是 x**2/2 的梯度，不是 ReLU 的：用掩码 (x > 0)"),
             "dx = dout * (x > 0)"),
        ], case)
        raise wrong_values("dx", dx, expected, case, i)
    return len(cases)


def softmax_cases():
    # label, feature, hint (en, zh each), N, C, scale of the scores
    spec = [
        (("1 example, 3 classes", "1 个样本、3 个类别"), ("", ""),
         ("loss = -log(softmax(scores)[y])", "loss = -log(softmax(scores)[y])"), 1, 3, 1.0),
        (("batch of 5, 4 classes", "一批 5 个样本、4 个类别"), ("with a batch > 1", "批大小 > 1"),
         ("average over the batch: loss = mean_i(-log p[i, y[i]]), dscores = (p - one_hot(y)) / N",
          "对批取平均：loss = mean_i(-log p[i, y[i]])，dscores = (p - one_hot(y)) / N"), 5, 4, 1.0),
        (("batch of 3, 2 classes", "一批 3 个样本、2 个类别"), ("with 2 classes", "只有 2 个类别"),
         ("the same formula works for any number of classes", "同一个公式适用于任意类别数"), 3, 2, 1.0),
        (("large scores (about 1000)", "很大的分数（约 1000）"), ("with large scores", "分数很大"),
         ("subtract each row's max score before exp: it does not change the softmax",
          "求 exp 之前先减去每行的最大分数：softmax 不变"), 4, 10, 1000.0),
    ]
    cases = []
    for i, (label, feature, hint, N, C, scale) in enumerate(spec):
        rng = case_rng(500 + i)
        scores = rng.standard_normal((N, C)) * (3.0 if scale > 1 else 1.0) + (scale if scale > 1 else 0)
        y = rng.integers(0, C, size=N)
        cases.append(Case(say(*label), say(*feature), say(*hint), i, scores=scores, y=y))
    return cases


def _loss_value(loss, case) -> float:
    if isinstance(loss, np.ndarray) and loss.size != 1:
        raise Fail(say(f"loss is an array of shape {shape_text(loss.shape)}, expected one number (case "
                       f"'{case.label}') — average the per-example losses: loss = losses.mean()",
                       f"loss 是形状为 {shape_text(loss.shape)} 的数组，应为一个数（用例 '{case.label}'）"
                       f"—— 对每个样本的损失取平均：loss = losses.mean()"),
                   say("the loss is the mean of -log p[i, y[i]] over the batch", "损失是 -log p[i, y[i]] 在批上的平均"))
    try:
        return float(np.asarray(loss).reshape(()))
    except Exception:
        raise Fail(say(f"loss is {describe(loss)}, expected a number", f"loss 是{describe(loss)}，应为一个数"),
                   say("return a float", "返回一个浮点数")) from None


def check_softmax_loss(fn, forward=None) -> int:
    ref = L.softmax_loss
    for i, case in enumerate(cases := softmax_cases()):
        args = (case.scores, case.y)
        loss, dscores = as_tuple(call(fn, args, case, "softmax_loss", ("scores", "y")),
                                 2, "(loss, dscores)", "softmax_loss")
        e_loss, e_d = ref(case.scores.copy(), case.y.copy())
        N = case.scores.shape[0]
        loss_v = _loss_value(loss, case)
        if not np.isfinite(loss_v):
            if i == len(cases) - 1:  # the large-scores case
                raise Fail(say(f"loss is {loss_v} for large scores (case '{case.label}') — subtract each "
                               f"row's max score before exp",
                               f"分数很大时 loss 是 {loss_v}（用例 '{case.label}'）—— 求 exp 之前先减去每行的最大分数"),
                           say("exp(1000) overflows to inf; shifting by the row max leaves the softmax unchanged",
                               "exp(1000) 会溢出成 inf；减去每行最大值不改变 softmax"))
            raise Fail(say(f"loss is {loss_v} (case '{case.label}') — look for log(0) or a division by 0",
                           f"loss 是 {loss_v}（用例 '{case.label}'）—— 检查是否对 0 取 log 或除以 0"),
                       say("print the probabilities: each row should be positive and sum to 1",
                           "打印概率：每行都应为正且和为 1"))
        check_array("dscores", dscores, e_d, case.label,
                    say("dscores has the shape of scores: (N, C)", "dscores 的形状与 scores 相同：(N, C)"))
        if not np.isclose(loss_v, e_loss, rtol=1e-6, atol=1e-9):
            if N > 1 and np.isclose(loss_v, e_loss * N, rtol=1e-6):
                raise Fail(say(f"loss is summed over the batch (case '{case.label}') — divide by N (the loss is the mean)",
                               f"loss 对批求了和（用例 '{case.label}'）—— 要除以 N（损失是平均值）"),
                           "loss = -np.log(p[np.arange(N), y]).mean()")
            raise wrong_values("loss", loss_v, e_loss, case, i)
        if close(dscores, e_d):
            continue
        p = e_d * N
        p[np.arange(N), case.y] += 1
        signature(dscores, [
            (lambda: e_d * N if N > 1 else None,
             say("dscores not divided by N: the loss is a mean over the batch", "dscores 没有除以 N：损失是批上的平均"),
             "dscores = (p - one_hot(y)) / N"),
            (lambda: p / N, say("dscores is missing the -1 at the correct class: dscores = (p - one_hot(y)) / N",
                                "dscores 在正确类别处少了 -1：dscores = (p - one_hot(y)) / N"),
             say("dscores[np.arange(N), y] -= 1 before dividing by N", "除以 N 之前先做 dscores[np.arange(N), y] -= 1")),
        ], case)
        raise wrong_values("dscores", dscores, e_d, case, i)
    return len(cases)
