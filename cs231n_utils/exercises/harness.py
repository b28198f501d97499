"""Calling the learner's function safely and comparing what it returns, for every checker.

`call` runs the learner's code on copies of the inputs and turns whatever goes wrong into a
`Fail`; `as_tuple`, `check_array`, `close` and `signature` compare the outputs with the
reference's and name known mistakes.
"""
from __future__ import annotations

import copy
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from .verdict import Case, Fail, Todo, crash


def case_rng(i: int) -> np.random.Generator:
    """The generator of case `i` (every case table draws from its own fixed seeds)."""
    return np.random.default_rng(231_000 + i)


def shape_text(a) -> str:
    return str(tuple(int(s) for s in a))


def describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"


def copy_args(args):
    return [copy.deepcopy(a) for a in args]


def same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:
        return True


def call(fn: Callable, args: Sequence, case, who: str, names: Sequence[str] = (), allow=()):
    """Call the learner's fn on copies of args; map errors to verdicts; catch in-place edits."""
    originals = copy_args(args)
    given = copy_args(args)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            out = fn(*given)
    except NotImplementedError:
        raise Todo() from None
    except allow:
        raise
    except Exception as exc:  # any learner bug becomes a one-line verdict
        raise crash(exc, who, case) from None
    for i, (before, after) in enumerate(zip(originals, given)):
        if isinstance(before, np.ndarray) and not same(before, after):
            arg = names[i] if i < len(names) else f"argument {i + 1}"
            label = case.label if isinstance(case, Case) else case
            raise Fail(f"{who} changes its input {arg} in place (case '{label}') — work on a copy, "
                       f"e.g. {arg} = {arg}.copy(), or build a new array",
                       "the caller may still need its arrays (the cache keeps x for the backward "
                       "pass); never write into an argument")
    return out


def as_tuple(got, n: int, names: str, who: str):
    if not isinstance(got, (tuple, list)) or len(got) != n:
        raise Fail(f"{who} should return a tuple {names}, but returned {describe(got)}",
                   f"end the function with `return {names.strip('()')}`")
    return tuple(got)


def close(got, expected, rtol: float = 1e-6, atol: float = 1e-8) -> bool:
    got = np.asarray(got)
    return bool(got.shape == np.shape(expected) and np.all(np.isfinite(got))
                and np.allclose(got, expected, rtol=rtol, atol=atol))


def check_array(label: str, got, expected: np.ndarray, case: str, shape_hint: str = "",
                shape_diag: Callable[[tuple], tuple[str, str] | None] | None = None) -> None:
    """Type, shape and dtype of one output (values are compared by the caller)."""
    if not isinstance(got, np.ndarray):
        raise Fail(f"{label} is {describe(got)}, expected a numpy array of shape "
                   f"{shape_text(expected.shape)}", "build it with np.zeros(...) and fill it in")
    if got.shape != expected.shape:
        if shape_diag is not None:
            special = shape_diag(got.shape)
            if special:
                raise Fail(special[0] + f" (case '{case}')", special[1])
        raise Fail(f"wrong {label} shape {shape_text(got.shape)}, expected {shape_text(expected.shape)} "
                   f"in case '{case}'" + (f" — {shape_hint}" if shape_hint else ""),
                   shape_hint or "print the shapes you compute and compare with the docstring")
    if got.dtype != expected.dtype:
        raise Fail(f"{label} has dtype {got.dtype} for {expected.dtype} input, expected "
                   f"{expected.dtype} (case '{case}')",
                   f"allocate with np.zeros(shape, dtype=x.dtype) or np.zeros_like(x); "
                   f"integer or float32 arrays silently lose precision")


def signature(got, variants: Sequence[tuple[Callable[[], Any], str, str]], case: Case) -> None:
    """If got matches a known-wrong variant, raise its verdict."""
    for make, message, hint in variants:
        try:
            with np.errstate(all="ignore"):
                bad = make()
        except Exception:
            continue
        if bad is not None and np.shape(got) == np.shape(bad) and close(got, bad, 1e-7, 1e-10):
            raise Fail(f"{message} (case '{case.label}')", hint)


def overlap_only(got, expected, count) -> bool:
    """True when got is right wherever count <= 1 and wrong somewhere count > 1."""
    many = count > 1
    return bool(many.any() and np.allclose(got[~many], expected[~many], rtol=1e-6, atol=1e-8)
                and not np.allclose(got[many], expected[many], rtol=1e-6, atol=1e-8))
