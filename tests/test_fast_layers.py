"""The fast (vectorised) conv and max-pool agree with the naive loop definitions to 1e-10."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cs231n_utils import fast_layers
from cs231n_utils import layers as L
from cs231n_utils.gradient_check import rel_error

EXACT = 1e-10

CONV_CASES = {
    # name: (N, C, H, W, F, HH, WW, conv_param)
    "3x3 pad 1": (2, 3, 5, 5, 4, 3, 3, {"stride": 1, "pad": 1}),
    "odd sizes": (3, 5, 7, 9, 3, 3, 3, {"stride": 1, "pad": 0}),
    "stride 2": (2, 3, 9, 7, 2, 3, 3, {"stride": 2, "pad": 1}),
    "stride 3": (2, 2, 10, 7, 3, 4, 4, {"stride": 3, "pad": 0}),
    "stride 2, 7x7 pad 3 (assignment)": (2, 3, 11, 11, 2, 7, 7, {"stride": 2, "pad": 3}),
    "dilation 2": (2, 3, 9, 8, 2, 3, 3, {"stride": 1, "pad": 2, "dilation": 2}),
    "dilation 2 stride 2": (1, 2, 9, 9, 3, 3, 3, {"stride": 2, "pad": 1, "dilation": 2}),
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
    assert out_f.shape == out_n.shape
    assert rel_error(out_n, out_f) < EXACT
    dout = rng.standard_normal(out_n.shape)
    for name, gn, gf in zip("dx dw db".split(), L.conv_backward_naive(dout, cache_n),
                            L.conv_backward_fast(dout, cache_f)):
        assert gf.shape == gn.shape, name
        assert rel_error(gn, gf) < EXACT, name


@pytest.mark.parametrize("case", list(CONV_CASES), ids=list(CONV_CASES))
def test_conv_fast_matches_naive(rng, case):
    _assert_conv_agrees(rng, *CONV_CASES[case])


@pytest.mark.parametrize("case", list(CONV_CASES), ids=list(CONV_CASES))
def test_conv_fast_matches_naive_with_slice_im2col(rng, monkeypatch, case):
    """Small layers build their columns with one strided copy; the K*K slice loop (used for
    bigger ones) gives the same numbers."""
    monkeypatch.setattr(fast_layers, "_SMALL_COLS", 0)
    _assert_conv_agrees(rng, *CONV_CASES[case])


def test_conv_output_shape_formula(rng):
    x, w, b = _conv_data(rng, 1, 2, 11, 9, 3, 3, 5, {})
    out, _ = L.conv_forward_fast(x, w, b, {"stride": 2, "pad": 2, "dilation": 1})
    # H' = 1 + (11 + 4 - 3)/2 = 7, W' = 1 + (9 + 4 - 5)/2 = 5
    assert out.shape == (1, 3, 7, 5)


@pytest.mark.parametrize("groups,F", [(1, 4), (3, 6)])
def test_conv_chunking_gives_the_same_result(rng, monkeypatch, groups, F):
    cp = {"stride": 1, "pad": 1, "groups": groups}
    x, w, b = _conv_data(rng, 7, 3, 6, 6, F, 3, 3, cp)
    out_ref, cache = L.conv_forward_fast(x, w, b, cp)
    dout = rng.standard_normal(out_ref.shape)
    grads_ref = L.conv_backward_fast(dout, cache)
    # a budget of 1 byte forces chunks of 1 sample; the second gives chunks of 3, 3, 1
    for budget in (1, 3 * (3 * 9 * 36 + 3 * 64) * 8):
        monkeypatch.setattr(fast_layers, "SCRATCH_BYTES", budget)
        out, cache = L.conv_forward_fast(x, w, b, cp)
        assert rel_error(out, out_ref) < EXACT
        for g, g_ref in zip(L.conv_backward_fast(dout, cache), grads_ref):
            assert rel_error(g, g_ref) < EXACT


@pytest.mark.parametrize("C,F,groups,cp", [
    (3, 6, 1, {"stride": 1, "pad": 1}),                    # F = 2C: dx as a conv of dout
    (8, 40, 1, {"stride": 1, "pad": 1}),                   # F = 5C, C >= 8: same
    (16, 64, 2, {"stride": 1, "pad": 2, "dilation": 2}),   # grouped, dilated: same
    (3, 16, 1, {"stride": 1, "pad": 1}),                   # small C, F > 2C: col2im
    (8, 72, 1, {"stride": 1, "pad": 0}),                   # F = 9C: col2im
], ids=["F=2C", "F=5C", "groups dilated", "C=3 F=16", "F=9C"])
@pytest.mark.parametrize("budget", [None, 1])
def test_conv_backward_both_dx_paths_match_naive(rng, monkeypatch, C, F, groups, cp, budget):
    """The backward picks col2im or a convolution of dout (with dw from its columns) by F/C;
    both agree with the naive loops, whole batch or one sample per chunk."""
    if budget is not None:
        monkeypatch.setattr(fast_layers, "SCRATCH_BYTES", budget)
    cp = dict(cp, groups=groups)
    x, w, b = _conv_data(rng, 3, C, 6, 5, F, 3, 3, cp)
    out_f, cache_f = L.conv_forward_fast(x, w, b, cp)
    dout = rng.standard_normal(out_f.shape)
    dx, dw, db = L.conv_backward_fast(dout, cache_f)
    Cg, Fg = C // groups, F // groups
    for g in range(groups):
        c, f = slice(g * Cg, (g + 1) * Cg), slice(g * Fg, (g + 1) * Fg)
        cpg = {k: v for k, v in cp.items() if k != "groups"}
        out_n, cache_n = L.conv_forward_naive(x[:, c], w[f], b[f], cpg)
        assert rel_error(out_n, out_f[:, f]) < EXACT
        dx_n, dw_n, db_n = L.conv_backward_naive(dout[:, f], cache_n)
        assert rel_error(dx_n, dx[:, c]) < EXACT       # group g's channels feed only its filters
        assert rel_error(dw_n, dw[f]) < EXACT and rel_error(db_n, db[f]) < EXACT


def test_chunk_size_bounds_scratch(monkeypatch):
    assert fast_layers.CHUNK_BYTES <= fast_layers.SCRATCH_BYTES == 64 * 2 ** 20
    assert fast_layers._chunk_size(1000, fast_layers.CHUNK_BYTES // 10) == 10
    assert fast_layers._chunk_size(5, 1) == 5
    assert fast_layers._chunk_size(1000, 10 * fast_layers.SCRATCH_BYTES) == 1
    monkeypatch.setattr(fast_layers, "CHUNK_BYTES", 2 * fast_layers.SCRATCH_BYTES)
    assert fast_layers._chunk_size(1000, fast_layers.SCRATCH_BYTES // 10) == 10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_fast_float32_close_to_float64(rng, dtype):
    cp = {"stride": 2, "pad": 1}
    x, w, b = _conv_data(rng, 2, 3, 9, 9, 4, 3, 3, cp)
    out64, _ = L.conv_forward_fast(x, w, b, cp)
    out, cache = L.conv_forward_fast(x.astype(dtype), w.astype(dtype), b.astype(dtype), cp)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, out64, rtol=1e-4, atol=1e-4)
    dx, dw, db = L.conv_backward_fast(np.ones_like(out), cache)
    assert dx.dtype == dw.dtype == db.dtype == dtype


@pytest.mark.parametrize("N", [1, 3])
@pytest.mark.parametrize("cp", [{"stride": 1, "pad": 1}, {"stride": 2, "pad": 1, "groups": 2}])
def test_conv_fast_float32_gradients_match_float64_naive(rng, N, cp):
    x, w, b = _conv_data(rng, N, 4, 7, 7, 4, 3, 3, cp)
    out, cache = L.conv_forward_naive(x, w, b, cp)
    dout = rng.standard_normal(out.shape)
    grads64 = L.conv_backward_naive(dout, cache)
    out32, cache32 = L.conv_forward_fast(x.astype(np.float32), w.astype(np.float32),
                                         b.astype(np.float32), cp)
    grads32 = L.conv_backward_fast(dout.astype(np.float32), cache32)
    np.testing.assert_allclose(out32, out, rtol=1e-4, atol=1e-4)
    for g32, g64 in zip(grads32, grads64):
        assert g32.dtype == np.float32
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backward", [L.conv_backward_naive, L.conv_backward_fast])
def test_conv_backward_accepts_a_cs231n_style_cache(rng, backward):
    cp = {"stride": 2, "pad": 1}
    x, w, b = _conv_data(rng, 2, 3, 7, 7, 4, 3, 3, cp)
    out, cache = L.conv_forward_naive(x, w, b, cp)
    dout = rng.standard_normal(out.shape)
    for g, e in zip(backward(dout, (x, w, b, dict(cp))), L.conv_backward_naive(dout, cache)):
        assert rel_error(g, e) < EXACT


def test_conv_mixed_dtypes_promote(rng):
    x, w, b = _conv_data(rng, 1, 2, 4, 4, 2, 3, 3, {})
    out, cache = L.conv_forward_fast(x.astype(np.float32), w, b, {"pad": 1})
    assert out.dtype == np.float64
    dx, dw, _ = L.conv_backward_fast(np.ones_like(out), cache)
    assert dx.dtype == np.float32 and dw.dtype == np.float64


POOL_CASES = {
    "2x2 stride 2": (2, 3, 8, 6, {"pool_height": 2, "pool_width": 2, "stride": 2}),
    "3x3 stride 2 (AlexNet, overlapping)": (2, 3, 9, 7, {"pool_height": 3, "pool_width": 3, "stride": 2}),
    "3x3 stride 1": (2, 2, 6, 5, {"pool_height": 3, "pool_width": 3, "stride": 1}),
    "3x3 stride 3": (1, 2, 9, 6, {"pool_height": 3, "pool_width": 3, "stride": 3}),
    "rectangular 2x3 stride 1": (2, 2, 5, 6, {"pool_height": 2, "pool_width": 3, "stride": 1}),
    "1x1": (1, 2, 3, 3, {"pool_height": 1, "pool_width": 1, "stride": 1}),
    "global 5x5": (2, 3, 5, 5, {"pool_height": 5, "pool_width": 5}),
    "floor": (2, 2, 7, 7, {"pool_height": 2, "pool_width": 2, "stride": 2, "rounding": "floor"}),
}


def _assert_pool_agrees(x, pp, rng):
    out_n, cache_n = L.max_pool_forward_naive(x, pp)
    out_f, cache_f = L.max_pool_forward_fast(x, pp)
    np.testing.assert_array_equal(out_n, out_f)
    dout = rng.standard_normal(out_n.shape).astype(x.dtype)
    dx_n = L.max_pool_backward_naive(dout, cache_n)
    dx_f = L.max_pool_backward_fast(dout, cache_f)
    assert dx_f.dtype == x.dtype
    # same routing; float32 sums of overlapping windows may differ in the last bit
    assert rel_error(dx_n, dx_f) < (EXACT if x.dtype == np.float64 else 1e-6)


@pytest.mark.parametrize("case", list(POOL_CASES), ids=list(POOL_CASES))
def test_max_pool_fast_matches_naive(rng, case):
    N, C, H, W, pp = POOL_CASES[case]
    _assert_pool_agrees(rng.standard_normal((N, C, H, W)), pp, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])   # overlapping pools: two code paths
@pytest.mark.parametrize("case", list(POOL_CASES), ids=list(POOL_CASES))
def test_max_pool_fast_matches_naive_with_ties(rng, case, dtype):
    N, C, H, W, pp = POOL_CASES[case]
    x = rng.integers(0, 3, size=(N, C, H, W)).astype(dtype)   # many equal maxima
    _assert_pool_agrees(x, pp, rng)


def test_max_pool_float32(rng):
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    out, cache = L.max_pool_forward_fast(x, {"pool_height": 3, "pool_width": 3, "stride": 3})
    assert out.dtype == np.float32
    assert L.max_pool_backward_fast(np.ones_like(out), cache).dtype == np.float32


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
@given(setup=conv_setups(), seed=st.integers(0, 2 ** 16))
def test_property_conv_fast_matches_naive(setup, seed):
    _assert_conv_agrees(np.random.default_rng(seed), *setup)


@settings(max_examples=40, deadline=None, database=None)
@given(ph=st.integers(1, 4), pw=st.integers(1, 4), stride=st.integers(1, 4),
       extra_h=st.integers(0, 6), extra_w=st.integers(0, 6), seed=st.integers(0, 2 ** 16),
       ties=st.booleans())
def test_property_max_pool_fast_matches_naive(ph, pw, stride, extra_h, extra_w, seed, ties):
    rng = np.random.default_rng(seed)
    shape = (2, 2, ph + extra_h, pw + extra_w)
    x = rng.integers(0, 3, size=shape).astype(np.float64) if ties else rng.standard_normal(shape)
    pp = {"pool_height": ph, "pool_width": pw, "stride": stride, "rounding": "floor"}
    _assert_pool_agrees(x, pp, rng)
