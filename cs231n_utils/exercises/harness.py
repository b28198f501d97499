"""Calling the learner's function safely and comparing what it returns, for every checker.

`call` runs the learner's code on copies of the inputs, within a time limit, and turns
whatever goes wrong into a `Fail`; `as_tuple`, `check_array`, `close`, `signature` and
`wrong_values` compare the outputs with the reference's and name known mistakes.

Time limit
----------
A learner's function that never returns must not hang `check()`. In the main thread (a
notebook cell, a script, pytest) the call runs under a `SIGALRM` interval timer: when the
limit passes, the handler raises `TimeUp` (a BaseException, so `except Exception` in the
learner's code does not swallow it) inside the learner's loop, which really stops it. It is
raised again every 0.1 s; if a bare `except:` swallows it three times, it is raised on every
line of the learner's frames (a line trace), including inside that except clause. Elsewhere (another thread, or a
system without `setitimer`) the call runs in a daemon thread that is abandoned when the limit
passes: `check()` returns on time, but the abandoned call may keep a CPU busy until it ends.
The limit is per call of the learner's function (each case calls it once or twice); the
default is `DEFAULT_TIME_LIMIT` seconds, changed for a session with `set_time_limit(s)` or
the environment variable `CS231N_CHECK_TIME_LIMIT`, and for one check with
`check(..., time_limit=s)`.
"""
from __future__ import annotations

import contextvars
import copy
import os
import signal
import sys
import threading
import time
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from ..i18n import say
from .verdict import Case, Fail, Todo, crash, passing, stub_left_in, values_wrong

#: Seconds one call of the learner's function may take before the check gives up on it.
DEFAULT_TIME_LIMIT = 5.0

_session_limit: float | None = None


def set_time_limit(seconds: float) -> float:
    """Set the per-call time limit of every later check (seconds > 0); returns it."""
    global _session_limit
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ValueError(f"the time limit must be a number of seconds > 0, got {seconds!r}; e.g. set_time_limit(10)")
    _session_limit = float(seconds)
    return _session_limit


def get_time_limit() -> float:
    """The limit in use: set_time_limit's, else $CS231N_CHECK_TIME_LIMIT, else DEFAULT_TIME_LIMIT."""
    if _session_limit is not None:
        return _session_limit
    try:
        value = float(os.environ.get("CS231N_CHECK_TIME_LIMIT", DEFAULT_TIME_LIMIT))
    except ValueError:
        return DEFAULT_TIME_LIMIT
    return value if value > 0 else DEFAULT_TIME_LIMIT


class Run:
    """What one `check()` is doing: its time limit and the case being run (for the hint)."""

    def __init__(self, time_limit: float):
        self.time_limit = time_limit
        self.case: Case | None = None


CURRENT: contextvars.ContextVar[Run | None] = contextvars.ContextVar("cs231n_check_run", default=None)


def current_run() -> Run:
    run = CURRENT.get()
    return run if run is not None else Run(get_time_limit())


class TimeUp(BaseException):
    """Raised inside the learner's code when its time is up."""


def _call_with_alarm(fn: Callable, args: Sequence, seconds: float):
    armed = {"on": True, "fired": 0}
    trace_before = sys.gettrace()

    def raise_on_every_line(frame, event, arg):
        if not armed["on"]:
            return None
        if event == "line":  # not on "exception": that one is still inside the try that swallows it
            raise TimeUp()
        return raise_on_every_line

    def on_alarm(signum, frame):
        if not armed["on"]:
            return  # a signal already on its way when the call ended
        armed["fired"] += 1
        if armed["fired"] > 3:
            # TimeUp was swallowed (a bare `except:` in a loop): raise it on every line of the
            # learner's frames, so it also fires inside the except clause, which nothing catches
            while frame is not None and frame.f_code is not _call_with_alarm.__code__:
                frame.f_trace_lines = True
                frame.f_trace = raise_on_every_line
                frame = frame.f_back
            sys.settrace(raise_on_every_line)
        raise TimeUp()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    began = time.monotonic()
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds, 0.1)
    try:
        return fn(*args)
    finally:
        armed["on"] = False  # a signal or trace event already on its way now does nothing
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        sys.settrace(trace_before)
        if outer_delay:  # someone else's timer was running: give it back what is left of it
            left = max(outer_delay - (time.monotonic() - began), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)


