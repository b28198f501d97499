"""Learner-style implementations for the exercise checkers: correct ones, and the typical bugs.

Not a test module by itself (no test functions): `tests/test_exercises.py` imports
`GOOD` (each correct implementation must pass, with its own cache format) and `WRONG`
(each bug must fail with a verdict containing the listed key words).

The implementations are written the way a learner would write them (explicit loops), and
each wrong one differs from its correct twin in one place, marked `# BUG`.
"""
from __future__ import annotations

import numpy as np


# ------------------------------------------------------------------------ conv_output_size

def conv_output_size(size, filter_size, stride=1, pad=0, dilation=1):
    eff = dilation * (filter_size - 1) + 1
    span = size + 2 * pad - eff
    if span < 0 or span % stride:
        raise ValueError(f"does not fit: ({size} + 2*{pad} - {eff})/{stride} + 1 is not a positive integer")
    return span // stride + 1


def cos_true_division(size, filter_size, stride=1, pad=0, dilation=1):
    eff = dilation * (filter_size - 1) + 1
    span = size + 2 * pad - eff
    if span < 0 or span % stride:
        raise ValueError("does not fit")
    return span / stride + 1  # BUG: float


def cos_pad_once(size, filter_size, stride=1, pad=0, dilation=1):
    eff = dilation * (filter_size - 1) + 1
    span = size + pad - eff  # BUG: pad on one side only
    if span < 0 or span % stride:
        raise ValueError("does not fit")
    return span // stride + 1


def cos_no_stride(size, filter_size, stride=1, pad=0, dilation=1):
    eff = dilation * (filter_size - 1) + 1
    span = size + 2 * pad - eff
    if span < 0 or span % stride:
        raise ValueError("does not fit")
    return span + 1  # BUG: forgot to divide by the stride


def cos_no_dilation(size, filter_size, stride=1, pad=0, dilation=1):
    span = size + 2 * pad - filter_size  # BUG: ignores dilation
    if span < 0 or span % stride:
        raise ValueError("does not fit")
    return span // stride + 1


def cos_floor_silently(size, filter_size, stride=1, pad=0, dilation=1):
    eff = dilation * (filter_size - 1) + 1
    return (size + 2 * pad - eff) // stride + 1  # BUG: never raises


def cos_no_plus_one(size, filter_size, stride=1, pad=0, dilation=1):
    eff = dilation * (filter_size - 1) + 1
    span = size + 2 * pad - eff
    if span < 0 or span % stride:
        raise ValueError("does not fit")
    return span // stride  # BUG: forgot + 1


def cos_assert(size, filter_size, stride=1, pad=0, dilation=1):
    eff = dilation * (filter_size - 1) + 1
    span = size + 2 * pad - eff
    assert span >= 0 and span % stride == 0  # BUG: AssertionError instead of ValueError
    return span // stride + 1


# ------------------------------------------------------------------------ conv forward

def _conv_out(x, w, conv_param):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    s, p = conv_param["stride"], conv_param["pad"]
    return N, F, 1 + (H + 2 * p - HH) // s, 1 + (W + 2 * p - WW) // s, s, p, HH, WW


