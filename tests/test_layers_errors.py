"""Every input check of the layers: the right exception type and a message that teaches."""
import numpy as np
import pytest

from cs231n_utils import layers as L

CONV_FUNCS = [L.conv_forward_naive, L.conv_forward_fast]
POOL_FUNCS = [L.max_pool_forward_naive, L.max_pool_forward_fast, L.avg_pool_forward, L.l2_pool_forward]


def conv_args(C=3, F=2, K=3, N=2, H=5, W=5):
    return np.zeros((N, C, H, W)), np.zeros((F, C, K, K)), np.zeros(F)


@pytest.mark.parametrize("conv", CONV_FUNCS)
class TestConvErrors:
    def test_integer_input_asks_for_float(self, conv):
        x, w, b = conv_args()
        with pytest.raises(TypeError, match=r"x has dtype int64.*astype\(np.float64\)"):
            conv(x.astype(np.int64), w, b, {})
        with pytest.raises(TypeError, match="w has dtype"):
            conv(x, w.astype(np.int32), b, {})
        with pytest.raises(TypeError, match="float32 or float64"):
            conv(x.astype(np.float16), w, b, {})

    def test_not_an_array(self, conv):
        x, w, b = conv_args()
        with pytest.raises(TypeError, match="x must be a numpy array"):
            conv(x.tolist(), w, b, {})

    def test_wrong_number_of_dimensions(self, conv):
        x, w, b = conv_args()
        with pytest.raises(ValueError, match=r"x must have 4 dimensions \(N, C, H, W\)"):
            conv(x[0], w, b, {})
        with pytest.raises(ValueError, match="w must have 4 dimensions"):
            conv(x, w[0], b, {})

    def test_channel_mismatch(self, conv):
        x, _, b = conv_args()
        w = np.zeros((2, 4, 3, 3))
        with pytest.raises(ValueError, match=r"w has shape \(2, 4, 3, 3\).*C = 3.*\(2, 3, 3, 3\)"):
            conv(x, w, b, {"pad": 1})

    def test_bias_length(self, conv):
        x, w, _ = conv_args()
        with pytest.raises(ValueError, match=r"b has shape \(3,\) but w has F = 2.*\(2,\)"):
            conv(x, w, np.zeros(3), {"pad": 1})

    def test_groups_must_divide(self, conv):
        x, _, _ = conv_args(C=4)
        with pytest.raises(ValueError, match="C = 4 channels, not divisible by.*groups'\\] = 3"):
            conv(x, np.zeros((3, 1, 3, 3)), np.zeros(3), {"pad": 1, "groups": 3})
        with pytest.raises(ValueError, match="F = 3 filters, not divisible"):
            conv(x, np.zeros((3, 2, 3, 3)), np.zeros(3), {"pad": 1, "groups": 2})
        with pytest.raises(ValueError, match="C/groups = 4/2 = 2"):
            conv(x, np.zeros((2, 4, 3, 3)), np.zeros(2), {"pad": 1, "groups": 2})

    def test_setting_that_does_not_fit(self, conv):
        x, w, b = conv_args(H=6, W=6)
        with pytest.raises(ValueError, match=r"stride 2 does not fit: \(6 \+ 2\*0 - 3\)/2 \+ 1 = 2.5 "
                                             r"is not an integer; try stride=1"):
            conv(x, w, b, {"stride": 2})
        with pytest.raises(ValueError, match="filter 7 does not fit"):
            conv(*conv_args(K=7), {})

    def test_bad_settings(self, conv):
        x, w, b = conv_args()
        with pytest.raises(ValueError, match=r"conv_param\['stride'\] must be >= 1, got 0"):
            conv(x, w, b, {"stride": 0})
        with pytest.raises(ValueError, match=r"conv_param\['pad'\] must be >= 0"):
            conv(x, w, b, {"pad": -1})
        with pytest.raises(TypeError, match=r"conv_param\['stride'\] must be an integer, got 1.5"):
            conv(x, w, b, {"stride": 1.5})
        with pytest.raises(TypeError, match="must be an integer"):
            conv(x, w, b, {"pad": True})
        with pytest.raises(ValueError, match="unknown key 'padding'; allowed keys: stride, pad"):
            conv(x, w, b, {"padding": 1})
        with pytest.raises(ValueError, match="rounding"):
            conv(x, w, b, {"rounding": "ceil"})
        with pytest.raises(TypeError, match="conv_param must be a dict"):
            conv(x, w, b, [1, 1])

    def test_nan_and_inf(self, conv):
        x, w, b = conv_args()
        x[0, 0, 0, 0] = np.nan
        with pytest.raises(ValueError, match="x contains 1 NaN/inf"):
            conv(x, w, b, {"pad": 1})
        x, w, b = conv_args()
        w[0, 0, 0, 0] = np.inf
        with pytest.raises(ValueError, match="w contains 1 NaN/inf"):
            conv(x, w, b, {"pad": 1})

    def test_empty_axis(self, conv):
        x, w, b = conv_args(N=0)
        with pytest.raises(ValueError, match="empty axis"):
            conv(x, w, b, {"pad": 1})

    def test_backward_checks_dout(self, conv):
        x, w, b = conv_args()
        out, cache = conv(x, w, b, {"pad": 1})
        backward = L.conv_backward_naive if conv is L.conv_forward_naive else L.conv_backward_fast
        with pytest.raises(ValueError, match=r"dout has shape \(2, 2, 4, 4\).*\(2, 2, 5, 5\)"):
            backward(np.zeros((2, 2, 4, 4)), cache)
        with pytest.raises(TypeError, match="dout has dtype int64"):
            backward(np.zeros(out.shape, dtype=np.int64), cache)
        bad = np.zeros(out.shape)
        bad[0, 0, 0, 0] = np.nan
        with pytest.raises(ValueError, match="dout contains 1 NaN/inf"):
            backward(bad, cache)


