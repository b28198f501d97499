"""Layer forward/backward: known values, gradient checks (float64, rel error < 1e-7), error paths,
dtype preservation, and backward passes that leave their inputs alone."""
import numpy as np
import pytest

from cs231n_utils import layers as L
from cs231n_utils.gradient_check import (eval_numerical_gradient, eval_numerical_gradient_array,
                                         rel_error)

TOL = 1e-7


def num_grad(f, x, dout, h=1e-5):
    return eval_numerical_gradient_array(f, x, dout, h=h)


# ----------------------------------------------------------------------------------------
# affine / relu
# ----------------------------------------------------------------------------------------

def test_affine_forward_known_values():
    x = np.arange(12, dtype=np.float64).reshape(2, 3, 2)
    w = np.ones((6, 2))
    w[:, 1] = 2
    b = np.array([1.0, -1.0])
    out, _ = L.affine_forward(x, w, b)
    np.testing.assert_allclose(out, [[16, 29], [52, 101]])


def test_affine_gradients(rng):
    x = rng.standard_normal((3, 2, 4))
    w = rng.standard_normal((8, 5))
    b = rng.standard_normal(5)
    out, cache = L.affine_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = L.affine_backward(dout, cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    assert rel_error(dx, num_grad(lambda v: L.affine_forward(v, w, b)[0], x, dout)) < TOL
    assert rel_error(dw, num_grad(lambda v: L.affine_forward(x, v, b)[0], w, dout)) < TOL
    assert rel_error(db, num_grad(lambda v: L.affine_forward(x, w, v)[0], b, dout)) < TOL


def test_relu_forward_backward(rng):
    x = np.array([[-1.0, 0.0, 2.0]])
    out, cache = L.relu_forward(x)
    np.testing.assert_array_equal(out, [[0, 0, 2]])
    np.testing.assert_array_equal(L.relu_backward(np.array([[5.0, 6.0, 7.0]]), cache), [[0, 0, 7]])
    x = rng.standard_normal((3, 4, 2))
    out, cache = L.relu_forward(x)
    dout = rng.standard_normal(out.shape)
    assert rel_error(L.relu_backward(dout, cache), num_grad(lambda v: L.relu_forward(v)[0], x, dout)) < TOL


# ----------------------------------------------------------------------------------------
# convolution (naive definition; the fast one is compared with it in test_fast_layers.py)
# ----------------------------------------------------------------------------------------

def test_conv_naive_known_values():
    # a 3x3 all-ones filter with pad 1 sums each 3x3 neighbourhood of a 3x3 image of ones
    x = np.ones((1, 1, 3, 3))
    w = np.ones((1, 1, 3, 3))
    out, _ = L.conv_forward_naive(x, w, np.array([0.5]), {"stride": 1, "pad": 1})
    np.testing.assert_array_equal(out[0, 0], [[4.5, 6.5, 4.5], [6.5, 9.5, 6.5], [4.5, 6.5, 4.5]])


def test_conv_is_cross_correlation():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 0, 0] = 1.0
    w = np.arange(9, dtype=np.float64).reshape(1, 1, 3, 3)
    out, _ = L.conv_forward_naive(x, w, np.zeros(1), {"stride": 1, "pad": 1})
    # the output pixel (1, 1) sees x[0, 0] through the top-left tap w[0, 0]
    assert out[0, 0, 1, 1] == w[0, 0, 0, 0]
    assert out[0, 0, 0, 0] == w[0, 0, 1, 1]


def test_conv_dilation_and_groups_definition(rng):
    x = rng.standard_normal((1, 4, 5, 5))
    w = rng.standard_normal((2, 2, 2, 2))
    b = rng.standard_normal(2)
    out, _ = L.conv_forward_naive(x, w, b, {"dilation": 2, "groups": 2})
    assert out.shape == (1, 2, 3, 3)
    # filter 1 belongs to group 1 (channels 2, 3) and its taps are 2 pixels apart
    expect = np.sum(x[0, 2:4, 1:4:2, 0:3:2] * w[1]) + b[1]
    assert out[0, 1, 1, 0] == pytest.approx(expect, rel=1e-12)


