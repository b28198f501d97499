#!/usr/bin/env python3
"""Pretrain notebook 07's source network on the grey glyphs and write it to assets/.

    python scripts/pretrain_glyphs_grey.py            # writes the two files below (a few minutes)
    python scripts/pretrain_glyphs_grey.py --check    # retrain and compare with the committed files

Source task (源任务): which of the 52 letters A-Z, a-z is this? On the glyph set's grey version
(`cs231n_utils.glyphs`, made to look like scikit-learn's 8x8 digits: area-downsampled to 8x8,
then upsampled to 16x16 the way the notebook upsamples the digits). No digit is a source
class, so the digits are a target with other classes. The glyph set stands in for ImageNet:
many more images than the target (tens of thousands against at most 700 labelled digits),
made offline in seconds.

Network (the engine's own layers, float64): INPUT 1x16x16 -> CONV5-16 -> RELU -> POOL2 ->
CONV3-32 -> RELU -> POOL2 -> CONV3-32 -> RELU -> POOL2 -> FC-52, He initialisation, Adam,
mini-batches of 64; the glyphs' validation split picks the best epoch.

Outputs:
  assets/pretrained_glyphs_grey.npz   the weights, with a fixed zip timestamp (same weights,
                                      same bytes)
  assets/pretrained_glyphs_grey.json  provenance: script, seeds, data, settings, accuracies, the
                                      input normalisation, sha256 of the .npz, of the weights
                                      and of the record itself (provenance_sha256)

Determinism: seeded generators only and BLAS pinned to one thread (below, before numpy
loads), so the same code, numpy and machine give the same bytes; `--check` accepts last-bit
differences up to 1e-9 (a rewritten kernel may sum in another order).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "CS231N_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from cs231n_utils import transfer, transfer_fewshot as tf  # noqa: E402
from cs231n_utils.feature_cache import hash_arrays  # noqa: E402
from cs231n_utils.models import Sequential  # noqa: E402
from cs231n_utils.pattern import parse_pattern  # noqa: E402
from cs231n_utils.solver import Solver  # noqa: E402

PATTERN = ("INPUT -> CONV5-16 -> RELU -> POOL2 -> CONV3-32 -> RELU -> POOL2 -> "
           "CONV3-32 -> RELU -> POOL2 -> FC-52")
INPUT_SHAPE = (1, 16, 16)
SEED = 0
DATA_SEED = 0
NUM_EPOCHS = 8
BATCH_SIZE = 64
LEARNING_RATE = 2e-3
LR_DECAY = 0.85
NAME = transfer.PRETRAINED_GLYPHS_GREY
TOLERANCE = 1e-9


def build_source_model(seed: int = SEED):
    """The untrained source network, He-initialised from `seed` (classifier included)."""
    layers, _ = parse_pattern(PATTERN)
    return Sequential(layers, INPUT_SHAPE, seed=seed, pattern=PATTERN)


def source_data(data_seed: int = DATA_SEED, scale: float = 1.0) -> dict:
    """The grey glyphs as X_train/y_train/X_val/y_val/X_test/y_test, normalised with the
    training mean and std (kept as "mean", "std"); `scale` < 1 keeps a fraction (for tests)."""
    return tf.glyph_source(seed=data_seed, scale=scale)


def pretrain(seed: int = SEED, num_epochs: int = NUM_EPOCHS, data_seed: int = DATA_SEED,
             scale: float = 1.0, progress: bool = False):
    """Train the source model; returns (model, info dict). Deterministic in its arguments."""
    data = source_data(data_seed, scale)
    model = build_source_model(seed)
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": LEARNING_RATE},
                    lr_decay=LR_DECAY, batch_size=BATCH_SIZE, num_epochs=num_epochs, seed=seed,
                    progress=progress, num_train_samples=1000)
    solver.train()
    info = {
        "num_train": int(len(data["X_train"])), "num_val": int(len(data["X_val"])),
        "num_test": int(len(data["X_test"])), "num_classes": int(data["num_classes"]),
        "best_epoch": int(solver.best_epoch),
        "source_val_accuracy": round(float(model.accuracy(data["X_val"], data["y_val"])), 4),
        "source_test_accuracy": round(float(model.accuracy(data["X_test"], data["y_test"])), 4),
        "input_normalization": {"mean": float(data["mean"]), "std": float(data["std"])},
        "data": data["description"], "data_scale": scale,
    }
    return model, info


def provenance(model, info: dict, sha256: str, seed: int, num_epochs: int) -> dict:
    """The JSON record stored next to the weights (no timestamps: reproducible too)."""
    meta = {
        "file": f"{NAME}.npz", "sha256": sha256, "weights_sha256": hash_arrays(model.state_dict()),
        "script": "scripts/pretrain_glyphs_grey.py", "command": "python scripts/pretrain_glyphs_grey.py",
        "seed": seed, "data_seed": DATA_SEED, "pattern": PATTERN, "input_shape": list(INPUT_SHAPE),
        "num_params": int(model.num_params()),
        "source_task": "52 letters (A-Z, a-z) of the grey glyph set; no digits",
        "stands_in_for": "ImageNet: a source far larger than the target, made offline",
        "training": {"update_rule": "adam", "learning_rate": LEARNING_RATE, "lr_decay": LR_DECAY,
                     "batch_size": BATCH_SIZE, "num_epochs": num_epochs, "dtype": "float64",
                     "best epoch chosen on": "the glyphs' validation split"},
        **info, "numpy_version": np.__version__,
    }
    meta["provenance_sha256"] = transfer.provenance_digest(meta)
    return meta


def write(model, info: dict, directory: Path, seed: int, num_epochs: int) -> dict:
    """Write the .npz and .json into `directory` (each atomically); returns the provenance."""
    return transfer.save_pretrained(directory, NAME, model.state_dict(),
                                    lambda sha: provenance(model, info, sha, seed, num_epochs))


def compare_with_committed(model, directory: Path) -> tuple:
    """(ok, message): a retrained model against the files in `directory` (see the docstring)."""
    meta = json.loads((directory / f"{NAME}.json").read_text())
    path = directory / f"{NAME}.npz"
    if transfer.file_sha256(path) != meta["sha256"]:
        return False, f"{path} DIFFERS from the sha256 in {NAME}.json (edited or corrupted file)"
    ours, committed = model.state_dict(), transfer.load_weights(path)
    if hash_arrays(ours) == hash_arrays(committed):
        return True, f"retrained weights are identical (bit for bit) to {path}"
    if sorted(committed) != sorted(ours):
        return False, f"retrained weights DIFFER: names {sorted(ours)} vs {sorted(committed)}"
    diff = max(float(np.max(np.abs(ours[k] - committed[k]))) for k in ours)
    if diff <= TOLERANCE:
        return True, f"retrained weights match {path} to {diff:.1e} (last-bit differences)"
    return False, (f"retrained weights DIFFER from {path} by up to {diff:.3g}; rerun "
                   f"`python scripts/pretrain_glyphs_grey.py`, then scripts/transfer_experiment.py")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--epochs", type=int, default=NUM_EPOCHS)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the glyphs (tests)")
    parser.add_argument("--out", type=Path, default=ROOT / "assets")
    parser.add_argument("--check", action="store_true", help="compare with the files in --out")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    model, info = pretrain(args.seed, args.epochs, scale=args.scale)
    if args.check:
        ok, message = compare_with_committed(model, args.out)
        print(message)
        return 0 if ok else 1
    meta = write(model, info, args.out, args.seed, args.epochs)
    size = (args.out / f"{NAME}.npz").stat().st_size
    print(f"wrote {args.out / NAME}.npz ({size:,} bytes, sha256 {meta['sha256'][:16]}...) and "
          f"{NAME}.json; letters val accuracy {info['source_val_accuracy']:.4f}, test "
          f"{info['source_test_accuracy']:.4f}, best epoch {info['best_epoch']} "
          f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
