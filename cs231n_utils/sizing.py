"""The layer-sizing rules of the CS231n notes (层的尺寸设置规律), checked layer by layer on a real net.

The rules of thumb the notes give for sizing a ConvNet:

1. **input**: a size divisible by 2 many times (32, 64, 96, 224, 384, 512), so that every
   halving of the spatial size is exact;
2. **conv**: small filters (3x3, at most 5x5), stride S = 1 and zero padding P = (F - 1)/2, so
   a conv layer keeps the spatial size and leaves all downsampling to the pools;
3. **pool**: max pooling with 2x2 windows and stride 2 (the less common variant: 3x3, stride 2);
4. **the first-layer compromise**: only the first conv layer, which sees the big input image,
   may use a larger filter and stride to save memory (AlexNet 11x11/4, ZFNet 7x7/2).

`check_rules(name)` returns one `RuleCheck` per input, conv and pool layer with a verdict:
"follows", "variant" (the less common pool), "first layer" (the allowed compromise) or
"breaks" (with the reason), and the rows where the output size was rounded.

    >>> report = check_rules("vgg16")
    >>> report.counts()["breaks"]
    0
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass

from .netspec import Concat, ConvSpec, NetSpec, Pool, ResidualSpec, iter_layers
from .tables import Table

__all__ = ["RuleCheck", "RulesReport", "check_rules", "times_divisible_by_2"]

VERDICTS = ("follows", "variant", "first layer", "breaks")


def times_divisible_by_2(n: int) -> int:
    """How many times n can be halved exactly: 224 = 2^5 * 7 -> 5; 227 -> 0."""
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be a positive size, got {n}")
    k = 0
    while n % 2 == 0:
        n //= 2
        k += 1
    return k


@dataclass(frozen=True)
class RuleCheck:
    """One layer against its rule: layer name, setting ("conv 3x3/1 pad 1"), rule, verdict, why."""
    layer: str
    setting: str
    rule: str
    verdict: str
    why: str = ""


@dataclass(frozen=True)
class RulesReport:
    """The checks of one network; `rounded` lists (layer, rounding note) for rows that rounded."""
    name: str
    checks: tuple
    rounded: tuple = ()

    def counts(self) -> dict:
        """Number of checks per verdict (every verdict present, possibly 0)."""
        return {v: sum(c.verdict == v for c in self.checks) for v in VERDICTS}

    def broken(self) -> list:
        """The checks whose verdict is "breaks"."""
        return [c for c in self.checks if c.verdict == "breaks"]

    def table(self, verdicts=VERDICTS) -> Table:
        rows = [(c.layer, c.setting, c.rule, c.verdict, c.why) for c in self.checks if c.verdict in verdicts]
        return Table(("layer", "setting", "rule", "verdict", "why"), rows, align="lllll")

    def summary_line(self) -> str:
        c = self.counts()
        return (f"{self.name}: {len(self.checks)} layers checked: {c['follows']} follow the rules, "
                f"{c['variant']} use the 3x3/2 pool variant, {c['first layer']} first-layer compromise, "
                f"{c['breaks']} break them; {len(self.rounded)} output sizes rounded")

    def __repr__(self) -> str:
        c = self.counts()
        return f"RulesReport({self.name!r}: {len(self.checks)} layers, {c['breaks']} break the rules)"

    def to_text(self, verdicts=VERDICTS) -> str:
        return self.summary_line() + "\n" + self.table(verdicts).to_text()

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.summary_line())}</p>" + self.table().to_html()


def _conv_check(name, layer: ConvSpec, first: bool) -> RuleCheck:
    F, S, P = layer.kernel, layer.stride, layer.pad
    setting = f"conv {F}x{F}/{S} pad {P}" + (f" groups {layer.groups}" if layer.groups > 1 else "")
    rule = "S=1, P=(F-1)/2, F<=5"
    if S == 1 and F % 2 == 1 and P == (F - 1) // 2 and F <= 5 and layer.dilation == 1:
        return RuleCheck(name, setting, rule, "follows")
    if first and (S > 1 or F > 5):
        return RuleCheck(name, setting, rule, "first layer",
                         f"{F}x{F} filter with stride {S} on the input image: less memory for the first activations")
    reasons = []
    if S != 1:
        reasons.append(f"stride {S} downsamples inside a conv")
    if F > 5:
        reasons.append(f"{F}x{F} filter (> 5x5)")
    if F % 2 == 0:
        reasons.append("even filter size has no centre")
    elif P != (F - 1) // 2:
        reasons.append(f"pad {P} != (F-1)/2 = {(F - 1) // 2}: the size changes by {2 * P - (F - 1):+d}")
    return RuleCheck(name, setting, rule, "breaks", "; ".join(reasons))


def _pool_check(name, layer: Pool) -> RuleCheck:
    F, S, P = layer.kernel, (layer.kernel if layer.stride is None else layer.stride), layer.pad
    setting = f"{layer.mode} pool {F}x{F}/{S}" + (f" pad {P}" if P else "")
    rule = "max pool 2x2/2"
    if layer.mode == "max" and F == 2 and S == 2 and P == 0:
        return RuleCheck(name, setting, rule, "follows")
    if layer.mode == "max" and F == 3 and S == 2 and P == 0:
        return RuleCheck(name, setting, rule, "variant", "overlapping 3x3/2 windows (less common)")
    reasons = []
    if layer.mode != "max":
        reasons.append(f"{layer.mode} pooling")
    if (F, S) not in ((2, 2), (3, 2)):
        reasons.append(f"window {F}, stride {S}")
    if P:
        reasons.append(f"padded by {P} (with -inf, so the padding never wins the max)")
    return RuleCheck(name, setting, rule, "breaks", "; ".join(reasons))


def _path_strides(layers):
    """Strides met on the way from the input to the output (a residual block's body, the first
    branch of a concatenation: the other paths downsample by the same factor)."""
    for layer in layers:
        if isinstance(layer, ConvSpec):
            yield layer.stride
        elif isinstance(layer, Pool):
            yield layer.kernel if layer.stride is None else layer.stride
        elif isinstance(layer, ResidualSpec):
            yield from _path_strides(layer.body)
        elif isinstance(layer, Concat) and layer.branches:
            yield from _path_strides(layer.branches[-1])


def check_rules(net, input_shape=None) -> RulesReport:
    """Check the input, every conv and every pool of a network (name or `NetSpec`) against the
    notes' sizing rules; the input rule asks for a size divisible by 2 at least as often as the
    network halves it before its first FC layer or global pool.

    Shown in 06, section 9.
    """
    from .architectures import spec, summarize

    net = net if isinstance(net, NetSpec) else spec(net)
    summary = summarize(net, input_shape)
    shape = summary.rows[0].output_shape
    leaves = list(iter_layers(net))
    total_stride = math.prod(_path_strides(layer for _, layers in net.stages for layer in layers))
    need, have = times_divisible_by_2(total_stride), times_divisible_by_2(shape[1])
    size_text = f"{shape[1]} = 2^{have} x {shape[1] >> have}"
    verdict = "follows" if have >= need and have >= 1 else "breaks"
    why = (f"the net halves the size {need} times (total stride {total_stride})" if verdict == "follows" else
           f"{shape[1]} can be halved exactly only {have} times but the net downsamples by {total_stride}")
    checks = [RuleCheck("input", size_text, "divisible by 2 many times", verdict, why)]
    first_conv = True
    for name, _, layer in leaves:
        if isinstance(layer, ConvSpec):
            if layer.kernel == 1 and layer.stride == 1 and layer.pad == 0:
                checks.append(RuleCheck(name, "conv 1x1/1 pad 0", "S=1, P=(F-1)/2, F<=5", "follows"))
            else:
                checks.append(_conv_check(name, layer, first_conv))
            first_conv = False
        elif isinstance(layer, Pool):
            checks.append(_pool_check(name, layer))
    rounded = tuple((r.name, r.rounding_note) for r in summary.rounded_rows())
    return RulesReport(net.name, tuple(checks), rounded)
