"""Spatial batch-norm exercises: `spatial_batchnorm_forward` and `_backward` (04_normalization).

The first case passes an empty `bn_param` (a model may pass only some keys), so the learner's
code must fall back to defaults and create the running averages itself. The forward checker
then checks the running averages and test mode; the backward checker ends with a test-mode
case, where the mean and variance are constants.
"""
from __future__ import annotations

import copy

import numpy as np

from .. import layers as L
from ..i18n import say
from .harness import as_tuple, backward_case, call, case_rng, check_array, close, shape_text, signature, wrong_values
from .verdict import Case, Fail, crash

WHO = "spatial_batchnorm_forward"
_DEFAULTS = {"mode": "'train'", "eps": "1e-5", "momentum": "0.9", "running_mean": "np.zeros(C)",
             "running_var": "np.ones(C)"}


def _momentum_rule() -> str:
    return say("running = momentum * running + (1 - momentum) * batch value, stored back in bn_param",
               "running = momentum * running + (1 - momentum) * 本批的值，并存回 bn_param")


def bn_cases():
    # label, feature, hint (en, zh each), x shape, random gamma/beta?, bn_param
    spec = [
        (("train mode, empty bn_param, gamma 1, beta 0, x (2, 3, 4, 5)",
          "训练模式、空的 bn_param、gamma 为 1、beta 为 0、x (2, 3, 4, 5)"), ("", ""),
         ("normalise each channel over axes (0, 2, 3)", "每个通道在轴 (0, 2, 3) 上归一化"), (2, 3, 4, 5), False, {}),
        (("train mode, random gamma and beta", "训练模式、随机的 gamma 和 beta"), ("with gamma and beta", "有 gamma 和 beta"),
         ("out = gamma[c] * x_hat + beta[c]: reshape them to (1, C, 1, 1)",
          "out = gamma[c] * x_hat + beta[c]：把它们 reshape 成 (1, C, 1, 1)"), (2, 3, 4, 5), True,
         {"mode": "train", "eps": 1e-5, "momentum": 0.9}),
        (("train mode, batch of 4, 2 channels, 3x2 images", "训练模式、一批 4 张、2 个通道、3x2 图像"),
         ("with other shapes", "换一种形状"),
         ("the statistics are over N*H*W values per channel", "统计量是每个通道上的 N*H*W 个值"), (4, 2, 3, 2), True,
         {"mode": "train", "eps": 1e-5, "momentum": 0.9}),
    ]
    cases = []
    for i, (label, feature, hint, xs, affine, bn_param) in enumerate(spec):
        rng = case_rng(400 + i)
        C = xs[1]
        x = 3.0 * rng.standard_normal(xs) + rng.standard_normal(C)[None, :, None, None] * 2
        gamma = rng.standard_normal(C) if affine else np.ones(C)
        beta = rng.standard_normal(C) if affine else np.zeros(C)
        cases.append(Case(say(*label), say(*feature), say(*hint), i, x=x, gamma=gamma, beta=beta, bn_param=bn_param))
    return cases


def _bn_variant(x, gamma, beta, eps, how):
    axes = {"bn": (0, 2, 3), "inst": (2, 3), "layer": (1, 2, 3), "n": (0,)}.get(how, (0, 2, 3))
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True, ddof=1 if how == "ddof" else 0)
    std = np.sqrt(var) + eps if how == "epsout" else np.sqrt(var + eps)
    return gamma[None, :, None, None] * (x - mu) / std + beta[None, :, None, None]


def _forward(fn, case, bn_param: dict, who: str = WHO):
    """The learner's forward on `case` with `bn_param` passed as is (so its updates can be read);
    a KeyError for a bn_param key the dict does not have gets its own verdict."""
    args = (case.x, case.gamma, case.beta, bn_param)
    try:
        got = call(fn, args, case, who, ("x", "gamma", "beta", "bn_param"), allow=(KeyError,), share=(3,))
    except KeyError as exc:
        key = exc.args[0] if exc.args else None
        if key in _DEFAULTS:
            raise Fail(say(f"raised KeyError '{key}' in case '{case.label}': bn_param has no '{key}' there (a model "
                           f"may pass only some keys) — use bn_param.get('{key}', {_DEFAULTS[key]})",
                           f"在用例 '{case.label}' 中抛出 KeyError '{key}'：那里的 bn_param 没有 '{key}'（模型可能只传"
                           f"部分键）—— 用 bn_param.get('{key}', {_DEFAULTS[key]})"),
                       say("running_mean and running_var start as zeros and ones: bn_param.setdefault('running_mean', "
                           "np.zeros(C)) creates them and keeps them in the dict",
                           "running_mean 和 running_var 从 0 和 1 开始：bn_param.setdefault('running_mean', np.zeros(C)) "
                           "会创建它们并留在字典里"), status="error") from None
        raise crash(exc, who, case) from None
    return as_tuple(got, 2, "(out, cache)", who)


