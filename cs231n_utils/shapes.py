"""Shape arithmetic for convolution and pooling layers (输出尺寸, 感受野).

The one formula behind every spatial layer, for an input of size W, a window of size F
with dilation D (effective size D*(F-1)+1), stride S and zero padding P on each side:

    W' = (W + 2P - D*(F-1) - 1) / S + 1        (= (W + 2P - F)/S + 1 when D = 1)

A setting "fits" when the division is exact, so that the window tiles the padded input
without a remainder. We refuse settings that do not fit and say how to fix them, instead
of silently dropping rows and columns like most frameworks do.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Mapping, Sequence

__all__ = ["conv_output_size", "pool_output_size", "effective_filter_size", "conv_size_formula",
           "receptive_field", "ReceptiveField", "suggest_fixes"]


def _check_int(name: str, value, minimum: int) -> int:
    if type(value) is not int:      # fast path for plain ints; numpy integers are accepted too
        if isinstance(value, (bool, float)) or not hasattr(value, "__index__"):
            raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
        value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def effective_filter_size(filter_size: int, dilation: int = 1) -> int:
    """Spatial extent covered by a filter of `filter_size` taps spaced `dilation` apart: D*(F-1)+1."""
    filter_size = _check_int("filter_size", filter_size, 1)
    dilation = _check_int("dilation", dilation, 1)
    return dilation * (filter_size - 1) + 1


def conv_size_formula(size: int, filter_size: int, stride: int = 1, pad: int = 0,
                      dilation: int = 1, *, pool: bool = False) -> str:
    """The output-size formula with the numbers filled in and evaluated exactly: the one text
    every message about a setting that does not fit shows (errors, explorers, widgets, models).

    "(7 + 2*0 - 3)/2 + 1 = 3" when the division is exact; otherwise the value as a short exact
    decimal, "(6 + 2*0 - 3)/2 + 1 = 2.5", or as a fraction, "(7 + 2*0 - 3)/3 + 1 = 7/3 ~ 2.33". Dilation D > 1 writes the effective filter size D*(F-1)+1 out:
    "(7 + 2*1 - 2*(3-1) - 1)/1 + 1 = 5". `pool=True` writes the pooling form without padding,
    "(6 - 2)/2 + 1 = 3" (only when pad is 0 and dilation 1; otherwise the full form is used).
    """
    size, filter_size, stride, pad, dilation = (int(v) for v in (size, filter_size, stride, pad, dilation))
    if pool and pad == 0 and dilation == 1:
        text = f"({size} - {filter_size})/{stride} + 1"
    elif dilation == 1:
        text = f"({size} + 2*{pad} - {filter_size})/{stride} + 1"
    else:
        text = f"({size} + 2*{pad} - {dilation}*({filter_size}-1) - 1)/{stride} + 1"
    value = Fraction(size + 2 * pad - dilation * (filter_size - 1) - 1, stride) + 1
    decimal = f"{float(value):g}"
    if Fraction(decimal) == value:                    # 3, 4.5, -0.25: exact as a short decimal
        return f"{text} = {decimal}"
    return f"{text} = {value} ~ {float(value):.2f}"   # 7/3 ~ 2.33


def suggest_fixes(size: int, filter_size: int, stride: int, pad: int = 0, dilation: int = 1,
                  max_pad: int | None = None) -> list[str]:
    """Nearby settings that fit: other paddings with the same stride, or stride 1."""
    eff = effective_filter_size(filter_size, dilation)
    out = []
    limit = max_pad if max_pad is not None else max(eff, pad + stride)
    # Paddings p that fit solve 2p = eff - size (mod stride): solved directly rather than by
    # trying every p, so an absurd stride (10**12) answers at once.
    need = eff - size
    if stride % 2 == 0 and need % 2:
        candidates = iter(())                      # 2p has the wrong parity: no padding fits
    else:
        period = stride // 2 if stride % 2 == 0 else stride
        residue = (need // 2 if stride % 2 == 0 else need * pow(2, -1, stride)) % period if period > 1 else 0
        first = max(0, -(-need // 2))               # smallest p with size + 2p >= eff
        first += (residue - first) % period if period > 1 else 0
        candidates = (first + k * period for k in range(3))
    for p in candidates:
        if p > limit:
            break
        if p != pad:
            out.append(f"pad={p}")
            if len(out) == 2:
                break
    if stride != 1 and size + 2 * pad >= eff:
        out.append("stride=1")
    return out


_ROUNDINGS = ("exact", "floor", "ceil")


def conv_output_size(size: int, filter_size: int, stride: int = 1, pad: int = 0,
                     dilation: int = 1, rounding: str = "exact") -> int:
    """Output size of a convolution along one spatial axis.

    Inputs: `size` W >= 1, `filter_size` F >= 1, `stride` S >= 1, `pad` P >= 0 (zeros added on
    each side), `dilation` D >= 1. Returns W' = (W + 2P - D*(F-1) - 1)/S + 1 as an int.

    Raises ValueError, with the formula and its numbers, when the window does not fit in the
    padded input or when the division is not exact; TypeError for non-integer settings.
    `rounding="floor"` instead drops the rows that do not fit (PyTorch's convention, used by
    e.g. ResNet's 7x7 stride-2 stem on 224 pixels); `"ceil"` adds a partial window at the end
    (Caffe/`ceil_mode=True` pooling, used by GoogLeNet).

    Shown in 02, sections 2, 3; 06, section 1.
    """
    if rounding not in _ROUNDINGS:
        raise ValueError(f"rounding must be one of {_ROUNDINGS}, got {rounding!r}")
    size = _check_int("size", size, 1)
    filter_size = _check_int("filter_size", filter_size, 1)
    stride = _check_int("stride", stride, 1)
    pad = _check_int("pad", pad, 0)
    dilation = _check_int("dilation", dilation, 1)
    eff = effective_filter_size(filter_size, dilation)
    if size + 2 * pad < eff:
        need = (eff - size + 1) // 2
        what = f"filter {filter_size}" + (f" with dilation {dilation} (spans {eff})" if dilation > 1 else "")
        raise ValueError(f"{what} does not fit in input {size} padded by {pad} (= {size + 2 * pad}): "
                         f"{conv_size_formula(size, filter_size, stride, pad, dilation)} < 1; "
                         f"use pad>={need} or a smaller filter")
    num = size + 2 * pad - eff
    if rounding == "floor":
        return num // stride + 1
    if rounding == "ceil":
        out = -(-num // stride) + 1
        # like PyTorch: the last window must start inside the input or left padding
        return out - 1 if (out - 1) * stride >= size + pad else out
    if num % stride:
        fixes = suggest_fixes(size, filter_size, stride, pad, dilation)
        hint = f"; try {' or '.join(fixes)}" if fixes else ""
        raise ValueError(f"stride {stride} does not fit: "
                         f"{conv_size_formula(size, filter_size, stride, pad, dilation)} "
                         f"is not an integer{hint}")
    return num // stride + 1


def pool_output_size(size: int, pool_size: int, stride: int | None = None, pad: int = 0,
                     rounding: str = "exact") -> int:
    """Output size of a pooling window along one axis (pooling usually uses no padding).

    W' = (W - F)/S + 1, with S defaulting to F (non-overlapping windows). Same errors and
    `rounding` options as `conv_output_size`; `pad` exists for the few nets that pad pools.

    Shown in 03, section 3.
    """
    size = _check_int("size", size, 1)
    pool_size = _check_int("pool_size", pool_size, 1)
    stride = pool_size if stride is None else _check_int("stride", stride, 1)
    if pad or rounding != "exact":
        return conv_output_size(size, pool_size, stride, pad, 1, rounding)
    if size < pool_size:
        raise ValueError(f"pool window {pool_size} does not fit in input {size}: "
                         f"{conv_size_formula(size, pool_size, stride, pool=True)} < 1; "
                         f"use a window <= {size}")
    num = size - pool_size
    if num % stride:
        good = [s for s in range(1, pool_size + 1) if s != stride and num % s == 0]
        hint = f"; try stride={good[-1]}" if good else ""
        raise ValueError(f"stride {stride} does not fit: {conv_size_formula(size, pool_size, stride, pool=True)} "
                         f"is not an integer{hint}")
    return num // stride + 1


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field after a stack of layers (感受野), in input pixels.

    size:  how many input pixels one output unit sees along an axis.
    jump:  distance in input pixels between neighbouring output units (product of strides).
    start: input coordinate of the centre of the first output unit's field (can be negative
           when padding is used).
    """
    size: int
    jump: int
    start: float


def receptive_field(layers: Iterable[Mapping | Sequence], size: int | None = None) -> list[ReceptiveField]:
    """Receptive field after each layer of a stack of conv/pool layers.

    `layers` is a sequence of dicts with keys `filter_size` (or `kernel`), optional `stride`
    (1), `pad` (0) and `dilation` (1); a tuple `(filter_size, stride, pad[, dilation])` works too.
    Returns one `ReceptiveField` per layer, using the standard recurrence

        size_l = size_{l-1} + (k_eff - 1) * jump_{l-1};  jump_l = jump_{l-1} * s
        start_l = start_{l-1} + ((k_eff - 1)/2 - p) * jump_{l-1}

    If `size` (the input width) is given, each layer's output size is also checked with
    `conv_output_size`, so a stack that does not fit raises ValueError naming the layer.

    Shown in 02, section 8; 05, section 10.
    """
    rf, jump, start = 1, 1, 0.5
    out = []
    current = size
    for i, layer in enumerate(layers):
        if isinstance(layer, Mapping):
            k = layer.get("filter_size", layer.get("kernel"))
            s, p, d = layer.get("stride", 1), layer.get("pad", 0), layer.get("dilation", 1)
        else:
            k, s, p, *rest = layer
            d = rest[0] if rest else 1
        if k is None:
            raise ValueError(f"layer {i}: missing 'filter_size'")
        eff = effective_filter_size(k, d)
        _check_int(f"layer {i} stride", s, 1)
        _check_int(f"layer {i} pad", p, 0)
        if current is not None:
            try:
                current = conv_output_size(current, k, s, p, d)
            except ValueError as exc:
                raise ValueError(f"layer {i}: {exc}") from None
        rf = rf + (eff - 1) * jump
        start = start + ((eff - 1) / 2 - p) * jump
        jump = jump * s
        out.append(ReceptiveField(rf, jump, start))
    return out
