"""Tests for cs231n_utils.plotting.normalization: each function returns the data it draws."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from cs231n_utils import layers
from cs231n_utils.pattern import build_from_pattern
from cs231n_utils.plotting import normalization as nplot


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_lrn_fibre_ratio_shows_lateral_inhibition():
    fibre = np.array([10, 10, 10, 300, 10, 10, 10, 10], dtype=np.float64).reshape(1, 8, 1, 1)
    out, _ = layers.lrn_forward(fibre, {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0})
    data = nplot.plot_lrn_fibre(fibre.ravel(), out.ravel())
    assert np.array_equal(data["before"], fibre.ravel())
    assert np.allclose(data["ratio"], out.ravel() / fibre.ravel())
    # channels 1..5 have channel 3 in their window of 5 and are divided more than 0, 6, 7
    assert data["ratio"][1:6].max() < data["ratio"][[0, 6, 7]].min()
    assert data["ratio"][0] == pytest.approx((2.0 + 1e-4 / 5 * 300) ** -0.75)
    assert data["log"] is True
    ax = plt.gca()
    assert ax.get_yscale() == "log"
    heights = [p.get_height() for p in ax.patches]
    assert heights == list(fibre.ravel()) + list(out.ravel())


def test_plot_lrn_fibre_zero_values_and_errors():
    data = nplot.plot_lrn_fibre([0.0, 2.0], [0.0, 1.0])
    assert np.isnan(data["ratio"][0]) and data["ratio"][1] == 0.5
    assert data["log"] is False
    with pytest.raises(ValueError, match="channels"):
        nplot.plot_lrn_fibre([1.0, 2.0], [1.0])


def test_channel_statistics_matches_batchnorm(rng):
    x = 3 * rng.standard_normal((5, 4, 3, 2)) + np.arange(4)[None, :, None, None]
    s = nplot.channel_statistics(x)
    assert s["mean"].shape == (4,)
    assert np.allclose(s["mean"], x.mean(axis=(0, 2, 3)))
    assert np.allclose(s["std"], x.std(axis=(0, 2, 3)))
    out, _ = layers.spatial_batchnorm_forward(x, np.ones(4), np.zeros(4), {"mode": "train"})
    after = nplot.channel_statistics(out)
    assert np.allclose(after["mean"], 0, atol=1e-12)
    assert np.allclose(after["std"], 1, atol=1e-5)
    with pytest.raises(ValueError, match="N, C, H, W"):
        nplot.channel_statistics(np.zeros((3, 4)))


def test_plot_channel_statistics(rng):
    x = rng.standard_normal((4, 3, 2, 2)) * 2 + 1
    out, _ = layers.spatial_batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "train"})
    data = nplot.plot_channel_statistics(x, out)
    assert np.allclose(data["before"]["mean"], x.mean(axis=(0, 2, 3)))
    axes = plt.gcf().axes
    assert len(axes) == 2
    assert [p.get_height() for p in axes[1].patches][:3] == list(data["before"]["std"])
    with pytest.raises(ValueError, match="channels"):
        nplot.plot_channel_statistics(x, out[:, :2])


def test_plot_training_comparison_smoothing():
    h1 = {"loss": [4.0, 2.0, 2.0, 0.0], "val_acc": [0.5, 0.75]}
    h2 = {"loss": [1.0], "val_acc": [0.9]}
    data = nplot.plot_training_comparison({"a": h1, "b": h2}, smooth=2)
    assert np.allclose(data["a"]["loss_smooth"], [3.0, 2.0, 1.0])
    assert np.allclose(data["b"]["loss_smooth"], [1.0])
    assert list(data["a"]["val_acc"]) == [0.5, 0.75]
    ax_loss, ax_acc = plt.gcf().axes
    assert list(ax_acc.lines[0].get_ydata()) == [0.5, 0.75]
    assert list(ax_loss.lines[0].get_xdata()) == [1, 2, 3]
    with pytest.raises(ValueError, match="empty"):
        nplot.plot_training_comparison({})
    with pytest.raises(ValueError, match="smooth"):
        nplot.plot_training_comparison({"a": h1}, smooth=0)


def test_layer_statistics_plain_and_bn(rng):
    X = rng.standard_normal((16, 1, 8, 8))
    plain = build_from_pattern("INPUT -> [CONV3-4 -> RELU]*2 -> FC-10", input_shape=(1, 8, 8), seed=0)
    bn = build_from_pattern("INPUT -> [CONV3-4 -> BN -> RELU]*2 -> FC-10", input_shape=(1, 8, 8), seed=0)
    sp = nplot.layer_statistics(plain, X)
    assert [s["layer"] for s in sp] == ["conv1", "conv2"]
    assert [s["relu"] for s in sp] == ["relu1", "relu2"]
    _, acts = plain.forward(X, "test", return_activations=True)
    assert sp[0]["mean"] == pytest.approx(acts["conv1"].mean())
    assert sp[1]["std"] == pytest.approx(acts["conv2"].std())
    assert sp[0]["dead"] == pytest.approx(np.mean(acts["conv1"] <= 0))
    sb = nplot.layer_statistics(bn, X, mode="train")
    assert [s["layer"] for s in sb] == ["bn1", "bn2"]
    for s in sb:                               # batch statistics: exactly normalised
        assert abs(s["mean"]) < 1e-10 and s["std"] == pytest.approx(1.0, abs=1e-4)


def test_layer_statistics_needs_a_relu():
    m = build_from_pattern("INPUT -> CONV3-2 -> FC-10", input_shape=(1, 4, 4), seed=0)
    with pytest.raises(ValueError, match="no ReLU"):
        nplot.layer_statistics(m, np.zeros((2, 1, 4, 4)))


def test_plot_layer_statistics_returns_arrays():
    stats = {"plain": [{"mean": 0.5, "std": 2.0}, {"mean": -1.0, "std": 3.0}],
             "bn": [{"mean": 0.0, "std": 1.0}, {"mean": 0.1, "std": 1.1}]}
    data = nplot.plot_layer_statistics(stats)
    assert list(data["plain"]["depth"]) == [1, 2]
    assert list(data["plain"]["std"]) == [2.0, 3.0]
    assert list(data["bn"]["mean"]) == [0.0, 0.1]
    ax = plt.gca()
    assert list(ax.lines[0].get_ydata()) == [2.0, 3.0]
    with pytest.raises(ValueError, match="empty"):
        nplot.plot_layer_statistics({})


def test_norm_groups_and_the_axes_figure():
    assert nplot.norm_groups("batch", 2, 4).tolist() == [[0, 1, 2, 3], [0, 1, 2, 3]]
    assert nplot.norm_groups("layer", 2, 4).tolist() == [[0, 0, 0, 0], [1, 1, 1, 1]]
    assert nplot.norm_groups("group", 2, 4, groups=2).tolist() == [[0, 0, 1, 1], [2, 2, 3, 3]]
    assert len(np.unique(nplot.norm_groups("instance", 3, 4))) == 12
    with pytest.raises(ValueError, match="groups=3 must divide C=4"):
        nplot.norm_groups("group", 2, 4, groups=3)
    with pytest.raises(ValueError, match="kind must be"):
        nplot.norm_groups("weight", 2, 4)
    masks = nplot.plot_norm_axes(N=4, C=8, groups=2)
    assert {k: int(v.sum()) for k, v in masks.items()} == {"batch": 4, "layer": 8, "instance": 1, "group": 4}
    from cs231n_utils.plotting import style
    plt.gcf().tight_layout()
    assert style.figure_problems(plt.gcf()) == []


def test_batch_dependence_and_norm_vs_batch_figures():
    dep = {"batch_sizes": np.array([2, 4]), "bn_spread": np.array([0.1, 0.05]), "gn_spread": np.zeros(2)}
    out = nplot.plot_batch_dependence(dep)
    assert out["bn_spread"].tolist() == [0.1, 0.05]
    with pytest.raises(ValueError, match="must match"):
        nplot.plot_batch_dependence({**dep, "gn_spread": np.zeros(3)})
    from cs231n_utils import groupnorm
    res = groupnorm.load_results()
    drawn = nplot.plot_norm_vs_batch(res)
    table = drawn["ours"]
    assert table["bn"]["batch_sizes"].tolist() == [2, 4, 8, 16, 32]
    finals = [r["val_err"][-1] for r in res["runs"]["gn-8"]]
    assert table["gn"]["mean"][2] == pytest.approx(np.mean(finals))
    assert drawn["published"]["gn_err_pct"] == res["published"]["gn_err_pct"]
