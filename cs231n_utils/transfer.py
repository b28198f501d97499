"""Transfer learning (迁移学习): reuse a network pretrained on a source task for a target task.

The lecture notes' recipe, in code:

1. Take a network pretrained on a *source* task and keep its early layers.
2. **Freeze** (冻结) them: they are no longer trained, so they are a fixed function of the input.
3. A fixed function only has to be evaluated once per image: run the frozen part over the
   data set once, store its outputs ("features") on disk (`feature_cache`), and train the new
   head on the stored features. Every later epoch, seed or experiment skips the frozen layers.

Here: deterministic weight files (`save_weights`/`load_weights`, `load_pretrained` for the
model made by `scripts/pretrain_source.py`), splitting a model into a frozen part and a
trainable top (`FrozenPart`, `top_model`, `with_new_head`, `fresh_model`), the digits source and
target tasks (`digits_task`, `few_shot`), and the experiments of notebook 07
(`transfer_experiment`: data size x strategy; `linear_probe_table`: which depth transfers).
Freezing itself is a layer flag of `cs231n_utils.models` (`model.freeze(upto="pool2")`),
which the solver respects.
"""
from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from .checks import check_int
from .feature_cache import FeatureCache, cached_features
from .paths import atomic_write
from .tables import Table

__all__ = ["file_sha256", "save_weights", "load_weights", "load_pretrained", "PRETRAINED_NAME",
           "PRETRAINED_GLYPHS_GREY", "provenance_digest",
           "FrozenPart", "top_model", "fresh_model", "with_new_head",
           "SOURCE_CLASSES", "TARGET_CLASSES", "digits_task", "few_shot",
           "train_classifier", "STRATEGIES", "DEFAULT_SETTINGS", "TransferTable",
           "transfer_experiment", "linear_probe_table"]


# --------------------------------------------------------------------------------------------
# Weights files: deterministic .npz (same arrays -> same bytes) and their provenance
# --------------------------------------------------------------------------------------------

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamp inside the zip, so the bytes are reproducible


