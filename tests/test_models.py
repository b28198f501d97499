"""Layer objects and the Sequential model: shapes, gradients, freezing, state, summary."""
import numpy as np
import pytest

from cs231n_utils.gradient_check import eval_numerical_gradient, rel_error
from cs231n_utils.layer_objects import (LAYER_TYPES, LRN, Affine, AvgPool, BatchNorm, Conv, Dropout,
                                        Flatten, GlobalAvgPool, MaxPool, ReLU, Residual)
from cs231n_utils.models import Sequential
from cs231n_utils.pattern import build_from_pattern


def _max_grad_error(model, X, y, skip=()):
    loss, grads = model.loss(X, y)
    assert set(grads) == set(model.params)
    worst = {}
    for k, p in model.params.items():
        if k in skip:
            continue
        num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], p)
        # relative error; a gradient that is ~0 everywhere only needs a tiny absolute error
        tiny = np.max(np.abs(num - grads[k])) < 1e-9
        worst[k] = 0.0 if tiny else rel_error(num, grads[k])
    return worst


@pytest.mark.parametrize("text, reg", [
    ("CONV3-3 -> RELU -> POOL2 -> CONV3-4 -> LRN -> AVGPOOL3 -> FC-5 -> RELU -> FC-3", 0.0),
    ("CONV3-3-D2 -> RELU -> FLATTEN -> FC-3", 0.1),
    ("CONV3-4-S3-P0 -> RELU -> GAP -> FC-3 -> SVM", 0.05),
    ("CONV3-4-G2 -> RELU -> POOL3-S3 -> FC-3", 0.0),
])
def test_full_model_gradient_matches_numerical(rng, text, reg):
    X = rng.standard_normal((3, 2, 6, 6))
    y = np.array([0, 2, 1])
    model = build_from_pattern(text, (2, 6, 6), seed=1, reg=reg)
    errors = _max_grad_error(model, X, y)
    assert max(errors.values()) < 1e-6, errors


def test_batchnorm_model_gradient(rng):
    # biases right before BN have zero true gradient (BN removes any shift), so skip them.
    X = rng.standard_normal((4, 2, 5, 5))
    y = np.array([0, 1, 2, 1])
    model = build_from_pattern("CONV3-3 -> BN -> RELU -> FC-4 -> BN -> RELU -> FC-3", (2, 5, 5), seed=2)
    errors = _max_grad_error(model, X, y, skip=("conv1.b", "fc1.b"))
    assert max(errors.values()) < 1e-6, errors
    assert np.allclose(model.loss(X, y)[1]["conv1.b"], 0, atol=1e-10)


def test_residual_block_gradient_identity_and_auto_projection(rng):
    X = rng.standard_normal((2, 3, 4, 4))
    y = np.array([1, 0])
    # 3x3 stride 2 pad 1 does not tile 4 pixels exactly: floor rounding drops the last row
    model = Sequential([Conv(4, 3),
                        Residual([Conv(4, 3), BatchNorm(), ReLU(), Conv(4, 3), BatchNorm()]),
                        Residual([Conv(6, 3, stride=2, pad=1, rounding="floor"), ReLU()],
                                 projection="auto"),
                        GlobalAvgPool(), Affine(2)], (3, 4, 4), seed=0, reg=0.01)
    assert "res1.conv1.W" in model.params and "res2.proj_conv1.W" in model.params
    assert model["res2"].out_shape == (6, 2, 2)
    errors = _max_grad_error(model, X, y, skip=("res1.conv1.b", "res1.conv2.b"))
    assert max(errors.values()) < 1e-6, errors


def test_residual_adds_input_and_shape_mismatch_is_explained(rng):
    block = Residual([Conv(3, 3, weight_scale=1e-12)], final_relu=False)
    model = Sequential([block], (3, 4, 4))
    x = rng.standard_normal((2, 3, 4, 4))
    assert np.allclose(model.forward(x), x, atol=1e-9)      # F(x) ~ 0, so out = x
    with pytest.raises(ValueError, match="projection='auto'"):
        Sequential([Residual([Conv(8, 3)])], (3, 4, 4))
    with pytest.raises(ValueError, match="at least one layer"):
        Residual([])