def _check_running(mine: dict, expected: dict, before: dict, batch: dict, case) -> None:
    for key in ("running_mean", "running_var"):
        have = mine.get(key)
        if have is not None and close(have, expected[key]):
            continue
        where = say(f" (case '{case.label}')", f"（用例 '{case.label}'）")
        if have is None:
            raise Fail(say(f"bn_param['{key}'] is missing after a train-mode call{where} — store the updated "
                           f"running average back in bn_param",
                           f"训练模式调用之后 bn_param['{key}'] 不存在{where} —— 要把更新后的滑动平均存回 bn_param"),
                       _momentum_rule())
        old = before.get(key, np.zeros_like(batch[key]) if key == "running_mean" else np.ones_like(batch[key]))
        if close(have, old):
            raise Fail(say(f"bn_param['{key}'] is not updated in train mode{where}",
                           f"训练模式下 bn_param['{key}'] 没有更新{where}"), _momentum_rule())
        if close(have, 0.1 * old + 0.9 * batch[key]):
            raise Fail(say(f"bn_param['{key}'] mixes with momentum the wrong way round{where}: keep momentum * old",
                           f"bn_param['{key}'] 的动量用反了{where}：应保留 momentum * 旧值"), _momentum_rule())
        raise Fail(say(f"bn_param['{key}'] wrong after a train-mode call{where}",
                       f"训练模式调用之后 bn_param['{key}'] 不对{where}"), _momentum_rule())


def check_spatial_batchnorm_forward(fn, forward=None) -> int:
    ref = L.spatial_batchnorm_forward
    cases = bn_cases()
    for i, case in enumerate(cases):
        mine = copy.deepcopy(case.bn_param)
        got = _forward(fn, case, mine)
        expected = ref(case.x.copy(), case.gamma.copy(), case.beta.copy(), copy.deepcopy(case.bn_param))[0]
        check_array("out", got[0], expected, case.label, say("out has the shape of x", "out 的形状与 x 相同"))
        if not close(got[0], expected, 1e-6, 1e-7):
            x, g, b, eps = case.x, case.gamma, case.beta, 1e-5
            per_channel = "mean = x.mean(axis=(0, 2, 3), keepdims=True)"
            signature(got[0], [
                (lambda: _bn_variant(x, g, b, eps, "n"),
                 say("normalised over axis 0 only: spatial batch norm uses one mean and variance per channel, "
                     "over axes (0, 2, 3)", "只在轴 0 上归一化：空间批归一化每个通道一个均值和方差，在轴 (0, 2, 3) 上"),
                 per_channel),
                (lambda: _bn_variant(x, g, b, eps, "inst"),
                 say("normalised over axes (2, 3) (per image: instance norm); use axes (0, 2, 3)",
                     "在轴 (2, 3) 上归一化（每张图单独：实例归一化）；应当用轴 (0, 2, 3)"), per_channel),
                (lambda: _bn_variant(x, g, b, eps, "layer"),
                 say("normalised over axes (1, 2, 3) (layer norm); use axes (0, 2, 3)",
                     "在轴 (1, 2, 3) 上归一化（层归一化）；应当用轴 (0, 2, 3)"), per_channel),
                (lambda: _bn_variant(x, g, b, eps, "ddof"),
                 say("the variance divides by n - 1; batch norm uses the biased variance (divide by n)",
                     "方差除以了 n - 1；批归一化用有偏方差（除以 n）"),
                 say("x.var(axis=(0, 2, 3)) with the default ddof=0", "x.var(axis=(0, 2, 3))，用默认的 ddof=0")),
                (lambda: _bn_variant(x, g, b, eps, "epsout"),
                 say("eps belongs inside the square root: (x - mean) / sqrt(var + eps)",
                     "eps 应在平方根里面：(x - mean) / sqrt(var + eps)"), "np.sqrt(var + eps)"),
            ], case)
            raise wrong_values("out", got[0], expected, case, i)
        if i == 0:  # started from an empty bn_param: the running averages must now be there
            theirs = {}
            ref(case.x.copy(), case.gamma.copy(), case.beta.copy(), theirs)
            _check_running(mine, theirs, {}, {"running_mean": case.x.mean(axis=(0, 2, 3)),
                                              "running_var": case.x.var(axis=(0, 2, 3))}, case)
    _check_running_and_test_mode(fn, cases[1])
    return len(cases) + 2


