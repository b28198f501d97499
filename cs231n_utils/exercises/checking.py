"""`check(name, fn)`: run an exercise's checker on the learner's function and return the verdict."""
from __future__ import annotations

from typing import Callable

from ..i18n import say
from .harness import CURRENT, Run, describe, get_time_limit
from .registry import EXERCISES, REGISTRY
from .verdict import CheckResult, Fail, Todo, todo_message


def _forward_for(name: str, forward: Callable | None, time_limit: float):
    """(forward to use, note for the verdict) for backward exercise `name`.

    The learner's forward must pass its own check first (its cache feeds the backward pass);
    while it is still a stub, the reference forward is used and the verdict says so.
    """
    row = REGISTRY[name]
    if forward is None:
        return None, ""
    res = check(row.forward, forward, time_limit=time_limit)
    if res.status == "todo":
        return None, say(f" [your {row.forward} is not written yet, so the cache came from the reference: {row.cache}]",
                         f" [你的 {row.forward} 还没写，所以 cache 来自参考实现：{row.cache}]")
    if not res:
        raise Fail(say(f"your {row.forward} does not pass yet, and its cache feeds {name}: {res.message}",
                       f"你的 {row.forward} 还没通过，而 {name} 用的是它的 cache：{res.message}"), res.hint(),
                   status="fail")
    return forward, ""


def _limit(time_limit) -> float:
    if time_limit is None:
        return get_time_limit()
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or not time_limit > 0:
        raise ValueError(f"time_limit must be a number of seconds > 0, got {time_limit!r}; e.g. time_limit=30")
    return float(time_limit)


def check(name: str, fn: Callable, hint: bool = False, forward: Callable | None = None,
          time_limit: float | None = None) -> CheckResult:
    """Check the learner's `fn` for exercise `name` against the package's reference.

    `name` is one of `EXERCISES`; `fn` has the reference's signature. For a backward pass,
    `forward` is the learner's own forward function (its cache is what `fn` receives);
    without it the reference forward makes the cache. `hint=True` adds the hint to the
    verdict line. `time_limit` (seconds, default `get_time_limit()`, 5 s unless changed)
    bounds each call of `fn`: one that takes longer gets a verdict naming the case. Returns a
    `CheckResult` (truthy when every case passes); never raises for a bug in `fn`, not even
    for `sys.exit()` or a loop that never ends.
    """
    if name not in REGISTRY:
        raise ValueError(f"no exercise named {name!r}; the exercises are: {', '.join(EXERCISES)}")
    row = REGISTRY[name]
    limit = _limit(time_limit)
    formula = say("formula: ", "公式：") + row.formula if row.formula else ""
    if not callable(fn):
        return CheckResult(name, False, say(f"expected the function itself, got {describe(fn)} — pass {name} without "
                                            f"calling it: check({name!r}, {name})",
                                            f"需要函数本身，得到的是{describe(fn)} —— 传 {name} 时不要调用它："
                                            f"check({name!r}, {name})"), status="fail", show_hint=hint)
    run = Run(limit)
    note = ""
    token = CURRENT.set(run)
    try:
        if row.forward:
            forward, note = _forward_for(name, forward, limit)
        n = row.checker(fn, forward)
    except Todo as todo:
        if todo.line is not None:
            return CheckResult(name, False, say(
                f"still raises NotImplementedError at line {todo.line}, below the code you wrote — remove the raise "
                f"line (and the # YOUR CODE HERE comment)",
                f"第 {todo.line} 行仍然抛出 NotImplementedError，而它上面已经有你写的代码 —— 删掉这行 raise"
                f"（以及 # YOUR CODE HERE 注释）"),
                say("the stub's raise runs before your return statement, so your code never gets to answer",
                    "存根里的 raise 在你的 return 之前执行，所以你的代码根本没有机会返回结果"),
                status="fail", show_hint=hint)
        return CheckResult(name, False, todo_message(), say("replace the `raise NotImplementedError` line with your code",
                                                            "把 `raise NotImplementedError` 这一行换成你的代码"),
                           status="todo", show_hint=hint)
    except Fail as fail:
        message = fail.message[len(name) + 1:] if fail.message.startswith(name + " ") else fail.message
        case = run.case
        return CheckResult(name, False, message + note, "; ".join(p for p in (fail.hint, formula) if p),
                           status=fail.status, show_hint=hint, case=case.label if case else "",
                           inputs=case.inputs() if case else "")
    finally:
        CURRENT.reset(token)
    return CheckResult(name, True, say(f"all {n} cases pass", f"全部 {n} 个用例都通过了"), status="pass", cases=n,
                       show_hint=hint)
