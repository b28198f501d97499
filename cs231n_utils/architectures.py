"""Per-layer calculators for the classic ConvNets (经典卷积网络): AlexNet ... ShuffleNet.

Every network is written down as a short declarative *spec* (a list of `ConvSpec`, `Pool`,
`Linear`, `Concat`, `ResidualSpec` ... objects from `netspec`, re-exported here; the trainable
layers with similar names live in `layer_objects`). `summarize(name)` walks the spec with the
shape arithmetic of `cs231n_utils.shapes` (floor mode unless a layer says otherwise, every
rounded row marked) and returns one row per layer:

    name, kind, output shape (C, H, W), parameters, multiply-adds (MACs), activation bytes

Conventions (the same ones torchvision uses for its published figures):

* parameters = every learned number: conv/FC weights and biases, and the two learned
  vectors (gamma, beta) of each batch-norm layer. Running means/variances are not parameters.
* MACs (multiply-accumulates, 乘加) are counted for convolutions and fully connected layers
  only: a conv producing a C' x H' x W' output from C input channels with K x K filters in
  G groups costs  C' * H' * W' * (C / G) * K * K  MACs; an FC layer n_in -> n_out costs
  n_in * n_out. Pooling, batch norm, ReLU and residual additions are not counted (they are
  about 1% of the total). torchvision calls these numbers "GFLOPS"; they are multiply-adds.
* activation bytes = the number of values a row outputs times 4 (float32). ReLU and batch
  norm are folded into the conv row before them (they can run in place), so each row stores
  one output. The first row is the input image itself, as in the CS231n VGG table.

Where torchvision ships the model (AlexNet, VGG16, GoogLeNet, ResNet-18/50/152, MobileNet v2,
ShuffleNet v2 1.0x) the spec follows torchvision's variant, so the parameter totals equal its
published counts exactly. MobileNet v1 and ZFNet follow their papers. `published(name)["spec_note"]`
(and `summarize(name).note`) says where a spec differs from the paper.

    >>> s = summarize("vgg16")
    >>> s.total_params
    138357544
"""
from __future__ import annotations

from typing import Sequence, Union

from .netspec import (AdaptiveAvgPool, Concat, ConvSpec, Linear, NetSpec, NetSummary, Pool,
                      ResidualSpec, Row, _check_shape, _conv_cost, conv_layer_cost, walk)

__all__ = ["ConvSpec", "Pool", "AdaptiveAvgPool", "Linear", "Concat", "ResidualSpec", "NetSpec",
           "Row", "NetSummary", "conv_layer_cost", "summarize", "spec", "available",
           "published", "published_figures", "vgg16_cs231n_breakdown", "inception_module_cost",
           "separable_conv_cost", "published_table"]


# ----------------------------------------------------------------------------- the networks
def _lenet5() -> NetSpec:
    # LeCun et al. 1998, Fig. 2, with today's simplifications: C3 sees all 6 maps of S2 (the paper
    # wires each C3 map to 3-6 of them: 1,516 parameters instead of 2,416), the subsampling
    # layers S2/S4 are plain 2x2 averages (the paper gives each map a learned scale and bias:
    # 12 + 32 parameters) and the output is an FC layer (the paper: 10 RBF units, 840 weights).
    return NetSpec("lenet5", (
        ("features", (ConvSpec("C1", 6, 5), Pool("S2", 2, 2, mode="avg"),
                      ConvSpec("C3", 16, 5), Pool("S4", 2, 2, mode="avg"),
                      ConvSpec("C5", 120, 5))),
        ("classifier", (Linear("F6", 84, in_features=120), Linear("output", 10))),
    ), rounding="exact", source="LeCun, Bottou, Bengio & Haffner 1998, Fig. 2 (modern variant)",
        input_shape=(1, 32, 32), dataset="MNIST")