CONV_GRAD_CASES = [
    # N, C, H, W, F, HH, WW, conv_param
    (2, 3, 5, 5, 2, 3, 3, {"stride": 1, "pad": 1}),
    (1, 2, 7, 5, 3, 3, 1, {"stride": 2, "pad": 0}),
    (2, 2, 7, 7, 2, 3, 3, {"stride": 3, "pad": 1}),
    (1, 2, 6, 6, 2, 2, 2, {"stride": 1, "pad": 1, "dilation": 2}),
    (1, 4, 4, 4, 6, 3, 3, {"stride": 1, "pad": 1, "groups": 2}),
    (2, 3, 5, 4, 6, 3, 2, {"stride": 1, "pad": 1, "groups": 3}),          # depthwise, 2 per channel
    (1, 2, 8, 7, 2, 3, 3, {"stride": 2, "pad": 0, "rounding": "floor"}),   # drops the last row
]


@pytest.mark.parametrize("forward,backward", [(L.conv_forward_naive, L.conv_backward_naive),
                                              (L.conv_forward_fast, L.conv_backward_fast)])
@pytest.mark.parametrize("case", CONV_GRAD_CASES)
def test_conv_gradients(rng, forward, backward, case):
    N, C, H, W, F, HH, WW, cp = case
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((F, C // cp.get("groups", 1), HH, WW))
    b = rng.standard_normal(F)
    out, cache = forward(x, w, b, cp)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = backward(dout, cache)
    # the layer is linear in each argument, so a larger step only reduces rounding noise
    assert rel_error(dx, num_grad(lambda v: forward(v, w, b, cp)[0], x, dout, h=1e-3)) < TOL
    assert rel_error(dw, num_grad(lambda v: forward(x, v, b, cp)[0], w, dout, h=1e-3)) < TOL
    assert rel_error(db, num_grad(lambda v: forward(x, w, v, cp)[0], b, dout, h=1e-3)) < TOL


def test_conv_floor_rounding_drops_what_does_not_fit(rng):
    x = rng.standard_normal((1, 1, 6, 6))
    w = rng.standard_normal((1, 1, 3, 3))
    with pytest.raises(ValueError, match="does not fit"):
        L.conv_forward_naive(x, w, np.zeros(1), {"stride": 2})
    out, cache = L.conv_forward_naive(x, w, np.zeros(1), {"stride": 2, "rounding": "floor"})
    ref, _ = L.conv_forward_naive(x[:, :, :5, :5], w, np.zeros(1), {"stride": 2})
    np.testing.assert_allclose(out, ref)
    dx, _, _ = L.conv_backward_naive(np.ones_like(out), cache)
    assert np.all(dx[:, :, 5, :] == 0) and np.all(dx[:, :, :, 5] == 0)


# ----------------------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------------------

def test_max_pool_naive_known_values():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    out, _ = L.max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    np.testing.assert_array_equal(out[0, 0], [[5, 7], [13, 15]])


def test_max_pool_overlapping_gradients_add_up():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0                     # the centre is the max of all four 2x2 windows
    pp = {"pool_height": 2, "pool_width": 2, "stride": 1}
    for fwd, bwd in [(L.max_pool_forward_naive, L.max_pool_backward_naive),
                     (L.max_pool_forward_fast, L.max_pool_backward_fast)]:
        out, cache = fwd(x, pp)
        dx = bwd(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
        assert dx[0, 0, 1, 1] == 10.0 and dx.sum() == 10.0


def test_max_pool_ties_go_to_first_max():
    x = np.ones((1, 1, 2, 2))
    pp = {"pool_height": 2, "pool_width": 2, "stride": 2}
    for fwd, bwd in [(L.max_pool_forward_naive, L.max_pool_backward_naive),
                     (L.max_pool_forward_fast, L.max_pool_backward_fast)]:
        out, cache = fwd(x, pp)
        dx = bwd(np.full((1, 1, 1, 1), 3.0), cache)
        np.testing.assert_array_equal(dx[0, 0], [[3, 0], [0, 0]])


POOL_CASES = [  # (H, W, pool_param)
    (6, 4, {"pool_height": 2, "pool_width": 2, "stride": 2}),
    (7, 5, {"pool_height": 3, "pool_width": 3, "stride": 2}),
    (5, 4, {"pool_height": 3, "pool_width": 3, "stride": 1}),
    (5, 5, {"pool_height": 3, "pool_width": 2, "stride": 1}),
    (7, 5, {"pool_height": 2, "pool_width": 2, "stride": 2, "rounding": "floor"}),
]


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("forward,backward", [
    (L.max_pool_forward_naive, L.max_pool_backward_naive),
    (L.max_pool_forward_fast, L.max_pool_backward_fast),
    (L.avg_pool_forward, L.avg_pool_backward),
    (L.l2_pool_forward, L.l2_pool_backward),
])
def test_pool_gradients(rng, case, forward, backward):
    H, W, pp = case
    # distinct, well separated values: the max of each window does not change under +-h
    x = rng.permutation(2 * 2 * H * W).reshape(2, 2, H, W).astype(np.float64) / 7 - 7
    out, cache = forward(x, pp)
    dout = rng.standard_normal(out.shape)
    dx = backward(dout, cache)
    assert rel_error(dx, num_grad(lambda v: forward(v, pp)[0], x, dout)) < TOL


def test_avg_and_l2_pool_known_values():
    x = np.array([[[[3.0, 4.0], [0.0, 0.0]]]])
    pp = {"pool_height": 2, "pool_width": 2, "stride": 2}
    assert L.avg_pool_forward(x, pp)[0].item() == pytest.approx(1.75)
    assert L.l2_pool_forward(x, pp)[0].item() == pytest.approx(5.0)


def test_l2_pool_zero_window_has_zero_gradient():
    x = np.zeros((1, 1, 2, 2))
    out, cache = L.l2_pool_forward(x, {"pool_height": 2, "pool_width": 2})
    dx = L.l2_pool_backward(np.ones_like(out), cache)
    assert np.all(dx == 0) and np.all(np.isfinite(dx))


def test_global_avg_pool(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    out, cache = L.global_avg_pool_forward(x)
    np.testing.assert_allclose(out, x.mean(axis=(2, 3)))
    dout = rng.standard_normal(out.shape)
    dx = L.global_avg_pool_backward(dout, cache)
    assert rel_error(dx, num_grad(lambda v: L.global_avg_pool_forward(v)[0], x, dout)) < TOL


# ----------------------------------------------------------------------------------------
# batch normalisation
# ----------------------------------------------------------------------------------------

def test_batchnorm_train_normalises_and_updates_running_stats(rng):
    x = 3 + 2 * rng.standard_normal((200, 3))
    bn = {"mode": "train", "momentum": 0.5}
    out, _ = L.batchnorm_forward(x, np.ones(3), np.zeros(3), bn)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)
    np.testing.assert_allclose(bn["running_mean"], 0.5 * x.mean(axis=0))
    np.testing.assert_allclose(bn["running_var"], 0.5 + 0.5 * x.var(axis=0))
    bn["mode"] = "test"
    out_test, _ = L.batchnorm_forward(x, np.ones(3), np.zeros(3), bn)
    expect = (x - bn["running_mean"]) / np.sqrt(bn["running_var"] + 1e-5)
    np.testing.assert_allclose(out_test, expect)


def test_spatial_batchnorm_per_channel(rng):
    x = rng.standard_normal((4, 3, 5, 5)) * np.array([1, 5, 10])[None, :, None, None]
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0, 1.0])
    bn = {"mode": "train"}
    out, _ = L.spatial_batchnorm_forward(x, gamma, beta, bn)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), beta, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), gamma, rtol=1e-4)
    assert bn["running_mean"].shape == (3,) and bn["running_var"].shape == (3,)


