"""Spatial batch-norm exercises: `spatial_batchnorm_forward` and `_backward` (04_normalization)."""
from __future__ import annotations

import copy
import warnings

import numpy as np

from .. import layers as L
from .harness import as_tuple, call, case_rng, check_array, close, copy_args, shape_text, signature
from .verdict import Case, Fail, Todo, crash, values_wrong


def bn_cases():
    spec = [
        ("train mode, gamma 1, beta 0, x (2, 3, 4, 5)", "", "normalise each channel over axes (0, 2, 3)",
         (2, 3, 4, 5), False, "train"),
        ("train mode, random gamma and beta", "with gamma and beta",
         "out = gamma[c] * x_hat + beta[c]: reshape them to (1, C, 1, 1)", (2, 3, 4, 5), True, "train"),
        ("train mode, batch of 4, 2 channels, 3x2 images", "with other shapes",
         "the statistics are over N*H*W values per channel", (4, 2, 3, 2), True, "train"),
    ]
    cases = []
    for i, (label, feature, hint, xs, affine, mode) in enumerate(spec):
        rng = case_rng(400 + i)
        C = xs[1]
        x = 3.0 * rng.standard_normal(xs) + rng.standard_normal(C)[None, :, None, None] * 2
        gamma = rng.standard_normal(C) if affine else np.ones(C)
        beta = rng.standard_normal(C) if affine else np.zeros(C)
        cases.append(Case(label, feature, hint, i, x=x, gamma=gamma, beta=beta,
                           bn_param={"mode": mode, "eps": 1e-5, "momentum": 0.9}))
    return cases


def _bn_variant(x, gamma, beta, eps, how):
    axes = {"bn": (0, 2, 3), "inst": (2, 3), "layer": (1, 2, 3), "n": (0,)}.get(how, (0, 2, 3))
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True, ddof=1 if how == "ddof" else 0)
    std = np.sqrt(var) + eps if how == "epsout" else np.sqrt(var + eps)
    return gamma[None, :, None, None] * (x - mu) / std + beta[None, :, None, None]


def check_spatial_batchnorm_forward(fn, forward=None) -> int:
    ref = L.spatial_batchnorm_forward
    cases = bn_cases()
    for i, case in enumerate(cases):
        args = (case.x, case.gamma, case.beta, dict(case.bn_param))
        got = as_tuple(call(fn, args, case, "spatial_batchnorm_forward", ("x", "gamma", "beta", "bn_param")),
                     2, "(out, cache)", "spatial_batchnorm_forward")
        expected = ref(*copy_args(args))[0]
        check_array("out", got[0], expected, case.label, "out has the shape of x")
        if close(got[0], expected, 1e-6, 1e-7):
            continue
        x, g, b, eps = case.x, case.gamma, case.beta, case.bn_param["eps"]
        signature(got[0], [
            (lambda: _bn_variant(x, g, b, eps, "n"),
             "normalised over axis 0 only: spatial batch norm uses one mean and variance per channel, "
             "over axes (0, 2, 3)", "mean = x.mean(axis=(0, 2, 3), keepdims=True)"),
            (lambda: _bn_variant(x, g, b, eps, "inst"),
             "normalised over axes (2, 3) (per image: instance norm); use axes (0, 2, 3)",
             "mean = x.mean(axis=(0, 2, 3), keepdims=True)"),
            (lambda: _bn_variant(x, g, b, eps, "layer"),
             "normalised over axes (1, 2, 3) (layer norm); use axes (0, 2, 3)",
             "mean = x.mean(axis=(0, 2, 3), keepdims=True)"),
            (lambda: _bn_variant(x, g, b, eps, "ddof"),
             "the variance divides by n - 1; batch norm uses the biased variance (divide by n)",
             "x.var(axis=(0, 2, 3)) with the default ddof=0"),
            (lambda: _bn_variant(x, g, b, eps, "epsout"),
             "eps belongs inside the square root: (x - mean) / sqrt(var + eps)", "np.sqrt(var + eps)"),
        ], case)
        raise values_wrong("out", case, i)
    # running averages and test mode
    case = cases[1]
    C = case.x.shape[1]
    bn = {"mode": "train", "eps": 1e-5, "momentum": 0.9,
          "running_mean": np.full(C, 0.5), "running_var": np.full(C, 2.0)}
    mine, theirs = copy.deepcopy(bn), copy.deepcopy(bn)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            fn(case.x.copy(), case.gamma.copy(), case.beta.copy(), mine)
    except NotImplementedError:
        raise Todo() from None
    except Exception as exc:
        raise crash(exc, "spatial_batchnorm_forward", "train mode with running averages") from None
    ref(case.x.copy(), case.gamma.copy(), case.beta.copy(), theirs)
    mean_c, var_c = case.x.mean(axis=(0, 2, 3)), case.x.var(axis=(0, 2, 3))
    for key, batch in (("running_mean", mean_c), ("running_var", var_c)):
        have = mine.get(key)
        if have is None or not close(have, theirs[key]):
            if have is not None and close(have, bn[key]):
                raise Fail(f"bn_param['{key}'] is not updated in train mode",
                            f"bn_param['{key}'] = momentum * bn_param['{key}'] + (1 - momentum) * batch value")
            if have is not None and close(have, 0.1 * bn[key] + 0.9 * batch):
                raise Fail(f"bn_param['{key}'] mixes with momentum the wrong way round: keep momentum * old",
                            f"{key} = momentum * {key} + (1 - momentum) * batch value")
            raise Fail(f"bn_param['{key}'] wrong after a train-mode call",
                        f"{key} = momentum * {key} + (1 - momentum) * batch value (store it back in bn_param)")
    test_bn = dict(theirs, mode="test")
    got = as_tuple(call(fn, (case.x, case.gamma, case.beta, copy.deepcopy(test_bn)), "test mode",
                       "spatial_batchnorm_forward"), 2, "(out, cache)", "spatial_batchnorm_forward")
    expected = ref(case.x.copy(), case.gamma.copy(), case.beta.copy(), copy.deepcopy(test_bn))[0]
    check_array("out", got[0], expected, "test mode", "out has the shape of x")
    if not close(got[0], expected, 1e-6, 1e-7):
        if close(got[0], _bn_variant(case.x, case.gamma, case.beta, 1e-5, "bn"), 1e-6, 1e-7):
            raise Fail("test mode uses the batch statistics: normalise with bn_param's running_mean "
                        "and running_var", "in test mode the output of one image must not depend on the batch")
        raise Fail("out wrong in test mode", "x_hat = (x - running_mean) / sqrt(running_var + eps), per channel")
    return len(cases) + 2