def _alexnet() -> NetSpec:
    return NetSpec("alexnet", (
        ("features", (
            ConvSpec("conv1", 64, 11, 4, 2), Pool("pool1", 3, 2),
            ConvSpec("conv2", 192, 5, 1, 2), Pool("pool2", 3, 2),
            ConvSpec("conv3", 384, 3, 1, 1), ConvSpec("conv4", 256, 3, 1, 1), ConvSpec("conv5", 256, 3, 1, 1),
            Pool("pool5", 3, 2), AdaptiveAvgPool("avgpool", 6))),
        ("classifier", (Linear("fc6", 4096, in_features=9216), Linear("fc7", 4096),
                        Linear("fc8", 1000))),
    ), rounding="floor", source="torchvision.models.alexnet (after Krizhevsky 2014, 'One weird trick')")


def _zfnet() -> NetSpec:
    # Zeiler & Fergus (2013), Fig. 3: 224 -> 110 -> 55 -> 26 -> 13 -> 13 -> 13 -> 6.
    # The paper gives the shapes, not the padding: pad=1 + floor reproduces 110, and
    # Caffe-style ceil pooling reproduces 55 and 13. Contrast normalisation has no parameters.
    return NetSpec("zfnet", (
        ("layer1", (ConvSpec("conv1", 96, 7, 2, 1, rounding="floor"), Pool("pool1", 3, 2, rounding="ceil"))),
        ("layer2", (ConvSpec("conv2", 256, 5, 2, 0), Pool("pool2", 3, 2, rounding="ceil"))),
        ("layer3-5", (ConvSpec("conv3", 384, 3, 1, 1), ConvSpec("conv4", 384, 3, 1, 1),
                      ConvSpec("conv5", 256, 3, 1, 1), Pool("pool5", 3, 2))),
        ("classifier", (Linear("fc6", 4096, in_features=9216), Linear("fc7", 4096),
                        Linear("fc8", 1000))),
    ), rounding="exact", source="Zeiler & Fergus 2013, arXiv:1311.2901, Fig. 3")


def _vgg16() -> NetSpec:
    stages = []
    cin_cfg = [(1, 64, 2), (2, 128, 2), (3, 256, 3), (4, 512, 3), (5, 512, 3)]
    for block, width, n in cin_cfg:
        layers = tuple(ConvSpec(f"conv{block}_{i + 1}", width, 3, 1, 1) for i in range(n))
        stages.append((f"block{block}", layers + (Pool(f"pool{block}", 2, 2),)))
    stages.append(("classifier", (AdaptiveAvgPool("avgpool", 7),
                                  Linear("fc6", 4096, in_features=25088), Linear("fc7", 4096),
                                  Linear("fc8", 1000))))
    return NetSpec("vgg16", tuple(stages), rounding="floor",
                   source="torchvision.models.vgg16 (configuration D of Simonyan & Zisserman 2014)")


def _bc(name, out, k, stride=1, pad=0, groups=1):
    """torchvision's conv-bn block: conv without bias, then batch norm."""
    return ConvSpec(name, out, k, stride, pad, bias=False, bn=True, groups=groups)