def _check_running_and_test_mode(fn, base: Case) -> None:
    C = base.x.shape[1]
    before = {"mode": "train", "eps": 1e-5, "momentum": 0.9,
              "running_mean": np.full(C, 0.5), "running_var": np.full(C, 2.0)}
    case = Case(say("train mode with running averages", "带滑动平均的训练模式"), "", "", 3,
                x=base.x, gamma=base.gamma, beta=base.beta, bn_param=before)
    mine, theirs = copy.deepcopy(before), copy.deepcopy(before)
    _forward(fn, case, mine)
    L.spatial_batchnorm_forward(base.x.copy(), base.gamma.copy(), base.beta.copy(), theirs)
    _check_running(mine, theirs, before, {"running_mean": base.x.mean(axis=(0, 2, 3)),
                                          "running_var": base.x.var(axis=(0, 2, 3))}, case)
    test_bn = dict(theirs, mode="test")
    case = Case(say("test mode", "测试模式"), "", "", 4, x=base.x, gamma=base.gamma, beta=base.beta, bn_param=test_bn)
    got = _forward(fn, case, copy.deepcopy(test_bn))
    expected = L.spatial_batchnorm_forward(base.x.copy(), base.gamma.copy(), base.beta.copy(),
                                           copy.deepcopy(test_bn))[0]
    check_array("out", got[0], expected, case.label, say("out has the shape of x", "out 的形状与 x 相同"))
    if not close(got[0], expected, 1e-6, 1e-7):
        if close(got[0], _bn_variant(base.x, base.gamma, base.beta, 1e-5, "bn"), 1e-6, 1e-7):
            raise Fail(say("test mode uses the batch statistics: normalise with bn_param's running_mean "
                           "and running_var", "测试模式用了本批的统计量：应当用 bn_param 里的 running_mean 和 running_var 归一化"),
                       say("in test mode the output of one image must not depend on the batch",
                           "测试模式下，一张图的输出不能依赖同一批的其他图"))
        raise Fail(say("out wrong in test mode", "测试模式下 out 不对"),
                   say("x_hat = (x - running_mean) / sqrt(running_var + eps), per channel",
                       "x_hat = (x - running_mean) / sqrt(running_var + eps)，按通道计算"))


def _backward_cases():
    cases = bn_cases()
    base = cases[1]
    C = base.x.shape[1]
    rng = case_rng(420)
    test_bn = {"mode": "test", "eps": 1e-5, "momentum": 0.9,
               "running_mean": rng.standard_normal(C), "running_var": rng.uniform(0.5, 2.0, C)}
    cases.append(Case(say("test mode (running averages), random gamma and beta", "测试模式（滑动平均）、随机的 gamma 和 beta"),
                      say("in test mode", "测试模式"),
                      say("in test mode the mean and variance are the running averages, constants: "
                          "dx = dout * gamma / sqrt(running_var + eps) — keep the mode in the cache",
                          "测试模式下均值和方差是滑动平均，是常数：dx = dout * gamma / sqrt(running_var + eps) "
                          "—— 在 cache 里记下模式"),
                      len(cases), x=base.x, gamma=base.gamma, beta=base.beta, bn_param=test_bn))
    return cases


