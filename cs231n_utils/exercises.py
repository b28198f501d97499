"""Exercise checkers (练习检查) and the learner-edition command.

Checkers
--------
`check(name, fn)` runs a learner's function on a sequence of cases ordered from simple to
hard (one image and one channel first, then several channels, filters and images,
non-square inputs, padding, stride > 1, overlapping windows, ...) and compares it with the
reference in `cs231n_utils`. It returns a `CheckResult`: truthy when every case passes, and
whose `str()` is one line naming the first thing that is wrong, for example

    conv_forward: wrong out shape (2, 3, 4, 4), expected (2, 3, 3, 3) in case 'stride 2' ...
    max_pool_backward: dx wrong only where pooling windows overlap — accumulate with += ...

`result.hint()` gives a hint; `check(..., hint=True)` puts it on the verdict line. A function
that still raises NotImplementedError gets "not implemented yet"; one that crashes gets the
exception and the case, never a traceback. `EXERCISES` lists the names `check` knows.

For backward passes, pass your own forward function (`forward=conv_forward`): its cache is
what your backward receives. Without it (or while it is not implemented yet) the reference
forward makes the cache: conv (x, w, b, conv_param) and affine (x, w, b) as in CS231n;
max pool and batch norm use the reference's own cache format, so pass `forward=` for them.
relu_backward's cache is x, the ReLU's input, as in CS231n. Warnings raised by the learner's
code are silenced during a check (the verdict names the problem instead).

Notebook cells
--------------
An exercise cell (tag `exercise`) only defines the function(s), with the solution between the
markers; the signature, the docstring and a final `return` may stay outside them. It must
run with nothing but `numpy as np` defined before it (import anything else in the cell). The
next code cell (tag `exercise-check`) prints the verdict:

    from cs231n_utils.exercises import check
    print(check("conv_backward", conv_backward, forward=conv_forward))

Later cells should use the package's own layers, not the learner's function, so that "Run
all" still works in the learner edition.

Learner edition
---------------
    python -m cs231n_utils.exercises learner-edition [--force] [--out DIR] [notebooks...]

writes every `notebooks/NN_*.ipynb` (or the ones named) into `exercises/` with each region
between `### BEGIN SOLUTION` and `### END SOLUTION` replaced by `# YOUR CODE HERE` and
`raise NotImplementedError(...)`, all outputs and execution counts cleared and the stored
widget state removed. Notebooks without exercises are copied too (outputs cleared), so the
learner has the whole workbook in one folder; `exercises/` is a sibling of `notebooks/`, so
relative paths such as `../assets/...` keep working. An existing file is never
overwritten: it is skipped, and the command says so. `--force` first copies it to
`exercises/.backup/<name>.<YYYYmmdd-HHMMSS>.ipynb`, then writes the fresh edition.
"""
from __future__ import annotations

import argparse
import copy
import datetime as _dt
import html
import importlib
import linecache
import shutil
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["check", "CheckResult", "EXERCISES", "reference", "strip_solutions",
           "restore_solutions", "make_learner_notebook", "restore_notebook", "learner_edition",
           "main", "BEGIN_SOLUTION", "END_SOLUTION", "STUB_COMMENT", "STUB_RAISE"]

# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------

TODO_MESSAGE = "not implemented yet — fill in the cell marked YOUR CODE HERE"


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


class _Fail(Exception):
    def __init__(self, message: str, hint: str = "", status: str = "fail"):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.status = status


class _Todo(Exception):
    pass


# --------------------------------------------------------------------------------------
# Helpers shared by the checkers
# --------------------------------------------------------------------------------------

_REFERENCES = {
    "conv_output_size": ("cs231n_utils.shapes", "conv_output_size"),
    "conv_forward": ("cs231n_utils.layers", "conv_forward_naive"),
    "conv_backward": ("cs231n_utils.layers", "conv_backward_naive"),
    "max_pool_forward": ("cs231n_utils.layers", "max_pool_forward_naive"),
    "max_pool_backward": ("cs231n_utils.layers", "max_pool_backward_naive"),
    "affine_forward": ("cs231n_utils.layers", "affine_forward"),
    "affine_backward": ("cs231n_utils.layers", "affine_backward"),
    "relu_forward": ("cs231n_utils.layers", "relu_forward"),
    "relu_backward": ("cs231n_utils.layers", "relu_backward"),
    "spatial_batchnorm_forward": ("cs231n_utils.layers", "spatial_batchnorm_forward"),
    "spatial_batchnorm_backward": ("cs231n_utils.layers", "spatial_batchnorm_backward"),
    "softmax_loss": ("cs231n_utils.layers", "softmax_loss"),
    "conv_layer_cost": ("cs231n_utils.architectures", "conv_layer_cost"),
}

# The forward pass whose cache each backward exercise receives.
_FORWARD_OF = {"conv_backward": "conv_forward", "max_pool_backward": "max_pool_forward",
               "affine_backward": "affine_forward",
               "spatial_batchnorm_backward": "spatial_batchnorm_forward"}


def reference(name: str) -> Callable:
    """The package's reference implementation behind exercise `name` (imported on demand)."""
    if name not in _REFERENCES:
        raise ValueError(f"no reference named {name!r}; known: {', '.join(sorted(_REFERENCES))}")
    module, attr = _REFERENCES[name]
    return getattr(importlib.import_module(module), attr)


def _shape(a) -> str:
    return str(tuple(int(s) for s in a))


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"


def _copy_args(args):
    return [copy.deepcopy(a) for a in args]


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:
        return True


def _where(tb) -> str:
    """' at line N: <code>' for the innermost frame of the learner's own code, if any."""
    here = Path(__file__).resolve().parent
    found = ""
    for frame, lineno in traceback.walk_tb(tb):
        filename = frame.f_code.co_filename
        if filename == __file__ or "site-packages" in filename or filename.startswith("<frozen"):
            continue
        try:
            if Path(filename).resolve().parent == here:
                continue
        except (OSError, ValueError):
            pass
        code = linecache.getline(filename, lineno).strip()
        found = f" at line {lineno}" + (f": {code[:70]}" if code else "")
    return found


def _crash(exc: BaseException, who: str, case) -> _Fail:
    after = ""
    if isinstance(case, _Case):
        if case.index and case.feature:
            after = (f" (the {case.index} simpler case{'s pass' if case.index > 1 else ' passes'}: look at "
                     f"what changes {case.feature})")
        case = case.label
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(text) > 110:
        text = text[:107] + "..."
    what = f"{type(exc).__name__}" + (f" ({text})" if text else "")
    return _Fail(f"{who} raised {what} in case '{case}'{after}{_where(exc.__traceback__)}",
                 f"run your function on that case by hand and print the shapes of the arrays "
                 f"involved just before the failing line", status="error")


def _call(fn: Callable, args: Sequence, case: str, who: str, names: Sequence[str] = (),
          allow=()):
    """Call the learner's fn on copies of args; map errors to verdicts; catch in-place edits."""
    originals = _copy_args(args)
    given = _copy_args(args)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            out = fn(*given)
    except NotImplementedError:
        raise _Todo() from None
    except allow:
        raise
    except Exception as exc:  # any learner bug becomes a one-line verdict
        raise _crash(exc, who, case) from None
    for i, (before, after) in enumerate(zip(originals, given)):
        if isinstance(before, np.ndarray) and not _same(before, after):
            arg = names[i] if i < len(names) else f"argument {i + 1}"
            label = case.label if isinstance(case, _Case) else case
            raise _Fail(f"{who} changes its input {arg} in place (case '{label}') — work on a copy, "
                        f"e.g. {arg} = {arg}.copy(), or build a new array",
                        "the caller may still need its arrays (the cache keeps x for the backward "
                        "pass); never write into an argument")
    return out


def _tuple(got, n: int, names: str, who: str):
    if not isinstance(got, (tuple, list)) or len(got) != n:
        raise _Fail(f"{who} should return a tuple {names}, but returned {_describe(got)}",
                    f"end the function with `return {names.strip('()')}`")
    return tuple(got)


def _close(got, expected, rtol: float = 1e-6, atol: float = 1e-8) -> bool:
    got = np.asarray(got)
    return bool(got.shape == np.shape(expected) and np.all(np.isfinite(got))
                and np.allclose(got, expected, rtol=rtol, atol=atol))


