"""`check(name, fn)`: run an exercise's checker on the learner's function and return the verdict."""
from __future__ import annotations

from typing import Callable

from .harness import describe
from .registry import EXERCISES, REGISTRY
from .verdict import TODO_MESSAGE, CheckResult, Fail, Todo


def _forward_for(name: str, forward: Callable | None):
    """(forward to use, note for the verdict) for backward exercise `name`.

    The learner's forward must pass its own check first (its cache feeds the backward pass);
    while it is still a stub, the reference forward is used and the verdict says so.
    """
    row = REGISTRY[name]
    if forward is None:
        return None, ""
    res = check(row.forward, forward)
    if res.status == "todo":
        return None, (f" [your {row.forward} is not written yet, so the cache came from the reference: "
                      f"{row.cache}]")
    if not res:
        raise Fail(f"your {row.forward} does not pass yet, and its cache feeds {name}: "
                   f"{res.message}", res.hint())
    return forward, ""


def check(name: str, fn: Callable, hint: bool = False, forward: Callable | None = None) -> CheckResult:
    """Check the learner's `fn` for exercise `name` against the package's reference.

    `name` is one of `EXERCISES`; `fn` has the reference's signature. For a backward pass,
    `forward` is the learner's own forward function (its cache is what `fn` receives);
    without it the reference forward makes the cache. `hint=True` adds the hint to the
    verdict line. Returns a `CheckResult` (truthy when every case passes); never raises
    for a bug in `fn`.
    """
    if name not in REGISTRY:
        raise ValueError(f"no exercise named {name!r}; the exercises are: {', '.join(EXERCISES)}")
    if not callable(fn):
        return CheckResult(name, False, f"expected the function itself, got {describe(fn)} — pass "
                           f"{name} without calling it: check({name!r}, {name})", status="fail",
                           show_hint=hint)
    note = ""
    try:
        if REGISTRY[name].forward:
            forward, note = _forward_for(name, forward)
        n = REGISTRY[name].checker(fn, forward)
    except Todo:
        return CheckResult(name, False, TODO_MESSAGE, "replace the `raise NotImplementedError` line with your code",
                           status="todo", show_hint=hint)
    except Fail as fail:
        message = fail.message[len(name) + 1:] if fail.message.startswith(name + " ") else fail.message
        return CheckResult(name, False, message + note, fail.hint, status=fail.status, show_hint=hint)
    return CheckResult(name, True, f"all {n} cases pass", status="pass", cases=n, show_hint=hint)
