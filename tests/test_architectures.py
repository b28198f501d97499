"""cs231n_utils.architectures: totals match torchvision / the papers, shapes, errors, rendering."""
from __future__ import annotations

import numpy as np
import pytest

from cs231n_utils import architectures as arch
from cs231n_utils.architectures import (Concat, ConvSpec, Linear, NetSpec, Pool, ResidualSpec,
                                        conv_layer_cost, summarize)

# torchvision's weights metadata (torchvision/models/*.py): "num_params" and "_ops" (GFLOPS,
# which torchvision counts as multiply-adds of conv and linear layers).
TORCHVISION = {
    "alexnet": (61_100_840, 0.714),
    "vgg16": (138_357_544, 15.47),
    "googlenet": (6_624_904, 1.498),
    "resnet18": (11_689_512, 1.814),
    "resnet50": (25_557_032, 4.089),
    "resnet152": (60_192_808, 11.514),
    "mobilenet_v2": (3_504_872, 0.301),
    "shufflenet_v2_x1_0": (2_278_604, 0.145),
}


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_params_equal_torchvision_exactly(name):
    assert summarize(name).total_params == TORCHVISION[name][0]


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_macs_within_2_percent_of_torchvision(name):
    gmacs = summarize(name).total_macs / 1e9
    published = TORCHVISION[name][1]
    assert abs(gmacs - published) / published < 0.02, (name, gmacs, published)


def test_macs_match_torchvision_to_its_printed_precision():
    # torchvision prints 3-4 significant digits; we agree to within half a unit of the last one
    for name, (_, published) in TORCHVISION.items():
        gmacs = summarize(name).total_macs / 1e9
        digits = len(str(published).split(".")[1])
        assert abs(gmacs - published) <= 0.5 * 10 ** -digits + 1e-12, (name, gmacs, published)


def test_mobilenet_v1_matches_paper():
    # Howard et al. 2017, Table 6: 1.0 MobileNet-224 has 4.2M parameters and 569M mult-adds
    s = summarize("mobilenet_v1")
    assert abs(s.total_params - 4.2e6) / 4.2e6 < 0.01
    assert abs(s.total_macs - 569e6) / 569e6 < 0.005
    # weights + batch-norm gammas/betas, as Keras' MobileNet (trainable parameters) counts them
    assert s.total_params == 4_231_976
    assert s.output_shape == (1000,)
    assert s.row("block13.pw").output_shape == (1024, 7, 7)


def test_zfnet_shapes_follow_the_paper_figure():
    # Zeiler & Fergus 2013, Fig. 3: 110x110x96 -> pool 55 -> 26x26x256 -> pool 13 -> 13 -> 13 -> 6x6x256
    s = summarize("zfnet")
    expected = {"conv1": (96, 110, 110), "pool1": (96, 55, 55), "conv2": (256, 26, 26),
                "pool2": (256, 13, 13), "conv3": (384, 13, 13), "conv4": (384, 13, 13),
                "conv5": (256, 13, 13), "pool5": (256, 6, 6), "fc6": (4096,), "fc7": (4096,),
                "fc8": (1000,)}
    for name, shape in expected.items():
        assert s.row(name).output_shape == shape, name
    # the paper states no total; ours is AlexNet-sized (the paper's AlexNet: ~60M)
    assert s.total_params == 62_357_608
    assert abs(s.total_params - 60e6) / 60e6 < 0.05