def _call_in_thread(fn: Callable, args: Sequence, seconds: float):
    box: dict[str, Any] = {}

    def target():
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                box["value"] = fn(*args)
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=target, name="cs231n-check", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeUp()  # the worker is abandoned; as a daemon it cannot keep the process alive
    if "error" in box:
        raise box["error"]
    return box["value"]


def run_limited(fn: Callable, args: Sequence, seconds: float | None):
    """fn(*args), raising TimeUp after `seconds` (see the module docstring for how)."""
    if not seconds:
        return fn(*args)
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        return _call_with_alarm(fn, args, seconds)
    return _call_in_thread(fn, args, seconds)


def case_rng(i: int) -> np.random.Generator:
    """The generator of case `i` (every case table draws from its own fixed seeds)."""
    return np.random.default_rng(231_000 + i)


def shape_text(a) -> str:
    return str(tuple(int(s) for s in a))


def describe(value) -> str:
    if isinstance(value, np.ndarray):
        return say(f"an array of shape {value.shape}", f"形状为 {value.shape} 的数组")
    if isinstance(value, (tuple, list)):
        return say(f"a {type(value).__name__} of length {len(value)}", f"长度为 {len(value)} 的 {type(value).__name__}")
    return say(f"a {type(value).__name__}", f"一个 {type(value).__name__}")


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


def _label(case) -> str:
    return case.label if isinstance(case, Case) else str(case)


def _timed_out(who: str, case, seconds: float) -> Fail:
    after = f" ({passing(case.index)})" if isinstance(case, Case) and case.index else ""
    return Fail(say(f"{who} did not finish within {seconds:g} s in case '{_label(case)}'{after} — look for a loop "
                    f"that never ends, e.g. a while loop whose counter never changes",
                    f"{who} 在用例 '{_label(case)}' 中 {seconds:g} 秒内没有结束{after} —— 找一找停不下来的循环，"
                    f"例如计数器从不改变的 while 循环"),
                say("a naive loop over these small cases takes milliseconds; a slow but correct "
                    "function passes with check(..., time_limit=30)",
                    "在这些小用例上，朴素的循环只需几毫秒；如果函数正确但很慢，可以用 check(..., time_limit=30)"),
                status="timeout")


def call(fn: Callable, args: Sequence, case, who: str, names: Sequence[str] = (), allow=(), share=()):
    """Call the learner's fn on copies of args (except the indices in `share`), within the time
    limit; map errors to verdicts; catch in-place edits of array arguments."""
    run = current_run()
    if isinstance(case, Case):
        run.case = case
    originals = copy_args(args)
    given = [a if i in share else copy.deepcopy(a) for i, a in enumerate(args)]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            out = run_limited(fn, given, run.time_limit)
    except NotImplementedError as exc:
        state, line = stub_left_in(exc.__traceback__)
        if state == "other":  # raised by something the learner called, not by the stub
            raise crash(exc, who, case) from None
        raise Todo(line) from None
    except TimeUp:
        raise _timed_out(who, case, run.time_limit) from None
    except SystemExit:
        raise Fail(say(f"{who} called sys.exit() (or exit()/quit()) in case '{_label(case)}' — a function "
                       f"must return its result: remove that call, or raise ValueError for bad input",
                       f"{who} 在用例 '{_label(case)}' 中调用了 sys.exit()（或 exit()/quit()）—— 函数要返回结果："
                       f"删掉这个调用，输入不合法时改为 raise ValueError"),
                   say("sys.exit() would stop the whole notebook kernel", "sys.exit() 会让整个 notebook 内核停下来"),
                   status="error") from None
    except allow:
        raise
    except Exception as exc:  # any learner bug becomes a one-line verdict
        raise crash(exc, who, case) from None
    for i, (before, after) in enumerate(zip(originals, given)):
        if isinstance(before, np.ndarray) and not same(before, after):
            arg = names[i] if i < len(names) else f"argument {i + 1}"
            raise Fail(say(f"{who} changes its input {arg} in place (case '{_label(case)}') — work on a copy, "
                           f"e.g. {arg} = {arg}.copy(), or build a new array",
                           f"{who} 原地修改了输入 {arg}（用例 '{_label(case)}'）—— 请在副本上计算，"
                           f"例如 {arg} = {arg}.copy()，或新建一个数组"),
                       say("the caller may still need its arrays (the cache keeps x for the backward "
                           "pass); never write into an argument",
                           "调用者之后可能还要用这些数组（缓存 cache 为反向传播保存了 x）；不要写入参数"))
    return out


