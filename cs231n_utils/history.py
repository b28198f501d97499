"""The history of ConvNets as data: milestones, ImageNet (ILSVRC) results, and parameter counts.

The numbers live in two CSV files in `assets/` (each row names its source), not in code:

- `assets/cnn_timeline.csv`: year, name, who, contribution, source
- `assets/ilsvrc_top5.csv`: year, team, model, label, convnet, top5_error_pct, kind, note,
  source, source_url, where `label` is a short name for charts, `convnet` is yes/no, and `kind` is "winner" (the classification winner of that year), "runner-up", or
  "human" (the human reference from Russakovsky et al. 2015 / Karpathy 2014).

`fc_vs_conv_params` does the lecture's arithmetic: why a regular, fully connected network
(常规神经网络) does not scale to images while a ConvNet (卷积神经网络) does.
"""
from __future__ import annotations

import csv
from pathlib import Path

from .checks import check_int
from .paths import asset

__all__ = ["load_timeline", "load_ilsvrc_results", "winning_entries", "human_reference",
           "fc_vs_conv_params", "TIMELINE_FILE", "ILSVRC_FILE"]

TIMELINE_FILE = "cnn_timeline.csv"
ILSVRC_FILE = "ilsvrc_top5.csv"

_TIMELINE_COLUMNS = ("year", "name", "who", "contribution", "source")
_ILSVRC_COLUMNS = ("year", "team", "model", "label", "convnet", "top5_error_pct", "kind", "note",
                   "source", "source_url")
_KINDS = ("winner", "runner-up", "human")


def _read_csv(path: Path, columns: tuple[str, ...]) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path.name} lacks the column(s) {missing}; expected header "
                             f"{','.join(columns)}")
        rows = []
        for lineno, row in enumerate(reader, start=2):
            empty = [c for c in columns if not (row.get(c) or "").strip()
                     and c not in ("note", "source_url")]
            if empty:
                raise ValueError(f"{path.name} line {lineno}: empty field(s) {empty}; every row "
                                 f"needs a value and a source")
            rows.append({c: row[c].strip() for c in columns})
    return rows


def _int_field(row: dict, name: str, path: str, lineno: int) -> int:
    try:
        return int(row[name])
    except ValueError:
        raise ValueError(f"{path} line {lineno}: {name}={row[name]!r} is not an integer") from None


def load_timeline(path: str | Path | None = None) -> list[dict]:
    """Milestones of ConvNet history, sorted by year (stable for equal years).

    Returns a list of dicts with keys year (int), name, who, contribution, source (str).

    Shown in 01, section 2.
    """
    path = Path(path) if path is not None else asset(TIMELINE_FILE)
    rows = _read_csv(path, _TIMELINE_COLUMNS)
    for i, row in enumerate(rows):
        row["year"] = _int_field(row, "year", path.name, i + 2)
    return sorted(rows, key=lambda r: r["year"])


def load_ilsvrc_results(path: str | Path | None = None) -> list[dict]:
    """ILSVRC classification top-5 errors with their sources, in file order.

    Returns a list of dicts with keys year (int), team, model, label (str), convnet (bool),
    top5_error_pct (float, in percent), kind ("winner" | "runner-up" | "human"), note,
    source, source_url (str).

    Shown in 01, section 3.
    """
    path = Path(path) if path is not None else asset(ILSVRC_FILE)
    rows = _read_csv(path, _ILSVRC_COLUMNS)
    for i, row in enumerate(rows):
        lineno = i + 2
        row["year"] = _int_field(row, "year", path.name, lineno)
        try:
            row["top5_error_pct"] = float(row["top5_error_pct"])
        except ValueError:
            raise ValueError(f"{path.name} line {lineno}: top5_error_pct="
                             f"{row['top5_error_pct']!r} is not a number") from None
        if not 0.0 < row["top5_error_pct"] < 100.0:
            raise ValueError(f"{path.name} line {lineno}: top5_error_pct="
                             f"{row['top5_error_pct']} must be a percentage between 0 and 100")
        if row["convnet"] not in ("yes", "no"):
            raise ValueError(f"{path.name} line {lineno}: convnet={row['convnet']!r}; use yes or no")
        row["convnet"] = row["convnet"] == "yes"
        if row["kind"] not in _KINDS:
            raise ValueError(f"{path.name} line {lineno}: kind={row['kind']!r}; use one of {_KINDS}")
    return rows


def winning_entries(results: list[dict] | None = None) -> list[dict]:
    """The classification winner of each year, sorted by year (one row per year).

    Shown in 01, section 3.
    """
    results = load_ilsvrc_results() if results is None else results
    winners = sorted((r for r in results if r["kind"] == "winner"), key=lambda r: r["year"])
    years = [r["year"] for r in winners]
    if len(set(years)) != len(years):
        raise ValueError(f"more than one winner for a year in {years}")
    return winners


def human_reference(results: list[dict] | None = None) -> dict:
    """The single row of kind "human" (top-5 error of a trained human annotator).

    Shown in 01, section 3.
    """
    results = load_ilsvrc_results() if results is None else results
    humans = [r for r in results if r["kind"] == "human"]
    if len(humans) != 1:
        raise ValueError(f"expected exactly one row of kind 'human', found {len(humans)}")
    return humans[0]


def fc_vs_conv_params(input_shape: tuple[int, int, int], filter_size: int = 5,
                      num_units: int = 1) -> dict:
    """Parameters of `num_units` fully connected neurons vs `num_units` conv filters on one input.

    Args:
        input_shape: (height, width, depth) as the lecture writes it, e.g. (32, 32, 3).
        filter_size: spatial size F of each (F x F x depth) conv filter.
        num_units: number of FC neurons, and of conv filters (the conv layer's depth).

    Returns a dict:
        inputs        = height * width * depth (the length of the flattened image)
        fc_weights    = inputs * num_units;      fc_biases = num_units
        conv_weights  = F * F * depth * num_units; conv_biases = num_units
        fc_params, conv_params (weights + biases) and ratio = fc_params / conv_params.
    A conv filter's count does not depend on height and width: its weights are shared
    across all positions (参数共享).

    Shown in 01, section 5.
    """
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, depth), e.g. (32, 32, 3); "
                         f"got {input_shape!r}")
    h, w, d = (check_int(v, f"input_shape {n}", 1) for v, n in zip(input_shape, ("height", "width", "depth")))
    f = check_int(filter_size, "filter_size", 1)
    n = check_int(num_units, "num_units", 1)
    if f > h or f > w:
        raise ValueError(f"filter_size {f} is larger than the {h}x{w} image; a {f}x{f} filter "
                         f"needs an image at least that big (use filter_size <= {min(h, w)})")
    inputs = h * w * d
    fc_weights, conv_weights = inputs * n, f * f * d * n
    out = {"input_shape": (h, w, d), "filter_size": f, "num_units": n, "inputs": inputs,
           "fc_weights": fc_weights, "fc_biases": n, "fc_params": fc_weights + n,
           "conv_weights": conv_weights, "conv_biases": n, "conv_params": conv_weights + n}
    out["ratio"] = out["fc_params"] / out["conv_params"]
    return out
