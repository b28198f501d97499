"""Every layer of a ConvNet as a forward and a backward function (层的前向/反向传播).

CS231n conventions: plain functions on NCHW arrays (batch N, channels C, height H, width W);
settings in a small dict; `forward(...) -> (out, cache)` and `backward(dout, cache) ->
gradients`, where `dout` is the gradient of the loss with respect to `out`.

Two versions of the layers that are slow when written as loops:
- `conv_forward_naive` / `max_pool_forward_naive` (and their backward passes) are the
  readable definitions, with explicit loops over every output pixel;
- `conv_forward_fast` / `max_pool_forward_fast` (from `fast_layers`) compute the same numbers
  (to ~1e-10 in float64), vectorised. `conv_forward`, `conv_backward`, `max_pool_forward`,
  `max_pool_backward` are short names for the fast ones.

Settings and shapes:
- conv_param: `stride` (default 1), `pad` (default 0), `dilation` (default 1), `groups`
  (default 1, groups == C is depthwise), `rounding`.
- pool_param: `pool_height`, `pool_width`, `stride` (defaults to the window size for square
  windows), `rounding`.
- `rounding` is 'exact' by default: a setting must tile the (padded) input exactly, otherwise
  a ValueError shows the formula H' = (H + 2*pad - HH)/stride + 1 with its numbers and a fix.
  'floor' instead drops the last rows/columns that do not fit, as PyTorch does (handy for
  real networks such as a 7x7 stride-2 stem on 224 pixels).

Every function checks its inputs: arrays must be float32 or float64 (integer arrays raise
TypeError: use `.astype(np.float64)`), shapes must agree, no NaN/inf. Outputs keep the input
dtype (float32 in, float32 out). Backward functions never modify their inputs.
"""
from __future__ import annotations

import numpy as np

from .checks import (check_array, check_dout, check_keys, conv_cache_settings, conv_setup,
                     int_setting, pool_setup)
from .fast_layers import (conv_backward_fast, conv_forward_fast, max_pool_backward_fast,
                          max_pool_forward_fast)

__all__ = [
    "affine_forward", "affine_backward", "relu_forward", "relu_backward",
    "conv_forward_naive", "conv_backward_naive", "conv_forward_fast", "conv_backward_fast",
    "conv_forward", "conv_backward",
    "max_pool_forward_naive", "max_pool_backward_naive", "max_pool_forward_fast",
    "max_pool_backward_fast", "max_pool_forward", "max_pool_backward",
    "avg_pool_forward", "avg_pool_backward", "l2_pool_forward", "l2_pool_backward",
    "global_avg_pool_forward", "global_avg_pool_backward",
    "batchnorm_forward", "batchnorm_backward",
    "spatial_batchnorm_forward", "spatial_batchnorm_backward",
    "lrn_forward", "lrn_backward", "softmax_loss", "svm_loss",
]

conv_forward = conv_forward_fast
conv_backward = conv_backward_fast
max_pool_forward = max_pool_forward_fast
max_pool_backward = max_pool_backward_fast


# ----------------------------------------------------------------------------------------
# Fully connected and ReLU
# ----------------------------------------------------------------------------------------

def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray):
    """Fully connected (affine, 全连接) layer: out = x_flat @ w + b.

    Inputs: x (N, d1, ..., dk), flattened per sample to (N, D) with D = d1*...*dk;
    w (D, M); b (M,). Returns (out, cache) with out (N, M).
    """
    check_array(x, "x")
    check_array(w, "w", 2, "(D, M)")
    check_array(b, "b", 1, "(M,)")
    if x.ndim < 2:
        raise ValueError(f"x must have shape (N, d1, ..., dk) with a batch axis, got shape {x.shape}; "
                         f"use x[None] for a single sample")
    N = x.shape[0]
    D = x.size // N
    if w.shape[0] != D:
        raise ValueError(f"w has shape {w.shape} but x of shape {x.shape} flattens to D = {D} "
                         f"features per sample; w must have shape ({D}, M)")
    if b.shape != (w.shape[1],):
        raise ValueError(f"b has shape {b.shape} but w has M = {w.shape[1]} outputs; "
                         f"b must have shape ({w.shape[1]},)")
    out = x.reshape(N, D) @ w + b
    return out, (x, w, b)