def test_known_layer_shapes_and_params():
    vgg = summarize("vgg16")
    assert vgg.row("conv1_1").output_shape == (64, 224, 224)
    assert vgg.row("conv1_1").params == 3 * 3 * 3 * 64 + 64
    assert vgg.row("pool5").output_shape == (512, 7, 7)
    assert vgg.row("fc6").params == 25088 * 4096 + 4096
    alex = summarize("alexnet")
    assert alex.row("conv1").output_shape == (64, 55, 55)
    assert alex.row("pool5").output_shape == (256, 6, 6)
    g = summarize("googlenet")
    assert g.row("maxpool1").output_shape == (64, 56, 56)  # ceil mode: (112 - 3)/2 + 1 = 55.5 -> 56
    assert g.row("inception3a.concat").output_shape == (256, 28, 28)
    assert g.row("inception5b.concat").output_shape == (1024, 7, 7)
    r50 = summarize("resnet50")
    assert r50.row("layer4.2.add").output_shape == (2048, 7, 7)
    assert r50.row("layer2.0.conv2").output_shape == (128, 28, 28)  # v1.5: stride on the 3x3
    sh = summarize("shufflenet_v2_x1_0")
    assert sh.row("stage2.0.concat").output_shape == (116, 28, 28)
    assert sh.row("stage2.1.concat").kind == "concat+shuffle"
    mb2 = summarize("mobilenet_v2")
    assert mb2.row("block2.dw").kind == "dwconv+bn"