def test_float32_sum_overflow_is_not_mistaken_for_inf():
    x = np.full((1, 1, 4, 4), 3e38, dtype=np.float32)      # finite, but the sum overflows
    out, _ = L.max_pool_forward_fast(x, {"pool_height": 2, "pool_width": 2})
    assert np.all(out == np.float32(3e38))


@pytest.mark.parametrize("pool", POOL_FUNCS)
def test_pool_errors(pool):
    x = np.zeros((1, 2, 5, 5))
    with pytest.raises(ValueError, match=r"stride 2 does not fit: \(5 - 2\)/2 \+ 1 = 2.5"):
        pool(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    with pytest.raises(ValueError, match=r"pool_param\['pool_height'\] is missing"):
        pool(x, {"pool_width": 2, "stride": 1})
    with pytest.raises(ValueError, match=r"pool_param\['stride'\] is missing"):
        pool(x, {"pool_height": 3, "pool_width": 2})
    with pytest.raises(ValueError, match="pool window 6 does not fit in input 5"):
        pool(x, {"pool_height": 6, "pool_width": 1, "stride": 1})
    with pytest.raises(ValueError, match=r"pool_param\['pool_width'\] must be >= 1"):
        pool(x, {"pool_height": 1, "pool_width": 0, "stride": 1})
    with pytest.raises(ValueError, match="unknown key 'pad'"):
        pool(x, {"pool_height": 1, "pool_width": 1, "stride": 1, "pad": 1})
    with pytest.raises(TypeError, match="x has dtype int64"):
        pool(x.astype(np.int64), {"pool_height": 1, "pool_width": 1, "stride": 1})
    with pytest.raises(ValueError, match="x must have 4 dimensions"):
        pool(x[0], {"pool_height": 1, "pool_width": 1, "stride": 1})
    out, _ = pool(x, {"pool_height": 2, "pool_width": 2, "stride": 2, "rounding": "floor"})
    assert out.shape == (1, 2, 2, 2)
    out, _ = pool(x, {"pool_height": 5, "pool_width": 5})          # stride defaults to the window
    assert out.shape == (1, 2, 1, 1)


@pytest.mark.parametrize("forward,backward", [
    (L.max_pool_forward_naive, L.max_pool_backward_naive),
    (L.max_pool_forward_fast, L.max_pool_backward_fast),
    (L.avg_pool_forward, L.avg_pool_backward),
    (L.l2_pool_forward, L.l2_pool_backward),
])
def test_pool_backward_checks_dout(forward, backward):
    _, cache = forward(np.ones((1, 2, 4, 4)), {"pool_height": 2, "pool_width": 2})
    with pytest.raises(ValueError, match=r"dout has shape \(1, 2, 4, 4\) but the forward output had "
                                         r"shape \(1, 2, 2, 2\)"):
        backward(np.ones((1, 2, 4, 4)), cache)


def test_affine_errors():
    x, w, b = np.zeros((2, 3, 4)), np.zeros((12, 5)), np.zeros(5)
    with pytest.raises(ValueError, match=r"flattens to D = 12.*\(12, M\)"):
        L.affine_forward(x, np.zeros((10, 5)), b)
    with pytest.raises(ValueError, match=r"b must have shape \(5,\)"):
        L.affine_forward(x, w, np.zeros(4))
    with pytest.raises(ValueError, match=r"x\[None\]"):
        L.affine_forward(np.zeros(12), w, b)
    with pytest.raises(TypeError, match="x has dtype int64"):
        L.affine_forward(x.astype(np.int64), w, b)
    _, cache = L.affine_forward(x, w, b)
    with pytest.raises(ValueError, match="dout has shape"):
        L.affine_backward(np.zeros((2, 4)), cache)


def test_relu_errors():
    with pytest.raises(ValueError, match="NaN/inf"):
        L.relu_forward(np.array([1.0, np.nan]))
    _, cache = L.relu_forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="dout has shape"):
        L.relu_backward(np.zeros((3, 2)), cache)