def affine_backward(dout: np.ndarray, cache):
    """Backward pass of `affine_forward`.

    Inputs: dout (N, M); cache (x, w, b). Returns (dx, dw, db) with the shapes of x, w, b:
    dx = dout @ w.T (reshaped like x), dw = x_flat.T @ dout, db = sum of dout over the batch.
    """
    x, w, b = cache
    N = x.shape[0]
    check_dout(dout, (N, w.shape[1]))
    x2 = x.reshape(N, -1)
    dx = (dout @ w.T).reshape(x.shape).astype(x.dtype, copy=False)
    dw = (x2.T @ dout).astype(w.dtype, copy=False)
    db = dout.sum(axis=0).astype(b.dtype, copy=False)
    return dx, dw, db


def relu_forward(x: np.ndarray):
    """Rectified linear unit (ReLU, 修正线性单元): out = max(0, x), any shape. Returns (out, cache)."""
    check_array(x, "x")
    return np.maximum(x, 0), x


def relu_backward(dout: np.ndarray, cache):
    """Backward pass of ReLU: dx = dout where x > 0, else 0 (the gradient at exactly 0 is 0)."""
    x = cache
    check_dout(dout, x.shape)
    return np.where(x > 0, dout, 0).astype(x.dtype, copy=False)


# ----------------------------------------------------------------------------------------
# Convolution: the readable definition
# ----------------------------------------------------------------------------------------