def _dx_signatures(case, dout):
    x = case.x
    bn = case.bn_param
    g4 = case.gamma[None, :, None, None]
    if bn.get("mode", "train") == "test":
        std = np.sqrt(bn["running_var"] + 1e-5)[None, :, None, None]
        xh = (x - bn["running_mean"][None, :, None, None]) / std
    else:
        xh = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + 1e-5)
        std = np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + 1e-5)

    def dx_with(m):
        dxh = dout * g4
        return (dxh - dxh.sum(axis=(0, 2, 3), keepdims=True) / m
                - xh * (dxh * xh).sum(axis=(0, 2, 3), keepdims=True) / m) / std

    full = "dx = (dxh - mean(dxh) - x_hat * mean(dxh * x_hat)) / std"
    if bn.get("mode", "train") == "test":
        return [(lambda: dx_with(dout.size // dout.shape[1]),
                 say("dx in test mode uses the train-mode formula: there the mean and variance are constants "
                     "(the running averages), so dx = dout * gamma / sqrt(running_var + eps)",
                     "测试模式的 dx 用了训练模式的公式：测试模式下均值和方差是常数（滑动平均），"
                     "所以 dx = dout * gamma / sqrt(running_var + eps)"),
                 say("store the mode in the cache and branch on it in the backward pass",
                     "把模式存进 cache，在反向传播里按模式分支"))]
    return [(lambda: dout * g4 / std, say("dx ignores that the mean and variance depend on x: add the paths through "
                                          "mean and var", "dx 忽略了均值和方差也依赖 x：要加上经过均值和方差的路径"), full),
            (lambda: dx_with(x.shape[0]), say("dx divides by N; the mean and variance are over N*H*W values per channel",
                                              "dx 除以了 N；均值和方差是每个通道上 N*H*W 个值的统计量"), "m = N * H * W")]


def check_spatial_batchnorm_backward(fn, forward=None) -> int:
    fwd = forward or L.spatial_batchnorm_forward
    for i, case in enumerate(cases := _backward_cases()):
        got, exp, dout = backward_case(fn, fwd, (L.spatial_batchnorm_forward, L.spatial_batchnorm_backward),
                                       (case.x, case.gamma, case.beta, case.bn_param), case, 450 + i,
                                       "spatial_batchnorm_backward",
                                       lambda f, args, c: _forward(f, c, copy.deepcopy(c.bn_param)))
        got = as_tuple(got, 3, "(dx, dgamma, dbeta)", "spatial_batchnorm_backward")
        C = case.x.shape[1]

        def per_channel(nm):
            return lambda shape: (say(f"{nm} summed over the wrong axes: shape {shape_text(shape)}, expected (C,) = "
                                      f"({C},) — sum over axes (0, 2, 3)",
                                      f"{nm} 求和的轴不对：形状 {shape_text(shape)}，应为 (C,) = ({C},) —— 在轴 (0, 2, 3) 上求和"),
                                  say(f"{nm} has one number per channel", f"{nm} 每个通道一个数"))

        check_array("dx", got[0], exp[0], case.label, say("dx has the shape of x", "dx 的形状与 x 相同"))
        check_array("dgamma", got[1], exp[1], case.label, "", per_channel("dgamma"))
        check_array("dbeta", got[2], exp[2], case.label, "", per_channel("dbeta"))
        ok = [close(g, e, 1e-6, 1e-7) for g, e in zip(got, exp)]
        if all(ok):
            continue
        right = say(" and ", " 和 ").join(n for n, k in zip(("dx", "dgamma", "dbeta"), ok) if k)
        if not ok[2]:
            raise wrong_values("dbeta", got[2], exp[2], case, i, right, "dbeta = dout.sum(axis=(0, 2, 3))")
        if not ok[1]:
            signature(got[1], [(lambda: (dout * case.x).sum(axis=(0, 2, 3)),
                                say("dgamma wrong: it multiplies dout by x; use the normalised x_hat",
                                    "dgamma 不对：它用 dout 乘了 x；应当用归一化后的 x_hat"),
                                "dgamma = (dout * x_hat).sum(axis=(0, 2, 3))")], case)
            raise wrong_values("dgamma", got[1], exp[1], case, i, right, "dgamma = (dout * x_hat).sum(axis=(0, 2, 3))")
        signature(got[0], _dx_signatures(case, dout), case)
        raise wrong_values("dx", got[0], exp[0], case, i, right, case.hint if case.feature and i == len(cases) - 1 else
                           "dx = (dxh - dxh.mean(axis=(0,2,3)) - x_hat * (dxh * x_hat).mean(axis=(0,2,3))) / std")
    return len(cases)
