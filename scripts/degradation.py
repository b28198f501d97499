#!/usr/bin/env python3
"""The degradation experiment of notebook 06, section 6, with several seeds: writes assets/degradation_digits.json.

    python scripts/degradation.py                 # about 20-30 minutes on one core
    python scripts/degradation.py --quick         # 2 seeds, 3 epochs: checks the pipeline only
    python scripts/degradation.py --out PATH      # write somewhere else

Question: on scikit-learn's 8x8 digits, does a deeper *plain* network reach a higher training
error than a shallower one (He et al. 2015, Fig. 4: plain-34 vs plain-18), and do residual
connections remove the gap?

Configurations (`cs231n_utils.degradation.deep_net`, width 8, batch norm in every block):
plain-18, plain-34, residual-18, residual-34 (depth = weight layers).

Method:
  1. Data: `load_digits_split(seed=0)`: 1169 training, 269 validation images. The test split
     is not used at all: the question is about optimisation, and the recipe is chosen on the
     validation split.
  2. Recipe: SGD with momentum 0.9, mini-batches of 100, EPOCHS epochs, float32. For each
     configuration the learning rate is chosen from LEARNING_RATES by the mean validation
     error over the last 3 epochs of one run with seed 0.
  3. With that learning rate, seeds 0..NUM_SEEDS-1 (the seed sets the initial weights and
     the data order) are trained; every epoch records the mean mini-batch loss, the training
     error on the whole training split (test-mode batch norm) and the validation error.

Determinism: every generator is seeded and BLAS is pinned to one thread before numpy loads,
so a rerun on the same machine and numpy build gives the same numbers; other BLAS builds may
change the last digits.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from cs231n_utils import degradation  # noqa: E402
from cs231n_utils.data import load_digits_split  # noqa: E402
from cs231n_utils.results import write_results  # noqa: E402

CONFIGS = [{"label": "plain-18", "depth": 18, "residual": False},
           {"label": "plain-34", "depth": 34, "residual": False},
           {"label": "residual-18", "depth": 18, "residual": True},
           {"label": "residual-34", "depth": 34, "residual": True}]
LEARNING_RATES = (0.02, 0.05, 0.1)
EPOCHS = 15
NUM_SEEDS = 5
WIDTH = 8
BATCH_SIZE = 100
DATA_SEED = 0


def _round(series):
    return [round(float(x), 5) for x in series]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, 3 epochs, one learning rate")
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / degradation.RESULTS_ASSET)
    args = parser.parse_args(argv)
    epochs, seeds, rates = (3, 2, LEARNING_RATES[1:2]) if args.quick else (EPOCHS, NUM_SEEDS, LEARNING_RATES)
    data = load_digits_split(seed=DATA_SEED)
    common = {"epochs": epochs, "batch_size": BATCH_SIZE, "width": WIDTH, "dtype": np.float32}
    lr_search, runs = {}, {}
    start = time.perf_counter()
    for cfg in CONFIGS:
        label = cfg["label"]
        trials = {}
        for lr in rates:
            r = degradation.run_depth(data, cfg["depth"], cfg["residual"], seed=0, learning_rate=lr, **common)
            trials[lr] = r
            print(f"{label:<12} lr {lr:<5} val err (last 3) {np.mean(r['val_err'][-3:]):.4f}  "
                  f"train err {r['train_err'][-1]:.4f}  [{time.perf_counter() - start:.0f} s]", flush=True)
        best = min(rates, key=lambda lr: float(np.mean(trials[lr]["val_err"][-3:])))
        lr_search[label] = {"tried": list(rates), "chosen": best,
                            "val_err_last3": {str(lr): round(float(np.mean(trials[lr]["val_err"][-3:])), 5)
                                              for lr in rates}}
        runs[label] = []
        for seed in range(seeds):
            r = trials[best] if seed == 0 else degradation.run_depth(
                data, cfg["depth"], cfg["residual"], seed=seed, learning_rate=best, **common)
            runs[label].append({"seed": seed, "learning_rate": best, "params": r["params"],
                                "train_loss": _round(r["train_loss"]), "train_err": _round(r["train_err"]),
                                "val_err": _round(r["val_err"])})
            print(f"{label:<12} seed {seed} lr {best}: final train err {r['train_err'][-1]:.4f} "
                  f"loss {r['train_loss'][-1]:.4f}  [{time.perf_counter() - start:.0f} s]", flush=True)
    result = {
        "description": "Degradation experiment of notebook 06, section 6: plain vs residual nets "
                       "of 18 and 34 weight layers on scikit-learn's digits.",
        "script": "scripts/degradation.py" + (" --quick" if args.quick else ""),
        "data": f"load_digits_split(seed={DATA_SEED}): 1169 train / 269 validation images; test split not used",
        "recipe": {"optimizer": "sgd_momentum (momentum 0.9)", "batch_size": BATCH_SIZE, "epochs": epochs,
                   "width": WIDTH, "dtype": "float32", "seeds": list(range(seeds)),
                   "learning_rates_tried": list(rates),
                   "selection": "per configuration, lowest mean validation error over the last 3 "
                                "epochs of the seed-0 run"},
        "metrics": {"train_loss": "mean mini-batch training loss of the epoch",
                    "train_err": "error on the whole training split after the epoch (test-mode BN)",
                    "val_err": "error on the validation split after the epoch"},
        "numpy": np.__version__,
        "configs": CONFIGS,
        "lr_search": lr_search,
        "runs": runs,
    }
    size = write_results(args.out, result, degradation._check_results)
    print(f"wrote {args.out} ({size:,} bytes) in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