def as_tuple(got, n: int, names: str, who: str):
    if not isinstance(got, (tuple, list)) or len(got) != n:
        raise Fail(say(f"{who} should return a tuple {names}, but returned {describe(got)}",
                       f"{who} 应当返回元组 {names}，实际返回了{describe(got)}"),
                   say(f"end the function with `return {names.strip('()')}`",
                       f"函数最后写 `return {names.strip('()')}`"))
    return tuple(got)


def close(got, expected, rtol: float = 1e-6, atol: float = 1e-8) -> bool:
    got = np.asarray(got)
    return bool(got.shape == np.shape(expected) and np.all(np.isfinite(got))
                and np.allclose(got, expected, rtol=rtol, atol=atol))


def _not_finite(label: str, got: np.ndarray, expected: np.ndarray, case: str) -> None:
    if got.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(got) & np.isfinite(expected)
    if not bad.any():
        return
    index = tuple(int(k) for k in np.argwhere(bad)[0])
    value = got[index]
    kind = "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")
    count = int(bad.sum())
    raise Fail(say(f"{label} contains {kind} at index {index} in case '{case}' ({count} non-finite "
                   f"entr{'ies' if count > 1 else 'y'}; expected finite numbers) — look for a division by zero, "
                   f"a log of 0, an exp that overflows or an array left unfilled",
                   f"{label} 在用例 '{case}' 中的索引 {index} 处是 {kind}（共 {count} 个非有限值；应为有限数）"
                   f"—— 检查是否除以 0、对 0 取 log、exp 溢出，或数组有未填的位置"),
               say("np.isfinite(a).all() tells whether an array is clean; print the intermediate arrays to "
                   "see where the first NaN/inf appears",
                   "np.isfinite(a).all() 可判断数组是否干净；打印中间结果，找出第一个 NaN/inf 出现的地方"))


def check_array(label: str, got, expected: np.ndarray, case: str, shape_hint: str = "",
                shape_diag: Callable[[tuple], tuple[str, str] | None] | None = None) -> None:
    """Type, shape, dtype and finiteness of one output (values are compared by the caller)."""
    if not isinstance(got, np.ndarray):
        raise Fail(say(f"{label} is {describe(got)}, expected a numpy array of shape {shape_text(expected.shape)}",
                       f"{label} 是{describe(got)}，应为形状 {shape_text(expected.shape)} 的 numpy 数组"),
                   say("build it with np.zeros(...) and fill it in", "用 np.zeros(...) 建好再填入"))
    if got.shape != expected.shape:
        if shape_diag is not None:
            special = shape_diag(got.shape)
            if special:
                raise Fail(special[0] + say(f" (case '{case}')", f"（用例 '{case}'）"), special[1])
        raise Fail(say(f"wrong {label} shape {shape_text(got.shape)}, expected {shape_text(expected.shape)} "
                       f"in case '{case}'", f"{label} 的形状 {shape_text(got.shape)} 不对，用例 '{case}' 中应为 "
                       f"{shape_text(expected.shape)}") + (f" — {shape_hint}" if shape_hint else ""),
                   say("print the shapes you compute and compare with the docstring", "打印你算出的形状，与文档字符串对照"))
    if got.dtype != expected.dtype:
        if got.dtype == np.float32 and expected.dtype == np.float64:
            raise Fail(say(f"{label} is computed in float32 (dtype float32, expected float64; case '{case}'): "
                           f"use float64 for the check",
                           f"{label} 是用 float32 算的（dtype float32，应为 float64；用例 '{case}'）：检查时请用 float64"),
                       say("np.zeros(shape) is float64 by default; np.zeros_like(x) keeps x's dtype",
                           "np.zeros(shape) 默认就是 float64；np.zeros_like(x) 沿用 x 的 dtype"))
        raise Fail(say(f"{label} has dtype {got.dtype} for {expected.dtype} input, expected {expected.dtype} "
                       f"(case '{case}')", f"{label} 的 dtype 是 {got.dtype}，输入是 {expected.dtype}，应为 "
                       f"{expected.dtype}（用例 '{case}'）"),
                   say("allocate with np.zeros(shape, dtype=x.dtype) or np.zeros_like(x); integer arrays "
                       "silently round every value", "用 np.zeros(shape, dtype=x.dtype) 或 np.zeros_like(x) 分配；"
                       "整数数组会悄悄把每个值取整"))
    _not_finite(label, got, expected, case)


