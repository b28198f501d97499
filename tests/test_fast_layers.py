"""The fast (vectorised) conv agrees with the naive loop definitions to 1e-10 (float64), for
every strategy it can pick (Winograd, im2col, depthwise; backward by Winograd, transposed conv,
phases or col2im), however it cuts the work into chunks and however many threads it uses.

"Agrees to 1e-10" is measured relative to the size of the array: max |fast - naive| <=
1e-10 * max |naive|. An elementwise relative error would be meaningless for entries that are
sums cancelling to ~0 (e.g. 8e-7 from terms of size 1): any other order of summation (the
Winograd transforms, dx by phases, sums over chunks) moves them by ~1e-16 of the terms' size.
Pooling (no arithmetic except the backward's sums) is compared exactly in test_fast_pool.py.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cs231n_utils import fast_conv, fast_layers, parallel
from cs231n_utils import layers as L
from cs231n_utils.gradient_check import eval_numerical_gradient_array, rel_error

EXACT = 1e-10


def assert_same(got, expected, tol=EXACT, what=""):
    assert got.shape == expected.shape, what
    scale = max(1.0, float(np.max(np.abs(expected))))
    err = float(np.max(np.abs(got.astype(np.float64) - expected))) / scale
    assert err <= tol, f"{what}: error {err:.2e} > {tol:.0e}"


CONV_CASES = {
    # name: (N, C, H, W, F, HH, WW, conv_param)
    "3x3 pad 1": (2, 3, 5, 5, 4, 3, 3, {"stride": 1, "pad": 1}),
    "odd sizes": (3, 5, 7, 9, 3, 3, 3, {"stride": 1, "pad": 0}),
    "stride 2": (2, 3, 9, 7, 2, 3, 3, {"stride": 2, "pad": 1}),
    "stride 3": (2, 2, 10, 7, 3, 4, 4, {"stride": 3, "pad": 0}),
    "stride 2, 7x7 pad 3 (assignment)": (2, 3, 11, 11, 2, 7, 7, {"stride": 2, "pad": 3}),
    "stride 3, 2x2 (phases no tap reaches)": (2, 3, 8, 8, 4, 2, 2, {"stride": 3, "pad": 1, "rounding": "floor"}),
    "dilation 2": (2, 3, 9, 8, 2, 3, 3, {"stride": 1, "pad": 2, "dilation": 2}),
    "dilation 2 stride 2": (1, 2, 9, 9, 3, 3, 3, {"stride": 2, "pad": 1, "dilation": 2}),
    "dilation 3 stride 2": (2, 2, 11, 10, 3, 3, 2, {"stride": 2, "pad": 2, "dilation": 3, "rounding": "floor"}),
    "rectangular 3x1": (2, 3, 6, 5, 2, 3, 1, {"stride": 1, "pad": 0}),
    "rectangular 2x5 stride 3": (1, 2, 8, 11, 2, 2, 5, {"stride": 3, "pad": 0}),
    "1x1": (3, 4, 5, 6, 5, 1, 1, {"stride": 1, "pad": 0}),
    "1x1 stride 2": (2, 4, 5, 7, 3, 1, 1, {"stride": 2, "pad": 0}),
    "1x1 pad 1 (padding wider than the filter)": (2, 3, 4, 5, 2, 1, 1, {"stride": 1, "pad": 1}),
    "3x3 pad 3": (1, 2, 4, 4, 2, 3, 3, {"stride": 1, "pad": 3}),
    "filter = input": (2, 3, 4, 4, 2, 4, 4, {"stride": 1, "pad": 0}),
    "single pixel": (2, 3, 1, 1, 2, 1, 1, {}),
    "groups 2": (2, 4, 6, 6, 6, 3, 3, {"stride": 1, "pad": 1, "groups": 2}),
    "groups 3 stride 2": (2, 6, 7, 7, 3, 3, 3, {"stride": 2, "pad": 1, "groups": 3}),
    "depthwise": (2, 4, 6, 5, 4, 3, 3, {"stride": 1, "pad": 1, "groups": 4}),
    "depthwise x2 dilated": (2, 3, 7, 7, 6, 3, 3, {"stride": 2, "pad": 2, "dilation": 2, "groups": 3}),
    "floor rounding": (2, 3, 8, 7, 2, 3, 3, {"stride": 2, "pad": 0, "rounding": "floor"}),
    # shapes the fast conv runs by Winograd F(2x2, 3x3)
    "winograd 3x3 pad 1": (2, 8, 8, 8, 8, 3, 3, {"stride": 1, "pad": 1}),
    "winograd odd sizes pad 0": (3, 9, 11, 7, 10, 3, 3, {"stride": 1, "pad": 0}),
    "winograd pad 2, N=1": (1, 16, 5, 9, 8, 3, 3, {"stride": 1, "pad": 2}),
    "winograd groups 2": (2, 16, 9, 6, 16, 3, 3, {"stride": 1, "pad": 1, "groups": 2}),
    "winograd big batch": (40, 8, 8, 8, 12, 3, 3, {"stride": 1, "pad": 1}),
}


def _conv_data(rng, N, C, H, W, F, HH, WW, cp, dtype=np.float64):
    g = cp.get("groups", 1)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C // g, HH, WW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    return x, w, b


def _assert_conv_agrees(rng, N, C, H, W, F, HH, WW, cp):
    x, w, b = _conv_data(rng, N, C, H, W, F, HH, WW, cp)
    out_n, cache_n = L.conv_forward_naive(x, w, b, cp)
    out_f, cache_f = L.conv_forward_fast(x, w, b, cp)
    assert_same(out_f, out_n, what="out")
    dout = rng.standard_normal(out_n.shape)
    for name, gn, gf in zip("dx dw db".split(), L.conv_backward_naive(dout, cache_n),
                            L.conv_backward_fast(dout, cache_f)):
        assert gf.dtype == gn.dtype, name
        assert_same(gf, gn, what=name)


@pytest.mark.parametrize("case", list(CONV_CASES), ids=list(CONV_CASES))
def test_conv_fast_matches_naive(rng, monkeypatch, case):
    if case.startswith("winograd"):         # small enough for the naive loops: lower the bar
        _lower_winograd_bar(monkeypatch, min_channels=8)
    assert (_strategy(case) == "winograd") == case.startswith("winograd")
    _assert_conv_agrees(rng, *CONV_CASES[case])


def _strategy(case):
    N, C, H, W, F, HH, WW, cp = CONV_CASES[case]
    return fast_layers.conv_strategy((N, C, H, W), (F, C // cp.get("groups", 1), HH, WW),
                                     cp.get("stride", 1), cp.get("pad", 0), cp.get("dilation", 1),
                                     cp.get("groups", 1))


def _lower_winograd_bar(monkeypatch, min_channels=1):
    monkeypatch.setattr(fast_layers, "WINOGRAD_MIN_CHANNELS", min_channels)
    monkeypatch.setattr(fast_layers, "WINOGRAD_TILES_PER_CHANNEL", 0)
    monkeypatch.setattr(fast_layers, "WINOGRAD_MIN_MACS", 0)


def test_the_cases_cover_every_forward_strategy(monkeypatch):
    assert _strategy("winograd odd sizes pad 0") == "im2col"     # too small a layer
    assert fast_layers.conv_strategy((64, 32, 32, 32), (64, 32, 3, 3), 1, 1) == "winograd"
    assert fast_layers.conv_strategy((8, 64, 56, 56), (64, 64, 3, 3), 1, 1) == "winograd"
    assert fast_layers.conv_strategy((8, 128, 14, 14), (128, 128, 3, 3), 1, 1) == "im2col"
    assert fast_layers.conv_strategy((64, 32, 32, 32), (64, 32, 3, 3), 2, 1) == "im2col"
    _lower_winograd_bar(monkeypatch, min_channels=8)
    used = {_strategy(case) for case in CONV_CASES}
    assert used == {"winograd", "im2col", "depthwise"}
    assert _strategy("groups 2") == "im2col"            # 2 channels per group: too few


@pytest.fixture
def winograd_everywhere(monkeypatch):
    """Run every 3x3 stride-1 undilated conv by Winograd, however small."""
    _lower_winograd_bar(monkeypatch)


@pytest.mark.parametrize("shape", [
    (2, 3, 5, 5, 4, 1, 1), (1, 1, 1, 1, 1, 1, 1), (1, 2, 2, 3, 1, 1, 1), (2, 2, 3, 4, 2, 2, 1),
    (3, 1, 6, 1, 2, 1, 1), (1, 2, 1, 7, 3, 1, 1), (2, 3, 5, 5, 2, 3, 1), (2, 4, 7, 6, 6, 1, 2),
    (2, 6, 4, 5, 3, 0, 3), (1, 3, 3, 3, 2, 0, 1)],
    ids=lambda s: "N{}C{}H{}W{}F{}p{}g{}".format(*s))
def test_winograd_on_tiny_and_odd_shapes(rng, winograd_everywhere, shape):
    N, C, H, W, F, pad, groups = shape
    cp = {"stride": 1, "pad": pad, "groups": groups}
    assert fast_layers.conv_strategy((N, C, H, W), (F, C // groups, 3, 3), 1, pad, 1, groups) == "winograd"
    _assert_conv_agrees(rng, N, C, H, W, F, 3, 3, cp)


@pytest.mark.parametrize("C,F,groups,cp", [
    (3, 6, 1, {"stride": 1, "pad": 1}),                    # F = 2C: dx as a conv of dout
    (8, 40, 1, {"stride": 1, "pad": 1, "dilation": 2}),    # F = 5C, C >= 8: same
    (16, 64, 2, {"stride": 1, "pad": 2, "dilation": 2}),   # grouped, dilated: same
    (3, 16, 1, {"stride": 1, "pad": 1}),                   # small C, F > 2C: col2im
    (8, 72, 1, {"stride": 1, "pad": 0, "dilation": 2}),    # F = 9C: col2im
    (4, 8, 2, {"stride": 2, "pad": 1}),                    # stride 2: phases
    (3, 5, 1, {"stride": 3, "pad": 2, "dilation": 2}),     # stride 3, dilated: phases
], ids=["F=2C", "F=5C", "groups dilated", "C=3 F=16", "F=9C", "stride 2 groups", "stride 3 dilated"])
@pytest.mark.parametrize("chunk_bytes", [None, 1])
def test_conv_backward_paths_match_naive_per_group(rng, monkeypatch, C, F, groups, cp, chunk_bytes):
    """The backward picks its dx path by stride and F/C; each agrees with the naive loops, run
    per group, whole batch in one chunk or one output position per chunk."""
    if chunk_bytes is not None:
        monkeypatch.setattr(fast_layers, "CHUNK_BYTES", chunk_bytes)
    cp = dict(cp, groups=groups, rounding="floor")
    x, w, b = _conv_data(rng, 3, C, 7, 6, F, 3, 3, cp)
    out_f, cache_f = L.conv_forward_fast(x, w, b, cp)
    dout = rng.standard_normal(out_f.shape)
    dx, dw, db = L.conv_backward_fast(dout, cache_f)
    Cg, Fg = C // groups, F // groups
    for g in range(groups):
        c, f = slice(g * Cg, (g + 1) * Cg), slice(g * Fg, (g + 1) * Fg)
        cpg = {k: v for k, v in cp.items() if k != "groups"}
        out_n, cache_n = L.conv_forward_naive(x[:, c], w[f], b[f], cpg)
        assert_same(out_f[:, f], out_n)
        dx_n, dw_n, db_n = L.conv_backward_naive(dout[:, f], cache_n)
        assert_same(dx[:, c], dx_n)               # group g's channels feed only its filters
        assert_same(dw[f], dw_n)
        assert_same(db[f], db_n)


# ----------------------------------------------------------------------------------------
# chunks: whole samples, bands of rows, bands of columns; threads
# ----------------------------------------------------------------------------------------

CHUNKED = {
    "winograd": (5, 8, 13, 11, 8, 3, 3, {"stride": 1, "pad": 1}),
    "im2col + transposed": (3, 4, 12, 10, 6, 3, 3, {"stride": 1, "pad": 1}),
    "im2col + col2im": (3, 2, 12, 10, 9, 5, 5, {"stride": 1, "pad": 2}),
    "im2col + phases": (3, 4, 13, 11, 6, 3, 3, {"stride": 2, "pad": 1}),
    "depthwise": (3, 6, 12, 10, 12, 3, 3, {"stride": 1, "pad": 1, "groups": 6}),
}


@pytest.mark.parametrize("case", list(CHUNKED), ids=list(CHUNKED))
@pytest.mark.parametrize("chunk_bytes", [2000, 1])     # bands of rows; one row or position
def test_chunked_work_gives_the_same_result(rng, monkeypatch, case, chunk_bytes):
    _lower_winograd_bar(monkeypatch, min_channels=8)
    _, whole = _run_case(rng, CHUNKED[case])
    monkeypatch.setattr(fast_layers, "CHUNK_BYTES", chunk_bytes)
    _, chunked = _run_case(np.random.default_rng(231), CHUNKED[case])
    for a, b in zip(whole, chunked):
        assert_same(a, b, tol=1e-13)


def _run_case(rng, case):
    N, C, H, W, F, HH, WW, cp = case
    x, w, b = _conv_data(rng, N, C, H, W, F, HH, WW, cp)
    out, cache = L.conv_forward_fast(x, w, b, cp)
    dout = np.random.default_rng(5).standard_normal(out.shape)
    return cache, (out,) + tuple(L.conv_backward_fast(dout, cache))


def test_plan_cuts_samples_then_rows_then_columns():
    assert parallel.BLOCKS == 8                     # each chunk may use 1/8 of the budget
    kw = dict(budget=8000, target=100, threads=1)
    chunks, units, schedule = fast_conv.plan(10, 4, 5, **kw)              # 20 B a sample
    assert chunks[0] == (0, 2, 0, 4, 0, 1) and len(chunks) == 5 and schedule == (1, 8)
    chunks, _, _ = fast_conv.plan(2, 4, 40, **kw)                          # 160 B a sample
    assert chunks == [(0, 1, 0, 2, 0, 1), (0, 1, 2, 4, 0, 1), (1, 2, 0, 2, 0, 1), (1, 2, 2, 4, 0, 1)]
    chunks, _, _ = fast_conv.plan(1, 2, 400, cols=8, **kw)     # 400 B a row: over target, in budget
    assert chunks == [(0, 1, 0, 1, 0, 8), (0, 1, 1, 2, 0, 8)]
    chunks, units, _ = fast_conv.plan(1, 2, 4000, cols=8, group_samples=True, **kw)  # 500 B a column
    assert chunks[:2] == [(0, 1, 0, 1, 0, 1), (0, 1, 0, 1, 1, 2)] and len(chunks) == 16
    assert units == [list(range(16))]                                      # one sample: one unit
    chunks, _, schedule = fast_conv.plan(1, 2, 4000, cols=2, threads=2, budget=8000, target=100)
    assert schedule == (1, 8) and len(chunks) == 2     # a row over 1/8 of the budget: one at a time
    with pytest.raises(fast_conv.ScratchLimitError, match=r"SCRATCH_BYTES"):
        fast_conv.plan(1, 2, 20000, cols=2, **kw)                          # 10 kB a position
    _, _, schedule = fast_conv.plan(4, 2, 10, partial=1000, threads=2, budget=8000, target=100)
    assert schedule == (2, 4)              # 8 block results of 1000 B would take over half


def test_plan_gives_every_thread_work():
    chunks, units, schedule = fast_conv.plan(1, 8, 1, budget=10 ** 6, target=10 ** 5, threads=2)
    assert fast_conv.plan(1, 8, 1, budget=10 ** 6, target=10 ** 5, threads=1)[0] == chunks
    assert schedule == (2, 8) and len(units) == 2                          # one sample, two bands
    _, units, schedule = fast_conv.plan(1, 8, 1, budget=10 ** 6, target=10 ** 5, threads=2,
                                        group_samples=True)
    assert schedule == (1, 8)                                              # bands share dx rows


@pytest.mark.parametrize("case", list(CHUNKED), ids=list(CHUNKED))
def test_results_do_not_depend_on_the_thread_count(rng, monkeypatch, case):
    """The work is cut into the same blocks whatever the thread count, so outputs and gradients
    (whose sums over blocks are added in block order) are the same to the bit: a float32
    training run gives the same numbers at OMP_NUM_THREADS=1 and 2."""
    monkeypatch.setattr(fast_layers, "THREAD_MIN_MACS", 0)
    _lower_winograd_bar(monkeypatch, min_channels=8)
    monkeypatch.setattr(fast_layers, "CHUNK_BYTES", 20000)
    results = []
    for n in (1, 2, 3):
        with parallel.limit_threads(n):
            results.append(_run_case(np.random.default_rng(7), CHUNKED[case])[1])
    for other in results[1:]:
        for a, b in zip(other, results[0]):
            np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------------------
# float32, gradient checks, caches
# ----------------------------------------------------------------------------------------

#: float32 error of the fast conv (max |error| / max |value|) against float64, stated and
#: checked: ~1e-6 for im2col; Winograd's transforms add roundings of their own (measured
#: 2e-7 .. 1e-6 here, see the benchmark's float32 line)
F32_TOL = 1e-5


@pytest.mark.parametrize("case", ["3x3 pad 1", "stride 2", "winograd odd sizes pad 0",
                                  "winograd groups 2", "depthwise x2 dilated", "F=9C"])
def test_float32_close_to_float64(rng, case):
    N, C, H, W, F, HH, WW, cp = CONV_CASES.get(case, (3, 8, 6, 7, 72, 3, 3, {"pad": 0, "dilation": 2}))
    x, w, b = _conv_data(rng, N, C, H, W, F, HH, WW, cp)
    out, cache = L.conv_forward_naive(x, w, b, cp)
    dout = rng.standard_normal(out.shape)
    grads = L.conv_backward_naive(dout, cache)
    out32, cache32 = L.conv_forward_fast(*(a.astype(np.float32) for a in (x, w, b)), cp)
    grads32 = L.conv_backward_fast(dout.astype(np.float32), cache32)
    assert out32.dtype == np.float32
    assert_same(out32, out, tol=F32_TOL)
    for g32, g64 in zip(grads32, grads):
        assert g32.dtype == np.float32
        assert_same(g32, g64, tol=F32_TOL)


def test_winograd_float32_error_is_small(rng):
    """The number quoted in the docs: Winograd in float32 on a mid-sized layer."""
    x, w, b = _conv_data(rng, 2, 32, 32, 32, 32, 3, 3, {})
    assert fast_layers.conv_strategy(x.shape, w.shape, 1, 1) == "winograd"
    ref = L.conv_forward_fast(x, w, b, {"pad": 1})[0]
    out32 = L.conv_forward_fast(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32),
                                {"pad": 1})[0]
    err = np.max(np.abs(out32 - ref)) / np.max(np.abs(ref))
    assert 0 < err < 2e-6


@pytest.mark.parametrize("case,force", [
    ("winograd 3x3 pad 1", None), ("winograd groups 2", None), ("3x3 pad 1", "winograd"),
    ("stride 2", None), ("dilation 2 stride 2", None), ("depthwise x2 dilated", None),
    ("rectangular 2x5 stride 3", None)])
def test_fast_conv_gradient_check(monkeypatch, case, force):
    """Every backward strategy against centred differences (float64, rel error < 1e-7)."""
    if force == "winograd" or case.startswith("winograd"):
        _lower_winograd_bar(monkeypatch)
    rng = np.random.default_rng(3)
    N, C, H, W, F, HH, WW, cp = CONV_CASES[case]
    N, H, W = 1, min(H, 7), min(W, 8)
    cp = dict(cp, rounding="floor")
    x, w, b = _conv_data(rng, N, C, H, W, F, HH, WW, cp)
    out, cache = L.conv_forward_fast(x, w, b, cp)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = L.conv_backward_fast(dout, cache)
    assert rel_error(dx, eval_numerical_gradient_array(lambda v: L.conv_forward_fast(v, w, b, cp)[0], x, dout)) < 1e-7
    assert rel_error(dw, eval_numerical_gradient_array(lambda v: L.conv_forward_fast(x, v, b, cp)[0], w, dout)) < 1e-7
    assert rel_error(db, eval_numerical_gradient_array(lambda v: L.conv_forward_fast(x, w, v, cp)[0], b, dout)) < 1e-7


@pytest.mark.parametrize("backward", [L.conv_backward_naive, L.conv_backward_fast])
@pytest.mark.parametrize("cp", [{"stride": 2, "pad": 1}, {"stride": 1, "pad": 1}])
def test_conv_backward_accepts_a_cs231n_style_cache(rng, backward, cp):
    x, w, b = _conv_data(rng, 2, 8, 7, 7, 8, 3, 3, cp)
    out, cache = L.conv_forward_naive(x, w, b, cp)
    dout = rng.standard_normal(out.shape)
    for g, e in zip(backward(dout, (x, w, b, dict(cp))), L.conv_backward_naive(dout, cache)):
        assert_same(g, e)


def test_conv_mixed_dtypes_promote(rng):
    for C, F in ((2, 2), (8, 8)):                       # im2col and Winograd
        x, w, b = _conv_data(rng, 1, C, 4, 4, F, 3, 3, {})
        out, cache = L.conv_forward_fast(x.astype(np.float32), w, b, {"pad": 1})
        assert out.dtype == np.float64
        dx, dw, _ = L.conv_backward_fast(np.ones_like(out), cache)
        assert dx.dtype == np.float32 and dw.dtype == np.float64


@pytest.mark.parametrize("N,C,H,shape", [
    (2, 3, 9, (2, 3, 3, 3, 5, 5)),              # tiny layer: columns built in one strided copy
    (4, 8, 17, (4, 8 * 9 + 1, 9 * 9)),          # one chunk: plus a row of ones for the bias
])
def test_forward_keeps_small_columns_for_the_backward(rng, N, C, H, shape):
    cp = {"stride": 2, "pad": 1}
    x, w, b = _conv_data(rng, N, C, H, H, 16, 3, 3, cp)
    out, cache = L.conv_forward_fast(x, w, b, cp)
    assert cache[3]["cols"].shape == shape
    dout = rng.standard_normal(out.shape)
    kept = L.conv_backward_fast(dout, cache)
    rebuilt = L.conv_backward_fast(dout, cache[:3] + ({k: v for k, v in cache[3].items() if k != "cols"},))
    for a, b_ in zip(kept, rebuilt):
        np.testing.assert_array_equal(a, b_)


def test_conv_output_shape_formula(rng):
    x, w, b = _conv_data(rng, 1, 2, 11, 9, 3, 3, 5, {})
    out, _ = L.conv_forward_fast(x, w, b, {"stride": 2, "pad": 2, "dilation": 1})
    # H' = 1 + (11 + 4 - 3)/2 = 7, W' = 1 + (9 + 4 - 5)/2 = 5
    assert out.shape == (1, 3, 7, 5)


# ----------------------------------------------------------------------------------------
# property-based: random valid shapes
# ----------------------------------------------------------------------------------------

@st.composite
def conv_setups(draw):
    groups = draw(st.integers(1, 3))
    Cg = draw(st.integers(1, 2))
    Fg = draw(st.integers(1, 2))
    HH, WW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation = draw(st.integers(1, 2))
    stride = draw(st.integers(1, 3))
    pad = draw(st.integers(0, 2))
    H = draw(st.integers(max(1, dilation * (HH - 1) + 1 - 2 * pad), 9))
    W = draw(st.integers(max(1, dilation * (WW - 1) + 1 - 2 * pad), 9))
    N = draw(st.integers(1, 2))
    cp = {"stride": stride, "pad": pad, "dilation": dilation, "groups": groups, "rounding": "floor"}
    return N, groups * Cg, H, W, groups * Fg, HH, WW, cp


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(setup=conv_setups(), seed=st.integers(0, 2 ** 16), winograd=st.booleans())
def test_property_conv_fast_matches_naive(monkeypatch, setup, seed, winograd):
    with monkeypatch.context() as m:
        if winograd:
            _lower_winograd_bar(m)
        _assert_conv_agrees(np.random.default_rng(seed), *setup)