def test_rows_add_up_and_activation_bytes_are_float32():
    s = summarize("resnet18")
    assert s.total_params == sum(r.params for r in s.rows)
    assert s.total_macs == sum(r.macs for r in s.rows)
    for r in s.rows:
        assert r.activation_bytes == 4 * int(np.prod(r.output_shape))
    assert s.rows[0].name == "input" and s.rows[0].output_shape == (3, 224, 224)
    groups = s.groups()
    assert [g["group"] for g in groups] == ["input", "stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert sum(g["params"] for g in groups) == s.total_params


def test_vgg16_cs231n_breakdown_without_biases():
    b = arch.vgg16_cs231n_breakdown()
    labels = [r[0] for r in b["rows"]]
    assert labels[:4] == ["INPUT", "CONV3-64", "CONV3-64", "POOL2"]
    assert labels[-3:] == ["FC-4096", "FC-4096", "FC-1000"]
    assert b["rows"][1][2] == 224 * 224 * 64 and b["rows"][1][3] == 1_728
    assert b["rows"][-3][3] == 7 * 7 * 512 * 4096
    assert b["total_params"] == 138_357_544 - 13_416  # all biases removed
    assert b["total_activations"] == 15_237_608
    assert b["forward_bytes"] == 4 * 15_237_608
    assert arch.vgg16_cs231n_breakdown(biases=True)["total_params"] == 138_357_544


def test_other_input_sizes():
    s = summarize("resnet50", (3, 320, 320))
    assert s.total_params == 25_557_032          # global average pooling: any size works
    assert s.row("layer4.2.add").output_shape == (2048, 10, 10)
    assert summarize("vgg16", (3, 256, 256)).total_params == 138_357_544  # adaptive 7x7 pool


def test_error_names_the_layer_for_an_inconsistent_spec():
    bad = NetSpec("toy", (("body", (ConvSpec("conv_a", 8, 3, 1, 1), ConvSpec("conv_b", 8, 3, 2, 0))),),
                  rounding="exact")
    with pytest.raises(ValueError, match=r"conv_b.*stride 2 does not fit"):
        summarize(bad, (3, 8, 8))
    with pytest.raises(ValueError, match=r"'fc6'.*expects 9,216 inputs"):
        summarize("zfnet", (3, 256, 256))
    with pytest.raises(ValueError, match=r"'conv2'"):
        summarize("zfnet", (3, 227, 227))
    for late in (ConvSpec("c", 4, 3), Pool("p", 2), Concat("mix", ((),))):
        after_fc = NetSpec("toy", (("b", (Linear("fc", 10), late)),))
        with pytest.raises(ValueError, match=rf"'{late.name}' .*{type(late).__name__} layer needs a \(C, H, W\) input"):
            summarize(after_fc, (3, 8, 8))


def test_error_for_residual_and_concat_mismatch():
    res = NetSpec("toy", (("b", (ResidualSpec("block", (ConvSpec("c", 16, 3, 1, 1),)),)),))
    with pytest.raises(ValueError, match=r"'block'.*must match"):
        summarize(res, (8, 8, 8))
    cat = NetSpec("toy", (("b", (Concat("mix", ((ConvSpec("a", 4, 1),), (Pool("p", 2, 2),))),)),))
    with pytest.raises(ValueError, match=r"'mix'.*differ in height/width"):
        summarize(cat, (8, 8, 8))
    grp = NetSpec("toy", (("b", (ConvSpec("g", 6, 3, 1, 1, groups=4),)),))
    with pytest.raises(ValueError, match=r"'g'.*groups=4"):
        summarize(grp, (8, 8, 8))


def test_unknown_network_lists_the_available_ones():
    with pytest.raises(ValueError, match="available: lenet5, alexnet"):
        summarize("lenet7")
    assert arch.available() == ["lenet5", "alexnet", "zfnet", "vgg16", "googlenet", "resnet18", "resnet50",
                                "resnet152", "mobilenet_v1", "mobilenet_v2", "shufflenet_v2_x1_0"]
    assert arch.spec("ResNet-50").name == "resnet50"
    with pytest.raises(KeyError, match="no layer"):
        summarize("alexnet").row("conv9")


@pytest.mark.parametrize("args, kwargs, expected", [
    (((3, 32, 32), 10, 5), {"pad": 2}, ((10, 32, 32), 760, 10 * 32 * 32 * 75)),
    (((3, 227, 227), 96, 11), {"stride": 4}, ((96, 55, 55), 34_944, 96 * 55 * 55 * 363)),
    (((64, 56, 56), 64, 3), {"pad": 1, "bias": False}, ((64, 56, 56), 36_864, 64 * 56 * 56 * 576)),
    (((32, 16, 16), 32, 3), {"pad": 1, "groups": 32, "bias": False}, ((32, 16, 16), 288, 32 * 256 * 9)),
    (((8, 9, 9), 4, 3), {"dilation": 2}, ((4, 5, 5), 4 * 8 * 9 + 4, 4 * 25 * 72)),
    (((6, 7, 5), 4, 3), {"groups": 2, "stride": 2}, ((4, 3, 2), 4 * 3 * 9 + 4, 4 * 6 * 27)),
])
def test_conv_layer_cost(args, kwargs, expected):
    assert conv_layer_cost(*args, **kwargs) == expected


def test_conv_layer_cost_errors():
    with pytest.raises(ValueError, match=r"stride 2 does not fit: \(32 \+ 2\*0 - 3\)/2 \+ 1"):
        conv_layer_cost((3, 32, 32), 8, 3, stride=2)
    with pytest.raises(ValueError, match="groups=4 must divide"):
        conv_layer_cost((6, 8, 8), 8, 3, pad=1, groups=4)
    with pytest.raises(ValueError, match="does not fit in input"):
        conv_layer_cost((3, 4, 4), 8, 7)
    with pytest.raises(ValueError, match=r"input_shape must be \(C, H, W\)"):
        conv_layer_cost((32, 32), 8, 3)
    with pytest.raises(TypeError, match="filter_size must be an integer"):
        conv_layer_cost((3, 8, 8), 8, 3.0)
    with pytest.raises(ValueError, match="num_filters must be >= 1"):
        conv_layer_cost((3, 8, 8), 0, 3)


def test_text_and_html_show_totals_and_abbreviate_deep_nets():
    s = summarize("resnet152")
    text = s.to_text()
    assert "60,192,808" in text and "11,513,626,624" in text
    assert "... 169 rows ..." in text
    assert len(text.splitlines()) < 50 + len(s.rounding_notes())   # + one line per rounded row
    html = s._repr_html_()
    assert "60,192,808" in html and "<details>" in html and "layer3.35.conv2" in html
    assert html.count("<table") == 2  # stage table + the collapsible full table
    short = summarize("alexnet")
    assert "<details>" not in short.to_html() and "61,100,840" in short.to_html()
    assert "white-space:nowrap" in short.to_html()            # cells never wrap mid-word
    assert "..." not in short.to_text() and "fc8" in short.to_text()
    assert "0x" not in repr(short) and "61,100,840" in repr(short)


def test_published_asset_and_table():
    pub = arch.published()
    assert set(pub) == set(arch.available())
    for name, (params, gmacs) in TORCHVISION.items():
        tv = pub[name]["torchvision"]
        assert (tv["params"], tv["gmacs"]) == (params, gmacs)
        assert 50 < tv["acc1"] < 90 and pub[name]["paper"]["citation"]
    assert pub["mobilenet_v1"]["torchvision"] is None
    table = {r["name"]: r for r in arch.published_table()}
    for name in TORCHVISION:
        assert table[name]["params_diff"] == 0
        assert abs(table[name]["macs_diff_pct"]) < 0.1     # 06 says "within 0.1%"
    assert table["zfnet"]["params_diff"] is None and table["zfnet"]["top1"] == 61.6
    assert arch.published_figures("vgg16")["params"] == 138_357_544
    assert arch.published_figures("zfnet")["source"].endswith("(paper)")
    # every network says where its spec differs from the paper, and its summary carries it
    assert all(pub[name]["spec_note"] for name in arch.available())
    assert summarize("resnet50").note == pub["resnet50"]["spec_note"] and "v1.5" in summarize("resnet50").note


def test_inception_bottlenecks_and_separable_costs():
    # the lecture's example: 28x28x256 input, 128 1x1, 192 3x3, 96 5x5 (+ pool)
    naive = arch.inception_module_cost((256, 28, 28), 128, 0, 192, 0, 96, 0, bottlenecks=False)
    assert naive.total_macs == 784 * (128 * 256 + 192 * 9 * 256 + 96 * 25 * 256)  # 854M
    assert naive.output_shape == (128 + 192 + 96 + 256, 28, 28)
    bott = arch.inception_module_cost((256, 28, 28), 128, 64, 192, 64, 96, 64)
    assert bott.total_macs == 784 * (128 * 256 + 3 * 64 * 256 + 192 * 9 * 64 + 96 * 25 * 64)
    assert bott.output_shape == (480, 28, 28)
    sep = arch.separable_conv_cost((64, 28, 28), 128, 3)
    assert sep["standard"] == (128 * 64 * 9, 128 * 784 * 64 * 9)
    assert sep["ratio"] == pytest.approx(1 / 128 + 1 / 9)
    assert sep["ratio"] == pytest.approx(sep["formula"])


def test_plotting_returns_what_it_draws():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cs231n_utils.plotting import architectures as parch

    data = parch.accuracy_vs_cost()
    i = data["names"].index("vgg16")
    assert data["mparams"][i] == pytest.approx(138.357544)
    assert data["gmacs"][i] == pytest.approx(15.47026432)
    assert data["top1"][i] == pytest.approx(71.592)
    assert "paper" in data["sources"][data["names"].index("mobilenet_v1")]
    prof = parch.layer_profile(summarize("vgg16"))
    assert prof["names"][0] == "conv1_1" and np.argmax(prof["mparams"]) == prof["names"].index("fc6")
    assert np.argmax(prof["memory_mb"]) == 0
    plt.close("all")


# ---- rounding marks, LeNet-5, the spec walker ----------------------------------------------------

def test_every_floor_or_ceil_row_carries_its_formula():
    alexnet = summarize("alexnet")
    assert [r.name for r in alexnet.rounded_rows()] == ["conv1"]
    assert alexnet.row("conv1").rounding_note == "(224 + 2*2 - 11)/4 + 1 = 55.25, floor -> 55"
    resnet = summarize("resnet18")
    assert resnet.row("conv1").rounding_note == "(224 + 2*3 - 7)/2 + 1 = 112.5, floor -> 112"
    assert resnet.row("maxpool").rounding_note == "(112 + 2*1 - 3)/2 + 1 = 56.5, floor -> 56"
    assert summarize("zfnet").row("pool1").rounding_note == "(110 - 3)/2 + 1 = 54.5, ceil -> 55"
    assert summarize("vgg16").rounded_rows() == []
    text, html = alexnet.to_text(), alexnet.to_html()
    assert "64x55x55*" in text and "* conv1: (224 + 2*2 - 11)/4 + 1 = 55.25, floor -> 55" in text
    assert "rounded as the framework does" in html and "55.25, floor -&gt; 55" in html


def test_rounding_note_is_empty_when_exact():
    from cs231n_utils.netspec import rounding_note
    assert rounding_note(224, 3, 1, 1, rounding="floor") == ""
    assert rounding_note(227, 11, 4, 0, rounding="floor") == ""
    assert rounding_note(224, 11, 4, 2, rounding="exact") == ""     # exact refuses instead
    assert rounding_note(6, 3, 2, 1, rounding="ceil") == "(6 + 2*1 - 3)/2 + 1 = 3.5, ceil -> 4"


def test_lenet5_spec_and_datasets():
    s = summarize("lenet5")
    assert s.input_shape == (1, 32, 32) and s.total_params == 61_706 and s.total_macs == 416_520
    assert [r.output_shape for r in s.rows[1:6]] == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1)]
    assert arch.available("MNIST") == ["lenet5"] and "lenet5" not in arch.available("imagenet")
    assert arch.spec("LeNet-5").name == "lenet5"
    assert "lenet5" not in {r["name"] for r in arch.published_table()}
    assert arch.published_figures("lenet5")["params"] == 60_000
    with pytest.raises(ValueError, match="known: ImageNet, MNIST"):
        arch.available("cifar")


