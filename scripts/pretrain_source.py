#!/usr/bin/env python3
"""Pretrain the source model for notebook 07 (transfer learning) and write it to assets/.

    python scripts/pretrain_source.py             # writes the two files below (about 5 s)
    python scripts/pretrain_source.py --check     # retrain and compare with the committed files

Source task (源任务): classify the handwritten digits 0-4 of scikit-learn's bundled digits
(`load_digits_split(seed=0)`, training split, digits 0-4 only; validation split for picking the
best epoch). The target task of the notebook is the digits 5-9, which this model never sees.

Network: INPUT -> [CONV3-16 -> RELU -> POOL2]*2 -> FC-64 -> RELU -> FC-5 (float64), He
initialisation for every layer, trained with Adam, mini-batches of 32 and random shifts of up
to one pixel, everything seeded.

Outputs:
  assets/pretrained_digits_source.npz   the weights ("conv1.W", "conv1.b", ..., "fc2.b"),
                                        written with a fixed zip timestamp so that the same
                                        weights always give the same bytes
  assets/pretrained_digits_source.json  provenance: this script, seed, source task, accuracy,
                                        sha256 of the .npz file and of the weights

Determinism: the run uses only seeded generators, so the same seed gives the same weights
bit for bit with the same code, machine and numpy/BLAS build (and so the same file bytes).
BLAS is pinned to one thread below (before numpy loads) so the thread count cannot change
the order of floating-point sums. If the layer kernels are rewritten later, a rerun may
differ in the last bits (~1e-16); `--check` reports that and accepts it up to 1e-9.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from cs231n_utils import transfer  # noqa: E402
from cs231n_utils.data import load_digits_split  # noqa: E402
from cs231n_utils.feature_cache import hash_arrays  # noqa: E402
from cs231n_utils.models import Sequential  # noqa: E402
from cs231n_utils.pattern import parse_pattern  # noqa: E402
from cs231n_utils.solver import Solver, random_shift  # noqa: E402

PATTERN = "INPUT -> [CONV3-16 -> RELU -> POOL2]*2 -> FC-64 -> RELU -> FC-5"
INPUT_SHAPE = (1, 8, 8)
SEED = 0
DATA_SEED = 0
NUM_EPOCHS = 20
BATCH_SIZE = 32
LEARNING_RATE = 2e-3
LR_DECAY = 0.9
NAME = transfer.PRETRAINED_NAME


def build_source_model(seed: int = SEED):
    """The untrained source network: every layer He-initialised from `seed`, the classifier too.

    Built from the parsed layers directly (not `build_from_pattern`), so that a later change of
    that function's defaults (e.g. a smaller initial classifier) cannot change these weights.
    """
    layers, _ = parse_pattern(PATTERN)
    return Sequential(layers, INPUT_SHAPE, seed=seed, pattern=PATTERN)


def pretrain(seed: int = SEED, num_epochs: int = NUM_EPOCHS, data_seed: int = DATA_SEED):
    """Train the source model; returns (model, info dict with accuracies and sizes).

    Deterministic: the same arguments give bit-identical weights in the same process/machine.
    """
    data = load_digits_split(seed=data_seed)
    source = transfer.digits_task(data, transfer.SOURCE_CLASSES)
    model = build_source_model(seed)
    solver = Solver(model, source, update_rule="adam",
                    optim_config={"learning_rate": LEARNING_RATE}, lr_decay=LR_DECAY,
                    batch_size=BATCH_SIZE, num_epochs=num_epochs, seed=seed,
                    augment=random_shift(1), progress=False, num_train_samples=None)
    solver.train()
    info = {
        "num_train": int(len(source["X_train"])),
        "num_val": int(len(source["X_val"])),
        "num_test": int(len(source["X_test"])),
        "best_epoch": int(solver.best_epoch),
        "source_val_accuracy": round(float(model.accuracy(source["X_val"], source["y_val"])), 4),
        "source_test_accuracy": round(float(model.accuracy(source["X_test"], source["y_test"])), 4),
    }
    return model, info


def provenance(model, info: dict, sha256: str, seed: int, num_epochs: int) -> dict:
    """The JSON record stored next to the weights (no timestamps, so it is reproducible too)."""
    return {
        "file": f"{NAME}.npz",
        "sha256": sha256,
        "weights_sha256": hash_arrays(model.state_dict()),
        "script": "scripts/pretrain_source.py",
        "command": "python scripts/pretrain_source.py",
        "seed": seed,
        "pattern": PATTERN,
        "input_shape": list(INPUT_SHAPE),
        "num_params": int(model.num_params()),
        "source_task": "digits 0-4 (labels 0-4) from scikit-learn's bundled 8x8 digits",
        "source_classes": list(transfer.SOURCE_CLASSES),
        "target_classes_never_seen": list(transfer.TARGET_CLASSES),
        "data": f"cs231n_utils.data.load_digits_split(seed={DATA_SEED}): train split for "
                f"training, val split for picking the best epoch, test split for the accuracy",
        "training": {"update_rule": "adam", "learning_rate": LEARNING_RATE, "lr_decay": LR_DECAY,
                     "batch_size": BATCH_SIZE, "num_epochs": num_epochs,
                     "augment": "random_shift(1)", "dtype": "float64"},
        **info,
        "numpy_version": np.__version__,
    }


def write(model, info: dict, directory: Path, seed: int, num_epochs: int) -> dict:
    """Write the .npz and .json into `directory` (each atomically); returns the provenance."""
    return transfer.save_pretrained(directory, NAME, model.state_dict(),
                                    lambda sha: provenance(model, info, sha, seed, num_epochs))


TOLERANCE = 1e-9


def compare_with_committed(model, directory: Path) -> tuple:
    """Compare a retrained model with the weights in `directory`; returns (ok, message).

    Bit-identical is expected when the training code (layers, solver, BLAS) is unchanged.
    A changed kernel may sum in another order and move weights by a few units in the last
    place (~1e-16); that is reported but accepted up to TOLERANCE. Anything larger fails.
    """
    meta = json.loads((directory / f"{NAME}.json").read_text())
    path = directory / f"{NAME}.npz"
    if transfer.file_sha256(path) != meta["sha256"]:
        return False, f"{path} DIFFERS from the sha256 in {NAME}.json (edited or corrupted file)"
    ours = model.state_dict()
    committed = transfer.load_weights(path)
    if hash_arrays(ours) == hash_arrays(committed):
        return True, f"retrained weights are identical (bit for bit) to {path}"
    if sorted(committed) != sorted(ours):
        return False, f"retrained weights DIFFER: names {sorted(ours)} vs {sorted(committed)}"
    diff = max(float(np.max(np.abs(ours[k] - committed[k]))) for k in ours)
    if diff <= TOLERANCE:
        return True, (f"retrained weights match {directory / NAME}.npz to {diff:.1e} (last-bit "
                      f"differences: the layer code or BLAS changed since the file was made)")
    return False, (f"retrained weights DIFFER from {directory / NAME}.npz by up to {diff:.3g}; "
                   f"rerun `python scripts/pretrain_source.py` and re-execute notebook 07")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--epochs", type=int, default=NUM_EPOCHS)
    parser.add_argument("--out", type=Path, default=ROOT / "assets", help="folder for the files")
    parser.add_argument("--check", action="store_true",
                        help="retrain and compare with the files in --out instead of writing")
    args = parser.parse_args(argv)
    model, info = pretrain(args.seed, args.epochs)
    if args.check:
        same, message = compare_with_committed(model, args.out)
        print(message)
        return 0 if same else 1
    meta = write(model, info, args.out, args.seed, args.epochs)
    print(f"wrote {args.out / NAME}.npz ({(args.out / f'{NAME}.npz').stat().st_size:,} bytes, "
          f"sha256 {meta['sha256'][:16]}...) and {NAME}.json; source val accuracy "
          f"{info['source_val_accuracy']:.4f}, test accuracy {info['source_test_accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