def test_layer_output_shapes_and_param_counts():
    assert Conv(8, 5, stride=1, pad=0).output_shape((3, 12, 12)) == (8, 8, 8)
    assert Conv(8, 3).output_shape((3, 7, 9)) == (8, 7, 9)
    assert Conv(8, 3, dilation=2).output_shape((3, 7, 7)) == (8, 7, 7)
    assert MaxPool(2).output_shape((4, 8, 6)) == (4, 4, 3)
    assert AvgPool(3, 2).output_shape((4, 7, 7)) == (4, 3, 3)
    assert Affine(10).output_shape((4, 2, 2)) == (10,)
    assert Flatten().output_shape((4, 2, 3)) == (24,)
    assert GlobalAvgPool().output_shape((5, 3, 3)) == (5,)
    m = Sequential([Conv(8, 3, groups=2), BatchNorm(), ReLU(), Flatten(), Affine(10)], (4, 6, 6))
    assert m["conv1"].params["W"].shape == (8, 2, 3, 3)
    assert m.num_params() == 8 * 2 * 9 + 8 + 2 * 8 + 8 * 36 * 10 + 10


def test_constructor_errors_are_clear():
    with pytest.raises(ValueError, match="Conv: num_filters must be >= 1, got 0"):
        Conv(0, 3)
    with pytest.raises(TypeError, match="Conv: stride must be an integer, got 1.5"):
        Conv(4, 3, stride=1.5)
    with pytest.raises(TypeError, match="Affine: num_outputs must be an integer, got True"):
        Affine(True)
    with pytest.raises(ValueError, match="MaxPool: stride must be >= 1, got 0"):
        MaxPool(2, 0)
    with pytest.raises(ValueError, match="LRN: size must be >= 1"):
        LRN(0)
    with pytest.raises(ValueError, match="pad"):
        Conv(4, 3, pad=-1)
    with pytest.raises(ValueError, match="divisible"):
        Conv(5, 3, groups=2)
    with pytest.raises(ValueError, match="stride 2 does not fit"):
        Sequential([Conv(4, 3, stride=2, pad=0), Affine(2)], (1, 8, 8))
    with pytest.raises(ValueError, match="unique"):
        Sequential([ReLU(name="a"), Affine(2, name="a")], (4,))
    with pytest.raises(TypeError, match="must be a Layer"):
        Sequential([ReLU(), "FC-2"], (4,))
    with pytest.raises(ValueError, match="dtype"):
        Sequential([Affine(2)], (4,), dtype=np.int32)
    with pytest.raises(ValueError, match="weight_scale"):
        Sequential([Affine(2, weight_scale="xavier")], (4,))


def test_he_init_std_and_explicit_rng():
    m = Sequential([Conv(64, 3), Affine(300)], (16, 6, 6), seed=0)
    assert abs(m.params["conv1.W"].std() - np.sqrt(2 / 144)) < 0.01
    assert abs(m.params["fc1.W"].std() - np.sqrt(2 / (64 * 36))) < 0.002
    a = Sequential([Affine(5)], (3,), rng=np.random.default_rng(7))
    b = Sequential([Affine(5)], (3,), rng=np.random.default_rng(7))
    assert np.array_equal(a.params["fc1.W"], b.params["fc1.W"])


def test_loss_returns_scores_without_labels_and_checks_input(rng):
    m = build_from_pattern("CONV3-4 -> RELU -> POOL2 -> FC-3", (1, 4, 4), seed=0)
    X = rng.standard_normal((5, 1, 4, 4))
    scores = m.loss(X)
    assert scores.shape == (5, 3)
    assert np.array_equal(m.predict(X, batch_size=2), np.argmax(scores, axis=1))
    assert m.scores(X, batch_size=2).shape == (5, 3)
    with pytest.raises(ValueError, match=r"\(N, 1, 4, 4\)"):
        m.loss(rng.standard_normal((5, 4, 4)))
    with pytest.raises(ValueError, match="labels"):
        m.loss(X, np.array([0, 1, 2, 3, 0]))


def test_initial_softmax_loss_near_log_classes_for_small_weights(rng):
    m = Sequential([Affine(10, weight_scale=1e-4)], (20,), seed=0)
    loss, _ = m.loss(rng.standard_normal((50, 20)), rng.integers(0, 10, 50))
    assert abs(loss - np.log(10)) < 1e-3