def test_iter_layers_names_match_the_summary_rows():
    from cs231n_utils.netspec import iter_layers
    for name in ("googlenet", "resnet18", "shufflenet_v2_x1_0"):
        rows = {r.name for r in summarize(name).rows}
        leaves = [n for n, _, _ in iter_layers(arch.spec(name))]
        assert leaves and set(leaves) <= rows


def test_new_figures_return_what_they_draw():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cs231n_utils import degradation
    from cs231n_utils.plotting import style
    from cs231n_utils.plotting import architectures as parch

    data = parch.accuracy_vs_cost()
    assert style.figure_problems(plt.gcf()) == []                # no label runs into another
    assert "lenet5" not in data["names"]
    x = np.array([[-3, -5, 2], [-2, -7, 6], [5, 0, -2]], dtype=float)
    pool = parch.padded_max_pool(x)
    assert pool["out"].tolist() == [[-2.0, 6.0], [5.0, 6.0]]
    assert pool["out_zero_pad"].tolist() == [[0.0, 6.0], [5.0, 6.0]]
    assert np.isneginf(pool["padded"][0, 0]) and pool["size_note"] == "(3 + 2*1 - 3)/2 + 1 = 2"
    assert parch.padded_max_pool(np.maximum(x, 0), draw=False)["out"].tolist() == \
        parch.padded_max_pool(np.maximum(x, 0), draw=False)["out_zero_pad"].tolist()
    curves = parch.degradation_curves(degradation.load_results())
    assert curves["plain-34"]["mean"][-1] > curves["plain-18"]["mean"][-1]
    assert np.all(curves["plain-34"]["min"] <= curves["plain-34"]["mean"])
    mem = parch.memory_vs_batch(("vgg16",), batch_sizes=(1, 2), budgets_gib=(12,))
    assert mem["vgg16"][1] > mem["vgg16"][0] and mem["max_batch"]["vgg16"][12] > 2
    with pytest.raises(ValueError, match="2-D map"):
        parch.padded_max_pool(np.zeros((1, 3, 3)))
    plt.close("all")