@pytest.mark.parametrize("spatial", [False, True])
def test_batchnorm_errors(spatial):
    fwd = L.spatial_batchnorm_forward if spatial else L.batchnorm_forward
    x = np.zeros((2, 3, 2, 2)) if spatial else np.zeros((2, 3))
    g, b = np.ones(3), np.zeros(3)
    what = "channels" if spatial else "features"
    with pytest.raises(ValueError, match=f"gamma has shape \\(4,\\) but x has 3 {what}"):
        fwd(x, np.ones(4), b, {"mode": "train"})
    with pytest.raises(ValueError, match=r"beta must have 1 dimensions"):
        fwd(x, g, np.zeros((3, 1)), {"mode": "train"})
    with pytest.raises(ValueError, match="'train' or 'test', got 'eval'"):
        fwd(x, g, b, {"mode": "eval"})
    with pytest.raises(ValueError, match="eps'\\] must be > 0"):
        fwd(x, g, b, {"mode": "train", "eps": 0})
    with pytest.raises(ValueError, match="momentum'\\] must be in"):
        fwd(x, g, b, {"mode": "train", "momentum": 1.5})
    with pytest.raises(TypeError, match="bn_param must be a dict"):
        fwd(x, g, b, None)
    with pytest.raises(ValueError, match="fresh bn_param"):
        fwd(x, g, b, {"mode": "train", "running_mean": np.zeros(5)})
    with pytest.raises(ValueError, match="unknown key 'moment'"):
        fwd(x, g, b, {"mode": "train", "moment": 0.9})
    with pytest.raises(ValueError, match="dimensions"):
        fwd(x[0], g, b, {"mode": "train"})


def test_lrn_errors():
    x = np.zeros((1, 3, 2, 2))
    with pytest.raises(ValueError, match=r"lrn_param\['size'\] must be >= 1"):
        L.lrn_forward(x, {"size": 0})
    with pytest.raises(ValueError, match="k > 0"):
        L.lrn_forward(x, {"k": 0})
    with pytest.raises(ValueError, match="unknown key 'n'"):
        L.lrn_forward(x, {"n": 5})
    with pytest.raises(ValueError, match="4 dimensions"):
        L.lrn_forward(x[0], {})
    _, cache = L.lrn_forward(x, {})
    with pytest.raises(ValueError, match="dout has shape"):
        L.lrn_backward(np.zeros((1, 3, 2, 1)), cache)


def test_global_avg_pool_errors():
    with pytest.raises(ValueError, match="4 dimensions"):
        L.global_avg_pool_forward(np.zeros((2, 3)))
    _, cache = L.global_avg_pool_forward(np.zeros((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3, 1, 1\)"):
        L.global_avg_pool_backward(np.zeros((2, 3, 1, 1)), cache)