def test_reg_adds_half_l2_of_weights_only(rng):
    X, y = rng.standard_normal((4, 6)), np.array([0, 1, 0, 1])
    m0 = Sequential([Affine(3), ReLU(), Affine(2)], (6,), seed=0)
    m1 = Sequential([Affine(3), ReLU(), Affine(2)], (6,), seed=0, reg=0.5)
    for p in m1.params.values():
        p += 0.1                                       # biases non-zero: must not be penalised
    for k in m0.params:
        m0.params[k][...] = m1.params[k]
    l0, g0 = m0.loss(X, y)
    l1, g1 = m1.loss(X, y)
    w2 = sum(np.sum(m1.params[k] ** 2) for k in ("fc1.W", "fc2.W"))
    assert abs(l1 - l0 - 0.25 * w2) < 1e-12
    assert np.allclose(g1["fc1.W"], g0["fc1.W"] + 0.5 * m1.params["fc1.W"])
    assert np.array_equal(g1["fc1.b"], g0["fc1.b"])


def test_forward_returns_every_activation(rng):
    m = build_from_pattern("CONV3-4 -> RELU -> POOL2 -> FC-3", (1, 4, 4), seed=0)
    scores, acts = m.forward(rng.standard_normal((2, 1, 4, 4)), "test", return_activations=True)
    assert list(acts) == ["conv1", "relu1", "pool1", "fc1"]
    assert acts["pool1"].shape == (2, 4, 2, 2)
    assert np.all(acts["relu1"] >= 0) and np.array_equal(acts["fc1"], scores)
    with pytest.raises(ValueError, match="mode"):
        m.forward(np.zeros((1, 1, 4, 4)), "eval")


def test_float32_model_keeps_float32(rng):
    m = build_from_pattern("CONV3-4 -> BN -> RELU -> POOL2 -> FC-3", (1, 4, 4), seed=0, dtype=np.float32)
    X = rng.standard_normal((4, 1, 4, 4))
    loss, grads = m.loss(X, np.array([0, 1, 2, 0]))
    assert all(p.dtype == np.float32 for p in m.params.values())
    assert all(g.dtype == np.float32 for g in grads.values())
    assert m.loss(X).dtype == np.float32


def test_freeze_unfreeze_and_trainable_params():
    m = build_from_pattern("CONV3-4 -> RELU -> POOL2 -> CONV3-4 -> RELU -> FC-8 -> RELU -> FC-3", (1, 4, 4))
    assert m.freeze(upto="pool1") == ["conv1", "relu1", "pool1"]
    assert list(m.trainable_params()) == ["conv2.W", "conv2.b", "fc1.W", "fc1.b", "fc2.W", "fc2.b"]
    assert m.frozen_layers() == ["conv1", "relu1", "pool1"]
    assert m.num_params(trainable_only=True) == m.num_params() - m["conv1"].num_params()
    m.unfreeze()
    m.freeze(["fc1", "conv2"])
    assert "fc1.W" not in m.trainable_params() and "conv1.W" in m.trainable_params()
    m.unfreeze("fc1")
    assert "fc1.W" in m.trainable_params()
    assert m.freeze(upto=2) == ["conv1", "relu1"]
    assert "(frozen)" in m.summary().to_text()
    with pytest.raises(KeyError, match="no layer named"):
        m.freeze("conv9")
    with pytest.raises(ValueError, match=r"upto \(a layer name or a count of layers\) must be <= 8, got 99"):
        m.freeze(upto=99)
    with pytest.raises(ValueError, match="not both"):
        m.freeze("conv1", upto=2)


def test_frozen_batchnorm_uses_and_keeps_running_stats(rng):
    m = Sequential([BatchNorm(), Affine(2)], (3,), seed=0)
    X = rng.standard_normal((8, 3)) * 3 + 5
    m.loss(X, np.zeros(8, dtype=int))
    mean_after_train = m["bn1"].buffers["running_mean"].copy()
    assert not np.allclose(mean_after_train, 0)
    m.freeze("bn1")
    loss, grads = m.loss(X, np.zeros(8, dtype=int))
    assert np.array_equal(m["bn1"].buffers["running_mean"], mean_after_train)
    assert np.allclose(m.forward(X, "train"), m.forward(X, "test"))
    assert "bn1.gamma" in grads


