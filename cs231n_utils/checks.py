"""Input checks (输入检查) shared by every layer: one place for each teaching error message.

The layers in `layers` (readable loops) and the kernels in `fast_layers` (vectorised) call the
same checks, so a learner gets the same message whichever version they use:

- `check_array(a, name, ndim, shape_hint)`: a float32/float64 ndarray, right number of axes,
  no empty axis, no NaN/inf;
- `check_dout(dout, shape)`: an upstream gradient of the forward output's shape;
- `check_int(value, name, minimum)`: one integer argument (bool and float refused);
- `check_keys(params, allowed, where)`, `int_setting(params, key, default, minimum, where)`,
  `check_rounding(params, where)`: a settings dict such as `conv_param`;
- `conv_setup(x, w, b, conv_param)` / `pool_setup(x, pool_param)`: a whole conv or pooling
  call validated at once, returning the settings and the output size.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from .shapes import conv_output_size, pool_output_size

__all__ = ["check_array", "check_finite", "check_dout", "check_int", "int_setting",
           "check_rounding", "check_keys", "conv_setup", "conv_cache_settings", "pool_setup",
           "CONV_KEYS", "POOL_KEYS"]


def check_int(value, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return `value` as an int, or raise a clear error: it must be an integer (not a bool or
    a float) within [minimum, maximum] (either bound may be None)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value



def check_array(a, name: str, ndim: int | None = None, shape_hint: str = "",
                 finite: bool = True) -> np.ndarray:
    """Check that `a` is a float32/float64 ndarray with `ndim` dims, no empty axis, no NaN/inf."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}; "
                        f"use np.asarray({name}, dtype=np.float64)")
    if a.dtype.char not in "fd" or not a.dtype.isnative:     # 'f' float32, 'd' float64
        raise TypeError(f"{name} has dtype {a.dtype}; layers need float32 or float64 arrays: "
                        f"use {name}.astype(np.float64)")
    if ndim is not None and a.ndim != ndim:
        hint = f" {shape_hint}" if shape_hint else ""
        raise ValueError(f"{name} must have {ndim} dimensions{hint}, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} has shape {a.shape} with an empty axis; every size must be >= 1")
    if finite:
        check_finite(a, name)
    return a


def check_finite(a: np.ndarray, name: str) -> None:
    if a.size <= 4096:
        ok = bool(np.isfinite(a).all())
    else:
        # A sum is cheaper than isfinite on big arrays and is finite whenever every entry is
        # (barring overflow, which the exact check below then rules out).
        with np.errstate(over="ignore", invalid="ignore"):
            ok = math.isfinite(np.add.reduce(a, axis=None))
    if not ok:
        bad = int(a.size - np.count_nonzero(np.isfinite(a)))
        if bad:
            raise ValueError(f"{name} contains {bad} NaN/inf value(s); check the previous layer "
                             f"or lower the learning rate")


def check_dout(dout, shape: tuple, name: str = "dout") -> np.ndarray:
    check_array(dout, name)
    if dout.shape != tuple(shape):
        raise ValueError(f"{name} has shape {dout.shape} but the forward output had shape "
                         f"{tuple(shape)}; pass the gradient of that output")
    return dout


def int_setting(params: Mapping, key: str, default, minimum: int, where: str) -> int:
    value = params.get(key, default)
    if value is None:
        raise ValueError(f"{where}[{key!r}] is missing; add it, e.g. {where}[{key!r}] = 1")
    return check_int(value, f"{where}[{key!r}]", minimum)


def check_rounding(params: Mapping, where: str) -> str:
    rounding = params.get("rounding", "exact")
    if rounding not in ("exact", "floor"):
        raise ValueError(f"{where}['rounding'] must be 'exact' (settings must fit) or 'floor' "
                         f"(drop rows/columns that do not fit), got {rounding!r}")
    return rounding


def check_keys(params, allowed: tuple, where: str) -> Mapping:
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise TypeError(f"{where} must be a dict, got {type(params).__name__}")
    unknown = [k for k in params if k not in allowed]
    if unknown:
        raise ValueError(f"{where} has unknown key {unknown[0]!r}; allowed keys: {', '.join(allowed)}")
    return params


CONV_KEYS = ("stride", "pad", "dilation", "groups", "rounding")
POOL_KEYS = ("pool_height", "pool_width", "stride", "rounding")