def signature(got, variants: Sequence[tuple[Callable[[], Any], str, str]], case: Case) -> None:
    """If got matches a known-wrong variant, raise its verdict."""
    for make, message, hint in variants:
        try:
            with np.errstate(all="ignore"):
                bad = make()
        except Exception:
            continue
        if bad is not None and np.shape(got) == np.shape(bad) and close(got, bad, 1e-7, 1e-10):
            raise Fail(message + say(f" (case '{case.label}')", f"（用例 '{case.label}'）"), hint)


def float32_like(got, expected) -> bool:
    """True when got misses expected by no more than float32 rounding would (but by more than float64's)."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if got.shape != expected.shape or not np.all(np.isfinite(got)):
        return False
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-12)
    return bool(np.allclose(got, expected, rtol=1e-4, atol=1e-4 * scale))


def wrong_values(label: str, got, expected, case: Case, index: int, also_right: str = "",
                 hint: str | None = None) -> Fail:
    """The verdict for values that do not match: float32 rounding, or `values_wrong`."""
    if float32_like(got, expected):
        return Fail(say(f"{label} is off by float32 rounding in case '{case.label}': computed in float32: "
                        f"use float64 for the check",
                        f"{label} 在用例 '{case.label}' 中的误差像是 float32 的舍入：你是用 float32 算的，"
                        f"检查时请用 float64"),
                    say("look for .astype(np.float32) or dtype=np.float32; the formula itself looks right",
                        "找一找 .astype(np.float32) 或 dtype=np.float32；公式本身看起来是对的"))
    return values_wrong(label, case, index, also_right, hint)


def overlap_only(got, expected, count) -> bool:
    """True when the wrong entries of got are exactly those where count > 1 (some windows overlap
    and some do not): the fingerprint of `=` where `+=` was needed."""
    many = count > 1
    if not many.any() or not (count == 1).any():
        return False
    wrong = ~np.isclose(got, expected, rtol=1e-6, atol=1e-8)
    return bool(np.array_equal(wrong, many))


def must_refuse(fn, args, label: str, who: str, why: str, names: Sequence[str] = (), hint: str = "") -> None:
    """The learner's fn must raise ValueError for a setting that does not fit (`why` shows the numbers)."""
    try:
        got = call(fn, args, label, who, names, allow=(Exception,))
    except ValueError:
        return
    except (Todo, Fail):
        raise
    except Exception as exc:
        raise Fail(say(f"raised {type(exc).__name__} for {label}, which does not fit ({why}) — raise "
                       f"ValueError instead, with a message that says why",
                       f"对 {label} 抛出了 {type(exc).__name__}，这个设置放不下（{why}）—— 应当 raise ValueError，"
                       f"并在消息里说明原因"),
                   say("`raise ValueError(...)`; assert can be switched off and says nothing useful",
                       "用 `raise ValueError(...)`；assert 可能被关闭，也说明不了问题")) from None
    raise Fail(say(f"returned {got!r} for {label}, which does not fit ({why}) — raise ValueError "
                   f"with a message that says why",
                   f"对 {label} 返回了 {got!r}，但这个设置放不下（{why}）—— 应当 raise ValueError 并说明原因"), hint)


def backward_case(fn, forward, reference_pass: tuple[Callable, Callable], args: Sequence, case: Case,
                  seed: int, who: str, run_forward: Callable | None = None):
    """One case of a backward exercise: (the learner's output, the reference's, dout).

    The reference forward on `args` gives the upstream gradient's shape (dout is drawn from
    `seed`) and the reference cache; the learner's `forward` gives the cache the learner's
    `fn` receives (`run_forward(forward, args, case)` replaces the plain call when needed)."""
    ref_forward, ref_backward = reference_pass
    out, ref_cache = ref_forward(*copy_args(args))
    dout = case_rng(seed).standard_normal(out.shape)
    if run_forward is not None:
        _, cache = run_forward(forward, args, case)
    else:
        _, cache = call(forward, copy_args(args), case, who.replace("_backward", "_forward"))
    got = call(fn, (dout, cache), case, who, ("dout", "cache"))
    return got, ref_backward(dout.copy(), ref_cache), dout