def _inception(name, c1, c3r, c3, c5r, c5, pp, five=3):
    # torchvision's "5x5" branch really uses a 3x3 conv (pytorch/vision issue #906); five=5 gives the paper's
    return Concat(name, (
        (_bc("1x1", c1, 1),),
        (_bc("3x3_reduce", c3r, 1), _bc("3x3", c3, 3, 1, 1)),
        (_bc("5x5_reduce", c5r, 1), _bc("5x5", c5, five, 1, five // 2)),
        (Pool("pool", 3, 1, 1, rounding="ceil"), _bc("pool_proj", pp, 1)),
    ))


def _googlenet() -> NetSpec:
    return NetSpec("googlenet", (
        ("stem", (_bc("conv1", 64, 7, 2, 3), Pool("maxpool1", 3, 2, rounding="ceil"),
                  _bc("conv2", 64, 1), _bc("conv3", 192, 3, 1, 1),
                  Pool("maxpool2", 3, 2, rounding="ceil"))),
        ("inception3", (_inception("inception3a", 64, 96, 128, 16, 32, 32),
                        _inception("inception3b", 128, 128, 192, 32, 96, 64),
                        Pool("maxpool3", 3, 2, rounding="ceil"))),
        ("inception4", (_inception("inception4a", 192, 96, 208, 16, 48, 64),
                        _inception("inception4b", 160, 112, 224, 24, 64, 64),
                        _inception("inception4c", 128, 128, 256, 24, 64, 64),
                        _inception("inception4d", 112, 144, 288, 32, 64, 64),
                        _inception("inception4e", 256, 160, 320, 32, 128, 128),
                        Pool("maxpool4", 2, 2, rounding="ceil"))),
        ("inception5", (_inception("inception5a", 256, 160, 320, 32, 128, 128),
                        _inception("inception5b", 384, 192, 384, 48, 128, 128))),
        ("head", (AdaptiveAvgPool("avgpool", 1), Linear("fc", 1000))),
    ), rounding="floor", source="torchvision.models.googlenet (no auxiliary heads)")


def _basic_block(name, cin, planes, stride):
    body = (_bc("conv1", planes, 3, stride, 1), _bc("conv2", planes, 3, 1, 1))
    short = (_bc("downsample", planes, 1, stride),) if stride != 1 or cin != planes else ()
    return ResidualSpec(name, body, short), planes


def _bottleneck(name, cin, planes, stride):
    out = planes * 4
    # torchvision's "ResNet v1.5": the stride sits on the 3x3 conv (the paper puts it on the first 1x1)
    body = (_bc("conv1", planes, 1), _bc("conv2", planes, 3, stride, 1), _bc("conv3", out, 1))
    short = (_bc("downsample", out, 1, stride),) if stride != 1 or cin != out else ()
    return ResidualSpec(name, body, short), out


def _resnet(name, block, counts) -> NetSpec:
    stages = [("stem", (_bc("conv1", 64, 7, 2, 3), Pool("maxpool", 3, 2, 1)))]
    cin = 64
    for i, (planes, n) in enumerate(zip((64, 128, 256, 512), counts)):
        blocks = []
        for j in range(n):
            stride = 2 if (i > 0 and j == 0) else 1
            b, cin = block(f"layer{i + 1}.{j}", cin, planes, stride)
            blocks.append(b)
        stages.append((f"layer{i + 1}", tuple(blocks)))
    stages.append(("head", (AdaptiveAvgPool("avgpool", 1), Linear("fc", 1000))))
    return NetSpec(name, tuple(stages), rounding="floor", source=f"torchvision.models.{name}")


def _mobilenet_v1() -> NetSpec:
    # Howard et al. 2017, Table 1. Every conv is followed by batch norm and ReLU (no conv bias).
    # Table 1 prints the 13th depthwise conv as "s2", but its input and output are both 7x7:
    # every implementation uses stride 1 there, and so do we.
    cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + \
          [(1024, 2), (1024, 1)]
    stages = [("stem", (_bc("conv1", 32, 3, 2, 1),))]
    cin = 32
    layers = []
    for i, (cout, s) in enumerate(cfg):
        layers += [_bc(f"block{i + 1}.dw", cin, 3, s, 1, groups=cin), _bc(f"block{i + 1}.pw", cout, 1)]
        cin = cout
    stages.append(("separable", tuple(layers)))
    stages.append(("head", (AdaptiveAvgPool("avgpool", 1), Linear("fc", 1000))))
    return NetSpec("mobilenet_v1", tuple(stages), rounding="floor",
                   source="Howard et al. 2017, arXiv:1704.04861, Table 1 (1.0 MobileNet-224)")


def _mobilenet_v2() -> NetSpec:
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1)]
    stages = [("stem", (_bc("conv1", 32, 3, 2, 1),))]
    cin = 32
    k = 0
    for t, c, n, s in settings:
        blocks = []
        for j in range(n):
            stride = s if j == 0 else 1
            hidden = cin * t
            body = ((_bc("expand", hidden, 1),) if t != 1 else ()) + (
                _bc("dw", hidden, 3, stride, 1, groups=hidden), _bc("project", c, 1))
            k += 1
            if stride == 1 and cin == c:
                blocks.append(ResidualSpec(f"block{k}", body))
            else:
                blocks.extend(_prefixed(f"block{k}", body))
            cin = c
        stages.append((f"bottleneck_t{t}_c{c}", tuple(blocks)))
    stages.append(("head", (_bc("conv_last", 1280, 1), AdaptiveAvgPool("avgpool", 1),
                            Linear("fc", 1000))))
    return NetSpec("mobilenet_v2", tuple(stages), rounding="floor",
                   source="torchvision.models.mobilenet_v2")