def _array(label: str, got, expected: np.ndarray, case: str, shape_hint: str = "",
           shape_diag: Callable[[tuple], tuple[str, str] | None] | None = None) -> None:
    """Type, shape and dtype of one output (values are compared by the caller)."""
    if not isinstance(got, np.ndarray):
        raise _Fail(f"{label} is {_describe(got)}, expected a numpy array of shape "
                    f"{_shape(expected.shape)}", "build it with np.zeros(...) and fill it in")
    if got.shape != expected.shape:
        if shape_diag is not None:
            special = shape_diag(got.shape)
            if special:
                raise _Fail(special[0] + f" (case '{case}')", special[1])
        raise _Fail(f"wrong {label} shape {_shape(got.shape)}, expected {_shape(expected.shape)} "
                    f"in case '{case}'" + (f" — {shape_hint}" if shape_hint else ""),
                    shape_hint or "print the shapes you compute and compare with the docstring")
    if got.dtype != expected.dtype:
        raise _Fail(f"{label} has dtype {got.dtype} for {expected.dtype} input, expected "
                    f"{expected.dtype} (case '{case}')",
                    f"allocate with np.zeros(shape, dtype=x.dtype) or np.zeros_like(x); "
                    f"integer or float32 arrays silently lose precision")


class _Case:
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


def _values_wrong(label: str, case: _Case, index: int, also_right: str = "") -> _Fail:
    extra = f" ({also_right} right)" if also_right else ""
    if index == 0:
        return _Fail(f"{label} values wrong already in the simplest case '{case.label}'{extra}"
                     + (f" — {case.hint}" if case.hint else ""), case.hint)
    return _Fail(f"{label} values wrong only {case.feature} (case '{case.label}'; the "
                 f"{index} simpler case{'s pass' if index > 1 else ' passes'}){extra} — {case.hint}",
                 case.hint)


def _signature(got, variants: Sequence[tuple[Callable[[], Any], str, str]], case: _Case):
    """If got matches a known-wrong variant, raise its verdict."""
    for make, message, hint in variants:
        try:
            with np.errstate(all="ignore"):
                bad = make()
        except Exception:
            continue
        if bad is not None and np.shape(got) == np.shape(bad) and _close(got, bad, 1e-7, 1e-10):
            raise _Fail(f"{message} (case '{case.label}')", hint)


def _rng(i: int) -> np.random.Generator:
    return np.random.default_rng(231_000 + i)


_REFERENCE_CACHE = {
    "conv_forward": "(x, w, b, conv_param)",
    "max_pool_forward": "(x, (pool_height, pool_width, stride, H', W'))",
    "affine_forward": "(x, w, b)",
    "spatial_batchnorm_forward": "the reference's own format (pass forward= to use yours)",
}


def _forward_for(name: str, forward: Callable | None):
    """(forward to use, note for the verdict) for backward exercise `name`.

    The learner's forward must pass its own check first (its cache feeds the backward pass);
    while it is still a stub, the reference forward is used and the verdict says so.
    """
    fwd_name = _FORWARD_OF[name]
    if forward is None:
        return None, ""
    res = check(fwd_name, forward)
    if res.status == "todo":
        return None, (f" [your {fwd_name} is not written yet, so the cache came from the reference: "
                      f"{_REFERENCE_CACHE[fwd_name]}]")
    if not res:
        raise _Fail(f"your {fwd_name} does not pass yet, and its cache feeds {name}: "
                    f"{res.message}", res.hint())
    return forward, ""


# --------------------------------------------------------------------------------------
# conv_output_size
# --------------------------------------------------------------------------------------

def _check_conv_output_size(fn, forward=None) -> int:
    cases = [
        ((7, 3, 1, 0, 1), "", "W' = (W + 2*P - F) / S + 1; do not forget the + 1"),
        ((32, 5, 1, 0, 1), "", "W' = (W + 2*P - F) / S + 1"),
        ((5, 5, 1, 0, 1), "when the filter is as large as the input", "one position fits: (5 - 5)/1 + 1 = 1"),
        ((7, 3, 1, 1, 1), "with padding", "padding adds P zeros on EACH side: W + 2*P"),
        ((32, 5, 1, 2, 1), "with padding", "padding adds P zeros on EACH side: W + 2*P"),
        ((7, 3, 2, 0, 1), "when stride > 1", "divide by the stride: (W + 2*P - F) / S + 1"),
        ((9, 3, 2, 1, 1), "with stride and padding together", "(W + 2*P - F) / S + 1, padding first, then divide"),
        ((7, 3, 1, 0, 2), "with dilation > 1", "a dilated filter spans D*(F - 1) + 1 pixels: use that instead of F"),
        ((12, 3, 3, 1, 2), "with dilation, stride and padding together", "(W + 2*P - (D*(F - 1) + 1)) / S + 1"),
    ]
    invalid = [
        ((6, 3, 2, 0, 1), "(6 + 2*0 - 3)/2 + 1 = 2.5 is not an integer"),
        ((8, 3, 2, 1, 1), "(8 + 2*1 - 3)/2 + 1 = 4.5 is not an integer"),
        ((3, 5, 1, 0, 1), "filter 5 does not fit in input 3: (3 - 5)/1 + 1 = -1 < 1"),
        ((5, 3, 1, 0, 3), "a filter 3 with dilation 3 spans 7 > 5: (5 - 7)/1 + 1 = -1 < 1"),
    ]
    names = ("size", "filter_size", "stride", "pad", "dilation")
    for i, (args, feature, hint) in enumerate(cases):
        label = "conv_output_size" + str(args)
        expected = (args[0] + 2 * args[3] - (args[4] * (args[1] - 1) + 1)) // args[2] + 1
        case = _Case(label, feature, hint, i)
        got = _call(fn, args, case, "conv_output_size", names)
        if isinstance(got, bool) or not isinstance(got, (int, np.integer, float, np.floating)):
            raise _Fail(f"returned {_describe(got)} for {label}, expected the int {expected}",
                        "return a single integer")
        if isinstance(got, (float, np.floating)):
            if float(got) == expected:
                raise _Fail(f"returns the float {float(got)!r} for {label}, expected the int {expected} "
                            f"— use // once you have checked that the division is exact",
                            "(W + 2*P - F) / S gives a float in Python 3; check `% S == 0`, then use //")
            raise _Fail(f"returned {float(got):g} for {label}, expected the int {expected}", hint)
        if int(got) != expected:
            if i == 0 and int(got) == expected - 1:
                raise _Fail(f"returned {int(got)} for {label}, expected {expected} — forgot the + 1 "
                            f"(the first position counts too)", hint)
            raise _values_wrong(f"output size ({int(got)} for {label}, expected {expected})", case, i)
    for args, why in invalid:
        label = "conv_output_size" + str(args)
        try:
            got = _call(fn, args, label, "conv_output_size", names, allow=(Exception,))
        except ValueError:
            continue
        except (_Todo, _Fail):
            raise
        except Exception as exc:
            raise _Fail(f"raised {type(exc).__name__} for {label}, which does not fit ({why}) — raise "
                        f"ValueError instead, with a message that says why",
                        "`raise ValueError(...)`; assert can be switched off and says nothing useful") from None
        raise _Fail(f"returned {got!r} for {label}, which does not fit ({why}) — raise ValueError "
                    f"with a message that says why",
                    "check `size + 2*pad >= effective filter` and `(size + 2*pad - eff) % stride == 0`, "
                    "and raise ValueError(f'...') when either fails")
    return len(cases) + len(invalid)


# --------------------------------------------------------------------------------------
# conv_forward / conv_backward
# --------------------------------------------------------------------------------------