def check_spatial_batchnorm_backward(fn, forward=None) -> int:
    fwd = forward or L.spatial_batchnorm_forward
    ref_f, ref_b = L.spatial_batchnorm_forward, L.spatial_batchnorm_backward
    for i, case in enumerate(cases := bn_cases()):
        args = (case.x, case.gamma, case.beta, dict(case.bn_param))
        out, ref_cache = ref_f(*copy_args(args))
        dout = case_rng(450 + i).standard_normal(out.shape)
        _, cache = call(fwd, copy_args(args), case, "spatial_batchnorm_forward")
        got = as_tuple(call(fn, (dout, cache), case, "spatial_batchnorm_backward", ("dout", "cache")),
                     3, "(dx, dgamma, dbeta)", "spatial_batchnorm_backward")
        exp = ref_b(dout.copy(), ref_cache)
        C = case.x.shape[1]

        def per_channel(nm):
            return lambda shape: (f"{nm} summed over the wrong axes: shape {shape_text(shape)}, expected (C,) = ({C},) "
                                  f"— sum over axes (0, 2, 3)", f"{nm} has one number per channel")

        check_array("dx", got[0], exp[0], case.label, "dx has the shape of x")
        check_array("dgamma", got[1], exp[1], case.label, "", per_channel("dgamma"))
        check_array("dbeta", got[2], exp[2], case.label, "", per_channel("dbeta"))
        ok = [close(g, e, 1e-6, 1e-7) for g, e in zip(got, exp)]
        if all(ok):
            continue
        right = " and ".join(n for n, k in zip(("dx", "dgamma", "dbeta"), ok) if k)
        x = case.x
        mu = x.mean(axis=(0, 2, 3), keepdims=True)
        var = x.var(axis=(0, 2, 3), keepdims=True)
        std = np.sqrt(var + case.bn_param["eps"])
        g4 = case.gamma[None, :, None, None]
        if not ok[2]:
            raise Fail(values_wrong("dbeta", case, i, right).message, "dbeta = dout.sum(axis=(0, 2, 3))")
        if not ok[1]:
            signature(got[1], [(lambda: (dout * x).sum(axis=(0, 2, 3)),
                                 "dgamma wrong: it multiplies dout by x; use the normalised x_hat",
                                 "dgamma = (dout * x_hat).sum(axis=(0, 2, 3))")], case)
            raise Fail(values_wrong("dgamma", case, i, right).message,
                        "dgamma = (dout * x_hat).sum(axis=(0, 2, 3))")
        m_wrong = x.shape[0]
        xh = (x - mu) / std

        def dx_with(m):
            dxh = dout * g4
            return (dxh - dxh.sum(axis=(0, 2, 3), keepdims=True) / m
                    - xh * (dxh * xh).sum(axis=(0, 2, 3), keepdims=True) / m) / std

        signature(got[0], [
            (lambda: dout * g4 / std, "dx ignores that the mean and variance depend on x: "
             "add the paths through mean and var", "dx = (dxh - mean(dxh) - x_hat * mean(dxh * x_hat)) / std"),
            (lambda: dx_with(m_wrong), "dx divides by N; the mean and variance are over N*H*W values per channel",
             "m = N * H * W"),
        ], case)
        raise Fail(values_wrong("dx", case, i, right).message,
                    "dx = (dxh - dxh.mean(axis=(0,2,3)) - x_hat * (dxh * x_hat).mean(axis=(0,2,3))) / std")
    return len(cases)
