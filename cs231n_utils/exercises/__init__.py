"""Exercise checkers (练习检查).

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

Layout: `registry` (one row per exercise: reference, checker, forward, cache), one module per
topic with its case table and checkers (`conv`, `pool`, `dense`, `batchnorm`, `cost`),
`harness` (calling the learner's code, comparing arrays), `verdict` (`CheckResult` and the
failures checkers raise), `checking` (`check` itself).

Notebook cells
--------------
An exercise cell (tag `exercise`) only defines the function(s), with the solution between the
markers; the signature, the docstring and a final `return` may stay outside them. It must
run with nothing but `numpy as np` defined before it (import anything else in the cell). The
next code cell (tag `exercise-check`) shows the verdict:

    from cs231n_utils.exercises import check
    check("conv_backward", conv_backward, forward=conv_forward)

Later cells should use the package's own layers, not the learner's function, so that "Run
all" still works in the learner edition. The learner edition itself (solutions replaced by
stubs) is written by `tools/learner_edition.py` (`python3 workbook.py exercises`).
"""
from __future__ import annotations

from .checking import check
from .harness import get_time_limit, set_time_limit
from .registry import EXERCISES, REGISTRY, Exercise, reference
from .verdict import CheckResult
from .workspace import Progress, progress

__all__ = ["check", "CheckResult", "EXERCISES", "REGISTRY", "Exercise", "reference", "progress", "Progress",
           "set_time_limit", "get_time_limit"]
