"""The notes' layer-sizing rules checked on real networks."""
import pytest

from cs231n_utils import sizing
from cs231n_utils.netspec import ConvSpec, NetSpec, Pool


def test_times_divisible_by_2():
    assert [sizing.times_divisible_by_2(n) for n in (224, 227, 32, 384, 1)] == [5, 0, 5, 7, 0]
    with pytest.raises(ValueError, match="positive"):
        sizing.times_divisible_by_2(0)


def test_vgg16_follows_every_rule():
    report = sizing.check_rules("vgg16")
    counts = report.counts()
    assert counts == {"follows": 19, "variant": 0, "first layer": 0, "breaks": 0}
    assert report.rounded == ()
    assert report.checks[0].setting == "224 = 2^5 x 7" and "total stride 32" in report.checks[0].why


def test_alexnet_breaks_the_rules_only_in_its_first_layer():
    report = sizing.check_rules("alexnet")
    by_layer = {c.layer: c for c in report.checks}
    assert by_layer["conv1"].verdict == "first layer"
    assert [by_layer[p].verdict for p in ("pool1", "pool2", "pool5")] == ["variant"] * 3
    assert all(by_layer[c].verdict == "follows" for c in ("conv2", "conv3", "conv4", "conv5"))
    assert report.rounded == (("conv1", "(224 + 2*2 - 11)/4 + 1 = 55.25, floor -> 55"),)
    assert "1 first-layer compromise, 0 break them; 1 output sizes rounded" in report.summary_line()


def test_resnet_and_lenet_break_rules_with_reasons():
    resnet = {c.layer: c for c in sizing.check_rules("resnet18").checks}
    assert resnet["maxpool"].verdict == "breaks" and "padded by 1" in resnet["maxpool"].why
    assert resnet["layer2.0.conv1"].why == "stride 2 downsamples inside a conv"
    lenet = {c.layer: c for c in sizing.check_rules("lenet5").checks}
    assert lenet["C1"].verdict == "breaks" and "size changes by -4" in lenet["C1"].why
    assert lenet["S2"].why == "avg pooling"


def test_input_rule_fails_when_the_size_cannot_be_halved_often_enough():
    net = NetSpec("toy", (("s", (ConvSpec("c", 4, 3, 1, 1), Pool("p1", 2, 2), Pool("p2", 2, 2))),),
                  rounding="floor", input_shape=(3, 6, 6))
    report = sizing.check_rules(net)
    assert report.checks[0].verdict == "breaks" and "halved exactly only 1 times" in report.checks[0].why
    assert report.rounded == (("p2", "(3 - 2)/2 + 1 = 1.5, floor -> 1"),)


def test_report_renders_as_text_and_html():
    report = sizing.check_rules("zfnet")
    assert "conv2" in report.to_text(("breaks",)) and "conv3" not in report.to_text(("breaks",))
    assert "white-space:nowrap" in report._repr_html_()
    assert repr(report) == "RulesReport('zfnet': 9 layers, 1 break the rules)"