def conv_forward(x, w, b, conv_param):
    N, F, Ho, Wo, s, p, HH, WW = _conv_out(x, w, conv_param)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, f, i, j] = np.sum(xp[n, :, i * s:i * s + HH, j * s:j * s + WW] * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def _conv_variant(bug):
    def fwd(x, w, b, conv_param):
        N, F, Ho, Wo, s, p, HH, WW = _conv_out(x, w, conv_param)
        if bug == "shape_no_pad":
            Ho, Wo = 1 + (x.shape[2] - HH) // s, 1 + (x.shape[3] - WW) // s
        xp = x if bug == "no_pad" else np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        out = np.zeros((N, F, Ho, Wo), dtype=np.float32 if bug == "float32" else float)
        wk = w[:, :, ::-1, ::-1] if bug == "flip" else w
        for n in range(N):
            for f in range(F):
                for i in range(Ho):
                    for j in range(Wo):
                        r, c = (i, j) if bug == "no_stride" else (i * s, j * s)
                        if bug == "one_channel":
                            val = np.sum(xp[n, 0, r:r + HH, c:c + WW] * wk[f, 0])
                        else:
                            val = np.sum(xp[n, :, r:r + HH, c:c + WW] * wk[f])
                        out[n, f, i, j] = val + (0 if bug == "no_bias" else b[f])
        if bug == "no_cache":
            return out
        return out, (x, w, b, conv_param)
    fwd.__name__ = f"conv_forward_{bug}"
    return fwd


# ------------------------------------------------------------------------ conv backward

def conv_backward(dout, cache):
    x, w, b, conv_param = cache
    N, F, Ho, Wo, s, p, HH, WW = _conv_out(x, w, conv_param)
    H, W = x.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    win = (n, slice(None), slice(i * s, i * s + HH), slice(j * s, j * s + WW))
                    dxp[win] += w[f] * dout[n, f, i, j]
                    dw[f] += xp[win] * dout[n, f, i, j]
    return dxp[:, :, p:p + H, p:p + W], dw, db


def _conv_back_variant(bug):
    def bwd(dout, cache):
        x, w, b, conv_param = cache
        N, F, Ho, Wo, s, p, HH, WW = _conv_out(x, w, conv_param)
        H, W = x.shape[2:]
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        dxp = np.zeros_like(xp)
        dw = np.zeros_like(w)
        db = dout.sum(axis=(0, 2, 3)) if bug != "db_axes" else dout.sum(axis=(2, 3))
        for n in range(N):
            dw_n = np.zeros_like(w)
            for f in range(F):
                for i in range(Ho):
                    for j in range(Wo):
                        r, c = (i, j) if bug == "dx_no_stride" else (i * s, j * s)
                        win = (n, slice(None), slice(r, r + HH), slice(c, c + WW))
                        if bug == "assign":
                            dxp[win] = w[f] * dout[n, f, i, j]
                        else:
                            dxp[win] += w[f] * dout[n, f, i, j]
                        wwin = (n, slice(None), slice(i * s, i * s + HH), slice(j * s, j * s + WW))
                        dw_n[f] += xp[wwin] * dout[n, f, i, j]
            if bug == "dw_last_image":
                dw = dw_n
            else:
                dw += dw_n
        if bug == "padded_dx":
            return dxp, dw, db
        if bug == "crop_minus_pad":
            return dxp[:, :, p:-p, p:-p], dw, db
        return dxp[:, :, p:p + H, p:p + W], dw, db
    bwd.__name__ = f"conv_backward_{bug}"
    return bwd


# ------------------------------------------------------------------------ max pooling

def max_pool_forward(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
    out = np.zeros((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = x[n, c, i * s:i * s + ph, j * s:j * s + pw].max()
    return out, (x, pool_param)  # a cache format of the learner's own


def _pool_variant(bug):
    def fwd(x, pool_param):
        ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
        if bug == "swap_hw":
            ph, pw = pw, ph
        N, C, H, W = x.shape
        Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
        if bug == "shape_no_stride":
            Ho, Wo = H // ph, W // pw
        out = np.zeros((N, C, Ho, Wo))
        for n in range(N):
            for c in range(C):
                for i in range(Ho):
                    for j in range(Wo):
                        r, q = {"step_by_window": (i * ph, j * pw), "step_by_one": (i, j)}.get(bug, (i * s, j * s))
                        win = x[n, c, r:r + ph, q:q + pw]
                        if bug == "mean":
                            out[n, c, i, j] = win.mean()
                        elif bug == "max_from_zero":
                            best = 0.0
                            for v in win.ravel():
                                best = max(best, v)
                            out[n, c, i, j] = best
                        else:
                            out[n, c, i, j] = win.max()
        return out, (x, pool_param)
    fwd.__name__ = f"max_pool_forward_{bug}"
    return fwd


def max_pool_backward(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    win = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
                    a, bb = np.unravel_index(np.argmax(win), win.shape)
                    dx[n, c, i * s + a, j * s + bb] += dout[n, c, i, j]
    return dx


def _pool_back_variant(bug):
    def bwd(dout, cache):
        x, pool_param = cache
        ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
        N, C, Ho, Wo = dout.shape
        dx = np.zeros_like(x)
        for n in range(N):
            for c in range(C):
                for i in range(Ho):
                    for j in range(Wo):
                        r, q = {"step_by_window": (i * ph, j * pw), "step_by_one": (i, j)}.get(bug, (i * s, j * s))
                        win = x[n, c, r:r + ph, q:q + pw]
                        g = dout[n, c, i, j]
                        if bug == "assign":
                            a, bb = np.unravel_index(np.argmax(win), win.shape)
                            dx[n, c, r + a, q + bb] = g
                        elif bug == "assign_window":
                            dx[n, c, r:r + ph, q:q + pw] = (win == win.max()) * g
                        elif bug == "spread":
                            dx[n, c, r:r + ph, q:q + pw] += g
                        elif bug == "mean":
                            dx[n, c, r:r + ph, q:q + pw] += g / (ph * pw)
                        else:
                            a, bb = np.unravel_index(np.argmax(win), win.shape)
                            dx[n, c, r + a, q + bb] += g
        if bug == "dout_shape":
            return dx[:, :, :Ho, :Wo]
        return dx
    bwd.__name__ = f"max_pool_backward_{bug}"
    return bwd


# ------------------------------------------------------------------------ affine and relu

def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, (x, w, b)


def affine_no_reshape(x, w, b):
    return x @ w + b, (x, w, b)  # BUG: 4-D x is not flattened


def affine_no_bias(x, w, b):
    return x.reshape(x.shape[0], -1) @ w, (x, w, b)  # BUG


def affine_fortran(x, w, b):
    return x.reshape(x.shape[0], -1, order="F") @ w + b, (x, w, b)  # BUG: column-major flatten


def affine_no_cache(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b  # BUG: no cache


def affine_backward(dout, cache):
    x, w, b = cache
    x2 = x.reshape(x.shape[0], -1)
    return (dout @ w.T).reshape(x.shape), x2.T @ dout, dout.sum(axis=0)


def _affine_back_variant(bug):
    def bwd(dout, cache):
        x, w, b = cache
        x2 = x.reshape(x.shape[0], -1)
        dx = dout @ w.T
        if bug != "dx_flat":
            dx = dx.reshape(x.shape)
        dw = dout.T @ x2 if bug == "dw_transposed" else x2.T @ dout
        if bug == "dw_mean":
            dw = dw / x.shape[0]
        db = {"db_not_summed": dout, "db_axis1": dout.sum(axis=1)}.get(bug, dout.sum(axis=0))
        return dx, dw, db
    bwd.__name__ = f"affine_backward_{bug}"
    return bwd


def relu_backward(dout, cache):
    x = cache
    return dout * (x > 0)


def relu_ge(dout, cache):
    return dout * (cache >= 0)  # BUG: gradient 1 at x == 0


def relu_mask_only(dout, cache):
    return (cache > 0).astype(float)  # BUG: forgot dout


def relu_dout_mask(dout, cache):
    return dout * (dout > 0)  # BUG: mask from dout


def relu_in_place(dout, cache):
    dout[cache <= 0] = 0  # BUG: writes into dout
    return dout


# ------------------------------------------------------------------------ spatial batch norm

def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param.get("mode", "train")
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    C = x.shape[1]
    rm = bn_param.get("running_mean", np.zeros(C))
    rv = bn_param.get("running_var", np.ones(C))
    g, bt = gamma.reshape(1, C, 1, 1), beta.reshape(1, C, 1, 1)
    if mode == "train":
        mu = x.mean(axis=(0, 2, 3), keepdims=True)
        var = x.var(axis=(0, 2, 3), keepdims=True)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu.ravel()
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var.ravel()
    else:
        mu, var = rm.reshape(1, C, 1, 1), rv.reshape(1, C, 1, 1)
    std = np.sqrt(var + eps)
    xh = (x - mu) / std
    return g * xh + bt, (x, xh, std, g, mode)  # a cache format of the learner's own


def _bn_variant(bug):
    def fwd(x, gamma, beta, bn_param):
        mode = bn_param["mode"] if bug == "mode_key" else bn_param.get("mode", "train")
        had_running = "running_mean" in bn_param
        eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
        C = x.shape[1]
        rm = bn_param.get("running_mean", np.zeros(C))
        rv = bn_param.get("running_var", np.ones(C))
        g, bt = (gamma, beta) if bug == "no_reshape" else (gamma.reshape(1, C, 1, 1), beta.reshape(1, C, 1, 1))
        axes = (0,) if bug == "axis0" else (0, 2, 3)
        if mode == "train" or bug == "test_batch_stats":
            mu = x.mean(axis=axes, keepdims=True)
            var = x.var(axis=axes, keepdims=True, ddof=1 if bug == "ddof" else 0)
            if mode == "train" and bug == "setdefault_only":
                bn_param.setdefault("running_mean", rm)
                bn_param.setdefault("running_var", rv)
            elif mode == "train" and bug != "no_running":
                bn_param["running_mean"] = momentum * rm + (1 - momentum) * x.mean(axis=(0, 2, 3))
                bn_param["running_var"] = momentum * rv + (1 - momentum) * x.var(axis=(0, 2, 3))
        else:
            mu, var = rm.reshape(1, C, 1, 1), rv.reshape(1, C, 1, 1)
        std = np.sqrt(var) + eps if bug == "eps_outside" else np.sqrt(var + eps)
        xh = (x - mu) / std
        if bug == "no_running_in_empty" and not had_running:  # only updates averages it was given
            bn_param.pop("running_mean", None)
            bn_param.pop("running_var", None)
        return g * xh + bt, (x, xh, std, g, mode)
    fwd.__name__ = f"spatial_batchnorm_forward_{bug}"
    return fwd


def spatial_batchnorm_backward(dout, cache):
    x, xh, std, g, mode = cache
    m = dout.size // dout.shape[1]
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xh).sum(axis=(0, 2, 3))
    dxh = dout * g
    if mode == "test":  # the running statistics are constants
        return dxh / std, dgamma, dbeta
    dx = (dxh - dxh.sum(axis=(0, 2, 3), keepdims=True) / m
          - xh * (dxh * xh).sum(axis=(0, 2, 3), keepdims=True) / m) / std
    return dx, dgamma, dbeta


def _bn_back_variant(bug):
    def bwd(dout, cache):
        x, xh, std, g, mode = cache
        m = dout.shape[0] if bug == "m_is_n" else dout.size // dout.shape[1]
        dbeta = dout.sum(axis=0) if bug == "dbeta_axis0" else dout.sum(axis=(0, 2, 3))
        if bug == "dgamma_axis0":
            dgamma = (dout * xh).sum(axis=0)
        elif bug == "dgamma_x":
            dgamma = (dout * x).sum(axis=(0, 2, 3))
        else:
            dgamma = (dout * xh).sum(axis=(0, 2, 3))
        dxh = dout * g
        if bug == "dx_direct" or (mode == "test" and bug != "test_as_train"):
            dx = dxh / std
        else:
            dx = (dxh - dxh.sum(axis=(0, 2, 3), keepdims=True) / m
                  - xh * (dxh * xh).sum(axis=(0, 2, 3), keepdims=True) / m) / std
        return dx, dgamma, dbeta
    bwd.__name__ = f"spatial_batchnorm_backward_{bug}"
    return bwd


# ------------------------------------------------------------------------ softmax loss

def softmax_loss(scores, y):
    N = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(N), y]).mean()
    dscores = p.copy()
    dscores[np.arange(N), y] -= 1
    return loss, dscores / N


def _softmax_variant(bug):
    def fn(scores, y):
        N = scores.shape[0]
        shifted = scores if bug == "no_shift" else scores - scores.max(axis=1, keepdims=True)
        p = np.exp(shifted)
        p /= p.sum(axis=1, keepdims=True)
        losses = -np.log(p[np.arange(N), y])
        loss = {"sum": losses.sum(), "per_example": losses}.get(bug, losses.mean())
        dscores = p.copy()
        if bug != "no_minus_one":
            dscores[np.arange(N), y] -= 1
        return loss, dscores if bug == "no_div_n" else dscores / N
    fn.__name__ = f"softmax_loss_{bug}"
    return fn


# ------------------------------------------------------------------------ conv_layer_cost

def _fit(size, eff, stride, pad):
    span = size + 2 * pad - eff
    if span < 0 or span % stride:
        raise ValueError(f"does not fit: ({size} + 2*{pad} - {eff})/{stride} + 1 is not a positive integer")
    return span // stride + 1


def conv_layer_cost(input_shape, num_filters, filter_size, stride=1, pad=0, bias=True, groups=1, dilation=1):
    C, H, W = input_shape
    eff = dilation * (filter_size - 1) + 1
    Ho, Wo = _fit(H, eff, stride, pad), _fit(W, eff, stride, pad)
    per_filter = (C // groups) * filter_size * filter_size
    return (num_filters, Ho, Wo), num_filters * per_filter + (num_filters if bias else 0), num_filters * Ho * Wo * per_filter


def _cost_variant(bug):
    def fn(input_shape, num_filters, filter_size, stride=1, pad=0, bias=True, groups=1, dilation=1):
        C, H, W = input_shape
        eff = dilation * (filter_size - 1) + 1
        if bug == "floor_silently":
            Ho, Wo = 1 + (H + 2 * pad - eff) // stride, 1 + (W + 2 * pad - eff) // stride
        else:
            Ho, Wo = _fit(H, eff, stride, pad), _fit(W, eff, stride, pad)
        if bug == "shape_no_stride":
            Ho, Wo = 1 + (H + 2 * pad - eff), 1 + (W + 2 * pad - eff)
        per_filter = (C // groups) * filter_size * filter_size
        params = num_filters * per_filter + (num_filters if bias else 0)
        macs = num_filters * Ho * Wo * per_filter
        if bug == "params_no_groups":
            params = num_filters * C * filter_size * filter_size + (num_filters if bias else 0)
        if bug == "params_always_bias":
            params = num_filters * per_filter + num_filters
        if bug == "macs_input_size":
            macs = num_filters * H * W * per_filter
        if bug == "flops":
            macs = 2 * macs
        return (num_filters, Ho, Wo), params, macs
    fn.__name__ = f"conv_layer_cost_{bug}"
    return fn


# ------------------------------------------------------------------------ registries

#: exercise name -> (correct learner implementation, its forward for backward exercises or None)
GOOD = {
    "conv_output_size": (conv_output_size, None),
    "conv_forward": (conv_forward, None),
    "conv_backward": (conv_backward, conv_forward),
    "max_pool_forward": (max_pool_forward, None),
    "max_pool_backward": (max_pool_backward, max_pool_forward),
    "affine_forward": (affine_forward, None),
    "affine_backward": (affine_backward, affine_forward),
    "relu_backward": (relu_backward, None),
    "spatial_batchnorm_forward": (spatial_batchnorm_forward, None),
    "spatial_batchnorm_backward": (spatial_batchnorm_backward, spatial_batchnorm_forward),
    "softmax_loss": (softmax_loss, None),
    "conv_layer_cost": (conv_layer_cost, None),
}

#: (exercise, wrong implementation, forward or None, key words the verdict must contain)
WRONG = [
    ("conv_output_size", cos_true_division, None, ["float", "//"]),
    ("conv_output_size", cos_pad_once, None, ["only with padding", "2*p"]),
    ("conv_output_size", cos_no_stride, None, ["only when stride > 1", "divide by the stride"]),
    ("conv_output_size", cos_no_dilation, None, ["only with dilation", "d*(f - 1) + 1"]),
    ("conv_output_size", cos_floor_silently, None, ["does not fit", "raise valueerror", "2.5"]),
    ("conv_output_size", cos_no_plus_one, None, ["forgot the + 1"]),
    ("conv_output_size", cos_assert, None, ["assertionerror", "raise valueerror"]),

    ("conv_forward", _conv_variant("no_stride"), None, ["only when stride > 1", "i*stride"]),
    ("conv_forward", _conv_variant("no_bias"), None, ["bias is missing"]),
    ("conv_forward", _conv_variant("flip"), None, ["flipped", "cross-correlation"]),
    ("conv_forward", _conv_variant("one_channel"), None, ["only with several input channels"]),
    ("conv_forward", _conv_variant("shape_no_pad"), None, ["wrong out shape", "h' = 1 + (h + 2*pad - hh) // stride"]),
    ("conv_forward", _conv_variant("no_pad"), None, ["raised valueerror", "padding 1", "at line"]),
    ("conv_forward", _conv_variant("float32"), None, ["dtype float32", "expected float64"]),
    ("conv_forward", _conv_variant("no_cache"), None, ["should return a tuple (out, cache)"]),

    ("conv_backward", _conv_back_variant("assign"), conv_forward, ["only where windows overlap", "+="]),
    ("conv_backward", _conv_back_variant("db_axes"), conv_forward, ["db summed over the wrong axes", "(f,)"]),
    ("conv_backward", _conv_back_variant("padded_dx"), conv_forward, ["padded shape", "crop the padding"]),
    ("conv_backward", _conv_back_variant("crop_minus_pad"), conv_forward, ["dx is empty", "pad = 0"]),
    ("conv_backward", _conv_back_variant("dw_last_image"), conv_forward, ["dw values wrong only with a batch > 1",
                                                                          "dx and db right"]),
    ("conv_backward", _conv_back_variant("dx_no_stride"), conv_forward, ["dx values wrong only when stride > 1"]),
    ("conv_backward", conv_backward, _conv_variant("no_bias"), ["your conv_forward does not pass yet",
                                                                "bias is missing"]),

    ("max_pool_forward", _pool_variant("step_by_window"), None, ["step by the window size", "i*stride",
                                                                 "5x5 input, 3x3 windows, stride 2"]),
    ("max_pool_forward", _pool_variant("step_by_one"), None, ["step by 1, ignoring the stride", "i*stride",
                                                              "5x5 input, 3x3 windows, stride 2"]),
    ("max_pool_forward", _pool_variant("mean"), None, ["averaged"]),
    ("max_pool_forward", _pool_variant("max_from_zero"), None, ["negative", "not from 0"]),
    ("max_pool_forward", _pool_variant("shape_no_stride"), None, ["wrong out shape", "h' = 1 + (h - pool_height) // stride"]),
    ("max_pool_forward", _pool_variant("swap_hw"), None, ["wrong out shape", "non-square 2x3 windows"]),

    ("max_pool_backward", _pool_back_variant("assign"), max_pool_forward,
     ["dx wrong only where pooling windows overlap", "+= instead of ="]),
    ("max_pool_backward", _pool_back_variant("assign_window"), max_pool_forward,
     ["where pooling windows overlap", "+= instead of ="]),
    ("max_pool_backward", _pool_back_variant("spread"), max_pool_forward, ["spread over the whole window", "switch"]),
    ("max_pool_backward", _pool_back_variant("mean"), max_pool_forward, ["average-pool"]),
    ("max_pool_backward", _pool_back_variant("step_by_window"), max_pool_forward,
     ["windows that step by the window size", "i*stride"]),
    ("max_pool_backward", _pool_back_variant("step_by_one"), max_pool_forward, ["step by 1", "i*stride"]),
    ("max_pool_backward", _pool_back_variant("dout_shape"), max_pool_forward, ["wrong dx shape"]),

    ("affine_forward", affine_no_reshape, None, ["raised valueerror", "3-d input"]),
    ("affine_forward", affine_no_bias, None, ["bias is missing"]),
    ("affine_forward", affine_fortran, None, ["wrong order", "reshape(n, -1)"]),
    ("affine_forward", affine_no_cache, None, ["should return a tuple (out, cache)"]),

    ("affine_backward", _affine_back_variant("dx_flat"), affine_forward, ["flattened shape", "reshape"]),
    ("affine_backward", _affine_back_variant("db_not_summed"), affine_forward, ["db not summed over the batch", "(m,)"]),
    ("affine_backward", _affine_back_variant("db_axis1"), affine_forward, ["db summed over the wrong axis"]),
    ("affine_backward", _affine_back_variant("dw_transposed"), affine_forward, ["dw is transposed"]),
    ("affine_backward", _affine_back_variant("dw_mean"), affine_forward, ["dw is averaged over the batch"]),

    ("relu_backward", relu_ge, None, ["where x == 0 exactly", "x > 0"]),
    ("relu_backward", relu_mask_only, None, ["just the mask", "dout"]),
    ("relu_backward", relu_dout_mask, None, ["dout > 0", "x > 0"]),
    ("relu_backward", relu_in_place, None, ["changes its input dout in place"]),

    ("spatial_batchnorm_forward", _bn_variant("axis0"), None, ["axis 0 only", "(0, 2, 3)"]),
    ("spatial_batchnorm_forward", _bn_variant("eps_outside"), None, ["eps belongs inside the square root"]),
    ("spatial_batchnorm_forward", _bn_variant("ddof"), None, ["n - 1"]),
    ("spatial_batchnorm_forward", _bn_variant("no_running"), None, ["running_mean", "missing", "empty bn_param"]),
    ("spatial_batchnorm_forward", _bn_variant("setdefault_only"), None, ["running_mean", "not updated"]),
    ("spatial_batchnorm_forward", _bn_variant("no_running_in_empty"), None, ["running_mean", "missing"]),
    ("spatial_batchnorm_forward", _bn_variant("mode_key"), None, ["keyerror 'mode'", "bn_param.get('mode', 'train')"]),
    ("spatial_batchnorm_forward", _bn_variant("test_batch_stats"), None, ["test mode uses the batch statistics"]),
    ("spatial_batchnorm_forward", _bn_variant("no_reshape"), None, ["raised valueerror"]),

    ("spatial_batchnorm_backward", _bn_back_variant("dx_direct"), spatial_batchnorm_forward,
     ["ignores that the mean and variance depend on x"]),
    ("spatial_batchnorm_backward", _bn_back_variant("dgamma_axis0"), spatial_batchnorm_forward,
     ["dgamma summed over the wrong axes", "(c,)"]),
    ("spatial_batchnorm_backward", _bn_back_variant("dbeta_axis0"), spatial_batchnorm_forward,
     ["dbeta summed over the wrong axes"]),
    ("spatial_batchnorm_backward", _bn_back_variant("dgamma_x"), spatial_batchnorm_forward,
     ["dgamma wrong", "x_hat"]),
    ("spatial_batchnorm_backward", _bn_back_variant("m_is_n"), spatial_batchnorm_forward, ["n*h*w"]),
    ("spatial_batchnorm_backward", _bn_back_variant("test_as_train"), spatial_batchnorm_forward,
     ["dx in test mode uses the train-mode formula", "running_var"]),

    ("softmax_loss", _softmax_variant("no_shift"), None, ["loss is nan", "max"]),
    ("softmax_loss", _softmax_variant("no_div_n"), None, ["not divided by n"]),
    ("softmax_loss", _softmax_variant("sum"), None, ["summed over the batch", "divide by n"]),
    ("softmax_loss", _softmax_variant("no_minus_one"), None, ["missing the -1"]),
    ("softmax_loss", _softmax_variant("per_example"), None, ["array of shape", "average"]),

    ("conv_layer_cost", _cost_variant("params_no_groups"), None, ["params ignores groups"]),
    ("conv_layer_cost", _cost_variant("params_always_bias"), None, ["bias=false"]),
    ("conv_layer_cost", _cost_variant("macs_input_size"), None, ["over the input size", "output position"]),
    ("conv_layer_cost", _cost_variant("flops"), None, ["flops"]),
    ("conv_layer_cost", _cost_variant("shape_no_stride"), None, ["wrong out_shape"]),
    ("conv_layer_cost", _cost_variant("floor_silently"), None, ["does not fit", "raise valueerror", "15.5"]),
]