def conv_forward_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict | None = None):
    """Convolution (卷积) forward pass with explicit loops: the definition.

    Inputs:
    - x: (N, C, H, W) input
    - w: (F, C/groups, HH, WW) filters (HH and WW may differ)
    - b: (F,) biases
    - conv_param: `stride`, `pad`, optional `dilation`, `groups`, `rounding` (see module doc)

    out[n, f, i, j] = b[f] + sum over c, kh, kw of
        w[f, c, kh, kw] * x_pad[n, g*C/groups + c, i*stride + kh*dilation, j*stride + kw*dilation]
    where x_pad is x with `pad` zeros on every side and g = f // (F/groups) is f's group.
    This is cross-correlation, as in every framework. Output shape (N, F, H', W') with
    H' = 1 + (H + 2*pad - dilation*(HH-1) - 1) / stride (exact unless rounding='floor').
    Returns (out, cache).
    """
    stride, pad, dil, groups, _, Ho, Wo, dtype = conv_setup(x, w, b, conv_param, "conv_forward_naive")
    N, C, H, W = x.shape
    F, Cg, HH, WW = w.shape
    Fg = F // groups
    x_pad = np.pad(x.astype(dtype), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    span_h, span_w = dil * (HH - 1) + 1, dil * (WW - 1) + 1
    out = np.zeros((N, F, Ho, Wo), dtype)
    for n in range(N):
        for f in range(F):
            c0 = (f // Fg) * Cg                     # first input channel of f's group
            for i in range(Ho):
                for j in range(Wo):
                    top, left = i * stride, j * stride
                    window = x_pad[n, c0:c0 + Cg, top:top + span_h:dil, left:left + span_w:dil]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    cache = (x, w, b, {"stride": stride, "pad": pad, "dilation": dil, "groups": groups,
                       "Ho": Ho, "Wo": Wo})
    return out, cache


def conv_backward_naive(dout: np.ndarray, cache):
    """Convolution backward pass with explicit loops.

    Inputs: dout (N, F, H', W'); cache from `conv_forward_naive` or `conv_forward_fast` (a
    CS231n-style cache `(x, w, b, conv_param)` works too).
    Returns (dx, dw, db): each output pixel sends dout * w back to the window it read and
    dout * window to w; db[f] is the sum of dout[:, f].
    """
    x, w, b, p = cache
    p = conv_cache_settings(x, w, p)        # also accepts a plain CS231n conv_param
    stride, pad, dil, groups = p["stride"], p["pad"], p["dilation"], p["groups"]
    N, C, H, W = x.shape
    F, Cg, HH, WW = w.shape
    check_dout(dout, (N, F, p["Ho"], p["Wo"]))
    dtype = np.result_type(x.dtype, w.dtype, dout.dtype)
    Fg = F // groups
    x_pad = np.pad(x.astype(dtype), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros(w.shape, dtype)
    span_h, span_w = dil * (HH - 1) + 1, dil * (WW - 1) + 1
    for n in range(N):
        for f in range(F):
            c0 = (f // Fg) * Cg
            for i in range(p["Ho"]):
                for j in range(p["Wo"]):
                    top, left = i * stride, j * stride
                    rows = slice(top, top + span_h, dil)
                    cols = slice(left, left + span_w, dil)
                    dx_pad[n, c0:c0 + Cg, rows, cols] += dout[n, f, i, j] * w[f]
                    dw[f] += dout[n, f, i, j] * x_pad[n, c0:c0 + Cg, rows, cols]
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    db = dout.sum(axis=(0, 2, 3))
    return (dx.astype(x.dtype), dw.astype(w.dtype, copy=False), db.astype(b.dtype, copy=False))


# ----------------------------------------------------------------------------------------
# Pooling
# ----------------------------------------------------------------------------------------

def max_pool_forward_naive(x: np.ndarray, pool_param: dict):
    """Max pooling (最大池化) with explicit loops: the definition.

    Inputs: x (N, C, H, W); pool_param `pool_height`, `pool_width`, `stride`, `rounding`.
    out[n, c, i, j] = max of x[n, c, i*stride : i*stride+pool_height, j*stride : j*stride+pool_width].
    Output shape (N, C, H', W') with H' = 1 + (H - pool_height) / stride. Returns (out, cache).
    """
    ph, pw, stride, Ho, Wo = pool_setup(x, pool_param, "max_pool_forward_naive")
    N, C = x.shape[:2]
    out = np.empty((N, C, Ho, Wo), x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw]
                    out[n, c, i, j] = window.max()
    return out, (x, (ph, pw, stride, Ho, Wo))


def max_pool_backward_naive(dout: np.ndarray, cache):
    """Max pooling backward pass with explicit loops.

    Each window sends its gradient to the position of its maximum; on ties, to the first
    maximum in row-major order (`np.argmax`). Overlapping windows add up. Returns dx.
    """
    x, (ph, pw, stride, Ho, Wo) = cache
    N, C = x.shape[:2]
    check_dout(dout, (N, C, Ho, Wo))
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw]
                    a, bb = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + a, j * stride + bb] += dout[n, c, i, j]
    return dx


def _window_sum(x: np.ndarray, ph: int, pw: int, stride: int, Ho: int, Wo: int) -> np.ndarray:
    """Sum of x over every pooling window, as a sum of ph*pw strided slices."""
    out = np.zeros(x.shape[:2] + (Ho, Wo), x.dtype)
    for kh in range(ph):
        for kw in range(pw):
            out += x[:, :, kh:kh + stride * (Ho - 1) + 1:stride, kw:kw + stride * (Wo - 1) + 1:stride]
    return out


def _spread(g: np.ndarray, shape: tuple, ph: int, pw: int, stride: int) -> np.ndarray:
    """Adjoint of _window_sum: add g[n, c, i, j] to every pixel of window (i, j)."""
    dx = np.zeros(shape, g.dtype)
    Ho, Wo = g.shape[2:]
    for kh in range(ph):
        for kw in range(pw):
            dx[:, :, kh:kh + stride * (Ho - 1) + 1:stride, kw:kw + stride * (Wo - 1) + 1:stride] += g
    return dx


def avg_pool_forward(x: np.ndarray, pool_param: dict):
    """Average pooling (平均池化): the mean of each pool_height x pool_width window.

    Inputs and output shape as `max_pool_forward_naive`. Returns (out, cache).
    """
    ph, pw, stride, Ho, Wo = pool_setup(x, pool_param, "avg_pool_forward")
    out = _window_sum(x, ph, pw, stride, Ho, Wo)
    out /= ph * pw
    return out, (x.shape, x.dtype, (ph, pw, stride, Ho, Wo))


def avg_pool_backward(dout: np.ndarray, cache):
    """Backward pass of average pooling: each window pixel gets dout / (pool_height*pool_width)."""
    shape, dtype, (ph, pw, stride, Ho, Wo) = cache
    check_dout(dout, shape[:2] + (Ho, Wo))
    return _spread(dout.astype(dtype) / (ph * pw), shape, ph, pw, stride)


def l2_pool_forward(x: np.ndarray, pool_param: dict):
    """L2 pooling (L2 池化): out = sqrt(sum of x^2 over the window).

    Inputs and output shape as `max_pool_forward_naive`. Returns (out, cache).
    """
    ph, pw, stride, Ho, Wo = pool_setup(x, pool_param, "l2_pool_forward")
    out = np.sqrt(_window_sum(x * x, ph, pw, stride, Ho, Wo))
    return out, (x, out, (ph, pw, stride))


def l2_pool_backward(dout: np.ndarray, cache):
    """Backward pass of L2 pooling: d out / d x = x / out for every pixel of the window.

    A window that is all zeros (out = 0) has no derivative; we use the subgradient 0 there.
    """
    x, out, (ph, pw, stride) = cache
    check_dout(dout, out.shape)
    safe = np.where(out > 0, out, 1)
    g = np.where(out > 0, dout / safe, 0).astype(x.dtype, copy=False)
    return _spread(g, x.shape, ph, pw, stride) * x


def global_avg_pool_forward(x: np.ndarray):
    """Global average pooling (全局平均池化): (N, C, H, W) -> (N, C), the mean over H and W."""
    check_array(x, "x", 4, "(N, C, H, W)")
    return x.mean(axis=(2, 3)), (x.shape, x.dtype)


def global_avg_pool_backward(dout: np.ndarray, cache):
    """Backward pass of global average pooling: dx[n, c, :, :] = dout[n, c] / (H*W)."""
    shape, dtype = cache
    check_dout(dout, shape[:2])
    g = (dout / (shape[2] * shape[3])).astype(dtype, copy=False)
    return np.broadcast_to(g[:, :, None, None], shape).copy()


# ----------------------------------------------------------------------------------------
# Batch normalisation
# ----------------------------------------------------------------------------------------

_BN_KEYS = ("mode", "eps", "momentum", "running_mean", "running_var")


def _bn_core(x2, gamma, beta, bn_param, axes, shape_c, where):
    """Shared batchnorm on x with channel axis 1; `axes` are reduced, `shape_c` broadcasts."""
    if not isinstance(bn_param, dict):
        raise TypeError(f"bn_param must be a dict (it stores the running mean/var), got "
                        f"{type(bn_param).__name__}; pass e.g. {{'mode': 'train'}}")
    p = check_keys(bn_param, _BN_KEYS, "bn_param")
    mode = p.get("mode", "train")
    if mode not in ("train", "test"):
        raise ValueError(f"bn_param['mode'] must be 'train' or 'test', got {mode!r}")
    eps = float(p.get("eps", 1e-5))
    momentum = float(p.get("momentum", 0.9))
    if not eps > 0:
        raise ValueError(f"bn_param['eps'] must be > 0, got {eps}")
    if not 0 <= momentum <= 1:
        raise ValueError(f"bn_param['momentum'] must be in [0, 1], got {momentum}")
    D = x2.shape[1]
    dtype = x2.dtype
    for name, a in (("gamma", gamma), ("beta", beta)):
        check_array(a, name, 1, f"({D},)")
        if a.shape != (D,):
            raise ValueError(f"{name} has shape {a.shape} but x has {D} {where}; "
                             f"{name} must have shape ({D},)")
    rm = p.setdefault("running_mean", np.zeros(D, dtype))
    rv = p.setdefault("running_var", np.ones(D, dtype))
    if np.shape(rm) != (D,) or np.shape(rv) != (D,):
        raise ValueError(f"bn_param running_mean/running_var have shapes {np.shape(rm)}/{np.shape(rv)} "
                         f"but x has {D} {where}; start from a fresh bn_param dict")
    g = gamma.astype(dtype, copy=False).reshape(shape_c)
    bt = beta.astype(dtype, copy=False).reshape(shape_c)
    if mode == "train":
        mu = x2.mean(axis=axes, keepdims=True)
        xc = x2 - mu
        var = (xc * xc).mean(axis=axes, keepdims=True)
        inv_std = 1.0 / np.sqrt(var + eps)
        xhat = xc * inv_std
        p["running_mean"] = (momentum * np.asarray(rm) + (1 - momentum) * mu.reshape(D)).astype(dtype)
        p["running_var"] = (momentum * np.asarray(rv) + (1 - momentum) * var.reshape(D)).astype(dtype)
    else:
        inv_std = (1.0 / np.sqrt(np.asarray(rv, dtype) + eps)).reshape(shape_c)
        xhat = (x2 - np.asarray(rm, dtype).reshape(shape_c)) * inv_std
    out = g * xhat + bt
    cache = (xhat, g, inv_std, mode, axes, gamma.dtype, beta.dtype)
    return out, cache


def _bn_backward(dout, cache):
    xhat, g, inv_std, mode, axes, gdt, bdt = cache
    check_dout(dout, xhat.shape)
    dout = dout.astype(xhat.dtype, copy=False)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * xhat).sum(axis=axes)
    if mode == "train":
        count = xhat.size // xhat.shape[1]
        shape_c = g.shape
        dx = (g * inv_std / count) * (count * dout - dbeta.reshape(shape_c)
                                      - xhat * dgamma.reshape(shape_c))
    else:
        dx = dout * g * inv_std
    return dx, dgamma.astype(gdt, copy=False), dbeta.astype(bdt, copy=False)


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict):
    """Batch normalisation (批量归一化) of (N, D) features, e.g. after a fully connected layer.

    train mode: xhat = (x - mean) / sqrt(var + eps) with the batch mean and (biased) variance
    of each feature; out = gamma * xhat + beta. The running averages are updated in bn_param:
    running = momentum * running + (1 - momentum) * batch statistic.
    test mode: the running mean/var are used instead of the batch statistics.

    Inputs: x (N, D); gamma, beta (D,); bn_param dict with `mode` ('train'/'test'), `eps`
    (1e-5), `momentum` (0.9), and `running_mean`/`running_var` (created as zeros/ones of shape
    (D,) on first use). Returns (out, cache); out (N, D).
    """
    check_array(x, "x", 2, "(N, D)")
    return _bn_core(x, gamma, beta, bn_param, (0,), (1, x.shape[1]), "features")