def test_state_dict_round_trip_includes_buffers(rng):
    text = "CONV3-4 -> BN -> RELU -> FC-3"
    a = build_from_pattern(text, (1, 4, 4), seed=0)
    a.loss(rng.standard_normal((4, 1, 4, 4)), np.array([0, 1, 2, 0]))
    state = a.state_dict()
    assert "bn1.running_mean" in state and "conv1.W" in state
    b = build_from_pattern(text, (1, 4, 4), seed=99)
    w_ref = b.params["conv1.W"]
    b.load_state_dict(state)
    assert b.params["conv1.W"] is w_ref                      # loaded in place
    for k in state:
        assert np.array_equal(b.state_dict()[k], state[k])
    state["conv1.W"] = state["conv1.W"][:2]
    with pytest.raises(ValueError, match="conv1.W"):
        b.load_state_dict(state)
    with pytest.raises(KeyError, match="missing"):
        b.load_state_dict({"conv1.W": a.params["conv1.W"]})
    b.load_state_dict({"conv1.W": a.params["conv1.W"]}, strict=False)


def test_summary_rows_text_and_html():
    m = build_from_pattern("INPUT -> CONV3-8 -> RELU -> POOL2 -> FC-10", (1, 8, 8), seed=0)
    rows = m.summary()
    assert [r.name for r in rows] == ["conv1", "relu1", "pool1", "fc1"]
    assert rows[0].output_shape == (8, 8, 8) and rows[0].params == 80
    assert rows[3].params == 8 * 4 * 4 * 10 + 10
    text = str(rows)
    assert "conv1" in text and "8x8x8" in text and f"{m.num_params():,}" in text
    html = rows._repr_html_()
    assert html.startswith("<table") and "CONV3-8" in html and "white-space:nowrap" in html
    assert f"total parameters: {m.num_params():,}" in html
    assert m.describe() == "INPUT -> CONV3-8 -> RELU -> POOL2 -> FC-10"
    assert "0x" not in repr(m) and "0x" not in repr(m.layers)


def test_dropout_seeded_train_only(rng):
    X = np.ones((4, 100))
    m1 = Sequential([Dropout(0.5), Affine(2)], (100,), seed=0)
    m2 = Sequential([Dropout(0.5), Affine(2)], (100,), seed=0)
    _, a1 = m1.forward(X, "train", return_activations=True)
    _, a2 = m2.forward(X, "train", return_activations=True)
    assert np.array_equal(a1["dropout1"], a2["dropout1"])
    assert set(np.unique(a1["dropout1"])) <= {0.0, 2.0}
    _, t = m1.forward(X, "test", return_activations=True)
    assert np.array_equal(t["dropout1"], X)


def test_every_layer_type_reports_kind_params_and_hyperparameters():
    rows = {cls.kind: (cls.param_names, cls.description) for cls in LAYER_TYPES}
    assert rows["CONV"][0] == ("W", "b") and rows["FC"][0] == ("W", "b")
    assert rows["RELU"][0] == () and rows["POOL"][0] == ()
    assert set(Conv(8, 3).hyperparameters()) >= {"num_filters", "filter_size", "stride", "pad"}
    assert MaxPool(2).hyperparameters() == {"pool_size": 2, "stride": 2}
    assert ReLU().hyperparameters() == {}
    assert LRN().describe() == "LRN" and LRN(3).describe() == "LRN3"


def test_build_errors_name_the_layer_and_carry_its_index_without_pattern_text():
    from cs231n_utils.models import LayerBuildError
    with pytest.raises(LayerBuildError) as info:
        Sequential([Conv(4, 3), MaxPool(3), Affine(2)], (1, 8, 8))
    msg = str(info.value)
    assert info.value.index == 1 and isinstance(info.value, ValueError)
    assert msg.startswith("layer 2 'pool1' (POOL3) with input shape (4, 8, 8): height 8: stride 3 does not fit")
    assert "(8 - 3)/3 + 1 = 8/3 ~ 2.67" in msg and "^" not in msg
