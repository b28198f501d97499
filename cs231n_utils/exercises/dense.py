"""Fully connected exercises: `affine_forward`, `affine_backward`, `relu_backward`, `softmax_loss` (05)."""
from __future__ import annotations

import numpy as np

from .. import layers as L
from .harness import as_tuple, call, case_rng, check_array, close, copy_args, describe, shape_text, signature
from .verdict import Case, Fail, values_wrong


def affine_cases():
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
        rng = case_rng(200 + i)
        D = int(np.prod(xs[1:]))
        cases.append(Case(label, feature, hint, i, x=rng.standard_normal(xs),
                           w=rng.standard_normal((D, M)), b=rng.standard_normal(M)))
    return cases


def check_affine_forward(fn, forward=None) -> int:
    ref = L.affine_forward
    for i, case in enumerate(cases := affine_cases()):
        args = (case.x, case.w, case.b)
        got = as_tuple(call(fn, args, case, "affine_forward", ("x", "w", "b")),
                     2, "(out, cache)", "affine_forward")
        expected = ref(*copy_args(args))[0]
        check_array("out", got[0], expected, case.label,
               "out has shape (N, M): flatten x to (N, D) with x.reshape(x.shape[0], -1)")
        if close(got[0], expected):
            continue
        x2 = case.x.reshape(case.x.shape[0], -1)
        signature(got[0], [
            (lambda: x2 @ case.w, "the bias is missing: out = x @ w + b", "add b, it broadcasts over the rows"),
            (lambda: case.x.reshape(case.x.shape[0], -1, order="F") @ case.w + case.b,
             "x is flattened in the wrong order: use x.reshape(N, -1) (row-major)",
             "order='F' or a transpose before reshaping scrambles the features"),
        ], case)
        raise values_wrong("out", case, i)
    return len(cases)


def check_affine_backward(fn, forward=None) -> int:
    fwd = forward or L.affine_forward
    ref_f, ref_b = L.affine_forward, L.affine_backward
    for i, case in enumerate(cases := affine_cases()):
        args = (case.x, case.w, case.b)
        out, ref_cache = ref_f(*copy_args(args))
        dout = case_rng(250 + i).standard_normal(out.shape)
        _, cache = call(fwd, copy_args(args), case, "affine_forward")
        got = as_tuple(call(fn, (dout, cache), case, "affine_backward", ("dout", "cache")),
                     3, "(dx, dw, db)", "affine_backward")
        exp = ref_b(dout.copy(), ref_cache)
        N = case.x.shape[0]
        D, M = case.w.shape

        def dx_shape(shape):
            if shape == (N, D) and case.x.ndim != 2:
                return (f"dx has the flattened shape {shape_text(shape)}, expected x's shape {shape_text(case.x.shape)} "
                        f"— reshape it back: dx = (dout @ w.T).reshape(x.shape)", "dx must match x exactly")
            return None

        def dw_shape(shape):
            if shape == (M, D):
                return (f"dw is transposed: shape {shape_text(shape)}, expected w's shape {shape_text((D, M))} "
                        f"— dw = x_flat.T @ dout", "dw has the shape of w: (D, M)")
            return None

        def db_shape(shape):
            if shape == (N, M):
                return (f"db not summed over the batch: shape {shape_text(shape)}, expected (M,) = ({M},) "
                        f"— db = dout.sum(axis=0)", "the bias is shared by every example")
            return (f"db summed over the wrong axis: shape {shape_text(shape)}, expected (M,) = ({M},) "
                    f"— db = dout.sum(axis=0)", "the bias is shared by every example")

        check_array("dx", got[0], exp[0], case.label, "dx has the shape of x", dx_shape)
        check_array("dw", got[1], exp[1], case.label, "dw has the shape of w", dw_shape)
        check_array("db", got[2], exp[2], case.label, "db has shape (M,)", db_shape)
        ok = [close(g, e) for g, e in zip(got, exp)]
        if all(ok):
            continue
        right = " and ".join(n for n, k in zip(("dx", "dw", "db"), ok) if k)
        for k, nm, formula in ((0, "dx", "dx = (dout @ w.T).reshape(x.shape)"),
                               (1, "dw", "dw = x.reshape(N, -1).T @ dout"), (2, "db", "db = dout.sum(axis=0)")):
            if not ok[k]:
                signature(got[k], [(lambda k=k: exp[k] / N,
                                     f"{nm} is averaged over the batch: sum, do not divide by N",
                                     formula)], case)
                raise Fail(values_wrong(nm, case, i, right).message + f" — {formula}", formula)
    return len(cases)