def batchnorm_backward(dout: np.ndarray, cache):
    """Backward pass of `batchnorm_forward`: returns (dx, dgamma, dbeta) with shapes (N, D), (D,), (D,).

    In train mode dx = gamma/(N*std) * (N*dout - sum(dout) - xhat * sum(dout*xhat)).
    """
    return _bn_backward(dout, cache)


def spatial_batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict):
    """Spatial batch normalisation for conv layers: one mean/variance per channel, over N, H, W.

    Inputs: x (N, C, H, W); gamma, beta (C,); bn_param as in `batchnorm_forward` (running
    statistics of shape (C,)). Returns (out, cache); out (N, C, H, W).
    """
    check_array(x, "x", 4, "(N, C, H, W)")
    return _bn_core(x, gamma, beta, bn_param, (0, 2, 3), (1, x.shape[1], 1, 1), "channels")


def spatial_batchnorm_backward(dout: np.ndarray, cache):
    """Backward pass of `spatial_batchnorm_forward`: returns (dx, dgamma, dbeta)."""
    return _bn_backward(dout, cache)


# ----------------------------------------------------------------------------------------
# Local response normalisation (AlexNet)
# ----------------------------------------------------------------------------------------

_LRN_KEYS = ("size", "alpha", "beta", "k")


