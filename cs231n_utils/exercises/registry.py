"""Every exercise in one table: a row names its reference, its checker and, for a backward
pass, the forward exercise whose cache it consumes.

Adding an exercise is one `Exercise(...)` row here plus its checker in the topic module.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .. import layers as L
from ..architectures import conv_layer_cost
from ..shapes import conv_output_size
from . import batchnorm, conv, cost, dense, pool


@dataclass(frozen=True)
class Exercise:
    """One exercise: `name` (what `check` is called with), the package's `reference`
    implementation, its `checker(fn, forward)` (returns the number of cases run), and for a
    backward pass the `forward` exercise that makes its cache and a description of the
    reference forward's `cache` (shown when the learner's forward is not written yet);
    `formula` is what `CheckResult.hint()` reminds the learner of."""

    name: str
    reference: Callable
    checker: Callable[..., int]
    forward: str | None = None
    cache: str = ""
    formula: str = ""


_ROWS = (
    Exercise("conv_output_size", conv_output_size, conv.check_conv_output_size,
             formula="W' = (W + 2P - D*(F-1) - 1) / S + 1 when that is a whole number >= 1, else ValueError"),
    Exercise("conv_forward", L.conv_forward_naive, conv.check_conv_forward,
             formula="out[n, f, i, j] = sum(x_pad[n, :, i*S:i*S+HH, j*S:j*S+WW] * w[f]) + b[f]"),
    Exercise("conv_backward", L.conv_backward_naive, conv.check_conv_backward,
             "conv_forward", "(x, w, b, conv_param)",
             "dx_pad[n, :, window] += w[f] * dout[n, f, i, j], dw[f] += x_pad[n, :, window] * dout[n, f, i, j], "
             "db = dout.sum(axis=(0, 2, 3))"),
    Exercise("max_pool_forward", L.max_pool_forward_naive, pool.check_max_pool_forward,
             formula="out[n, c, i, j] = x[n, c, i*S:i*S+PH, j*S:j*S+PW].max()"),
    Exercise("max_pool_backward", L.max_pool_backward_naive, pool.check_max_pool_backward,
             "max_pool_forward", "(x, (pool_height, pool_width, stride, H', W'))",
             "dx[n, c, position of the max of window (i, j)] += dout[n, c, i, j]"),
    Exercise("affine_forward", L.affine_forward, dense.check_affine_forward,
             formula="out = x.reshape(N, -1) @ w + b"),
    Exercise("affine_backward", L.affine_backward, dense.check_affine_backward,
             "affine_forward", "(x, w, b)",
             "dx = (dout @ w.T).reshape(x.shape), dw = x.reshape(N, -1).T @ dout, db = dout.sum(axis=0)"),
    Exercise("relu_backward", L.relu_backward, dense.check_relu_backward, formula="dx = dout * (x > 0)"),
    Exercise("spatial_batchnorm_forward", L.spatial_batchnorm_forward, batchnorm.check_spatial_batchnorm_forward,
             formula="x_hat = (x - mean) / sqrt(var + eps), mean and var per channel over axes (0, 2, 3); "
                     "out = gamma * x_hat + beta"),
    Exercise("spatial_batchnorm_backward", L.spatial_batchnorm_backward, batchnorm.check_spatial_batchnorm_backward,
             "spatial_batchnorm_forward", "the reference's own format (pass forward= to use yours)",
             "dbeta = dout.sum(axis=(0, 2, 3)), dgamma = (dout * x_hat).sum(axis=(0, 2, 3)), train mode: "
             "dx = gamma / std * (dout - mean(dout) - x_hat * mean(dout * x_hat))"),
    Exercise("softmax_loss", L.softmax_loss, dense.check_softmax_loss,
             formula="p = softmax(scores - row max), loss = mean(-log p[i, y[i]]), dscores = (p - one_hot(y)) / N"),
    Exercise("conv_layer_cost", conv_layer_cost, cost.check_conv_layer_cost,
             formula="out_shape = (F, H', W'), params = F * (C/G) * K * K (+ F), macs = F * H' * W' * (C/G) * K * K"),
)

#: exercise name -> its row, in the order the notebooks meet them.
REGISTRY: dict[str, Exercise] = {row.name: row for row in _ROWS}

#: Names `check` knows, in the order the notebooks meet them.
EXERCISES: tuple[str, ...] = tuple(REGISTRY)


def reference(name: str) -> Callable:
    """The package's reference implementation behind exercise `name`."""
    if name not in REGISTRY:
        raise ValueError(f"no reference named {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name].reference