def relu_cases():
    rng = case_rng(300)
    x1 = rng.standard_normal((3, 4))
    x2 = rng.standard_normal((2, 3, 4, 4))
    x3 = rng.standard_normal((2, 2, 3, 5))
    x3[x3 < -1] = 0.0  # exact zeros: ReLU's gradient there is taken as 0
    return [
        Case("2-D input (3, 4)", "", "dx = dout * (x > 0)", x=x1),
        Case("4-D input (2, 3, 4, 4)", "with 4-D input", "the mask x > 0 has the shape of x", 1, x=x2),
        Case("input with exact zeros", "where x == 0 exactly",
              "ReLU's gradient at x = 0 is taken as 0: use x > 0, not x >= 0", 2, x=x3),
    ]


def check_relu_backward(fn, forward=None) -> int:
    ref = L.relu_backward
    for i, case in enumerate(cases := relu_cases()):
        dout = case_rng(310 + i).standard_normal(case.x.shape)
        dx = call(fn, (dout, case.x.copy()), case, "relu_backward", ("dout", "cache"))
        expected = ref(dout.copy(), case.x.copy())
        check_array("dx", dx, expected, case.label, "dx has the shape of x and dout")
        if close(dx, expected):
            continue
        x = case.x
        signature(dx, [
            (lambda: (x > 0).astype(float), "dx is just the mask: multiply it by dout",
             "dx = dout * (x > 0)"),
            (lambda: dout * (dout > 0), "the mask comes from dout > 0; it must come from the forward input x > 0",
             "the cache is x, the ReLU's input; use it for the mask"),
            (lambda: dout * x, "dx = dout * x is the gradient of x**2/2, not of ReLU: use the mask (x > 0)",
             "dx = dout * (x > 0)"),
        ], case)
        raise values_wrong("dx", case, i)
    return len(cases)

def softmax_cases():
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
        rng = case_rng(500 + i)
        scores = rng.standard_normal((N, C)) * (3.0 if scale > 1 else 1.0) + (scale if scale > 1 else 0)
        y = rng.integers(0, C, size=N)
        cases.append(Case(label, feature, hint, i, scores=scores, y=y))
    return cases


def check_softmax_loss(fn, forward=None) -> int:
    ref = L.softmax_loss
    for i, case in enumerate(cases := softmax_cases()):
        args = (case.scores, case.y)
        loss, dscores = as_tuple(call(fn, args, case, "softmax_loss", ("scores", "y")),
                               2, "(loss, dscores)", "softmax_loss")
        e_loss, e_d = ref(case.scores.copy(), case.y.copy())
        N = case.scores.shape[0]
        if isinstance(loss, np.ndarray) and loss.size != 1:
            raise Fail(f"loss is an array of shape {shape_text(loss.shape)}, expected one number (case "
                        f"'{case.label}') — average the per-example losses: loss = losses.mean()",
                        "the loss is the mean of -log p[i, y[i]] over the batch")
        try:
            loss_v = float(np.asarray(loss).reshape(()))
        except Exception:
            raise Fail(f"loss is {describe(loss)}, expected a number", "return a float") from None
        if not np.isfinite(loss_v) or (isinstance(dscores, np.ndarray) and dscores.dtype.kind == "f"
                                       and not np.all(np.isfinite(dscores))):
            if "large" in case.label:
                raise Fail(f"loss or dscores is nan/inf for large scores (case '{case.label}') — subtract each "
                            f"row's max score before exp", "exp(1000) overflows; shifting by the row max leaves "
                            "the softmax unchanged")
            raise Fail(f"loss or dscores is nan/inf (case '{case.label}') — look for log(0) or a division by 0",
                        "print the probabilities: each row should be positive and sum to 1")
        check_array("dscores", dscores, e_d, case.label, "dscores has the shape of scores: (N, C)")
        if not np.isclose(loss_v, e_loss, rtol=1e-6, atol=1e-9):
            if N > 1 and np.isclose(loss_v, e_loss * N, rtol=1e-6):
                raise Fail(f"loss is summed over the batch (case '{case.label}') — divide by N (the loss is the mean)",
                            "loss = -np.log(p[np.arange(N), y]).mean()")
            raise values_wrong("loss", case, i)
        if close(dscores, e_d):
            continue
        p = e_d * N
        p[np.arange(N), case.y] += 1
        signature(dscores, [
            (lambda: e_d * N if N > 1 else None, "dscores not divided by N: the loss is a mean over the batch",
             "dscores = (p - one_hot(y)) / N"),
            (lambda: p / N, "dscores is missing the -1 at the correct class: dscores = (p - one_hot(y)) / N",
             "dscores[np.arange(N), y] -= 1 before dividing by N"),
        ], case)
        raise values_wrong("dscores", case, i)
    return len(cases)