def _prefixed(prefix: str, layers: tuple) -> list:
    """Rename layers as prefix.name (for blocks without a shortcut)."""
    out = []
    for layer in layers:
        fields = dict(layer.__dict__)
        fields["name"] = f"{prefix}.{layer.name}"
        out.append(type(layer)(**fields))
    return out


def _shuffle_unit(name, cin, cout, stride):
    bf = cout // 2
    if stride == 1:
        if cin != cout:
            raise ValueError(f"{name}: a stride-1 ShuffleNet unit keeps the channels ({cin} != {cout})")
        branch2 = (_bc("pw1", bf, 1), _bc("dw", bf, 3, 1, 1, groups=bf), _bc("pw2", bf, 1))
        return Concat(name, ((), branch2), split=True, shuffle=2)
    branch1 = (_bc("dw", cin, 3, stride, 1, groups=cin), _bc("pw", bf, 1))
    branch2 = (_bc("pw1", bf, 1), _bc("dw", bf, 3, stride, 1, groups=bf), _bc("pw2", bf, 1))
    return Concat(name, (branch1, branch2), shuffle=2)


def _shufflenet_v2_x1_0() -> NetSpec:
    stages = [("stem", (_bc("conv1", 24, 3, 2, 1), Pool("maxpool", 3, 2, 1)))]
    cin = 24
    for i, (cout, n) in enumerate(zip((116, 232, 464), (4, 8, 4))):
        units = []
        for j in range(n):
            units.append(_shuffle_unit(f"stage{i + 2}.{j}", cin, cout, 2 if j == 0 else 1))
            cin = cout
        stages.append((f"stage{i + 2}", tuple(units)))
    stages.append(("head", (_bc("conv5", 1024, 1), AdaptiveAvgPool("avgpool", 1), Linear("fc", 1000))))
    return NetSpec("shufflenet_v2_x1_0", tuple(stages), rounding="floor",
                   source="torchvision.models.shufflenet_v2_x1_0")


_BUILDERS = {
    "lenet5": _lenet5,
    "alexnet": _alexnet,
    "zfnet": _zfnet,
    "vgg16": _vgg16,
    "googlenet": _googlenet,
    "resnet18": lambda: _resnet("resnet18", _basic_block, (2, 2, 2, 2)),
    "resnet50": lambda: _resnet("resnet50", _bottleneck, (3, 4, 6, 3)),
    "resnet152": lambda: _resnet("resnet152", _bottleneck, (3, 8, 36, 3)),
    "mobilenet_v1": _mobilenet_v1,
    "mobilenet_v2": _mobilenet_v2,
    "shufflenet_v2_x1_0": _shufflenet_v2_x1_0,
}

_PUBLISHED_ASSET = "architectures_published.json"


def published(name: str | None = None) -> dict:
    """Published figures from `assets/architectures_published.json`, with their sources.

    For each network: "display", "year", "torchvision" (None when torchvision does not ship
    it; else "weights", "params", "gmacs" = its "GFLOPS", which are multiply-adds, "acc1",
    "acc5"), "paper" ("citation", "params", "gmacs", "top1", "where"; None = not stated) and
    "spec_note" (where our spec differs from the paper).
    `name=None` returns the dict for every network.

    Shown in 06, section 2.
    """
    import json

    from .paths import asset

    data = json.loads(asset(_PUBLISHED_ASSET).read_text(encoding="utf-8"))["networks"]
    if name is None:
        return data
    key = spec(name).name
    return data[key]