@lru_cache(maxsize=1024)
def _conv_size(size: int, k: int, stride: int, pad: int, dilation: int, rounding: str) -> int:
    """conv_output_size, memoised (it validates its arguments: ~4 us a call on tiny layers)."""
    return conv_output_size(size, k, stride, pad, dilation, rounding)


def conv_setup(x, w, b, conv_param, name: str = "conv_forward"):
    """Validate a convolution call; returns (stride, pad, dilation, groups, rounding, Ho, Wo, dtype)."""
    check_array(x, "x", 4, "(N, C, H, W)")
    check_array(w, "w", 4, "(F, C/groups, HH, WW)")
    check_array(b, "b", 1, "(F,)")
    p = check_keys(conv_param, CONV_KEYS, "conv_param")
    stride = int_setting(p, "stride", 1, 1, "conv_param")
    pad = int_setting(p, "pad", 0, 0, "conv_param")
    dilation = int_setting(p, "dilation", 1, 1, "conv_param")
    groups = int_setting(p, "groups", 1, 1, "conv_param")
    rounding = check_rounding(p, "conv_param")
    N, C, H, W = x.shape
    F, Cw, HH, WW = w.shape
    if C % groups:
        raise ValueError(f"x has C = {C} channels, not divisible by conv_param['groups'] = {groups}; "
                         f"use a groups value that divides {C}")
    if F % groups:
        raise ValueError(f"w has F = {F} filters, not divisible by conv_param['groups'] = {groups}; "
                         f"use a multiple of {groups} filters")
    if Cw * groups != C:
        need = f"C/groups = {C}/{groups} = {C // groups}" if groups > 1 else f"C = {C}"
        raise ValueError(f"w has shape {w.shape}: {Cw} input channels per filter, but x needs {need}; "
                         f"make w of shape ({F}, {C // groups}, {HH}, {WW})")
    if b.shape != (F,):
        raise ValueError(f"b has shape {b.shape} but w has F = {F} filters; b must have shape ({F},)")
    try:
        Ho = _conv_size(H, HH, stride, pad, dilation, rounding)
        Wo = _conv_size(W, WW, stride, pad, dilation, rounding)
    except ValueError as exc:
        raise ValueError(f"{name}: x is {H}x{W}, w is {HH}x{WW}: {exc}") from None
    dtype = x.dtype if x.dtype == w.dtype == b.dtype else np.result_type(x.dtype, w.dtype, b.dtype)
    return stride, pad, dilation, groups, rounding, Ho, Wo, dtype


def conv_cache_settings(x: np.ndarray, w: np.ndarray, p: Mapping) -> Mapping:
    """The settings a conv backward needs, from our forward's cache dict or a plain CS231n
    conv_param ({'stride': 1, 'pad': 1}): missing dilation/groups default to 1, H'/W' are computed."""
    if "Ho" in p and "Wo" in p and "dilation" in p and "groups" in p:
        return p
    stride = int(p.get("stride", 1))
    pad = int(p.get("pad", 0))
    dil = int(p.get("dilation", 1))
    rounding = p.get("rounding", "exact")
    return {"stride": stride, "pad": pad, "dilation": dil, "groups": int(p.get("groups", 1)),
            "Ho": conv_output_size(x.shape[2], w.shape[2], stride, pad, dil, rounding),
            "Wo": conv_output_size(x.shape[3], w.shape[3], stride, pad, dil, rounding)}


def pool_setup(x, pool_param, name: str = "pool_forward"):
    """Validate a pooling call; returns (ph, pw, stride, Ho, Wo)."""
    check_array(x, "x", 4, "(N, C, H, W)")
    p = check_keys(pool_param, POOL_KEYS, "pool_param")
    ph = int_setting(p, "pool_height", None, 1, "pool_param")
    pw = int_setting(p, "pool_width", None, 1, "pool_param")
    default_stride = ph if ph == pw else None
    stride = int_setting(p, "stride", default_stride, 1, "pool_param")
    rounding = check_rounding(p, "pool_param")
    H, W = x.shape[2:]
    try:
        Ho = pool_output_size(H, ph, stride, 0, rounding)
        Wo = pool_output_size(W, pw, stride, 0, rounding)
    except ValueError as exc:
        raise ValueError(f"{name}: x is {H}x{W}, window {ph}x{pw}: {exc}") from None
    return ph, pw, stride, Ho, Wo