def file_sha256(path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    from .paths import file_digest
    return file_digest(path, "sha256")


def save_weights(path, arrays: Mapping[str, np.ndarray]) -> str:
    """Write named arrays to a `.npz` whose bytes depend only on the arrays; returns its sha256.

    `np.savez` stamps the current time into the zip, so re-running it changes the file; here
    every entry gets the same fixed timestamp and entries are written in sorted order. The
    file is written to a temporary name and moved into place with os.replace (atomic).
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"weights path must end in .npz, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
            for name in sorted(arrays):
                arr = np.ascontiguousarray(arrays[name])
                if arr.dtype == object:
                    raise TypeError(f"{name}: object arrays cannot be stored without pickle")
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
                info.external_attr = 0o644 << 16
                with zf.open(info, "w", force_zip64=True) as entry:
                    np.lib.format.write_array(entry, arr, allow_pickle=False)
    return file_sha256(path)


MAX_WEIGHTS_BYTES = 8 << 20      # a weights file of this workbook is < 2 MB; refuse anything far larger
MAX_WEIGHT_ENTRIES = 256


def save_pretrained(directory, name: str, state_dict: Mapping[str, np.ndarray], make_provenance) -> dict:
    """Write a pretrained network as `<name>.npz` (weights) and `<name>.json` (provenance).

    make_provenance: called with the weights file's sha256, returns the provenance dict that
    goes into the JSON. Both files are written atomically; returns the provenance. Used by the
    scripts in `scripts/` that make the committed networks.
    """
    import json

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = make_provenance(save_weights(directory / f"{name}.npz", state_dict))
    with atomic_write(directory / f"{name}.json") as fh:
        fh.write((json.dumps(meta, indent=2) + "\n").encode("utf-8"))
    return meta


def load_weights(path, expected_sha256: str | None = None) -> "dict[str, np.ndarray]":
    """Read a weights `.npz` as an untrusted file: named float arrays, nothing else.

    With `expected_sha256`, refuse a file whose bytes do not match (ValueError saying how to
    regenerate it). The archive is read with limits (`checks.NpzReader`: at most
    MAX_WEIGHT_ENTRIES entries and MAX_WEIGHTS_BYTES bytes, uncompressed, plain float arrays
    whose headers are checked before reading; pickle is never allowed).
    """
    from .checks import FileCheckError, NpzReader

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist; run the script named in its "
                                f"provenance .json (e.g. `python scripts/pretrain_source.py`) to create it")
    size = path.stat().st_size
    if size > MAX_WEIGHTS_BYTES:
        raise ValueError(f"{path.name} is {size:,} bytes, more than the {MAX_WEIGHTS_BYTES:,} a weights "
                         f"file of this workbook can be; restore it (`git checkout assets/`)")
    if expected_sha256 is not None:
        actual = file_sha256(path)
        if actual != expected_sha256:
            raise ValueError(f"{path.name} has sha256 {actual[:16]}..., but its provenance file "
                             f"says {expected_sha256[:16]}...; the file was changed or corrupted. "
                             f"Restore it (`git checkout assets/`) or rerun the script that made it")
    try:
        with NpzReader(path, "weights file", max_entries=MAX_WEIGHT_ENTRIES, max_bytes=size) as npz:
            out = {}
            for name in npz.names:
                npz.expect(name, None, "f")
                out[name] = npz.read(name)
            return out
    except FileCheckError as err:
        raise ValueError(f"{err}; restore it (`git checkout assets/`) or rerun the script that "
                         f"made it") from None


def provenance_digest(meta: Mapping) -> str:
    """SHA-256 of a provenance record itself: its canonical JSON (sorted keys) without the
    "provenance_sha256" field. Stored in that field, it makes an edited .json detectable."""
    import json

    body = {k: v for k, v in meta.items() if k != "provenance_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


def _read_provenance(meta_path: Path, name: str) -> dict:
    """The provenance JSON read with limits (`provenance.read_provenance`), plus its own
    `provenance_sha256` checked when the file carries one."""
    from .provenance import read_provenance

    meta = read_provenance(meta_path, weights_name=f"{name}.npz")
    if "provenance_sha256" in meta and meta["provenance_sha256"] != provenance_digest(meta):
        raise ValueError(f"{meta_path.name} was edited after it was written (its provenance_sha256 "
                         f"does not match its content); restore it (`git checkout assets/`) or "
                         f"rerun {meta.get('script', 'the script that made it')}")
    return meta


PRETRAINED_NAME = "pretrained_digits_source"
PRETRAINED_GLYPHS_GREY = "pretrained_glyphs_grey"


def load_pretrained(name: str = PRETRAINED_NAME, directory=None):
    """The pretrained source model and its provenance: (model, provenance dict).

    Reads `assets/<name>.json` (pattern, input shape, sha256, accuracy, how it was made; at
    most 64 kB; its own `provenance_sha256` checked when present) and `assets/<name>.npz`
    (the weights, checked against the sha256 and read with limits), builds the model from the
    pattern and loads the weights into it. `name`: PRETRAINED_NAME (digits 0-4, the old
    source) or PRETRAINED_GLYPHS_GREY (the grey glyphs, notebook 07's source).

    Shown in 07, section 1.
    """
    from .pattern import build_from_pattern
    from .paths import ASSETS_DIR

    directory = Path(directory) if directory is not None else ASSETS_DIR
    meta_path, weights_path = directory / f"{name}.json", directory / f"{name}.npz"
    if not meta_path.is_file():
        raise FileNotFoundError(f"provenance file {meta_path} not found; run "
                                f"`python scripts/pretrain_source.py` to create {name}.npz/.json")
    provenance = _read_provenance(meta_path, name)
    weights = load_weights(weights_path, expected_sha256=provenance["sha256"])
    model = build_from_pattern(provenance["pattern"], input_shape=tuple(provenance["input_shape"]),
                               seed=0)
    model.load_state_dict(weights)
    return model, provenance


# --------------------------------------------------------------------------------------------
# Splitting a model into a frozen part and a trainable top
# --------------------------------------------------------------------------------------------

def _layer_index(model, upto) -> int:
    names = [l.name for l in model.layers]
    if isinstance(upto, str):
        if upto not in names:
            raise KeyError(f"upto={upto!r} is not a layer of the model; layers are {names}")
        return names.index(upto) + 1
    return check_int(upto, "upto (a layer name or a count of layers; at least one layer must stay "
                           "on top)", 1, len(names) - 1)


class FrozenPart:
    """The first layers of a model, up to and including `upto`, used as a fixed feature extractor.

        frozen = FrozenPart(model, upto="pool2")
        feats = frozen.forward(X)        # (N, *frozen.output_shape), test mode
        frozen.state_dict()              # only these layers' weights: the cache key uses them
        frozen.spec                      # e.g. "INPUT 1x8x8 -> CONV3-16 -> RELU -> POOL2 -> ..."

    The layers are shared with `model` (not copied), so changing the model's weights changes
    the state_dict and therefore the cache key.

    Shown in 07, section 4.
    """

    def __init__(self, model, upto):
        self.model = model
        self.layers = list(model.layers[:_layer_index(model, upto)])
        self.input_shape = tuple(model.input_shape)
        self.output_shape = tuple(self.layers[-1].out_shape)

    @property
    def names(self) -> list:
        return [l.name for l in self.layers]

    @property
    def spec(self) -> str:
        shape = "x".join(str(s) for s in self.input_shape)
        return " -> ".join([f"INPUT {shape}"] + [f"{l.name}:{l.describe()}" for l in self.layers])

    def state_dict(self) -> "dict[str, np.ndarray]":
        out = {}
        for l in self.layers:
            for k, v in l.params.items():
                out[f"{l.name}.{k}"] = v
            for k, v in l.buffers.items():
                out[f"{l.name}.{k}"] = v
        return out

    def forward(self, X: np.ndarray) -> np.ndarray:
        h = np.asarray(X, dtype=self.model.dtype)
        if h.shape[1:] != self.input_shape:
            raise ValueError(f"X must have shape (N, {', '.join(map(str, self.input_shape))}), got {h.shape}")
        for l in self.layers:
            h = l.forward(h, "test")
        return h

    def __repr__(self):
        return f"FrozenPart({self.spec!r})"


def top_model(model, upto, *, num_classes: int | None = None, seed: int = 0):
    """The layers after `upto` as their own model, taking the frozen part's output as input.

    Their weights are copied from `model` (pretrained init). With `num_classes`, the last FC
    layer is replaced by a fresh one with that many outputs (a new softmax head, random init
    from `seed`). Returns a `Sequential` with input_shape = the frozen part's output shape.

    Shown in 07, section 4.
    """
    import copy

    from .layer_objects import Affine
    from .models import Sequential

    k = _layer_index(model, upto)
    layers = [copy.deepcopy(l) for l in model.layers[k:]]
    if num_classes is not None:
        if not isinstance(layers[-1], Affine):
            raise ValueError(f"the last layer {layers[-1].name} is {layers[-1].describe()}, not FC; "
                             f"cannot replace the head")
        layers[-1] = Affine(int(num_classes), name=layers[-1].name)
    top = Sequential(layers, model.layers[k - 1].out_shape, seed=seed, dtype=model.dtype,
                     reg=model.reg, loss=model.loss_name)
    own = model.params
    for key, value in top.params.items():
        if num_classes is not None and key.startswith(f"{layers[-1].name}."):
            continue
        value[...] = own[key]
    return top


def fresh_model(model, num_classes: int | None = None, *, seed: int = 0):
    """A model with the same layers as `model` but new random weights (from `seed`): training it
    is "training from scratch". With `num_classes`, the last FC layer gets that many outputs."""
    import copy

    from .layer_objects import Affine
    from .models import Sequential

    layers = [copy.deepcopy(l) for l in model.layers]
    if num_classes is not None:
        if not isinstance(layers[-1], Affine):
            raise ValueError(f"the last layer {layers[-1].name} is {layers[-1].describe()}, not FC; "
                             f"cannot replace the head")
        layers[-1] = Affine(int(num_classes), name=layers[-1].name)
    for l in layers:
        l.set_trainable(True)
    return Sequential(layers, model.input_shape, seed=seed, dtype=model.dtype, reg=model.reg,
                      loss=model.loss_name)


def with_new_head(model, num_classes: int, *, seed: int = 0):
    """A copy of `model` with its last FC layer replaced by a fresh `num_classes`-way head.

    All other weights are copied (the pretrained initialisation for fine-tuning); the new head
    is drawn from `seed`. Every layer is trainable; freeze some with `.freeze(upto=...)`.

    Shown in 07, sections 3, 4, 5.
    """
    new = fresh_model(model, num_classes, seed=seed)
    own = model.params
    head = f"{new.layers[-1].name}."
    for key, value in new.params.items():
        if not key.startswith(head):
            value[...] = own[key]
    return new


# --------------------------------------------------------------------------------------------
# Source and target tasks from the digits, few-shot subsets
# --------------------------------------------------------------------------------------------

SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)


def digits_task(data: Mapping[str, np.ndarray], classes) -> dict:
    """Keep only the digits in `classes` and relabel them 0..len(classes)-1.

    data: a `load_digits_split` dict (X_train, y_train, X_val, y_val, X_test, y_test).
    Returns a dict with the same keys (only the splits present) plus "classes".
    E.g. classes=(5, 6, 7, 8, 9): digit 5 -> label 0, ..., digit 9 -> label 4.

    (Used by notebook 07 before it moved to the glyph source.)
    """
    classes = tuple(int(c) for c in classes)
    if len(set(classes)) != len(classes) or not classes:
        raise ValueError(f"classes must be distinct digits, got {classes}")
    lookup = np.full(max(classes) + 1, -1, dtype=np.int64)
    lookup[list(classes)] = np.arange(len(classes))
    out: dict = {"classes": classes}
    for split in ("train", "val", "test"):
        if f"X_{split}" not in data:
            continue
        y = np.asarray(data[f"y_{split}"])
        keep = np.isin(y, classes)
        out[f"X_{split}"] = data[f"X_{split}"][keep]
        out[f"y_{split}"] = lookup[y[keep]]
    if "X_train" in out and len(out["X_train"]) == 0:
        raise ValueError(f"no training examples of classes {classes} in data")
    return out


def few_shot(X: np.ndarray, y: np.ndarray, per_class: int | None, seed: int = 0):
    """`per_class` randomly chosen examples of every class (all of them when None).

    Deterministic in `seed`; the result keeps the original order of the chosen examples.
    Raises ValueError when a class has fewer than `per_class` examples.
    """
    y = np.asarray(y)
    if per_class is None:
        return X, y
    per_class = check_int(per_class, "per_class (examples per class, or None for all)", 1)
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(y):
        idx = np.nonzero(y == c)[0]
        if len(idx) < per_class:
            raise ValueError(f"class {c} has only {len(idx)} examples, fewer than per_class={per_class}")
        chosen.append(rng.choice(idx, per_class, replace=False))
    keep = np.sort(np.concatenate(chosen))
    return X[keep], y[keep]


# --------------------------------------------------------------------------------------------
# Training with a fixed budget, and the experiment table
# --------------------------------------------------------------------------------------------

def train_classifier(model, X: np.ndarray, y: np.ndarray, *, num_updates: int = 150,
                     learning_rate: float = 1e-3, batch_size: int = 32, seed: int = 0,
                     update_rule: str = "adam", augment=None):
    """Train `model` on (X, y) for a fixed number of mini-batch updates; returns the Solver.

    Few-shot sets are tiny (5 per class = 25 images), so "epochs" mean little: the training
    set is repeated until one epoch holds at least 10 mini-batches, and the number of epochs
    is chosen to give about `num_updates` updates whatever the data size. No validation set
    is used (a few-shot learner would not have one): the model keeps its final weights.
    Frozen layers (model.freeze) are not updated by the solver. `augment(X_batch, rng)` (e.g.
    `transfer_augment.affine_augment()`) changes every training batch, as in `Solver`.
    """
    from .solver import Solver

    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y) or len(X) == 0:
        raise ValueError(f"X and y must be non-empty and equally long, got {len(X)} and {len(y)}")
    if num_updates < 1:
        raise ValueError(f"num_updates must be >= 1, got {num_updates}")
    repeats = max(1, -(-10 * batch_size // len(X)))          # ceil(10 batches / N)
    X_rep, y_rep = np.concatenate([X] * repeats), np.concatenate([y] * repeats)
    per_epoch = -(-len(X_rep) // batch_size)
    epochs = max(1, int(round(num_updates / per_epoch)))
    probe = slice(0, min(len(X), 32))
    solver = Solver(model, {"X_train": X_rep, "y_train": y_rep, "X_val": X[probe], "y_val": y[probe]},
                    update_rule=update_rule, optim_config={"learning_rate": learning_rate},
                    batch_size=batch_size, num_epochs=epochs, seed=seed, progress=False,
                    num_train_samples=32, restore_best=False, augment=augment)
    solver.train()
    return solver


STRATEGIES = ("from scratch", "frozen + linear head", "fine-tune top", "fine-tune all")


@dataclass
class TransferTable:
    """Test accuracies of the four strategies for several amounts of target data.

    shots:  labelled examples per class per row (None = all)
    acc:    dict (shots, strategy) -> list of test accuracies, one per seed
    train_counts: dict shots -> number of training images used in that row
    num_classes: classes of the target task (to print "all (~116)" per class)
    """

    shots: tuple
    strategies: tuple
    seeds: tuple
    acc: dict
    train_counts: dict
    num_classes: int = 5

    def mean(self, shots, strategy) -> float:
        return float(np.mean(self.acc[(shots, strategy)]))

    def means(self) -> np.ndarray:
        """(len(shots), len(strategies)) array of mean test accuracies."""
        return np.array([[self.mean(k, s) for s in self.strategies] for k in self.shots])

    def best(self, shots) -> str:
        return max(self.strategies, key=lambda s: self.mean(shots, s))

    def table(self) -> Table:
        """Mean test accuracies in % (one decimal) as a `tables.Table`: one row per data size."""
        rows = []
        for k in self.shots:
            label = f"all (~{self.train_counts[k] // self.num_classes})" if k is None else str(k)
            rows.append([label] + [f"{100 * self.mean(k, s):.1f}%" for s in self.strategies])
        note = f"(test accuracy on the target task, mean of {len(self.seeds)} seeds)"
        return Table(("labels/class",) + tuple(self.strategies), rows, notes=(note,))

    def to_text(self) -> str:
        """The table with accuracies in % rounded to one decimal."""
        return self.table().to_text()

    def _repr_html_(self) -> str:
        return self.table().to_html()

    def __str__(self):
        return self.to_text()


# Budgets and learning rates of the four strategies: one fixed budget for all, learning rates
# set by hand (a larger one for the linear head, which starts from scratch on fixed features).
DEFAULT_SETTINGS = {
    "from scratch": {"num_updates": 150, "learning_rate": 3e-3},
    "frozen + linear head": {"num_updates": 150, "learning_rate": 1e-2},
    "fine-tune top": {"num_updates": 150, "learning_rate": 3e-3},
    "fine-tune all": {"num_updates": 150, "learning_rate": 3e-3},
}


def _split_features(parts: Mapping, target: Mapping[str, np.ndarray], cache: FeatureCache) -> dict:
    """Features of the target's train and test splits for each frozen part, via `cache`."""
    return {(name, split): cached_features(part, target[f"X_{split}"], None, cache=cache)[0]
            for name, part in parts.items() for split in ("train", "test")}


def _few_shot_runs(target: Mapping[str, np.ndarray], shots, seeds):
    """Yield (shots per class, seed, chosen training indices, their labels) for each run."""
    all_idx = np.arange(len(target["y_train"]))
    for k in shots:
        for seed in seeds:
            idx, y = few_shot(all_idx, target["y_train"], k, seed)
            yield k, seed, idx, y


def transfer_experiment(pretrained, target: Mapping[str, np.ndarray], *, shots=(5, 20, None),
                        seeds=(0, 1, 2), cache: FeatureCache, linear_upto: str = "relu3",
                        top_upto: str = "pool1", strategies=STRATEGIES,
                        settings: Mapping | None = None) -> TransferTable:
    """Run every strategy for every amount of target data and seed; returns a TransferTable.

    pretrained:  the source model (its last layer is replaced by a fresh head per run)
    target:      dict with X_train, y_train, X_test, y_test of the target task (labels 0..K-1)
    shots:       labelled examples per class (None = the whole training split)
    cache:       a FeatureCache; the frozen parts' features are computed once per split and
                 then loaded for every later row and seed
    linear_upto: last frozen layer for "frozen + linear head" (everything but the head)
    top_upto:    last frozen layer for "fine-tune top" (default: the first conv block stays
                 frozen, every later layer trains)
    Strategies:  "from scratch" (random init, all layers train), "frozen + linear head" (only
                 a new softmax layer trains, on cached features), "fine-tune top" (the layers
                 after `top_upto` train from their pretrained values, on cached features),
                 "fine-tune all" (pretrained init, every layer trains).

    (Used by notebook 07 before it moved to the glyph source.)
    """
    settings = {**DEFAULT_SETTINGS, **(settings or {})}
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategies {unknown}; choose from {STRATEGIES}")
    num_classes = int(np.max(target["y_train"])) + 1
    parts = {"linear": FrozenPart(pretrained, linear_upto), "top": FrozenPart(pretrained, top_upto)}
    feats = _split_features(parts, target, cache)
    acc: dict = {}
    counts: dict = {}
    for k, seed, idx, y in _few_shot_runs(target, shots, seeds):
        counts[k] = len(idx)
        X = target["X_train"][idx]
        for strategy in strategies:
            cfg = settings[strategy]
            init_seed = 1000 + seed
            if strategy == "from scratch":
                model = fresh_model(pretrained, num_classes, seed=init_seed)
                X_fit, X_test = X, target["X_test"]
            elif strategy == "frozen + linear head":
                model = top_model(pretrained, linear_upto, num_classes=num_classes, seed=init_seed)
                X_fit, X_test = feats[("linear", "train")][idx], feats[("linear", "test")]
            elif strategy == "fine-tune top":
                model = top_model(pretrained, top_upto, num_classes=num_classes, seed=init_seed)
                X_fit, X_test = feats[("top", "train")][idx], feats[("top", "test")]
            else:
                model = with_new_head(pretrained, num_classes, seed=init_seed)
                X_fit, X_test = X, target["X_test"]
            train_classifier(model, X_fit, y, seed=seed, **cfg)
            acc.setdefault((k, strategy), []).append(model.accuracy(X_test, target["y_test"]))
    return TransferTable(tuple(shots), tuple(strategies), tuple(seeds), acc, counts, num_classes)


class _Pixels:
    """The identity "frozen part": raw pixels as features (the no-transfer baseline)."""

    spec = "pixels"

    def state_dict(self):
        return {}

    def forward(self, X):
        return np.asarray(X)


def linear_probe_table(pretrained, target: Mapping[str, np.ndarray], *, layers=("pool1", "pool2", "relu3"),
                       shots=(5, 20, None), seeds=(0, 1, 2), cache: FeatureCache,
                       num_updates: int = 150, learning_rate: float = 1e-2,
                       include_pixels: bool = True) -> TransferTable:
    """Train only a linear softmax head on frozen features cut after each of `layers`.

    Shows which depth transfers best: early layers hold generic features (edges, strokes), late
    layers are specific to the source classes. "pixels" (no network at all) is the baseline.
    All features come from `cache`, so the whole table costs one forward pass per layer.
    Returns a TransferTable whose columns are the layer names.

    (Used by notebook 07 before it moved to the glyph source.)
    """
    from .layer_objects import Affine
    from .models import Sequential

    parts = {"pixels": _Pixels()} if include_pixels else {}
    parts.update({name: FrozenPart(pretrained, name) for name in layers})
    num_classes = int(np.max(target["y_train"])) + 1
    feats = _split_features(parts, target, cache)
    acc: dict = {}
    counts: dict = {}
    for k, seed, idx, y in _few_shot_runs(target, shots, seeds):
        counts[k] = len(idx)
        for name in parts:
            X = feats[(name, "train")][idx]
            head = Sequential([Affine(num_classes)], X.shape[1:], seed=1000 + seed)
            train_classifier(head, X, y, num_updates=num_updates, learning_rate=learning_rate,
                             seed=seed)
            acc.setdefault((k, name), []).append(head.accuracy(feats[(name, "test")],
                                                               target["y_test"]))
    return TransferTable(tuple(shots), tuple(parts), tuple(seeds), acc, counts, num_classes)