def _channel_window_sum(a: np.ndarray, before: int, after: int) -> np.ndarray:
    """s[:, c] = sum of a[:, c'] for c - before <= c' <= c + after (clipped at the edges)."""
    C = a.shape[1]
    s = a.copy()
    for d in range(1, before + 1):
        if d < C:
            s[:, d:] += a[:, :C - d]
    for d in range(1, after + 1):
        if d < C:
            s[:, :C - d] += a[:, d:]
    return s


def lrn_forward(x: np.ndarray, lrn_param: dict | None = None):
    """Local response normalisation (局部响应归一化) across channels, as in AlexNet.

    b[n, c] = a[n, c] / (k + alpha/size * sum of a[n, c']^2 over the `size` channels c'
              around c)^beta,
    the window running from c - size//2 to c + (size-1)//2, clipped at the first and last
    channel (PyTorch's `local_response_norm` uses the same window).

    Inputs: x (N, C, H, W); lrn_param keys `size` (5), `alpha` (1e-4), `beta` (0.75), `k` (2),
    AlexNet's values. Returns (out, cache) with out of the shape of x.
    """
    check_array(x, "x", 4, "(N, C, H, W)")
    p = check_keys(lrn_param, _LRN_KEYS, "lrn_param")
    size = int_setting(p, "size", 5, 1, "lrn_param")
    alpha, beta, k = (float(p.get("alpha", 1e-4)), float(p.get("beta", 0.75)), float(p.get("k", 2.0)))
    if not k > 0 or alpha < 0:
        raise ValueError(f"lrn_param needs k > 0 and alpha >= 0 so the denominator stays positive, "
                         f"got k={k}, alpha={alpha}")
    scale = k + (alpha / size) * _channel_window_sum(x * x, size // 2, (size - 1) // 2)
    out = x * scale ** (-beta)
    return out, (x, scale, out, (size, alpha, beta))


def lrn_backward(dout: np.ndarray, cache):
    """Backward pass of LRN. Returns dx with the shape of x.

    With s_c = k + alpha/size * sum_window a^2:  dx_j = dout_j * s_j^-beta
        - 2*alpha*beta/size * a_j * sum over the channels c whose window contains j of
          dout_c * a_c * s_c^(-beta-1).
    """
    x, scale, out, (size, alpha, beta) = cache
    check_dout(dout, x.shape)
    dout = dout.astype(x.dtype, copy=False)
    t = dout * out / scale                     # dout_c * a_c * s_c^(-beta-1)
    back = _channel_window_sum(t, (size - 1) // 2, size // 2)
    return dout * scale ** (-beta) - (2 * alpha * beta / size) * x * back


# ----------------------------------------------------------------------------------------
# Losses
# ----------------------------------------------------------------------------------------

def _check_scores_labels(scores, y):
    check_array(scores, "scores", 2, "(N, C)")
    N, C = scores.shape
    if not isinstance(y, np.ndarray):
        y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y has dtype {y.dtype}; labels must be integers 0..{C - 1}: use y.astype(int)")
    if y.shape != (N,):
        raise ValueError(f"y has shape {y.shape} but scores has N = {N} rows; y must have shape ({N},)")
    if y.min() < 0 or y.max() >= C:
        bad = int(y[(y < 0) | (y >= C)][0])
        raise ValueError(f"y contains label {bad} but scores has C = {C} classes; "
                         f"labels must be in 0..{C - 1}")
    return y


def softmax_loss(scores: np.ndarray, y: np.ndarray):
    """Softmax (cross-entropy, 交叉熵) loss, averaged over the batch.

    Inputs: scores (N, C) class scores; y (N,) integer labels in 0..C-1.
    loss = mean over i of -log(exp(s_{i,y_i}) / sum_j exp(s_ij)), computed stably by
    subtracting each row's maximum. Returns (loss as float, dscores (N, C)) with
    dscores = (softmax(scores) - onehot(y)) / N.
    """
    y = _check_scores_labels(scores, y)
    N = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_p = shifted - log_z
    rows = np.arange(N)
    loss = -float(np.mean(log_p[rows, y]))
    dscores = np.exp(log_p)
    dscores[rows, y] -= 1
    dscores /= N
    return loss, dscores


def svm_loss(scores: np.ndarray, y: np.ndarray):
    """Multiclass SVM (hinge, 合页损失) loss with margin 1, averaged over the batch.

    loss = mean over i of sum over j != y_i of max(0, s_ij - s_{i,y_i} + 1).
    Returns (loss as float, dscores (N, C)).
    """
    y = _check_scores_labels(scores, y)
    N = scores.shape[0]
    rows = np.arange(N)
    margins = np.maximum(0, scores - scores[rows, y][:, None] + 1)
    margins[rows, y] = 0
    loss = float(margins.sum() / N)
    dscores = (margins > 0).astype(scores.dtype)
    dscores[rows, y] -= dscores.sum(axis=1)
    dscores /= N
    return loss, dscores


# ----------------------------------------------------------------------------------------
# Group normalisation (Wu & He 2018)
# ----------------------------------------------------------------------------------------

_GN_KEYS = ("groups", "eps")


def groupnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, gn_param: dict):
    """Group normalisation (组归一化): statistics per image and per group of channels.

    The C channels are split into G groups of C/G consecutive channels; each image's group is
    normalised by its own mean and (biased) variance over its C/G x H x W values, then every
    channel is scaled and shifted: out = gamma[c] * xhat + beta[c]. Nothing depends on the other
    images of the batch, so train and test mode are the same and any batch size (even 1) works.
    G = 1 is layer normalisation, G = C instance normalisation.

    Inputs: x (N, C, H, W); gamma, beta (C,); gn_param dict with `groups` G (must divide C) and
    optional `eps` (1e-5). Returns (out, cache); out (N, C, H, W).

    Shown in 04, section 4.
    """
    check_array(x, "x", 4, "(N, C, H, W)")
    p = check_keys(gn_param, _GN_KEYS, "gn_param")
    N, C, H, W = x.shape
    G = int_setting(p, "groups", None, 1, "gn_param")
    if C % G:
        divisors = [g for g in range(1, C + 1) if C % g == 0]
        raise ValueError(f"gn_param['groups'] = {G} does not divide the C = {C} channels; "
                         f"use one of {divisors}")
    eps = float(p.get("eps", 1e-5))
    if not eps > 0:
        raise ValueError(f"gn_param['eps'] must be > 0, got {eps}")
    for name, a in (("gamma", gamma), ("beta", beta)):
        check_array(a, name, 1, f"({C},)")
        if a.shape != (C,):
            raise ValueError(f"{name} has shape {a.shape} but x has {C} channels; {name} must have shape ({C},)")
    xg = x.reshape(N, G, C // G, H, W)
    mu = xg.mean(axis=(2, 3, 4), keepdims=True)
    xc = xg - mu
    inv_std = 1.0 / np.sqrt((xc * xc).mean(axis=(2, 3, 4), keepdims=True) + eps)
    xhat = (xc * inv_std).reshape(N, C, H, W)
    g = gamma.astype(x.dtype, copy=False).reshape(1, C, 1, 1)
    out = g * xhat + beta.astype(x.dtype, copy=False).reshape(1, C, 1, 1)
    return out, (xhat, g, inv_std, G, gamma.dtype, beta.dtype)


def groupnorm_backward(dout: np.ndarray, cache):
    """Backward pass of `groupnorm_forward`: returns (dx, dgamma, dbeta), shapes (N, C, H, W), (C,), (C,).

    dbeta = sum of dout over (N, H, W); dgamma = sum of dout * xhat over (N, H, W); with
    g = dout * gamma and m = C/G * H * W values per group,
    dx = inv_std / m * (m * g - sum(g) - xhat * sum(g * xhat)), the sums over each group.
    """
    xhat, gam, inv_std, G, gdt, bdt = cache
    check_dout(dout, xhat.shape)
    N, C, H, W = xhat.shape
    dout = dout.astype(xhat.dtype, copy=False)
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xhat).sum(axis=(0, 2, 3))
    m = (C // G) * H * W
    dxhat = (dout * gam).reshape(N, G, C // G, H, W)
    xh = xhat.reshape(N, G, C // G, H, W)
    dx = (inv_std / m) * (m * dxhat - dxhat.sum(axis=(2, 3, 4), keepdims=True)
                          - xh * (dxhat * xh).sum(axis=(2, 3, 4), keepdims=True))
    return dx.reshape(N, C, H, W), dgamma.astype(gdt, copy=False), dbeta.astype(bdt, copy=False)


__all__ += ["groupnorm_forward", "groupnorm_backward"]
