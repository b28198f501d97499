#!/usr/bin/env python3
"""Pretrain the colour ConvNet of notebook 05 on the glyphs and write it to assets/.

    python scripts/pretrain_glyphs.py             # writes the two files below (minutes)
    python scripts/pretrain_glyphs.py --check     # retrain and compare with the committed files

Task: the 52 letters of `cs231n_utils.glyphs` (colour 32x32, `load_glyphs(400, 60, 60, seed=0)`:
20,800 training, 3,120 validation and 3,120 test images), pixels normalised per channel with
the training mean and std (stored in the JSON). The validation split picks the recipe and the
best epoch; the test split is measured once, at the end, and only reported.

Network: INPUT -> CONV5-16 -> RELU -> POOL2 -> CONV3-32 -> RELU -> POOL2 -> CONV3-64 -> RELU
-> POOL2 -> FC-52 (float32; He initialisation, small classifier init), SGD with momentum 0.9
(learning rate 1e-2 times 0.85 after every epoch), L2 2e-3, 12 epochs, mini-batches of 64; the
recipe was chosen on validation among Adam and SGD-momentum runs (RECIPE_SEARCH). The 5x5 first layer is large enough to show
oriented edge and colour filters (notebook 05 shows them and measures how oriented they are:
`orientation_index` below, also in cs231n_utils.visualize).

Outputs:
  assets/pretrained_glyphs.npz    the weights ("conv1.W", ..., "fc4.b"; float32), fixed zip
                                  timestamps: the same weights give the same bytes
  assets/pretrained_glyphs.json   provenance: data set and its hash, recipe, validation and test
                                  accuracy, orientation of the first-layer filters, sha256s,
                                  seed, training time

Determinism: seeded generators only, BLAS pinned to one thread (below, before numpy loads), so
the same seed gives the same weights bit for bit with the same code, machine and numpy/BLAS
build; `--check` accepts last-bit differences up to TOLERANCE (a rewritten kernel).
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
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from cs231n_utils import transfer  # noqa: E402
from cs231n_utils.feature_cache import hash_arrays, hash_data  # noqa: E402
from cs231n_utils.glyphs import load_glyphs  # noqa: E402
from cs231n_utils.pattern import build_from_pattern  # noqa: E402
from cs231n_utils.solver import Solver  # noqa: E402

NAME = "pretrained_glyphs"
PATTERN = ("INPUT -> CONV5-16 -> RELU -> POOL2 -> CONV3-32 -> RELU -> POOL2 -> CONV3-64 -> RELU "
           "-> POOL2 -> FC-52")
INPUT_SHAPE = (3, 32, 32)
SEED = 0
DATA = {"n_train": 400, "n_val": 60, "n_test": 60, "seed": 0, "size": 32}
NUM_EPOCHS = 12
UPDATE_RULE = "sgd_momentum"   # or "adam"; momentum 0.9 (the solver's default)
BATCH_SIZE = 64
LEARNING_RATE = 1e-2
LR_DECAY = 0.85
REG = 2e-3                # L2 strength (chosen on validation: RECIPE_SEARCH)
DTYPE = "float32"
ORIENTED = 0.3            # a filter with orientation index >= this counts as oriented
# The recipe was chosen on the validation split (see RECIPE_SEARCH, filled in from the runs of
# `--search`, which never looks at the test split).
RECIPE_SEARCH: dict = {
        "2 epochs, reg=0 (learning rate)": {
            "lr=1e-3": {
                "val_accuracy": 0.7558,
                "oriented_trained": 2
            },
            "lr=3e-3": {
                "val_accuracy": 0.7343,
                "oriented_trained": 3
            }
        },
        "8 epochs, lr=1e-3 (L2 strength)": {
            "adam lr=1e-3 decay=0.8 epochs=8 reg=0": {
                "val_accuracy": 0.8526,
                "oriented_trained": 4
            },
            "adam lr=1e-3 decay=0.8 epochs=8 reg=1e-4": {
                "val_accuracy": 0.8577,
                "oriented_trained": 5
            },
            "adam lr=1e-3 decay=0.8 epochs=8 reg=5e-4": {
                "val_accuracy": 0.8561,
                "oriented_trained": 5
            },
            "adam lr=1e-3 decay=0.8 epochs=8 reg=2e-3": {
                "val_accuracy": 0.8603,
                "oriented_trained": 6
            }
        },
        "12 epochs, decay=0.85 (update rule, L2 strength; --candidate runs)": {
            "sgd_momentum lr=1e-2 decay=0.85 epochs=12 reg=2e-3": {
                "val_accuracy": 0.8894,
                "best_epoch": 12,
                "oriented_trained": 11
            },
            "adam lr=1e-3 decay=0.85 epochs=12 reg=5e-3": {
                "val_accuracy": 0.8769,
                "best_epoch": 10,
                "oriented_trained": 11
            }
        },
        "chosen": ("sgd_momentum lr=1e-2 decay=0.85 epochs=12 reg=2e-3: highest validation "
                   "accuracy of all the runs above; test accuracy read for this run only")
}


def orientation_index(W: np.ndarray) -> np.ndarray:
    """How oriented each filter is: (F, C, k, k) -> (F,) in [0, 1].

    P(k) = sum over input channels of |FFT2(filter)|^2 at the frequencies k != 0 (the DC term
    is left out); theta(k) = the direction of k. index = |sum_k P(k) e^{2i theta(k)}| /
    sum_k P(k): 0 for a filter with no preferred direction, 1 for a pure grating.
    """
    W = np.asarray(W, dtype=np.float64)
    P = (np.abs(np.fft.fft2(W, axes=(-2, -1))) ** 2).sum(axis=1)          # (F, k, k)
    fy = np.fft.fftfreq(W.shape[-2])[:, None]
    fx = np.fft.fftfreq(W.shape[-1])[None, :]
    phase = np.exp(2j * np.arctan2(fy, fx))
    phase[0, 0] = 0
    nondc = np.ones(P.shape[1:]); nondc[0, 0] = 0                          # noqa: E702
    num = np.abs((P * phase).sum(axis=(1, 2)))
    den = (P * nondc).sum(axis=(1, 2))
    return num / np.maximum(den, 1e-300)


def build_model(seed: int = SEED, reg: float = 0.0):
    """The untrained network (float32), initialised from `seed`; `reg`: L2 strength."""
    return build_from_pattern(PATTERN, INPUT_SHAPE, seed=seed, dtype=np.float32, reg=reg)


def load_data(data_args: dict | None = None) -> tuple:
    """(normalised data dict for the solver, raw glyph dict, mean (3,), std (3,))."""
    args = dict(DATA if data_args is None else data_args)
    raw = load_glyphs(args["n_train"], args["n_val"], args["n_test"], seed=args["seed"],
                      size=args["size"], dtype=np.float32)
    mean = raw["mean"].astype(np.float32)[None, :, None, None]
    std = raw["std"].astype(np.float32)[None, :, None, None]
    data = {k: (raw[k] - mean) / std if k.startswith("X_") else raw[k]
            for k in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")}
    return data, raw, raw["mean"], raw["std"]


def pretrain(seed: int = SEED, num_epochs: int = NUM_EPOCHS, data_args: dict | None = None,
             learning_rate: float = LEARNING_RATE, lr_decay: float = LR_DECAY,
             measure_test: bool = True, reg: float | None = None,
             update_rule: str | None = None, verbose: bool = False):
    """Train; returns (model, info dict). Deterministic in its arguments."""
    start = time.perf_counter()
    data, raw, mean, std = load_data(data_args)
    model = build_model(seed, REG if reg is None else reg)
    init_index = orientation_index(model.params["conv1.W"])
    def report(solver, event):              # one line per epoch with --verbose
        if verbose and event == "epoch":
            print(f"  epoch {len(solver.history['val_acc'])}: val {solver.history['val_acc'][-1]:.4f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)

    solver = Solver(model, data, update_rule=update_rule or UPDATE_RULE,
                    optim_config={"learning_rate": learning_rate}, lr_decay=lr_decay,
                    batch_size=BATCH_SIZE, num_epochs=num_epochs, seed=seed, progress=False,
                    num_train_samples=2000, callback=report)
    solver.train()
    index = orientation_index(model.params["conv1.W"])
    splits = {s: (raw[f"X_{s}"], raw[f"y_{s}"]) for s in ("train", "val", "test")}
    info = {
        "num_train": int(len(data["y_train"])), "num_val": int(len(data["y_val"])),
        "num_test": int(len(data["y_test"])),
        "data_sha256": hash_arrays({f"{p}_{s}": a for s, xy in splits.items()
                                    for p, a in zip("Xy", xy)}),
        "X_train_sha256": hash_data(raw["X_train"]),
        "normalisation": {"mean": [round(float(v), 6) for v in mean],
                          "std": [round(float(v), 6) for v in std],
                          "how": "X = (load_glyphs(...)['X_*'] - mean[c]) / std[c] per channel c"},
        "best_epoch": int(solver.best_epoch),
        "val_accuracy_per_epoch": [round(float(a), 4) for a in solver.history["val_acc"]],
        "val_accuracy": round(float(model.accuracy(data["X_val"], data["y_val"])), 4),
        "orientation_index_trained": [round(float(v), 3) for v in index],
        "orientation_index_init": [round(float(v), 3) for v in init_index],
        "oriented_trained": int((index >= ORIENTED).sum()),
        "oriented_init": int((init_index >= ORIENTED).sum()),
    }
    if measure_test:                  # once, at the end; never used to choose anything
        info["test_accuracy"] = round(float(model.accuracy(data["X_test"], data["y_test"])), 4)
    info["train_seconds"] = round(time.perf_counter() - start, 1)
    return model, info


def provenance(model, info: dict, sha256: str, seed: int, num_epochs: int) -> dict:
    """The JSON record stored next to the weights."""
    return {
        "file": f"{NAME}.npz",
        "sha256": sha256,
        "weights_sha256": hash_arrays(model.state_dict()),
        "script": "scripts/pretrain_glyphs.py",
        "command": "OMP_NUM_THREADS=1 python scripts/pretrain_glyphs.py",
        "seed": seed,
        "pattern": PATTERN,
        "input_shape": list(INPUT_SHAPE),
        "num_params": int(model.num_params()),
        "task": "classify the 52 letters A-Z a-z of cs231n_utils.glyphs (colour 32x32)",
        "classes": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "data": (f"cs231n_utils.glyphs.load_glyphs({DATA['n_train']}, {DATA['n_val']}, "
                 f"{DATA['n_test']}, seed={DATA['seed']}, size={DATA['size']}): train split for "
                 f"training, val split for the recipe and the best epoch, test split measured "
                 f"once at the end"),
        "training": {"update_rule": UPDATE_RULE, "learning_rate": LEARNING_RATE,
                     **({"momentum": 0.9} if UPDATE_RULE == "sgd_momentum" else {}),
                     "lr_decay": LR_DECAY,
                     "batch_size": BATCH_SIZE, "num_epochs": num_epochs, "augment": None, "reg": REG,
                     "dtype": DTYPE, "restore_best": "best validation epoch"},
        "recipe_search_on_validation": RECIPE_SEARCH,
        "oriented_threshold": ORIENTED,
        **info,
        "numpy_version": np.__version__,
    }


def write(model, info: dict, directory: Path, seed: int, num_epochs: int) -> dict:
    """Write the .npz and .json into `directory` (each atomically); returns the provenance."""
    return transfer.save_pretrained(directory, NAME, model.state_dict(),
                                    lambda sha: provenance(model, info, sha, seed, num_epochs))


TOLERANCE = 1e-5          # float32 weights: a reordered sum moves the last bits by ~1e-7


def compare_with_committed(model, directory: Path) -> tuple:
    """Compare a retrained model with the weights in `directory`; returns (ok, message)."""
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
    diff = max(float(np.max(np.abs(ours[k].astype(np.float64) - committed[k]))) for k in ours)
    if diff <= TOLERANCE:
        return True, (f"retrained weights match {path} to {diff:.1e} (last-bit differences: the "
                      f"layer code or BLAS changed since the file was made)")
    return False, (f"retrained weights DIFFER from {path} by up to {diff:.3g}; rerun "
                   f"`python scripts/pretrain_glyphs.py` and re-execute notebook 05")


def load(directory=None):
    """The pretrained network (float64 model, weights from the .npz) and its provenance."""
    return transfer.load_pretrained(NAME, directory=directory)


def search(epochs: int, rates: list, decays: list) -> dict:
    """Compare recipes on the validation split (no test accuracy is computed)."""
    results = {}
    for lr in rates:
        for decay in decays:
            _, info = pretrain(num_epochs=epochs, learning_rate=lr, lr_decay=decay,
                               measure_test=False)
            results[f"lr={lr:g} decay={decay:g} epochs={epochs}"] = {
                "val_accuracy": info["val_accuracy"], "oriented_trained": info["oriented_trained"],
                "seconds": info["train_seconds"]}
            print(f"lr={lr:g} decay={decay:g}: val {info['val_accuracy']:.4f}, oriented "
                  f"{info['oriented_trained']}/16, {info['train_seconds']:.0f} s", flush=True)
    return results


def run_candidate(directory: Path, rule: str, lr: float, decay: float, reg: float,
                  epochs: int, seed: int = SEED) -> dict:
    """Train one recipe, validation only (no test accuracy); weights + info into `directory`.

    `--finalize directory` later turns the chosen candidate into the assets (same weights as
    rerunning the script with that recipe as its defaults: training is deterministic).
    """
    directory.mkdir(parents=True, exist_ok=True)
    model, info = pretrain(seed, epochs, learning_rate=lr, lr_decay=decay, measure_test=False,
                           reg=reg, update_rule=rule, verbose=True)
    info["recipe"] = {"update_rule": rule, "learning_rate": lr, "lr_decay": decay, "reg": reg,
                      "num_epochs": epochs, "seed": seed}
    transfer.save_weights(directory / "weights.npz", model.state_dict())
    (directory / "info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"{rule} lr={lr:g} decay={decay:g} reg={reg:g} epochs={epochs}: val "
          f"{info['val_accuracy']:.4f} (best epoch {info['best_epoch']}), oriented "
          f"{info['oriented_trained']}/16, {info['train_seconds']:.0f} s", flush=True)
    return info


def finalize(directory: Path, out: Path) -> dict:
    """Measure the test accuracy of the candidate in `directory` once and write the assets.

    The candidate's recipe must be the module's defaults (UPDATE_RULE, LEARNING_RATE, ...), so
    that `python scripts/pretrain_glyphs.py --check` reproduces the written weights.
    """
    info = json.loads((directory / "info.json").read_text())
    recipe = info.pop("recipe")
    expected = {"update_rule": UPDATE_RULE, "learning_rate": LEARNING_RATE, "lr_decay": LR_DECAY,
                "reg": REG, "num_epochs": NUM_EPOCHS, "seed": SEED}
    if recipe != expected:
        raise SystemExit(f"the candidate's recipe {recipe} is not the script's defaults "
                         f"{expected}; set the constants at the top first")
    model = build_model(SEED, REG)
    model.load_state_dict(transfer.load_weights(directory / "weights.npz"))
    data, _, _, _ = load_data()
    if round(float(model.accuracy(data["X_val"], data["y_val"])), 4) != info["val_accuracy"]:
        raise SystemExit("the candidate's weights do not give its recorded validation accuracy")
    info["test_accuracy"] = round(float(model.accuracy(data["X_test"], data["y_test"])), 4)
    return write(model, info, out, SEED, NUM_EPOCHS)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--epochs", type=int, default=NUM_EPOCHS)
    parser.add_argument("--out", type=Path, default=ROOT / "assets", help="folder for the files")
    parser.add_argument("--check", action="store_true",
                        help="retrain and compare with the files in --out instead of writing")
    parser.add_argument("--search", action="store_true",
                        help="compare learning rates / decays on the validation split only")
    parser.add_argument("--candidate", type=Path, metavar="DIR",
                        help="train one recipe (--rule/--lr/--decay/--reg/--epochs), validation "
                             "only, and keep weights + info in DIR")
    parser.add_argument("--finalize", type=Path, metavar="DIR",
                        help="measure the test accuracy of the candidate in DIR once and write "
                             "the assets (its recipe must be the script's defaults)")
    parser.add_argument("--rule", default=UPDATE_RULE, choices=("adam", "sgd_momentum"))
    parser.add_argument("--lr", type=float, default=LEARNING_RATE)
    parser.add_argument("--decay", type=float, default=LR_DECAY)
    parser.add_argument("--reg", type=float, default=REG)
    args = parser.parse_args(argv)
    if args.candidate:
        run_candidate(args.candidate, args.rule, args.lr, args.decay, args.reg, args.epochs,
                      args.seed)
        return 0
    if args.finalize:
        meta = finalize(args.finalize, args.out)
        print(f"wrote {args.out / NAME}.npz/.json: val {meta['val_accuracy']:.4f}, test "
              f"{meta['test_accuracy']:.4f} (measured once), oriented {meta['oriented_trained']}/16")
        return 0
    if args.search:
        print(json.dumps(search(args.epochs, [1e-3, 3e-3], [0.8]), indent=2))
        return 0
    model, info = pretrain(args.seed, args.epochs)
    if args.check:
        same, message = compare_with_committed(model, args.out)
        print(message)
        return 0 if same else 1
    meta = write(model, info, args.out, args.seed, args.epochs)
    print(f"wrote {args.out / NAME}.npz ({(args.out / f'{NAME}.npz').stat().st_size:,} bytes, "
          f"sha256 {meta['sha256'][:16]}...) and {NAME}.json; val accuracy "
          f"{info['val_accuracy']:.4f}, test accuracy {info['test_accuracy']:.4f} (measured once); "
          f"oriented first-layer filters (index >= {ORIENTED}): {info['oriented_trained']} of 16 "
          f"trained, {info['oriented_init']} of 16 at initialisation; {info['train_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
