"""What the conv and pooling figures draw (plotting.conv and plotting.pooling return their data)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from cs231n_utils import explorers as E
from cs231n_utils.plotting import conv as P
from cs231n_utils.plotting import pooling as PP


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_volumes_batch_and_highlights():
    d = P.plot_volumes([("input", (2, 3, 32, 32)), ("output", (6, 28, 28))],
                       highlights={"input": (3, 4, 5, 5), "output": (3, 4, 1, 1)})
    assert d["boxes"][0]["highlight"] == (3, 4, 5, 5) and d["boxes"][1]["highlight"] == (3, 4, 1, 1)
    assert [b["label"] for b in d["boxes"]] == ["input", "output"]
    assert d["boxes"][0]["shape"] == (2, 3, 32, 32) and d["boxes"][1]["shape"] == (6, 28, 28)
    w, h, depth = d["boxes"][0]["drawn"]
    assert w == pytest.approx(np.sqrt(32)) and depth == pytest.approx(np.sqrt(3))
    lin = P.plot_volumes([("x", (3, 8, 4))], scale="linear")
    assert lin["boxes"][0]["drawn"] == (4.0, 8.0, 3.0)
    assert lin["boxes"][0]["polygons"]["front"][2] == (4.0, 8.0)


def test_plot_volumes_errors():
    with pytest.raises(ValueError, match="shape must be"):
        P.plot_volumes([("x", (8, 8))])
    with pytest.raises(ValueError, match="scale"):
        P.plot_volumes([("x", (3, 8, 8))], scale="log")
    with pytest.raises(ValueError, match="outside the 8x8 volume"):
        P.plot_volumes([("x", (3, 8, 8))], highlights={"x": (6, 0, 3, 3)})


def test_connections_1d_local_shared_padded():
    d = P.plot_connections_1d(5, 3, stride=2, pad=1)
    assert d["n_outputs"] == 3 and d["n_weights"] == 3
    assert d["padded"].tolist() == [0, 1, 1, 1, 1, 1, 0]
    assert len(d["edges"]) == 9                     # 3 outputs x 3 taps, not 3 x 7
    assert [e for e in d["edges"] if e[0] == 1] == [(1, 2, 0), (1, 3, 1), (1, 4, 2)]
    assert {e[2] for e in d["edges"]} == {0, 1, 2}  # the same three weights everywhere


def test_connections_1d_fully_connected_and_invalid():
    fc = P.plot_connections_1d(5, 5)
    assert fc["n_outputs"] == 1 and len(fc["edges"]) == 5
    with pytest.raises(ValueError, match="stride 3 does not fit"):
        P.plot_connections_1d(5, 3, stride=3)


def test_plot_conv_frame_valid_and_invalid():
    d = P.plot_conv_frame(E.conv_frame(5, 3, 2, 1, 1, position=4))
    assert d["valid"] and d["index"] == (1, 1) and d["output"].shape == (3, 3)
    assert d["grid"].shape == (7, 7) and d["taps"].min() == 2 and d["taps"].max() == 4
    bad = P.plot_conv_frame(E.conv_frame(7, 3, 3, 0))
    assert not bad["valid"] and bad["leftover"] == (6,) and bad["output"].shape == (2, 2)
    none = P.plot_conv_frame(E.conv_frame(2, 5, 1, 0))
    assert none["taps"].shape == (0, 2) and none["output"].shape == (0, 0)


def test_plot_conv_frame_on_given_axes():
    fig, axes = plt.subplots(1, 2)
    d = P.plot_conv_frame(E.conv_frame(4, 2, 2), axes=axes)
    assert d["figure"] is fig and d["output"].shape == (2, 2)


def test_plot_number_grids_texts():
    d = P.plot_number_grids({"k": np.array([[1.0, -0.0], [2.5, -3.0]])}, fmt="{:.1f}")
    assert d["texts"]["k"] == [["1.0", "0"], ["2.5", "-3.0"]]
    per = P.plot_number_grids({"a": np.eye(2), "b": np.full((1, 2), 0.25)}, fmt={"a": "{:.0f}", "b": "{:.2f}"},
                              symmetric=False)
    assert per["texts"]["a"] == [["1", "0"], ["0", "1"]] and per["texts"]["b"] == [["0.25", "0.25"]]
    with pytest.raises(ValueError, match="2-D"):
        P.plot_number_grids({"v": np.ones(3)})


def test_plot_activation_maps_ranges():
    img = np.zeros((4, 4))
    maps = {"a": np.array([[-1.0, 2.0]]), "b": np.ones((2, 2))}
    d = P.plot_activation_maps(img, maps)
    assert d["ranges"] == {"a": (-1.0, 2.0), "b": (1.0, 1.0)}
    assert d["limits"]["b"] == (1.0, 1.0)                      # image-like: grey, own range
    lo, hi = d["limits"]["a"]
    assert lo == -hi and 1.0 < hi <= 2.0                        # signed: symmetric, 99th percentile
    sharpened = np.array([[1.0, 1.2, -0.3, 0.9]])               # mostly positive, a few negatives
    lo, hi = P.plot_activation_maps(img, {"s": sharpened})["limits"]["s"]
    assert -0.3 < lo < 0 and 1.1 < hi < 1.2                     # grey between its 1st and 99th percentiles
    assert set(d["maps"]) == {"a", "b"}


def test_receptive_field_growth_normal_vs_dilated():
    d = P.plot_receptive_field_growth({
        "3x3": [(3, 1, 1)] * 3,
        "3x3 dilated 1,2,4": [(3, 1, 1, 1), (3, 1, 2, 2), (3, 1, 4, 4)],
        "3x3 stride 2": [(3, 2, 1)] * 3,
    })
    assert d["sizes"]["3x3"] == [3, 5, 7]
    assert d["sizes"]["3x3 dilated 1,2,4"] == [3, 7, 15]
    assert d["sizes"]["3x3 stride 2"] == [3, 7, 15]


# --------------------------------------------------------------------------- plotting.pooling

def test_plot_pool_frame_forward_and_backward():
    x = E.demo_pool_input(4, seed=2)
    frame = E.pool_frame(x, 2, 2, "max", position=1)
    d = PP.plot_pool_frame(frame)
    assert set(d["arrays"]) == {"x", "max pool"} and d["window"] == (0, 2, 2, 4)
    assert len(d["switches"]) == 4
    for r, c in d["switches"]:
        assert x[r, c] in frame.out
    b = PP.plot_pool_frame(frame, backward=True)
    assert set(b["arrays"]) == {"x", "max pool", "dout", "dx"}
    assert b["arrays"]["dx"].sum() == 4 and b["texts"]["dx"][0][0] in ("0", "1")


def test_plot_pool_frame_avg_formats_decimals_and_invalid():
    frame = E.pool_frame(E.demo_pool_input(4, seed=2), 2, 2, "avg")
    d = PP.plot_pool_frame(frame, backward=True)
    assert len(d["switches"]) == 0 and d["texts"]["dx"][0][0] == "0.25"
    floor = PP.plot_pool_frame(E.pool_frame(E.demo_pool_input(5), 2, 2, "max"))
    assert set(floor["arrays"]) == {"x", "max pool (floor)"} and floor["window"] == (0, 2, 0, 2)
    assert floor["shaded"][4].all() and floor["shaded"][:, 4].all() and not floor["shaded"][:4, :4].any()
    bad = PP.plot_pool_frame(E.pool_frame(E.demo_pool_input(3), 4, 4, "max"))
    assert set(bad["arrays"]) == {"x"} and bad["window"] is None


def test_plot_pooled_images_shapes():
    img = np.arange(36.0).reshape(6, 6)
    d = PP.plot_pooled_images(img, {"max 2x2": np.zeros((3, 3)), "avg 3x3": np.zeros((2, 2))})
    assert d["shapes"] == {"max 2x2": (3, 3), "avg 3x3": (2, 2)}


def test_receptive_field_growth_output_sizes_and_equal_curves_stay_visible():
    d = P.plot_receptive_field_growth({"dilated": [(3, 1, 2 ** k, 2 ** k) for k in range(4)],
                                       "stride 2": [(3, 2, 1)] * 4}, input_size=64)
    assert d["sizes"]["dilated"] == d["sizes"]["stride 2"] == [3, 7, 15, 31]
    assert d["same_as"] == {"stride 2": "dilated"}
    assert d["outputs"] == {"dilated": [64, 64, 64, 64], "stride 2": [32, 16, 8, 4]}
    lines = d["figure"].axes[0].get_lines()
    assert lines[0].get_linewidth() > lines[1].get_linewidth()          # a wide line under a thin one
    assert lines[1].get_zorder() > lines[0].get_zorder()
    assert lines[0].get_marker() != lines[1].get_marker()
    assert "same as dilated" in lines[1].get_label()


def test_plot_activation_memory_reads_the_summaries():
    from cs231n_utils import architectures as arch
    d = P.plot_activation_memory({"vgg16": arch.summarize("vgg16"), "alexnet": arch.summarize("alexnet")})
    assert d["first_layer"]["vgg16"] == ("conv1_1", pytest.approx(64 * 224 * 224 * 4 / 1e6))
    assert d["first_layer"]["alexnet"][0] == "conv1"
    assert d["memory"]["vgg16"][0][0] == "input" and all(mb > 0 for _, mb in d["memory"]["vgg16"])


def test_plot_seed_comparison():
    d = PP.plot_seed_comparison({"a": [1.0, 3.0], "b": [2.0, 2.0, 2.0]})
    assert d["means"] == {"a": 2.0, "b": 2.0} and d["stds"] == {"a": 1.0, "b": 0.0}
    assert d["n_seeds"] == {"a": 2, "b": 3}
    with pytest.raises(ValueError, match="at least one number"):
        PP.plot_seed_comparison({"a": []})
