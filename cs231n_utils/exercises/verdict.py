"""Verdicts: the `CheckResult` a learner sees, and the exceptions checkers raise to produce one.

A checker walks its cases and raises `Fail` (or `Todo`) at the first thing that is wrong;
`check()` turns that into a `CheckResult`. `values_wrong` and `crash` build the two most
common failures, so every checker words them the same way. Every message comes in English
and Chinese (`cs231n_utils.i18n.say`), chosen when the check runs.
"""
from __future__ import annotations

import html
import linecache
import sysconfig
import traceback
from pathlib import Path

from ..i18n import say

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # cs231n_utils/
_NOT_LEARNERS = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")})

#: The status of a result -> (mark, colour) of its line in a notebook.
_MARKS = {"pass": ("\u2714", "#1a7f37"), "todo": ("\u270e", "#9a6700"), "fail": ("\u2718", "#cf222e"),
          "error": ("\u2718", "#cf222e"), "timeout": ("\u2718", "#cf222e")}


def todo_message() -> str:
    return say("not implemented yet — fill in the cell marked YOUR CODE HERE",
               "尚未实现 —— 请在标有 YOUR CODE HERE 的单元格里写代码")


class CheckResult:
    """Outcome of `check`: truthy when every case passes; `str()` is the one-line verdict.

    Attributes: `name`, `passed` (bool), `status` ("pass", "fail", "todo" = not implemented
    yet, "error" = crashed, "timeout" = did not finish in time), `message` (the verdict without
    the name), `cases` (how many cases were run), `case` (label of the failing case, or "").
    `hint()` adds what the verdict does not say: the formula, the failing case's input and a
    next step. In a notebook the result shows as a coloured line with a check mark or a cross
    (`_repr_html_`); `print(result)` prints the plain line.
    """

    def __init__(self, name: str, passed: bool, message: str, hint: str = "",
                 status: str | None = None, cases: int = 0, show_hint: bool = False,
                 case: str = "", inputs: str = ""):
        self.name = name
        self.passed = bool(passed)
        self.message = message
        self.status = status or ("pass" if passed else "fail")
        self.cases = cases
        self.case = case
        self._hint = hint
        self._inputs = inputs
        self._show_hint = show_hint

    def __bool__(self) -> bool:
        return self.passed

    def hint(self) -> str:
        """One line that adds to the verdict (never repeats it): formula, failing input, next step."""
        if self.passed:
            return say(f"{self.name}: nothing to fix, every case passes",
                       f"{self.name}：没有要改的，所有用例都通过了")
        parts = [self._hint]
        if self.case:  # a failing case is known: show its input and what to do with it
            if self._inputs:
                parts.append(say(f"the failing case '{self.case}' gets {self._inputs}",
                                 f"未通过的用例 '{self.case}' 的输入是 {self._inputs}"))
            parts.append(_NEXT_STEP.get(self.status, _NEXT_STEP["fail"])())
        elif self.status == "todo":
            parts.append(_NEXT_STEP["todo"]())
        kept: list[str] = []
        for part in "; ".join(p for p in parts if p).split("; "):
            part = part.strip().rstrip(".")
            if part and part not in self.message and not any(part in k for k in kept):
                kept.append(part)
        if not kept:
            return say(f"{self.name}: compare your code with the docstring's formula, one case at a time",
                       f"{self.name}：逐个用例，把你的代码和文档字符串里的公式对照")
        return say("; ", "；").join(kept)

    def __str__(self) -> str:
        line = f"{self.name}: {self.message}"
        if self._show_hint and not self.passed:
            line += " | " + say("hint: ", "提示：") + self.hint()
        return line

    def __repr__(self) -> str:
        return f"{_MARKS[self.status][0]} {self}"

    def _repr_html_(self) -> str:
        mark, colour = _MARKS[self.status]
        hint = ""
        if self._show_hint and not self.passed:
            hint = (f'<br><span style="color:#57606a">{html.escape(say("hint: ", "提示："))}'
                    f"{html.escape(self.hint())}</span>")
        # One element with a fixed class: tools/nbval_sanitize.cfg masks it, so nbval compares
        # the plain text only. Words wrap at spaces, never inside a word.
        return (f'<div class="cs231n-verdict cs231n-verdict-{self.status}" style="border-left:4px solid '
                f"{colour};padding:2px 8px;white-space:normal;word-break:normal;overflow-wrap:normal;"
                f'hyphens:none"><span style="color:{colour};font-weight:bold">{mark} '
                f"{html.escape(self.name)}</span>: {html.escape(self.message)}{hint}</div>")


_NEXT_STEP = {
    "fail": lambda: say("next: call your function on that input in a new cell and compare one entry with "
                        "the formula by hand",
                        "下一步：在新单元格里用这个输入调用你的函数，手算一个元素与公式对比"),
    "error": lambda: say("next: call your function on that input in a new cell and print the shapes of the "
                         "arrays just before the failing line",
                         "下一步：在新单元格里用这个输入调用你的函数，在出错的那一行之前打印各数组的形状"),
    "timeout": lambda: say("next: call your function on that input with a print inside each loop to see "
                           "which loop never ends",
                           "下一步：用这个输入调用你的函数，在每个循环里加 print，看哪个循环停不下来"),
    "todo": lambda: say("replace the `raise NotImplementedError` line with your code",
                        "把 `raise NotImplementedError` 这一行换成你的代码"),
}


class Fail(Exception):
    """Raised by a checker at the first wrong thing: `message` is the verdict, `hint` adds to it."""

    def __init__(self, message: str, hint: str = "", status: str = "fail"):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.status = status