def published_figures(name: str) -> dict:
    """The figures our totals are compared with: torchvision's when it ships the model, else the
    paper's. Returns {"params", "gmacs", "top1", "source"} (None where the source is silent)."""
    pub = published(name)
    tv = pub["torchvision"]
    if tv is not None:
        return {"params": tv["params"], "gmacs": tv["gmacs"], "top1": tv["acc1"],
                "source": f"torchvision {tv['weights']}"}
    paper = pub["paper"]
    return {"params": paper["params"], "gmacs": paper["gmacs"], "top1": paper["top1"],
            "source": paper["citation"].split(",")[0] + " (paper)"}


def available(dataset: str | None = None) -> list[str]:
    """Names accepted by `summarize` and `spec`, oldest network first; with `dataset`
    ("ImageNet" or "MNIST") only the networks designed for that data set.

    Shown in 06, section 1.
    """
    if dataset is None:
        return list(_BUILDERS)
    names = [n for n, build in _BUILDERS.items() if build().dataset.lower() == str(dataset).lower()]
    if not names:
        known = sorted({build().dataset for build in _BUILDERS.values()})
        raise ValueError(f"no network was designed for dataset {dataset!r}; known: {', '.join(known)}")
    return names


def spec(name: str) -> NetSpec:
    """The declarative spec of a network (see `available()`)."""
    key = str(name).lower().replace("-", "").replace(" ", "")
    aliases = {"lenet": "lenet5", "lenet_5": "lenet5", "vgg": "vgg16", "inception_v1": "googlenet",
               "shufflenet_v2": "shufflenet_v2_x1_0", "shufflenetv2": "shufflenet_v2_x1_0",
               "mobilenetv1": "mobilenet_v1", "mobilenetv2": "mobilenet_v2"}
    key = aliases.get(key, key)
    if key not in _BUILDERS:
        raise ValueError(f"unknown network {name!r}; available: {', '.join(available())}")
    return _BUILDERS[key]()


def summarize(name: Union[str, NetSpec], input_shape=None, *, biases: bool = True) -> NetSummary:
    """Per-layer rows and totals for a network name (see `available()`) or a `NetSpec`.

    input_shape: (C, H, W) of one image (default: the one the net was designed for, 3x224x224
    for the ImageNet nets, 1x32x32 for LeNet-5). biases=False leaves out every conv/FC bias (CS231n's
    VGG table counts weights only). Raises ValueError naming the layer when the spec does not
    fit the input (e.g. a stride that does not divide, or an FC layer expecting another size).

    Shown in 06, sections 2, 3, 4, 5, 6, 7.
    """
    net = name if isinstance(name, NetSpec) else spec(name)
    note = published(net.name)["spec_note"] if net.name in _BUILDERS else ""
    return walk(net, net.input_shape if input_shape is None else input_shape, biases=biases, note=note)


def published_table(names: Sequence[str] | None = None) -> list[dict]:
    """Our totals next to the published ones, one dict per network:
    name, params, published_params, params_diff (exact difference or None), gmacs,
    published_gmacs, macs_diff_pct, top1, source. Default: every ImageNet network.

    Shown in 06, section 8.
    """
    out = []
    for name in names or available("ImageNet"):
        s = summarize(name)
        pub = published_figures(name)
        gmacs = s.total_macs / 1e9
        out.append({
            "name": name, "params": s.total_params, "published_params": pub["params"],
            "params_diff": None if pub["params"] is None else s.total_params - pub["params"],
            "gmacs": gmacs, "published_gmacs": pub["gmacs"],
            "macs_diff_pct": None if pub["gmacs"] is None else 100 * (gmacs - pub["gmacs"]) / pub["gmacs"],
            "top1": pub["top1"], "source": pub["source"],
        })
    return out


