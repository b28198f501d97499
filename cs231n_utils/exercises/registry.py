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
    reference forward's `cache` (shown when the learner's forward is not written yet)."""

    name: str
    reference: Callable
    checker: Callable[..., int]
    forward: str | None = None
    cache: str = ""


_ROWS = (
    Exercise("conv_output_size", conv_output_size, conv.check_conv_output_size),
    Exercise("conv_forward", L.conv_forward_naive, conv.check_conv_forward),
    Exercise("conv_backward", L.conv_backward_naive, conv.check_conv_backward,
             "conv_forward", "(x, w, b, conv_param)"),
    Exercise("max_pool_forward", L.max_pool_forward_naive, pool.check_max_pool_forward),
    Exercise("max_pool_backward", L.max_pool_backward_naive, pool.check_max_pool_backward,
             "max_pool_forward", "(x, (pool_height, pool_width, stride, H', W'))"),
    Exercise("affine_forward", L.affine_forward, dense.check_affine_forward),
    Exercise("affine_backward", L.affine_backward, dense.check_affine_backward,
             "affine_forward", "(x, w, b)"),
    Exercise("relu_backward", L.relu_backward, dense.check_relu_backward),
    Exercise("spatial_batchnorm_forward", L.spatial_batchnorm_forward, batchnorm.check_spatial_batchnorm_forward),
    Exercise("spatial_batchnorm_backward", L.spatial_batchnorm_backward, batchnorm.check_spatial_batchnorm_backward,
             "spatial_batchnorm_forward", "the reference's own format (pass forward= to use yours)"),
    Exercise("softmax_loss", L.softmax_loss, dense.check_softmax_loss),
    Exercise("conv_layer_cost", conv_layer_cost, cost.check_conv_layer_cost),
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
