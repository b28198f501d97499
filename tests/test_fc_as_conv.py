"""FC layers as convolutions: weights, converted specs, the 384x384 sliding example, TinyNet."""
import numpy as np
import pytest

from cs231n_utils import fc_as_conv, layers
from cs231n_utils.architectures import summarize


def test_fc_weights_as_conv_gives_the_same_outputs(rng):
    x = rng.standard_normal((3, 4, 5, 5))
    w, b = rng.standard_normal((100, 7)), rng.standard_normal(7)
    filters = fc_weights_as_conv = fc_as_conv.fc_weights_as_conv(w, (4, 5, 5))
    assert filters.shape == (7, 4, 5, 5)
    conv = layers.conv_forward_fast(x, fc_weights_as_conv, b, {})[0]
    assert np.allclose(conv.reshape(3, 7), layers.affine_forward(x, w, b)[0], atol=1e-12)
    with pytest.raises(ValueError, match=r"\(C\*H\*W, M\) = \(100, M\)"):
        fc_as_conv.fc_weights_as_conv(w[:99], (4, 5, 5))


def test_convolutionalize_vgg16_keeps_parameters_and_slides():
    conv = fc_as_conv.convolutionalize("vgg16")
    at224, at384 = summarize(conv, (3, 224, 224)), summarize(conv, (3, 384, 384))
    assert at224.total_params == summarize("vgg16").total_params
    assert at224.output_shape == (1000, 1, 1) and at384.output_shape == (1000, 6, 6)
    assert at384.row("fc6").kind == "conv" and at384.row("fc6").output_shape == (4096, 6, 6)
    with pytest.raises(ValueError, match="no fully connected layer"):
        fc_as_conv.convolutionalize(conv)


def test_sliding_comparison_matches_the_notes_example():
    c = fc_as_conv.sliding_comparison("vgg16", 384)
    assert (c["crop"], c["stride"], c["positions"], c["crops"]) == (224, 32, 6, 36)
    assert c["macs_all_crops"] == 36 * summarize("vgg16").total_macs
    assert 11 < c["saving"] < 11.5
    with pytest.raises(ValueError, match="image_size must be >= 224"):
        fc_as_conv.sliding_comparison("vgg16", 200)


def test_tiny_net_one_pass_equals_crop_by_crop_without_padding():
    net = fc_as_conv.TinyNet(crop=18, pad=0, seed=0)
    x = np.random.default_rng(1).standard_normal((2, 3, 30, 30))
    one = net.score_map(x)
    assert one.shape == (2, 5, 4, 4)
    assert np.abs(one - net.crop_by_crop(x, stride=4)).max() < 1e-12
    # the 18x18 crop itself gives a 1x1 map equal to the FC scores
    assert np.allclose(net.score_map(x[:, :, :18, :18])[:, :, 0, 0], net.scores(x[:, :, :18, :18]))


def test_tiny_net_with_zero_padding_differs_at_crop_borders():
    net = fc_as_conv.TinyNet(crop=16, pad=1, seed=0)
    x = np.random.default_rng(1).standard_normal((1, 3, 28, 28))
    assert np.abs(net.score_map(x) - net.crop_by_crop(x, stride=4)).max() > 1e-3
