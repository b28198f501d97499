"""Fast max pooling: the forward records switches (where each window's first maximum is), the
backward is one scatter; both equal the naive loops exactly, also with ties and overlapping
windows."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cs231n_utils import fast_layers, fast_pool, parallel
from cs231n_utils import layers as L
from cs231n_utils.gradient_check import eval_numerical_gradient_array, rel_error

POOL_CASES = {
    "2x2 stride 2": (2, 3, 8, 6, {"pool_height": 2, "pool_width": 2, "stride": 2}),
    "3x3 stride 2 (AlexNet, overlapping)": (2, 3, 9, 7, {"pool_height": 3, "pool_width": 3, "stride": 2}),
    "3x3 stride 1": (2, 2, 6, 5, {"pool_height": 3, "pool_width": 3, "stride": 1}),
    "3x3 stride 3": (1, 2, 9, 6, {"pool_height": 3, "pool_width": 3, "stride": 3}),
    "rectangular 2x3 stride 1": (2, 2, 5, 6, {"pool_height": 2, "pool_width": 3, "stride": 1}),
    "rectangular 4x1 stride 2": (2, 2, 8, 5, {"pool_height": 4, "pool_width": 1, "stride": 2, "rounding": "floor"}),
    "1x1": (1, 2, 3, 3, {"pool_height": 1, "pool_width": 1, "stride": 1}),
    "global 5x5": (2, 3, 5, 5, {"pool_height": 5, "pool_width": 5}),
    "floor": (2, 2, 7, 7, {"pool_height": 2, "pool_width": 2, "stride": 2, "rounding": "floor"}),
    "stride 3 > window 2 (gaps)": (2, 2, 8, 8, {"pool_height": 2, "pool_width": 2, "stride": 3}),
    "N=1 big": (1, 4, 33, 33, {"pool_height": 3, "pool_width": 3, "stride": 2}),
}


def _assert_pool_agrees(x, pp, rng):
    out_n, cache_n = L.max_pool_forward_naive(x, pp)
    out_f, cache_f = L.max_pool_forward_fast(x, pp)
    np.testing.assert_array_equal(out_n, out_f)
    dout = rng.standard_normal(out_n.shape).astype(x.dtype)
    dx_n = L.max_pool_backward_naive(dout, cache_n)
    dx_f = L.max_pool_backward_fast(dout, cache_f)
    assert dx_f.dtype == x.dtype and dx_f.shape == x.shape
    if x.dtype == np.float64:
        # the same routing; overlapping windows add in another order: equal to rounding
        np.testing.assert_allclose(dx_f, dx_n, rtol=1e-14, atol=1e-14)
    else:   # float32: the scatter of overlapping windows adds in float64, then rounds once
        np.testing.assert_allclose(dx_f, dx_n, rtol=1e-6, atol=1e-6)
    return cache_f


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(POOL_CASES), ids=list(POOL_CASES))
def test_max_pool_fast_matches_naive(rng, case, dtype):
    N, C, H, W, pp = POOL_CASES[case]
    _assert_pool_agrees(rng.standard_normal((N, C, H, W)).astype(dtype), pp, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(POOL_CASES), ids=list(POOL_CASES))
def test_max_pool_fast_matches_naive_with_ties(rng, case, dtype):
    """Many equal maxima: the switch is the first one in row-major order, as np.argmax."""
    N, C, H, W, pp = POOL_CASES[case]
    x = rng.integers(0, 3, size=(N, C, H, W)).astype(dtype)
    _assert_pool_agrees(x, pp, rng)


def test_cache_holds_compact_switches_not_x(rng):
    x = rng.standard_normal((2, 3, 9, 9))
    out, cache = L.max_pool_forward_fast(x, {"pool_height": 3, "pool_width": 3, "stride": 2})
    switches, shape, dtype, params = cache
    assert switches.dtype == np.uint8 and switches.shape == out.shape
    assert shape == x.shape and dtype == x.dtype and params == (3, 3, 2)
    assert not any(isinstance(v, np.ndarray) and v.shape == x.shape for v in cache)
    # the switch of every window points at its maximum
    kh, kw = np.divmod(switches.astype(int), 3)
    n, c, i, j = np.indices(out.shape)
    np.testing.assert_array_equal(x[n, c, 2 * i + kh, 2 * j + kw], out)


def test_backward_explains_a_cache_from_the_naive_forward(rng):
    x = rng.standard_normal((1, 1, 4, 4))
    out, cache = L.max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    with pytest.raises(TypeError, match="needs the cache of max_pool_forward_fast.*max_pool_backward_naive"):
        L.max_pool_backward_fast(np.ones_like(out), cache)


def test_switch_dtype_grows_with_the_window():
    assert fast_pool.switch_dtype(16, 16) == np.uint8
    assert fast_pool.switch_dtype(17, 16) == np.uint16
    assert fast_pool.switch_dtype(300, 300) == np.uint32


def test_windows_of_more_than_256_positions(rng):
    x = rng.standard_normal((1, 2, 20, 20))
    _assert_pool_agrees(x, {"pool_height": 17, "pool_width": 17, "stride": 3}, rng)


def test_overlapping_pool_gradient_check(rng):
    x = rng.standard_normal((1, 2, 7, 7))
    pp = {"pool_height": 3, "pool_width": 3, "stride": 2}
    out, cache = L.max_pool_forward_fast(x, pp)
    dout = rng.standard_normal(out.shape)
    num = eval_numerical_gradient_array(lambda v: L.max_pool_forward_fast(v, pp)[0], x, dout)
    assert rel_error(L.max_pool_backward_fast(dout, cache), num) < 1e-7


@pytest.mark.parametrize("pp", [{"pool_height": 2, "pool_width": 2, "stride": 2, "rounding": "floor"},
                                {"pool_height": 3, "pool_width": 3, "stride": 2}])
def test_chunks_and_threads_give_the_same_result(rng, monkeypatch, pp):
    """Big inputs run in chunks of samples, possibly in threads: the same numbers."""
    x = rng.standard_normal((6, 8, 33, 33)).astype(np.float32)
    out1, cache1 = L.max_pool_forward_fast(x, pp)
    dout = rng.standard_normal(out1.shape).astype(np.float32)
    dx1 = L.max_pool_backward_fast(dout, cache1)
    monkeypatch.setattr(fast_pool, "POOL_CHUNK_BYTES", 20000)
    monkeypatch.setattr(fast_pool, "POOL_THREAD_BYTES", 0)
    for n in (1, 2):
        with parallel.limit_threads(n):
            out, cache = L.max_pool_forward_fast(x, pp)
            np.testing.assert_array_equal(out, out1)
            np.testing.assert_array_equal(cache[0], cache1[0])
            np.testing.assert_array_equal(L.max_pool_backward_fast(dout, cache), dx1)


def test_a_huge_stride_is_refused_at_once(rng):
    x = rng.standard_normal((1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"pool_param\['stride'\] = 1000000000000 is far larger.*EXTENT_LIMIT"):
        L.max_pool_forward_fast(x, {"pool_height": 2, "pool_width": 2, "stride": 10 ** 12})
    assert fast_layers.EXTENT_LIMIT >= 1


@settings(max_examples=40, deadline=None, database=None)
@given(ph=st.integers(1, 4), pw=st.integers(1, 4), stride=st.integers(1, 4),
       extra_h=st.integers(0, 6), extra_w=st.integers(0, 6), seed=st.integers(0, 2 ** 16),
       ties=st.booleans(), f32=st.booleans())
def test_property_max_pool_fast_matches_naive(ph, pw, stride, extra_h, extra_w, seed, ties, f32):
    rng = np.random.default_rng(seed)
    shape = (2, 2, ph + extra_h, pw + extra_w)
    x = rng.integers(0, 3, size=shape).astype(np.float64) if ties else rng.standard_normal(shape)
    pp = {"pool_height": ph, "pool_width": pw, "stride": stride, "rounding": "floor"}
    _assert_pool_agrees(x.astype(np.float32) if f32 else x, pp, rng)