@pytest.mark.parametrize("mode", ["train", "test"])
@pytest.mark.parametrize("spatial", [False, True])
def test_batchnorm_gradients(rng, mode, spatial):
    if spatial:
        x = rng.standard_normal((2, 3, 2, 3)) * 2 + 1
        fwd, bwd = L.spatial_batchnorm_forward, L.spatial_batchnorm_backward
    else:
        x = rng.standard_normal((4, 3)) * 2 + 1
        fwd, bwd = L.batchnorm_forward, L.batchnorm_backward
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    stats = {"running_mean": rng.standard_normal(3), "running_var": rng.random(3) + 0.5}

    def run(xx, gg, bb):
        return fwd(xx, gg, bb, {"mode": mode, **{k: v.copy() for k, v in stats.items()}})[0]

    out, cache = fwd(x, gamma, beta, {"mode": mode, **{k: v.copy() for k, v in stats.items()}})
    dout = rng.standard_normal(out.shape)
    dx, dgamma, dbeta = bwd(dout, cache)
    assert rel_error(dx, num_grad(lambda v: run(v, gamma, beta), x, dout)) < TOL
    assert rel_error(dgamma, num_grad(lambda v: run(x, v, beta), gamma, dout)) < TOL
    assert rel_error(dbeta, num_grad(lambda v: run(x, gamma, v), beta, dout)) < TOL