def _conv_cases():
    spec = [
        # label, feature, hint, x shape, w shape, stride, pad
        ("1 image, 1 channel, 4x4 input, 3x3 filter", "", "out[n, f, i, j] = sum(window * w[f]) + b[f]",
         (1, 1, 4, 4), (1, 1, 3, 3), 1, 0),
        ("3 input channels", "with several input channels",
         "sum over the input channels too: the filter w[f] has shape (C, HH, WW)",
         (1, 3, 4, 4), (1, 3, 3, 3), 1, 0),
        ("3 channels, 2 filters", "with several filters",
         "output channel f uses filter w[f] and bias b[f]",
         (1, 3, 4, 4), (2, 3, 3, 3), 1, 0),
        ("batch of 2", "with a batch > 1", "loop over every image n of the batch",
         (2, 3, 4, 4), (2, 3, 3, 3), 1, 0),
        ("non-square 5x7 input, 3x2 filter", "with non-square inputs or filters",
         "heights go with HH and H', widths with WW and W'; do not mix them up",
         (2, 3, 5, 7), (2, 3, 3, 2), 1, 0),
        ("padding 1", "with padding",
         "pad x with np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) and slide over the padded array",
         (2, 3, 5, 5), (2, 3, 3, 3), 1, 1),
        ("stride 2", "when stride > 1",
         "output position (i, j) starts at row i*stride and column j*stride of the (padded) input",
         (2, 3, 7, 7), (2, 3, 3, 3), 2, 0),
        ("stride 2, padding 1, non-square 7x9 input, 3x5 filter", "with stride, padding and non-square shapes together",
         "H' = 1 + (H + 2*pad - HH) // stride, W' = 1 + (W + 2*pad - WW) // stride; windows start at i*stride",
         (2, 3, 7, 9), (4, 3, 3, 5), 2, 1),
        ("padding 2, 5x5 filter, 4 filters", "with padding 2",
         "pad by `pad` on each side, then slide the filter over the padded input",
         (3, 2, 6, 6), (4, 2, 5, 5), 1, 2),
        ("2x2 filter, stride 2 (windows do not overlap)", "with stride 2 and a 2x2 filter",
         "output position (i, j) starts at row i*stride and column j*stride",
         (1, 2, 6, 4), (3, 2, 2, 2), 2, 0),
    ]
    cases = []
    for i, (label, feature, hint, xs, ws, stride, pad) in enumerate(spec):
        rng = _rng(i)
        x = rng.standard_normal(xs)
        w = rng.standard_normal(ws)
        b = rng.standard_normal(ws[0])
        cases.append(_Case(label, feature, hint, i, x=x, w=w, b=b,
                           conv_param={"stride": stride, "pad": pad}))
    return cases


def _conv_shape_hint(case) -> str:
    H, W = case.x.shape[2:]
    HH, WW = case.w.shape[2:]
    s, p = case.conv_param["stride"], case.conv_param["pad"]
    return (f"check H' = 1 + (H + 2*pad - HH) // stride = 1 + ({H} + 2*{p} - {HH}) // {s}, "
            f"W' = 1 + ({W} + 2*{p} - {WW}) // {s}, and out has shape (N, F, H', W')")


def _check_conv_forward(fn, forward=None) -> int:
    ref = reference("conv_forward")
    cases = _conv_cases()
    for i, case in enumerate(cases):
        args = (case.x, case.w, case.b, case.conv_param)
        got = _tuple(_call(fn, args, case, "conv_forward", ("x", "w", "b", "conv_param")),
                     2, "(out, cache)", "conv_forward")
        expected = ref(*_copy_args(args))[0]
        out = got[0]
        _array("out", out, expected, case.label, _conv_shape_hint(case))
        if _close(out, expected):
            continue
        _signature(out, [
            (lambda: ref(case.x, case.w, np.zeros_like(case.b), case.conv_param)[0],
             "the bias is missing: add b[f] to every output of filter f",
             "out[n, f, i, j] = np.sum(window * w[f]) + b[f]"),
            (lambda: ref(case.x, case.w[:, :, ::-1, ::-1].copy(), case.b, case.conv_param)[0],
             "the filter is flipped: a conv layer computes cross-correlation, use w[f] as it is",
             "no flipping in the forward pass; the flip appears only in the backward pass"),
        ], case)
        raise _values_wrong("out", case, i)
    return len(cases)


def _coverage(x_shape, w_shape, stride, pad) -> np.ndarray:
    """How many conv windows cover each input pixel (padding cropped)."""
    N, C, H, W = x_shape
    HH, WW = w_shape[2:]
    Ho = 1 + (H + 2 * pad - HH) // stride
    Wo = 1 + (W + 2 * pad - WW) // stride
    count = np.zeros((H + 2 * pad, W + 2 * pad), dtype=int)
    for i in range(Ho):
        for j in range(Wo):
            count[i * stride:i * stride + HH, j * stride:j * stride + WW] += 1
    return np.broadcast_to(count[pad:pad + H, pad:pad + W], x_shape)


def _overlap_only(got, expected, count) -> bool:
    many = count > 1
    return bool(many.any() and np.allclose(got[~many], expected[~many], rtol=1e-6, atol=1e-8)
                and not np.allclose(got[many], expected[many], rtol=1e-6, atol=1e-8))


def _check_conv_backward(fn, forward=None) -> int:
    fwd = forward or reference(_FORWARD_OF["conv_backward"])
    ref_f, ref_b = reference("conv_forward"), reference("conv_backward")
    cases = _conv_cases()
    for i, case in enumerate(cases):
        args = (case.x, case.w, case.b, case.conv_param)
        out, ref_cache = ref_f(*_copy_args(args))
        dout = _rng(100 + i).standard_normal(out.shape)
        _, cache = _call(fwd, _copy_args(args), case, "conv_forward")
        got = _tuple(_call(fn, (dout, cache), case, "conv_backward", ("dout", "cache")),
                     3, "(dx, dw, db)", "conv_backward")
        exp = ref_b(dout.copy(), ref_cache)
        N, C, H, W = case.x.shape
        F = case.w.shape[0]
        pad = case.conv_param["pad"]

        def dx_shape(shape, pad=pad, H=H, W=W):
            if shape == (N, C, H + 2 * pad, W + 2 * pad) and pad:
                return (f"dx has the padded shape {_shape(shape)}, expected x's shape {_shape((N, C, H, W))} "
                        f"— crop the padding: dx = dx_pad[:, :, pad:pad+H, pad:pad+W]",
                        "the padding zeros are not inputs; their gradient is thrown away")
            if len(shape) == 4 and shape[:2] == (N, C) and 0 in shape[2:]:
                return (f"dx is empty, shape {_shape(shape)} — dx_pad[:, :, pad:-pad] is empty when pad = 0; "
                        f"crop with dx_pad[:, :, pad:pad+H, pad:pad+W]", "-0 is 0, so a[0:-0] is a[0:0]")
            return None

        def db_shape(shape, F=F):
            return (f"db summed over the wrong axes: got shape {_shape(shape)}, expected (F,) = ({F},) "
                    f"— sum dout over axes (0, 2, 3)", "db[f] = dout[:, f, :, :].sum()")

        _array("dx", got[0], exp[0], case.label, "dx has the shape of x", dx_shape)
        _array("dw", got[1], exp[1], case.label, "dw has the shape of w: (F, C, HH, WW)")
        _array("db", got[2], exp[2], case.label, "db has shape (F,)", db_shape)
        ok = [_close(g, e) for g, e in zip(got, exp)]
        if all(ok):
            continue
        right = " and ".join(n for n, k in zip(("dx", "dw", "db"), ok) if k)
        if not ok[0]:
            s = case.conv_param["stride"]
            if _overlap_only(got[0], exp[0], _coverage(case.x.shape, case.w.shape, s, pad)):
                raise _Fail(f"dx wrong only where windows overlap (case '{case.label}') — accumulate "
                            f"with dx_pad[..., window] += ..., not =",
                            "a pixel inside several windows gets a gradient from each of them")
            raise _Fail(_values_wrong("dx", case, i, right).message,
                        "dx_pad[n, :, window] += w[f] * dout[n, f, i, j], then crop the padding")
        if not ok[1]:
            _signature(got[1], [(lambda: exp[1] / N,
                                 "dw is averaged over the batch: sum the contributions, do not divide by N",
                                 "dw[f] += window * dout[n, f, i, j] for every n, i, j")], case)
            raise _Fail(_values_wrong("dw", case, i, right).message,
                        "dw[f] += x_pad[n, :, window] * dout[n, f, i, j]: shared weights sum over positions")
        _signature(got[2], [(lambda: exp[2] / N, "db is averaged over the batch: sum, do not divide",
                             "db = dout.sum(axis=(0, 2, 3))")], case)
        raise _Fail(_values_wrong("db", case, i, right).message, "db = dout.sum(axis=(0, 2, 3))")
    return len(cases)


# --------------------------------------------------------------------------------------
# max pooling
# --------------------------------------------------------------------------------------