class Todo(Exception):
    """Raised when the learner's function still raises the stub's NotImplementedError.

    `line` is set when code was written above the stub's raise line (the raise was forgotten)."""

    def __init__(self, line: int | None = None):
        super().__init__(line)
        self.line = line


class Case:
    """One test case: a label, the feature it adds (for 'wrong only ...' verdicts), hints, inputs.

    `hint` is advice for the forward pass, `back` for the backward pass of the same case.
    """

    def __init__(self, label: str, feature: str, hint: str, index: int = 0, back: str = "", **data):
        self.index = index
        self.label = label
        self.feature = feature
        self.hint = hint
        self.back = back
        self.data = data

    def __getattr__(self, key):
        try:
            return self.__dict__["data"][key]
        except KeyError:
            raise AttributeError(key) from None

    def inputs(self) -> str:
        """The case's inputs in a few words: arrays by shape, settings by value."""
        parts = []
        for key, value in self.data.items():
            shape = getattr(value, "shape", None)
            parts.append(f"{key} {tuple(shape)}" if shape is not None else f"{key}={value!r}")
        return ", ".join(parts)


def passing(index: int) -> str:
    """'the 1 simpler case passes' / 'the 3 simpler cases pass'."""
    return say(f"the {index} simpler case{'s pass' if index > 1 else ' passes'}",
               f"前 {index} 个更简单的用例都通过了" if index > 1 else "前 1 个更简单的用例通过了")


def values_wrong(label: str, case: Case, index: int, also_right: str = "", hint: str | None = None) -> Fail:
    """'<label> values wrong already in the simplest case' or '... only <feature>'.

    `hint` replaces the case's (forward) hint, e.g. with backward advice."""
    advice = case.hint if hint is None else hint
    extra = say(f" ({also_right} right)", f"（{also_right} 是对的）") if also_right else ""
    tail = f" — {advice}" if advice else ""
    if index == 0:
        return Fail(say(f"{label} values wrong already in the simplest case '{case.label}'{extra}{tail}",
                        f"{label} 的数值在最简单的用例 '{case.label}' 里就不对{extra}{tail}"))
    return Fail(say(f"{label} values wrong only {case.feature} (case '{case.label}'; {passing(index)}){extra}{tail}",
                    f"{label} 的数值只在{case.feature}时不对（用例 '{case.label}'；{passing(index)}）{extra}{tail}"))


def learner_frame(tb):
    """(filename, line number) of the innermost frame of the learner's own code, or None."""
    found = None
    for frame, lineno in traceback.walk_tb(tb):
        filename = frame.f_code.co_filename
        if "site-packages" in filename or filename.startswith(("<frozen",) + _NOT_LEARNERS):
            continue  # Python's own library and installed packages
        try:
            if _PACKAGE_ROOT in Path(filename).resolve().parents:
                continue  # the package's own frames (checker, shapes, ...) are not the learner's
        except (OSError, ValueError):
            pass
        found = (filename, lineno, frame)
    return found


def _where(tb) -> str:
    """' at line N: <code>' for the innermost frame of the learner's own code, if any."""
    found = learner_frame(tb)
    if found is None:
        return ""
    code = linecache.getline(found[0], found[1]).strip()
    return say(" at line", " 出错位置：第") + f" {found[1]}" + say("", " 行") + (f": {code[:70]}" if code else "")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text[:107] + "..." if len(text) > 110 else text


def crash(exc: BaseException, who: str, case) -> Fail:
    """The verdict for an exception raised by the learner's code in `case`."""
    after = ""
    if isinstance(case, Case):
        if case.index and case.feature:
            after = say(f" ({passing(case.index)}: look at what changes {case.feature})",
                        f"（{passing(case.index)}：看看{case.feature}时有什么不同）")
        case = case.label
    text = _first_line(exc)
    what = f"{type(exc).__name__}" + (f" ({text})" if text else "")
    return Fail(say(f"{who} raised {what} in case '{case}'{after}{_where(exc.__traceback__)}",
                    f"{who} 在用例 '{case}' 中抛出 {what}{after}{_where(exc.__traceback__)}"),
                status="error")


def stub_left_in(tb) -> tuple[str, int | None]:
    """Where a NotImplementedError came from: ("stub", None) for the untouched stub, ("left", line)
    for a stub's raise with code written above it (the learner forgot to delete it), ("other", None)
    when the learner's line that raised is not a `raise NotImplementedError` at all.

    The learner edition's stub is `# YOUR CODE HERE` followed by the raise line; if the line
    above the raise (skipping blanks and comments) is code rather than that comment, the def
    line or the docstring, the learner wrote code and forgot to delete the raise.
    """
    found = learner_frame(tb)
    if found is None:
        return "stub", None
    filename, lineno, frame = found
    lines = linecache.getlines(filename, frame.f_globals)
    if not 0 < lineno <= len(lines):
        return "stub", None  # no source to look at: assume the stub
    code = lines[lineno - 1].split("#")[0]
    if "raise" not in code or "NotImplementedError" not in code:
        return "other", None
    for k in range(lineno - 2, max(frame.f_code.co_firstlineno - 1, 0) - 1, -1):
        text = lines[k].strip()
        if not text:
            continue
        if text.startswith("#"):
            if "YOUR CODE HERE" in text:
                return "stub", None
            continue
        if text.startswith(("def ", "async def ")) or text.endswith(('"""', "'''", ":")):
            return "stub", None
        return "left", lineno
    return "stub", None