# ----------------------------------------------------------------------------- teaching helpers
def vgg16_cs231n_breakdown(biases: bool = False) -> dict:
    """CS231n's VGG16 table: per layer, activation memory (values) and parameters.

    Returns {"rows": [(label, output shape, activations, params), ...], "total_activations",
    "total_params", "forward_bytes"} with labels in the course's style ("CONV3-64", "POOL2",
    "FC-4096"). By default biases are left out, as in the course notes (138,344,128 weights);
    biases=True gives torchvision's 138,357,544.

    Shown in 06, section 4.
    """
    s = summarize("vgg16", biases=biases)
    rows = []
    for r in s.rows:
        if r.kind == "input":
            label = "INPUT"
        elif r.kind == "conv":
            label = f"CONV3-{r.output_shape[0]}"
        elif r.kind == "maxpool":
            label = "POOL2"
        elif r.kind == "fc":
            label = f"FC-{r.output_shape[0]}"
        else:  # the identity adaptive pool adds no row; anything else would be a spec change
            label = r.kind.upper()
        rows.append((label, r.output_shape, r.activations, r.params))
    return {"rows": rows, "total_activations": s.total_activations, "total_params": s.total_params,
            "forward_bytes": s.total_activation_bytes}


def inception_module_cost(input_shape, c1, c3r, c3, c5r, c5, pool_proj, bottlenecks: bool = True,
                          five: int = 5) -> NetSummary:
    """Cost of one Inception module (GoogLeNet paper's version: real 5x5 branch, conv biases,
    no batch norm). With bottlenecks=False the 1x1 reductions (1x1 瓶颈卷积) in front of the 3x3 and
    5x5 convs and after the pool are dropped, so those convs see all input channels - the
    "naive" module of Szegedy et al. Fig. 2(a).

    Shown in 06, section 5.
    """
    shape = _check_shape(input_shape)
    if bottlenecks:
        module = Concat("inception", (
            (ConvSpec("1x1", c1, 1),),
            (ConvSpec("3x3_reduce", c3r, 1), ConvSpec("3x3", c3, 3, 1, 1)),
            (ConvSpec("5x5_reduce", c5r, 1), ConvSpec(f"{five}x{five}", c5, five, 1, five // 2)),
            (Pool("pool", 3, 1, 1), ConvSpec("pool_proj", pool_proj, 1)),
        ))
    else:
        module = Concat("inception_naive", (
            (ConvSpec("1x1", c1, 1),),
            (ConvSpec("3x3", c3, 3, 1, 1),),
            (ConvSpec(f"{five}x{five}", c5, five, 1, five // 2),),
            (Pool("pool", 3, 1, 1),),
        ))
    net = NetSpec(module.name, (("module", (module,)),), rounding="exact")
    return summarize(net, shape)


def separable_conv_cost(input_shape, num_filters, filter_size, stride=1, pad=None) -> dict:
    """Standard K x K conv vs depthwise-separable conv (深度可分离卷积: K x K depthwise, then 1x1).

    Returns {"standard": (params, macs), "depthwise": (params, macs), "pointwise": (params, macs),
    "separable": (params, macs), "ratio": separable macs / standard macs,
    "formula": 1/N + 1/K^2} (biases left out, as in the MobileNet paper).

    Shown in 06, section 7.
    """
    c, h, w = _check_shape(input_shape)
    pad = filter_size // 2 if pad is None else pad
    std_shape, std_p, std_m = _conv_cost((c, h, w), num_filters, filter_size, stride, pad, False, 1, 1, "exact")
    dw_shape, dw_p, dw_m = _conv_cost((c, h, w), c, filter_size, stride, pad, False, c, 1, "exact")
    _, pw_p, pw_m = _conv_cost(dw_shape, num_filters, 1, 1, 0, False, 1, 1, "exact")
    return {"standard": (std_p, std_m), "depthwise": (dw_p, dw_m), "pointwise": (pw_p, pw_m),
            "separable": (dw_p + pw_p, dw_m + pw_m), "ratio": (dw_m + pw_m) / std_m,
            "formula": 1 / num_filters + 1 / filter_size ** 2, "output_shape": std_shape}
