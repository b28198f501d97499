"""Verdicts: the `CheckResult` a learner sees, and the exceptions checkers raise to produce one.

A checker walks its cases and raises `Fail` (or `Todo`) at the first thing that is wrong;
`check()` turns that into a `CheckResult`. `values_wrong` and `crash` build the two most
common failures, so every checker words them the same way.
"""
from __future__ import annotations

import html
import linecache
import traceback
from pathlib import Path

TODO_MESSAGE = "not implemented yet — fill in the cell marked YOUR CODE HERE"

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # cs231n_utils/


class CheckResult:
    """Outcome of `check`: truthy when every case passes; `str()` is the one-line verdict.

    Attributes: `name`, `passed` (bool), `status` ("pass", "fail", "todo" = not implemented
    yet, "error" = crashed), `message` (the verdict without the name), `cases` (how many
    cases were run). `hint()` returns a hint for what failed.
    """

    def __init__(self, name: str, passed: bool, message: str, hint: str = "",
                 status: str | None = None, cases: int = 0, show_hint: bool = False):
        self.name = name
        self.passed = bool(passed)
        self.message = message
        self.status = status or ("pass" if passed else "fail")
        self.cases = cases
        self._hint = hint
        self._show_hint = show_hint

    def __bool__(self) -> bool:
        return self.passed

    def hint(self) -> str:
        """A hint for the first thing that is wrong (or a note that nothing is)."""
        if self.passed:
            return f"{self.name}: nothing to fix, every case passes"
        return self._hint or f"{self.name}: compare your code with the docstring's formula, one case at a time"

    def __str__(self) -> str:
        line = f"{self.name}: {self.message}"
        if self._show_hint and not self.passed and self._hint:
            line += f" | hint: {self._hint}"
        return line

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour = {"pass": "#1a7f37", "todo": "#9a6700"}.get(self.status, "#cf222e")
        mark = {"pass": "\u2714", "todo": "\u270e"}.get(self.status, "\u2718")
        return (f'<span style="color:{colour};font-family:monospace">{mark} '
                f"{html.escape(str(self))}</span>")


class Fail(Exception):
    """Raised by a checker at the first wrong thing: `message` is the verdict, `hint` the hint."""

    def __init__(self, message: str, hint: str = "", status: str = "fail"):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.status = status


class Todo(Exception):
    """Raised when the learner's function still raises NotImplementedError."""


class Case:
    """One test case: a label, the feature it adds (for 'wrong only ...' verdicts), inputs."""

    def __init__(self, label: str, feature: str, hint: str, index: int = 0, **data):
        self.index = index
        self.label = label
        self.feature = feature
        self.hint = hint
        self.data = data

    def __getattr__(self, key):
        try:
            return self.__dict__["data"][key]
        except KeyError:
            raise AttributeError(key) from None


def values_wrong(label: str, case: Case, index: int, also_right: str = "") -> Fail:
    """'<label> values wrong already in the simplest case' or '... only <feature>'."""
    extra = f" ({also_right} right)" if also_right else ""
    if index == 0:
        return Fail(f"{label} values wrong already in the simplest case '{case.label}'{extra}"
                    + (f" — {case.hint}" if case.hint else ""), case.hint)
    return Fail(f"{label} values wrong only {case.feature} (case '{case.label}'; the "
                f"{index} simpler case{'s pass' if index > 1 else ' passes'}){extra} — {case.hint}",
                case.hint)


def _where(tb) -> str:
    """' at line N: <code>' for the innermost frame of the learner's own code, if any."""
    found = ""
    for frame, lineno in traceback.walk_tb(tb):
        filename = frame.f_code.co_filename
        if "site-packages" in filename or filename.startswith("<frozen"):
            continue
        try:
            if _PACKAGE_ROOT in Path(filename).resolve().parents:
                continue  # the package's own frames (checker, shapes, ...) are not the learner's
        except (OSError, ValueError):
            pass
        code = linecache.getline(filename, lineno).strip()
        found = f" at line {lineno}" + (f": {code[:70]}" if code else "")
    return found


def crash(exc: BaseException, who: str, case) -> Fail:
    """The verdict for an exception raised by the learner's code in `case`."""
    after = ""
    if isinstance(case, Case):
        if case.index and case.feature:
            after = (f" (the {case.index} simpler case{'s pass' if case.index > 1 else ' passes'}: look at "
                     f"what changes {case.feature})")
        case = case.label
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(text) > 110:
        text = text[:107] + "..."
    what = f"{type(exc).__name__}" + (f" ({text})" if text else "")
    return Fail(f"{who} raised {what} in case '{case}'{after}{_where(exc.__traceback__)}",
                f"run your function on that case by hand and print the shapes of the arrays "
                f"involved just before the failing line", status="error")