def test_batchnorm_float32_running_stats_stay_float32(rng):
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    bn = {"mode": "train"}
    out, cache = L.spatial_batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32), bn)
    assert out.dtype == np.float32 and bn["running_mean"].dtype == np.float32
    dx, dg, db = L.spatial_batchnorm_backward(np.ones_like(out), cache)
    assert dx.dtype == dg.dtype == db.dtype == np.float32


# ----------------------------------------------------------------------------------------
# local response normalisation
# ----------------------------------------------------------------------------------------

def _lrn_reference(x, size, alpha, beta, k):
    N, C, H, W = x.shape
    out = np.empty_like(x)
    for c in range(C):
        lo, hi = max(0, c - size // 2), min(C - 1, c + (size - 1) // 2)
        s = (x[:, lo:hi + 1] ** 2).sum(axis=1)
        out[:, c] = x[:, c] / (k + alpha / size * s) ** beta
    return out


@pytest.mark.parametrize("lp", [{}, {"size": 3, "alpha": 0.5, "beta": 0.75, "k": 1.0},
                                {"size": 4, "alpha": 1.0, "beta": 0.6, "k": 1.5},
                                {"size": 9, "alpha": 0.3, "beta": 1.0, "k": 2.0}])
def test_lrn_matches_formula_and_gradient(rng, lp):
    x = rng.standard_normal((2, 6, 2, 3))
    out, cache = L.lrn_forward(x, lp)
    full = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0, **lp}
    np.testing.assert_allclose(out, _lrn_reference(x, **full), rtol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx = L.lrn_backward(dout, cache)
    assert rel_error(dx, num_grad(lambda v: L.lrn_forward(v, lp)[0], x, dout)) < TOL


# ----------------------------------------------------------------------------------------
# losses
# ----------------------------------------------------------------------------------------

def test_softmax_loss_values_and_gradient(rng):
    scores = np.zeros((4, 10))
    loss, _ = L.softmax_loss(scores, np.arange(4))
    assert loss == pytest.approx(np.log(10))
    big = np.array([[1000.0, 0.0], [0.0, 1000.0]])             # stable for huge scores
    loss, d = L.softmax_loss(big, np.array([0, 0]))
    assert loss == pytest.approx(500.0) and np.all(np.isfinite(d))
    scores = rng.standard_normal((5, 4))
    y = rng.integers(0, 4, 5)
    loss, d = L.softmax_loss(scores, y)
    assert isinstance(loss, float)
    assert rel_error(d, eval_numerical_gradient(lambda s: L.softmax_loss(s, y)[0], scores)) < TOL


def test_svm_loss_values_and_gradient(rng):
    scores = np.array([[3.0, 1.0, 2.5], [0.0, 0.0, 0.0]])
    loss, _ = L.svm_loss(scores, np.array([0, 1]))
    # row 0: max(0, 1-3+1) + max(0, 2.5-3+1) = 0.5; row 1: 1 + 1 = 2
    assert loss == pytest.approx(1.25)
    scores = rng.standard_normal((5, 4))
    y = rng.integers(0, 4, 5)
    loss, d = L.svm_loss(scores, y)
    assert rel_error(d, eval_numerical_gradient(lambda s: L.svm_loss(s, y)[0], scores)) < TOL


@pytest.mark.parametrize("loss_fn", [L.softmax_loss, L.svm_loss])
def test_loss_label_errors(loss_fn):
    scores = np.zeros((3, 4))
    with pytest.raises(TypeError, match="integers"):
        loss_fn(scores, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="label 4"):
        loss_fn(scores, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match="label -1"):
        loss_fn(scores, np.array([0, -1, 2]))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        loss_fn(scores, np.array([0, 1]))
    with pytest.raises(ValueError, match="2 dimensions"):
        loss_fn(np.zeros(4), np.array([0]))


# ----------------------------------------------------------------------------------------
# dtype preservation and untouched inputs, for every layer
# ----------------------------------------------------------------------------------------

def _all_layers(rng, dtype):
    """(name, forward thunk, backward fn) for every layer, on small inputs of `dtype`."""
    def a(*shape):
        return rng.standard_normal(shape).astype(dtype)
    x4 = a(2, 4, 6, 6)
    pp = {"pool_height": 2, "pool_width": 2, "stride": 2}
    cp = {"stride": 1, "pad": 1}
    return [
        ("affine", lambda: L.affine_forward(x4, a(144, 5), a(5)), L.affine_backward),
        ("relu", lambda: L.relu_forward(x4), L.relu_backward),
        ("conv_naive", lambda: L.conv_forward_naive(x4, a(3, 4, 3, 3), a(3), cp), L.conv_backward_naive),
        ("conv_fast", lambda: L.conv_forward_fast(x4, a(3, 4, 3, 3), a(3), cp), L.conv_backward_fast),
        ("conv_groups", lambda: L.conv_forward_fast(x4, a(4, 2, 3, 3), a(4), {**cp, "groups": 2}),
         L.conv_backward_fast),
        ("conv_depthwise", lambda: L.conv_forward_fast(x4, a(8, 1, 3, 3), a(8), {**cp, "groups": 4}),
         L.conv_backward_fast),
        ("max_naive", lambda: L.max_pool_forward_naive(x4, pp), L.max_pool_backward_naive),
        ("max_fast", lambda: L.max_pool_forward_fast(x4, pp), L.max_pool_backward_fast),
        ("avg", lambda: L.avg_pool_forward(x4, pp), L.avg_pool_backward),
        ("l2", lambda: L.l2_pool_forward(x4, pp), L.l2_pool_backward),
        ("gap", lambda: L.global_avg_pool_forward(x4), L.global_avg_pool_backward),
        ("bn", lambda: L.batchnorm_forward(a(5, 3), a(3), a(3), {"mode": "train"}), L.batchnorm_backward),
        ("sbn", lambda: L.spatial_batchnorm_forward(x4, a(4), a(4), {"mode": "train"}),
         L.spatial_batchnorm_backward),
        ("lrn", lambda: L.lrn_forward(x4, {}), L.lrn_backward),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_layer_keeps_dtype_and_leaves_inputs_alone(rng, dtype):
    for name, forward, backward in _all_layers(rng, dtype):
        out, cache = forward()
        assert out.dtype == dtype, name
        dout = rng.standard_normal(out.shape).astype(dtype)
        dout_copy = dout.copy()
        arrays = [v for v in (cache if isinstance(cache, tuple) else (cache,))
                  if isinstance(v, np.ndarray)]
        copies = [v.copy() for v in arrays]
        grads = backward(dout, cache)
        for g in (grads if isinstance(grads, tuple) else (grads,)):
            assert g.dtype == dtype, name
        np.testing.assert_array_equal(dout, dout_copy, err_msg=name)
        for before, after in zip(copies, arrays):
            np.testing.assert_array_equal(before, after, err_msg=name)
    scores = rng.standard_normal((3, 4)).astype(dtype)
    for loss_fn in (L.softmax_loss, L.svm_loss):
        _, d = loss_fn(scores, np.array([0, 1, 3]))
        assert d.dtype == dtype


def test_aliases_point_to_fast_versions():
    assert L.conv_forward is L.conv_forward_fast and L.conv_backward is L.conv_backward_fast
    assert L.max_pool_forward is L.max_pool_forward_fast
    assert L.max_pool_backward is L.max_pool_backward_fast
    for name in L.__all__:
        assert callable(getattr(L, name)), name