def _pool_cases():
    spec = [
        ("1 image, 1 channel, 4x4 input, 2x2 windows, stride 2", "",
         "out[n, c, i, j] = max of the window x[n, c, i*stride:i*stride+ph, j*stride:j*stride+pw]",
         (1, 1, 4, 4), 2, 2, 2),
        ("batch of 2, 3 channels", "with several channels or a batch > 1",
         "pool every image and every channel separately", (2, 3, 4, 4), 2, 2, 2),
        ("non-square 4x6 input", "with non-square inputs",
         "H' = 1 + (H - pool_height) // stride and W' = 1 + (W - pool_width) // stride",
         (2, 3, 4, 6), 2, 2, 2),
        ("overlapping 3x3 windows, stride 2", "with overlapping windows (stride < window)",
         "window (i, j) starts at (i*stride, j*stride), not at (i*pool_height, j*pool_width); "
         "in the backward pass overlapping windows add up (+=)", (2, 2, 7, 9), 3, 3, 2),
        ("overlapping 2x2 windows, stride 1", "with overlapping windows (stride < window)",
         "window (i, j) starts at (i*stride, j*stride), not at (i*pool_height, j*pool_width); "
         "in the backward pass overlapping windows add up (+=)", (2, 2, 5, 4), 2, 2, 1),
        ("non-square 2x3 windows, stride 2", "with non-square windows",
         "pool_height goes with rows, pool_width with columns", (2, 2, 6, 7), 2, 3, 2),
        ("3x3 windows, stride 3", "with stride 3", "window (i, j) starts at (i*stride, j*stride)",
         (1, 2, 9, 6), 3, 3, 3),
    ]
    cases = []
    for i, (label, feature, hint, xs, ph, pw, s) in enumerate(spec):
        rng = _rng(50 + i)
        # distinct values, no ties; mostly negative so "max starts at 0" shows
        x = rng.permutation(np.arange(np.prod(xs), dtype=np.float64)).reshape(xs)
        x = (x - 0.7 * x.size) / x.size * 4 + rng.uniform(0, 0.01, xs)
        cases.append(_Case(label, feature, hint, i, x=x,
                           pool_param={"pool_height": ph, "pool_width": pw, "stride": s}))
    return cases


def _windows(x, pp):
    ph, pw, s = pp["pool_height"], pp["pool_width"], pp["stride"]
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
    for i in range(Ho):
        for j in range(Wo):
            yield i, j, (slice(i * s, i * s + ph), slice(j * s, j * s + pw))


def _pool_variant(x, pp, how):
    ph, pw, s = pp["pool_height"], pp["pool_width"], pp["stride"]
    N, C, H, W = x.shape
    out = np.zeros((N, C, 1 + (H - ph) // s, 1 + (W - pw) // s))
    for i, j, (r, c) in _windows(x, pp):
        win = x[:, :, r, c]
        out[:, :, i, j] = {"mean": win.mean(axis=(2, 3)), "max0": np.maximum(win.max(axis=(2, 3)), 0),
                           "allc": np.broadcast_to(win.max(axis=(1, 2, 3))[:, None], (N, C))}[how]
    return out


def _check_max_pool_forward(fn, forward=None) -> int:
    ref = reference("max_pool_forward")
    cases = _pool_cases()
    for i, case in enumerate(cases):
        args = (case.x, case.pool_param)
        got = _tuple(_call(fn, args, case, "max_pool_forward", ("x", "pool_param")),
                     2, "(out, cache)", "max_pool_forward")
        expected = ref(*_copy_args(args))[0]
        N, C, H, W = case.x.shape
        pp = case.pool_param
        _array("out", got[0], expected, case.label,
               f"check H' = 1 + (H - pool_height) // stride = 1 + ({H} - {pp['pool_height']}) // {pp['stride']}, "
               f"W' = 1 + ({W} - {pp['pool_width']}) // {pp['stride']}")
        if _close(got[0], expected):
            continue
        _signature(got[0], [
            (lambda: _pool_variant(case.x, pp, "mean"), "you averaged the window: max pooling takes its maximum",
             "use window.max(), not window.mean()"),
            (lambda: _pool_variant(case.x, pp, "max0"),
             "values wrong when every value in a window is negative — start the running max from the "
             "window's first value (or -inf), not from 0", "np.max(window) needs no starting value"),
            (lambda: _pool_variant(case.x, pp, "allc"),
             "the max is taken across channels: pool each channel separately",
             "window = x[n, c, rows, cols] for one channel c"),
        ], case)
        raise _values_wrong("out", case, i)
    return len(cases)


def _route_count(x, pp) -> np.ndarray:
    """How many windows route their gradient to each input position (the argmax 'switches')."""
    count = np.zeros(x.shape, dtype=int)
    N, C = x.shape[:2]
    for i, j, (r, c) in _windows(x, pp):
        win = x[:, :, r, c].reshape(N, C, -1)
        k = win.argmax(axis=2)
        pw = c.stop - c.start
        rows, cols = r.start + k // pw, c.start + k % pw
        for n in range(N):
            for ch in range(C):
                count[n, ch, rows[n, ch], cols[n, ch]] += 1
    return count


def _pool_back_variant(x, pp, dout, how):
    dx = np.zeros_like(x)
    ph, pw = pp["pool_height"], pp["pool_width"]
    for i, j, (r, c) in _windows(x, pp):
        g = dout[:, :, i, j][:, :, None, None]
        if how == "assign":  # dx[window] = mask * dout: later windows wipe earlier ones
            win = x[:, :, r, c]
            dx[:, :, r, c] = (win == win.max(axis=(2, 3), keepdims=True)) * g
        elif how == "spread":
            dx[:, :, r, c] += g
        elif how == "mean":
            dx[:, :, r, c] += g / (ph * pw)
    return dx


def _check_max_pool_backward(fn, forward=None) -> int:
    fwd = forward or reference(_FORWARD_OF["max_pool_backward"])
    ref_f, ref_b = reference("max_pool_forward"), reference("max_pool_backward")
    cases = _pool_cases()
    for i, case in enumerate(cases):
        args = (case.x, case.pool_param)
        out, ref_cache = ref_f(*_copy_args(args))
        dout = _rng(150 + i).standard_normal(out.shape)
        _, cache = _call(fwd, _copy_args(args), case, "max_pool_forward")
        dx = _call(fn, (dout, cache), case, "max_pool_backward", ("dout", "cache"))
        if isinstance(dx, tuple) and len(dx) == 1:
            dx = dx[0]
        expected = ref_b(dout.copy(), ref_cache)
        _array("dx", dx, expected, case.label, "dx has the shape of x: (N, C, H, W)")
        if _close(dx, expected):
            continue
        if _overlap_only(dx, expected, _route_count(case.x, case.pool_param)):
            raise _Fail(f"dx wrong only where pooling windows overlap (case '{case.label}') — accumulate "
                        f"with += instead of =",
                        "when two windows share their max, that pixel receives both gradients: dx[...] += dout[...]")
        pp = case.pool_param
        _signature(dx, [
            (lambda: _pool_back_variant(case.x, pp, dout, "assign"),
             "dx wrong where pooling windows overlap: later windows overwrite earlier ones — "
             "accumulate with += instead of =",
             "dx[n, c, rows, cols] += mask * dout[n, c, i, j]"),
            (lambda: _pool_back_variant(case.x, pp, dout, "spread"),
             "the gradient is spread over the whole window: route it only to the max (the 'switch')",
             "mask = (window == window.max()); dx[window] += mask * dout[n, c, i, j]"),
            (lambda: _pool_back_variant(case.x, pp, dout, "mean"),
             "that is average-pool backward: max pooling sends the whole gradient to the max",
             "only the position of the max gets dout[n, c, i, j]; the others get 0"),
        ], case)
        raise _Fail(_values_wrong("dx", case, i).message, case.hint)
    return len(cases)


# --------------------------------------------------------------------------------------
# affine, relu
# --------------------------------------------------------------------------------------

def _affine_cases():
    spec = [
        ("2-D input (2, 4), 3 outputs", "", "out = x @ w + b", (2, 4), 3),
        ("1 example (1, 5)", "with a batch of 1", "keep the batch axis: out has shape (1, M)", (1, 5), 2),
        ("3-D input (3, 2, 5)", "with inputs of more than 2 dimensions",
         "flatten each example first: x.reshape(N, -1) @ w + b", (3, 2, 5), 4),
        ("4-D input (2, 3, 4, 4)", "with 4-D (image) input",
         "flatten each example first: x.reshape(x.shape[0], -1), row-major (the default order)", (2, 3, 4, 4), 5),
        ("4-D input, 1 example (1, 2, 3, 3)", "with a single 4-D example",
         "x.reshape(x.shape[0], -1) keeps the batch axis even for N = 1", (1, 2, 3, 3), 3),
    ]
    cases = []
    for i, (label, feature, hint, xs, M) in enumerate(spec):
        rng = _rng(200 + i)
        D = int(np.prod(xs[1:]))
        cases.append(_Case(label, feature, hint, i, x=rng.standard_normal(xs),
                           w=rng.standard_normal((D, M)), b=rng.standard_normal(M)))
    return cases


def _check_affine_forward(fn, forward=None) -> int:
    ref = reference("affine_forward")
    for i, case in enumerate(cases := _affine_cases()):
        args = (case.x, case.w, case.b)
        got = _tuple(_call(fn, args, case, "affine_forward", ("x", "w", "b")),
                     2, "(out, cache)", "affine_forward")
        expected = ref(*_copy_args(args))[0]
        _array("out", got[0], expected, case.label,
               "out has shape (N, M): flatten x to (N, D) with x.reshape(x.shape[0], -1)")
        if _close(got[0], expected):
            continue
        x2 = case.x.reshape(case.x.shape[0], -1)
        _signature(got[0], [
            (lambda: x2 @ case.w, "the bias is missing: out = x @ w + b", "add b, it broadcasts over the rows"),
            (lambda: case.x.reshape(case.x.shape[0], -1, order="F") @ case.w + case.b,
             "x is flattened in the wrong order: use x.reshape(N, -1) (row-major)",
             "order='F' or a transpose before reshaping scrambles the features"),
        ], case)
        raise _values_wrong("out", case, i)
    return len(cases)


def _check_affine_backward(fn, forward=None) -> int:
    fwd = forward or reference(_FORWARD_OF["affine_backward"])
    ref_f, ref_b = reference("affine_forward"), reference("affine_backward")
    for i, case in enumerate(cases := _affine_cases()):
        args = (case.x, case.w, case.b)
        out, ref_cache = ref_f(*_copy_args(args))
        dout = _rng(250 + i).standard_normal(out.shape)
        _, cache = _call(fwd, _copy_args(args), case, "affine_forward")
        got = _tuple(_call(fn, (dout, cache), case, "affine_backward", ("dout", "cache")),
                     3, "(dx, dw, db)", "affine_backward")
        exp = ref_b(dout.copy(), ref_cache)
        N = case.x.shape[0]
        D, M = case.w.shape

        def dx_shape(shape):
            if shape == (N, D) and case.x.ndim != 2:
                return (f"dx has the flattened shape {_shape(shape)}, expected x's shape {_shape(case.x.shape)} "
                        f"— reshape it back: dx = (dout @ w.T).reshape(x.shape)", "dx must match x exactly")
            return None

        def dw_shape(shape):
            if shape == (M, D):
                return (f"dw is transposed: shape {_shape(shape)}, expected w's shape {_shape((D, M))} "
                        f"— dw = x_flat.T @ dout", "dw has the shape of w: (D, M)")
            return None

        def db_shape(shape):
            if shape == (N, M):
                return (f"db not summed over the batch: shape {_shape(shape)}, expected (M,) = ({M},) "
                        f"— db = dout.sum(axis=0)", "the bias is shared by every example")
            return (f"db summed over the wrong axis: shape {_shape(shape)}, expected (M,) = ({M},) "
                    f"— db = dout.sum(axis=0)", "the bias is shared by every example")

        _array("dx", got[0], exp[0], case.label, "dx has the shape of x", dx_shape)
        _array("dw", got[1], exp[1], case.label, "dw has the shape of w", dw_shape)
        _array("db", got[2], exp[2], case.label, "db has shape (M,)", db_shape)
        ok = [_close(g, e) for g, e in zip(got, exp)]
        if all(ok):
            continue
        right = " and ".join(n for n, k in zip(("dx", "dw", "db"), ok) if k)
        for k, nm, formula in ((0, "dx", "dx = (dout @ w.T).reshape(x.shape)"),
                               (1, "dw", "dw = x.reshape(N, -1).T @ dout"), (2, "db", "db = dout.sum(axis=0)")):
            if not ok[k]:
                _signature(got[k], [(lambda k=k: exp[k] / N,
                                     f"{nm} is averaged over the batch: sum, do not divide by N",
                                     formula)], case)
                raise _Fail(_values_wrong(nm, case, i, right).message + f" — {formula}", formula)
    return len(cases)


def _relu_cases():
    rng = _rng(300)
    x1 = rng.standard_normal((3, 4))
    x2 = rng.standard_normal((2, 3, 4, 4))
    x3 = rng.standard_normal((2, 2, 3, 5))
    x3[x3 < -1] = 0.0  # exact zeros: ReLU's gradient there is taken as 0
    return [
        _Case("2-D input (3, 4)", "", "dx = dout * (x > 0)", x=x1),
        _Case("4-D input (2, 3, 4, 4)", "with 4-D input", "the mask x > 0 has the shape of x", 1, x=x2),
        _Case("input with exact zeros", "where x == 0 exactly",
              "ReLU's gradient at x = 0 is taken as 0: use x > 0, not x >= 0", 2, x=x3),
    ]


def _check_relu_backward(fn, forward=None) -> int:
    ref = reference("relu_backward")
    for i, case in enumerate(cases := _relu_cases()):
        dout = _rng(310 + i).standard_normal(case.x.shape)
        dx = _call(fn, (dout, case.x.copy()), case, "relu_backward", ("dout", "cache"))
        expected = ref(dout.copy(), case.x.copy())
        _array("dx", dx, expected, case.label, "dx has the shape of x and dout")
        if _close(dx, expected):
            continue
        x = case.x
        _signature(dx, [
            (lambda: (x > 0).astype(float), "dx is just the mask: multiply it by dout",
             "dx = dout * (x > 0)"),
            (lambda: dout * (dout > 0), "the mask comes from dout > 0; it must come from the forward input x > 0",
             "the cache is x, the ReLU's input; use it for the mask"),
            (lambda: dout * x, "dx = dout * x is the gradient of x**2/2, not of ReLU: use the mask (x > 0)",
             "dx = dout * (x > 0)"),
        ], case)
        raise _values_wrong("dx", case, i)
    return len(cases)


# --------------------------------------------------------------------------------------
# spatial batch normalisation
# --------------------------------------------------------------------------------------

def _bn_cases():
    spec = [
        ("train mode, gamma 1, beta 0, x (2, 3, 4, 5)", "", "normalise each channel over axes (0, 2, 3)",
         (2, 3, 4, 5), False, "train"),
        ("train mode, random gamma and beta", "with gamma and beta",
         "out = gamma[c] * x_hat + beta[c]: reshape them to (1, C, 1, 1)", (2, 3, 4, 5), True, "train"),
        ("train mode, batch of 4, 2 channels, 3x2 images", "with other shapes",
         "the statistics are over N*H*W values per channel", (4, 2, 3, 2), True, "train"),
    ]
    cases = []
    for i, (label, feature, hint, xs, affine, mode) in enumerate(spec):
        rng = _rng(400 + i)
        C = xs[1]
        x = 3.0 * rng.standard_normal(xs) + rng.standard_normal(C)[None, :, None, None] * 2
        gamma = rng.standard_normal(C) if affine else np.ones(C)
        beta = rng.standard_normal(C) if affine else np.zeros(C)
        cases.append(_Case(label, feature, hint, i, x=x, gamma=gamma, beta=beta,
                           bn_param={"mode": mode, "eps": 1e-5, "momentum": 0.9}))
    return cases


def _bn_variant(x, gamma, beta, eps, how):
    axes = {"bn": (0, 2, 3), "inst": (2, 3), "layer": (1, 2, 3), "n": (0,)}.get(how, (0, 2, 3))
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True, ddof=1 if how == "ddof" else 0)
    std = np.sqrt(var) + eps if how == "epsout" else np.sqrt(var + eps)
    return gamma[None, :, None, None] * (x - mu) / std + beta[None, :, None, None]


def _check_spatial_batchnorm_forward(fn, forward=None) -> int:
    ref = reference("spatial_batchnorm_forward")
    cases = _bn_cases()
    for i, case in enumerate(cases):
        args = (case.x, case.gamma, case.beta, dict(case.bn_param))
        got = _tuple(_call(fn, args, case, "spatial_batchnorm_forward", ("x", "gamma", "beta", "bn_param")),
                     2, "(out, cache)", "spatial_batchnorm_forward")
        expected = ref(*_copy_args(args))[0]
        _array("out", got[0], expected, case.label, "out has the shape of x")
        if _close(got[0], expected, 1e-6, 1e-7):
            continue
        x, g, b, eps = case.x, case.gamma, case.beta, case.bn_param["eps"]
        _signature(got[0], [
            (lambda: _bn_variant(x, g, b, eps, "n"),
             "normalised over axis 0 only: spatial batch norm uses one mean and variance per channel, "
             "over axes (0, 2, 3)", "mean = x.mean(axis=(0, 2, 3), keepdims=True)"),
            (lambda: _bn_variant(x, g, b, eps, "inst"),
             "normalised over axes (2, 3) (per image: instance norm); use axes (0, 2, 3)",
             "mean = x.mean(axis=(0, 2, 3), keepdims=True)"),
            (lambda: _bn_variant(x, g, b, eps, "layer"),
             "normalised over axes (1, 2, 3) (layer norm); use axes (0, 2, 3)",
             "mean = x.mean(axis=(0, 2, 3), keepdims=True)"),
            (lambda: _bn_variant(x, g, b, eps, "ddof"),
             "the variance divides by n - 1; batch norm uses the biased variance (divide by n)",
             "x.var(axis=(0, 2, 3)) with the default ddof=0"),
            (lambda: _bn_variant(x, g, b, eps, "epsout"),
             "eps belongs inside the square root: (x - mean) / sqrt(var + eps)", "np.sqrt(var + eps)"),
        ], case)
        raise _values_wrong("out", case, i)
    # running averages and test mode
    case = cases[1]
    C = case.x.shape[1]
    bn = {"mode": "train", "eps": 1e-5, "momentum": 0.9,
          "running_mean": np.full(C, 0.5), "running_var": np.full(C, 2.0)}
    mine, theirs = copy.deepcopy(bn), copy.deepcopy(bn)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            fn(case.x.copy(), case.gamma.copy(), case.beta.copy(), mine)
    except NotImplementedError:
        raise _Todo() from None
    except Exception as exc:
        raise _crash(exc, "spatial_batchnorm_forward", "train mode with running averages") from None
    ref(case.x.copy(), case.gamma.copy(), case.beta.copy(), theirs)
    mean_c, var_c = case.x.mean(axis=(0, 2, 3)), case.x.var(axis=(0, 2, 3))
    for key, batch in (("running_mean", mean_c), ("running_var", var_c)):
        have = mine.get(key)
        if have is None or not _close(have, theirs[key]):
            if have is not None and _close(have, bn[key]):
                raise _Fail(f"bn_param['{key}'] is not updated in train mode",
                            f"bn_param['{key}'] = momentum * bn_param['{key}'] + (1 - momentum) * batch value")
            if have is not None and _close(have, 0.1 * bn[key] + 0.9 * batch):
                raise _Fail(f"bn_param['{key}'] mixes with momentum the wrong way round: keep momentum * old",
                            f"{key} = momentum * {key} + (1 - momentum) * batch value")
            raise _Fail(f"bn_param['{key}'] wrong after a train-mode call",
                        f"{key} = momentum * {key} + (1 - momentum) * batch value (store it back in bn_param)")
    test_bn = dict(theirs, mode="test")
    got = _tuple(_call(fn, (case.x, case.gamma, case.beta, copy.deepcopy(test_bn)), "test mode",
                       "spatial_batchnorm_forward"), 2, "(out, cache)", "spatial_batchnorm_forward")
    expected = ref(case.x.copy(), case.gamma.copy(), case.beta.copy(), copy.deepcopy(test_bn))[0]
    _array("out", got[0], expected, "test mode", "out has the shape of x")
    if not _close(got[0], expected, 1e-6, 1e-7):
        if _close(got[0], _bn_variant(case.x, case.gamma, case.beta, 1e-5, "bn"), 1e-6, 1e-7):
            raise _Fail("test mode uses the batch statistics: normalise with bn_param's running_mean "
                        "and running_var", "in test mode the output of one image must not depend on the batch")
        raise _Fail("out wrong in test mode", "x_hat = (x - running_mean) / sqrt(running_var + eps), per channel")
    return len(cases) + 2


def _check_spatial_batchnorm_backward(fn, forward=None) -> int:
    fwd = forward or reference(_FORWARD_OF["spatial_batchnorm_backward"])
    ref_f, ref_b = reference("spatial_batchnorm_forward"), reference("spatial_batchnorm_backward")
    for i, case in enumerate(cases := _bn_cases()):
        args = (case.x, case.gamma, case.beta, dict(case.bn_param))
        out, ref_cache = ref_f(*_copy_args(args))
        dout = _rng(450 + i).standard_normal(out.shape)
        _, cache = _call(fwd, _copy_args(args), case, "spatial_batchnorm_forward")
        got = _tuple(_call(fn, (dout, cache), case, "spatial_batchnorm_backward", ("dout", "cache")),
                     3, "(dx, dgamma, dbeta)", "spatial_batchnorm_backward")
        exp = ref_b(dout.copy(), ref_cache)
        C = case.x.shape[1]

        def per_channel(nm):
            return lambda shape: (f"{nm} summed over the wrong axes: shape {_shape(shape)}, expected (C,) = ({C},) "
                                  f"— sum over axes (0, 2, 3)", f"{nm} has one number per channel")

        _array("dx", got[0], exp[0], case.label, "dx has the shape of x")
        _array("dgamma", got[1], exp[1], case.label, "", per_channel("dgamma"))
        _array("dbeta", got[2], exp[2], case.label, "", per_channel("dbeta"))
        ok = [_close(g, e, 1e-6, 1e-7) for g, e in zip(got, exp)]
        if all(ok):
            continue
        right = " and ".join(n for n, k in zip(("dx", "dgamma", "dbeta"), ok) if k)
        x = case.x
        mu = x.mean(axis=(0, 2, 3), keepdims=True)
        var = x.var(axis=(0, 2, 3), keepdims=True)
        std = np.sqrt(var + case.bn_param["eps"])
        g4 = case.gamma[None, :, None, None]
        if not ok[2]:
            raise _Fail(_values_wrong("dbeta", case, i, right).message, "dbeta = dout.sum(axis=(0, 2, 3))")
        if not ok[1]:
            _signature(got[1], [(lambda: (dout * x).sum(axis=(0, 2, 3)),
                                 "dgamma wrong: it multiplies dout by x; use the normalised x_hat",
                                 "dgamma = (dout * x_hat).sum(axis=(0, 2, 3))")], case)
            raise _Fail(_values_wrong("dgamma", case, i, right).message,
                        "dgamma = (dout * x_hat).sum(axis=(0, 2, 3))")
        m_wrong = x.shape[0]
        xh = (x - mu) / std

        def dx_with(m):
            dxh = dout * g4
            return (dxh - dxh.sum(axis=(0, 2, 3), keepdims=True) / m
                    - xh * (dxh * xh).sum(axis=(0, 2, 3), keepdims=True) / m) / std

        _signature(got[0], [
            (lambda: dout * g4 / std, "dx ignores that the mean and variance depend on x: "
             "add the paths through mean and var", "dx = (dxh - mean(dxh) - x_hat * mean(dxh * x_hat)) / std"),
            (lambda: dx_with(m_wrong), "dx divides by N; the mean and variance are over N*H*W values per channel",
             "m = N * H * W"),
        ], case)
        raise _Fail(_values_wrong("dx", case, i, right).message,
                    "dx = (dxh - dxh.mean(axis=(0,2,3)) - x_hat * (dxh * x_hat).mean(axis=(0,2,3))) / std")
    return len(cases)


# --------------------------------------------------------------------------------------
# softmax loss
# --------------------------------------------------------------------------------------

def _softmax_cases():
    spec = [
        ("1 example, 3 classes", "", "loss = -log(softmax(scores)[y])", 1, 3, 1.0),
        ("batch of 5, 4 classes", "with a batch > 1",
         "average over the batch: loss = mean_i(-log p[i, y[i]]), dscores = (p - one_hot(y)) / N", 5, 4, 1.0),
        ("batch of 3, 2 classes", "with 2 classes", "the same formula works for any number of classes", 3, 2, 1.0),
        ("large scores (about 1000)", "with large scores",
         "subtract each row's max score before exp: it does not change the softmax", 4, 10, 1000.0),
    ]
    cases = []
    for i, (label, feature, hint, N, C, scale) in enumerate(spec):
        rng = _rng(500 + i)
        scores = rng.standard_normal((N, C)) * (3.0 if scale > 1 else 1.0) + (scale if scale > 1 else 0)
        y = rng.integers(0, C, size=N)
        cases.append(_Case(label, feature, hint, i, scores=scores, y=y))
    return cases


def _check_softmax_loss(fn, forward=None) -> int:
    ref = reference("softmax_loss")
    for i, case in enumerate(cases := _softmax_cases()):
        args = (case.scores, case.y)
        loss, dscores = _tuple(_call(fn, args, case, "softmax_loss", ("scores", "y")),
                               2, "(loss, dscores)", "softmax_loss")
        e_loss, e_d = ref(case.scores.copy(), case.y.copy())
        N = case.scores.shape[0]
        if isinstance(loss, np.ndarray) and loss.size != 1:
            raise _Fail(f"loss is an array of shape {_shape(loss.shape)}, expected one number (case "
                        f"'{case.label}') — average the per-example losses: loss = losses.mean()",
                        "the loss is the mean of -log p[i, y[i]] over the batch")
        try:
            loss_v = float(np.asarray(loss).reshape(()))
        except Exception:
            raise _Fail(f"loss is {_describe(loss)}, expected a number", "return a float") from None
        if not np.isfinite(loss_v) or (isinstance(dscores, np.ndarray) and dscores.dtype.kind == "f"
                                       and not np.all(np.isfinite(dscores))):
            if "large" in case.label:
                raise _Fail(f"loss or dscores is nan/inf for large scores (case '{case.label}') — subtract each "
                            f"row's max score before exp", "exp(1000) overflows; shifting by the row max leaves "
                            "the softmax unchanged")
            raise _Fail(f"loss or dscores is nan/inf (case '{case.label}') — look for log(0) or a division by 0",
                        "print the probabilities: each row should be positive and sum to 1")
        _array("dscores", dscores, e_d, case.label, "dscores has the shape of scores: (N, C)")
        if not np.isclose(loss_v, e_loss, rtol=1e-6, atol=1e-9):
            if N > 1 and np.isclose(loss_v, e_loss * N, rtol=1e-6):
                raise _Fail(f"loss is summed over the batch (case '{case.label}') — divide by N (the loss is the mean)",
                            "loss = -np.log(p[np.arange(N), y]).mean()")
            raise _values_wrong("loss", case, i)
        if _close(dscores, e_d):
            continue
        p = e_d * N
        p[np.arange(N), case.y] += 1
        _signature(dscores, [
            (lambda: e_d * N if N > 1 else None, "dscores not divided by N: the loss is a mean over the batch",
             "dscores = (p - one_hot(y)) / N"),
            (lambda: p / N, "dscores is missing the -1 at the correct class: dscores = (p - one_hot(y)) / N",
             "dscores[np.arange(N), y] -= 1 before dividing by N"),
        ], case)
        raise _values_wrong("dscores", case, i)
    return len(cases)


# --------------------------------------------------------------------------------------
# conv_layer_cost (06_architectures)
# --------------------------------------------------------------------------------------

def _cost_cases():
    # (input_shape, num_filters, filter_size, stride, pad, bias, groups, dilation), feature, hint
    return [
        (((3, 32, 32), 8, 3, 1, 1, True, 1, 1), "", "params = F * C * k * k + F; macs = F * H' * W' * C * k * k"),
        (((3, 32, 32), 8, 3, 1, 1, False, 1, 1), "without bias", "no bias: params = F * C * k * k"),
        (((3, 227, 227), 96, 11, 4, 0, True, 1, 1), "when stride > 1",
         "H' = 1 + (H + 2*pad - k) // stride; MACs are counted per OUTPUT position"),
        (((16, 14, 10), 32, 1, 1, 0, True, 1, 1), "with a 1x1 filter on a non-square input",
         "a 1x1 conv mixes channels only: params = F * C + F"),
        (((32, 16, 16), 64, 3, 1, 1, True, 4, 1), "with groups > 1",
         "each filter sees only C / groups channels: params = F * (C // groups) * k * k + F"),
        (((32, 16, 16), 32, 3, 1, 1, True, 32, 1), "for a depthwise conv (groups = C)",
         "depthwise: every filter sees one channel; params = C * k * k + C"),
        (((8, 20, 20), 8, 3, 1, 2, True, 1, 2), "with dilation > 1",
         "dilation spreads the taps (span D*(k-1)+1) but does not add parameters"),
    ]


def _check_conv_layer_cost(fn, forward=None) -> int:
    ref = reference("conv_layer_cost")
    cases = _cost_cases()
    for i, (args, feature, hint) in enumerate(cases):
        label = f"input {args[0]}, {args[1]} filters {args[2]}x{args[2]}, stride {args[3]}, pad {args[4]}" + \
            ("" if args[5] else ", no bias") + (f", groups {args[6]}" if args[6] > 1 else "") + \
            (f", dilation {args[7]}" if args[7] > 1 else "")
        case = _Case(label, feature, hint, i)
        got = _tuple(_call(fn, args, case, "conv_layer_cost"), 3, "(out_shape, params, macs)", "conv_layer_cost")
        e_shape, e_params, e_macs = ref(*args)
        e_shape = tuple(int(s) for s in e_shape)
        try:
            g_shape = tuple(int(s) for s in got[0])
        except Exception:
            raise _Fail(f"out_shape is {_describe(got[0])}, expected a tuple like {e_shape}",
                        "out_shape = (F, H', W')") from None
        if g_shape != e_shape:
            raise _Fail(f"wrong out_shape {g_shape}, expected {e_shape} in case '{label}' — "
                        f"H' = 1 + (H + 2*pad - D*(k-1) - 1) // stride, and the depth is num_filters",
                        "out_shape = (num_filters, H', W')")
        for nm, g, e in (("params", got[1], e_params), ("macs", got[2], e_macs)):
            if isinstance(g, bool) or not isinstance(g, (int, np.integer)) and not (
                    isinstance(g, (float, np.floating)) and float(g).is_integer()):
                raise _Fail(f"{nm} is {_describe(g)}, expected an integer count", "counts are whole numbers")
            if int(g) == int(e):
                continue
            C, H, W = args[0]
            F, k, groups = args[1], args[2], args[6]
            Ho, Wo = e_shape[1:]
            signatures = {
                "params": [(F * C * k * k + (F if args[5] else 0),
                            "params ignores groups: each filter sees only C / groups input channels"),
                           (F * (C // groups) * k * k, "params is missing the bias (one per filter)"),
                           (F * (C // groups) * k * k + F, "params counts a bias although bias=False")],
                "macs": [(F * C * k * k * Ho * Wo, "macs ignores groups: each output sees only C / groups channels"),
                         (F * (C // groups) * k * k * H * W,
                          "macs counted over the input size; count one dot product per OUTPUT position"),
                         (e_macs + F * Ho * Wo, "macs counts the bias additions; count multiply-adds of the dot products only"),
                         (2 * e_macs, "that is FLOPs (2 per multiply-add); macs counts multiply-adds")],
            }[nm]
            for value, message in signatures:
                if int(g) == value and value != int(e):
                    raise _Fail(f"{message} (case '{label}': got {int(g)}, expected {int(e)})", hint)
            raise _values_wrong(f"{nm} ({int(g)}, expected {int(e)})", case, i)
    return len(cases)


# --------------------------------------------------------------------------------------
# check()
# --------------------------------------------------------------------------------------

_CHECKERS: dict[str, Callable[..., int]] = {
    "conv_output_size": _check_conv_output_size,
    "conv_forward": _check_conv_forward,
    "conv_backward": _check_conv_backward,
    "max_pool_forward": _check_max_pool_forward,
    "max_pool_backward": _check_max_pool_backward,
    "affine_forward": _check_affine_forward,
    "affine_backward": _check_affine_backward,
    "relu_backward": _check_relu_backward,
    "spatial_batchnorm_forward": _check_spatial_batchnorm_forward,
    "spatial_batchnorm_backward": _check_spatial_batchnorm_backward,
    "softmax_loss": _check_softmax_loss,
    "conv_layer_cost": _check_conv_layer_cost,
}

#: Names `check` knows, in the order the notebooks meet them.
EXERCISES: tuple[str, ...] = tuple(_CHECKERS)


def check(name: str, fn: Callable, hint: bool = False, forward: Callable | None = None) -> CheckResult:
    """Check the learner's `fn` for exercise `name` against the package's reference.

    `name` is one of `EXERCISES`; `fn` has the reference's signature. For a backward pass,
    `forward` is the learner's own forward function (its cache is what `fn` receives);
    without it the reference forward makes the cache. `hint=True` adds the hint to the
    verdict line. Returns a `CheckResult` (truthy when every case passes); never raises
    for a bug in `fn`.
    """
    if name not in _CHECKERS:
        raise ValueError(f"no exercise named {name!r}; the exercises are: {', '.join(EXERCISES)}")
    if not callable(fn):
        return CheckResult(name, False, f"expected the function itself, got {_describe(fn)} — pass "
                           f"{name} without calling it: check({name!r}, {name})", status="fail",
                           show_hint=hint)
    note = ""
    try:
        if name in _FORWARD_OF:
            forward, note = _forward_for(name, forward)
        n = _CHECKERS[name](fn, forward)
    except _Todo:
        return CheckResult(name, False, TODO_MESSAGE, "replace the `raise NotImplementedError` line with your code",
                           status="todo", show_hint=hint)
    except _Fail as fail:
        message = fail.message[len(name) + 1:] if fail.message.startswith(name + " ") else fail.message
        return CheckResult(name, False, message + note, fail.hint, status=fail.status, show_hint=hint)
    return CheckResult(name, True, f"all {n} cases pass", status="pass", cases=n, show_hint=hint)


# --------------------------------------------------------------------------------------
# Learner edition
# --------------------------------------------------------------------------------------

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
STUB_COMMENT = "# YOUR CODE HERE"
STUB_RAISE = 'raise NotImplementedError("write your code here, then delete this line")'


def strip_solutions(source: str, where: str = "cell") -> tuple[str, list[str]]:
    """Replace each BEGIN/END SOLUTION region of `source` by the two-line stub.

    Returns (learner source, the removed regions including their marker lines). Raises
    ValueError naming `where` for unbalanced or nested markers.
    """
    lines = source.split("\n")
    out: list[str] = []
    regions: list[str] = []
    inside: list[str] | None = None
    indent = ""
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith(BEGIN_SOLUTION):
            if inside is not None:
                raise ValueError(f"{where}, line {number}: '{BEGIN_SOLUTION}' inside another solution region; "
                                 f"close the first one with '{END_SOLUTION}'")
            indent = line[:len(line) - len(line.lstrip())]
            inside = [line]
        elif stripped.startswith(END_SOLUTION):
            if inside is None:
                raise ValueError(f"{where}, line {number}: '{END_SOLUTION}' without a '{BEGIN_SOLUTION}' before it")
            inside.append(line)
            regions.append("\n".join(inside))
            out += [indent + STUB_COMMENT, indent + STUB_RAISE]
            inside = None
        elif inside is not None:
            inside.append(line)
        else:
            out.append(line)
    if inside is not None:
        raise ValueError(f"{where}: '{BEGIN_SOLUTION}' is never closed by '{END_SOLUTION}'")
    return "\n".join(out), regions


def restore_solutions(source: str, regions: Sequence[str], where: str = "cell") -> str:
    """Put `regions` back in place of the stubs of `source` (the inverse of `strip_solutions`)."""
    lines = source.split("\n")
    out: list[str] = []
    todo = list(regions)
    k = 0
    while k < len(lines):
        if (lines[k].strip() == STUB_COMMENT and k + 1 < len(lines)
                and lines[k + 1].strip() == STUB_RAISE):
            if not todo:
                raise ValueError(f"{where}: more stubs than solution regions")
            out.append(todo.pop(0))
            k += 2
        else:
            out.append(lines[k])
            k += 1
    if todo:
        raise ValueError(f"{where}: {len(todo)} solution region(s) left over")
    return "\n".join(out)


def _tags(cell) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def make_learner_notebook(nb, where: str = "notebook"):
    """Learner edition of a notebook (nbformat node or dict): returns (new nb, regions per cell index).

    Solution regions (in any code cell) become stubs; outputs and execution counts are
    cleared; widget state and per-cell execution metadata are dropped.
    """
    import nbformat

    new = nbformat.from_dict(copy.deepcopy(dict(nb)))
    regions: dict[int, list[str]] = {}
    new.metadata.pop("widgets", None)
    for index, cell in enumerate(new.cells):
        if cell.cell_type != "code":
            continue
        cell.outputs = []
        cell.execution_count = None
        cell.metadata.pop("execution", None)
        source, found = strip_solutions(cell.source, f"{where} cell {index}")
        if found:
            cell.source = source
            regions[index] = found
    return new, regions


def restore_notebook(learner_nb, regions: dict[int, list[str]]):
    """The learner edition with the solutions put back (code cells only, outputs stay cleared)."""
    import nbformat

    new = nbformat.from_dict(copy.deepcopy(dict(learner_nb)))
    for index, found in regions.items():
        new.cells[index].source = restore_solutions(new.cells[index].source, found, f"cell {index}")
    return new


def _repo_root() -> Path:
    from cs231n_utils.paths import REPO_ROOT
    return REPO_ROOT


def _backup_path(target: Path) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = target.parent / ".backup"
    candidate = folder / f"{target.stem}.{stamp}{target.suffix}"
    k = 1
    while candidate.exists():
        candidate = folder / f"{target.stem}.{stamp}-{k}{target.suffix}"
        k += 1
    return candidate


def learner_edition(notebooks: Sequence[Path | str] | None = None, out_dir: Path | str | None = None,
                    force: bool = False, log: Callable[[str], None] = print) -> list[tuple[Path, str]]:
    """Write the learner edition of `notebooks` (default: every notebooks/NN_*.ipynb) into `out_dir`.

    Returns [(target path, action)] with action "wrote", "skipped" (already there, kept) or
    "replaced" (with --force, after a backup). Never overwrites without `force`.
    """
    import nbformat

    root = _repo_root()
    out = Path(out_dir) if out_dir is not None else root / "exercises"
    paths = [Path(p) for p in notebooks] if notebooks else sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        log(f"no notebooks found in {root / 'notebooks'}")
        return []
    done: list[tuple[Path, str]] = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"notebook {path} does not exist")
        nb = nbformat.read(path, as_version=4)
        learner, regions = make_learner_notebook(nb, path.name)
        n = len(regions)
        text = nbformat.writes(learner)
        target = out / path.name
        shown = _show(target)
        what = f"{n} exercise cell{'s' if n != 1 else ''}" if n else "no exercises, outputs cleared"
        if target.exists():
            if not force:
                log(f"skipped {shown}: it already exists (your work is kept); "
                    f"use --force to back it up and write a fresh copy")
                done.append((target, "skipped"))
                continue
            backup = _backup_path(target)
            backup.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target, backup)
            target.write_text(text, encoding="utf-8")
            log(f"replaced {shown} ({what}); your old file is in {_show(backup)}")
            done.append((target, "replaced"))
            continue
        out.mkdir(parents=True, exist_ok=True)
        with open(target, "x", encoding="utf-8") as fh:  # "x": never clobber a file
            fh.write(text)
        log(f"wrote {shown} ({what})")
        done.append((target, "wrote"))
    return done


def _show(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cs231n_utils.exercises",
                                     description="Exercise tools for the CS231n CNN workbook.")
    sub = parser.add_subparsers(dest="command", required=True)
    le = sub.add_parser("learner-edition", help="write the notebooks with solutions removed into exercises/",
                        description="Write the learner edition (solutions replaced by stubs, outputs "
                                    "cleared). Existing files are never overwritten unless --force, "
                                    "which backs them up to <out>/.backup/ first.")
    le.add_argument("notebooks", nargs="*", type=Path, help="notebooks to convert (default: notebooks/NN_*.ipynb)")
    le.add_argument("--out", type=Path, default=None, help="output folder (default: exercises/ in the repository)")
    le.add_argument("--force", action="store_true",
                    help="replace existing files, after copying each to <out>/.backup/<name>.<time>.ipynb")
    args = parser.parse_args(argv)
    try:
        done = learner_edition(args.notebooks, args.out, force=args.force)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    counts = {a: sum(1 for _, b in done if b == a) for a in ("wrote", "replaced", "skipped")}
    print(f"learner edition: {counts['wrote']} written, {counts['replaced']} replaced (backed up), "
          f"{counts['skipped']} kept as they were")
    return 0


if __name__ == "__main__":
    sys.exit(main())
