#!/usr/bin/env python3
"""Batch norm vs group norm across batch sizes on the digits (notebook 04, section 4): writes assets/groupnorm_batch_digits.json.

    python scripts/groupnorm_batch.py               # about 10 minutes on one core
    python scripts/groupnorm_batch.py --quick       # 1 seed, 2 epochs: checks the pipeline only
    python scripts/groupnorm_batch.py --out PATH

Question: Wu & He (2018) found that batch norm's ImageNet error grows as the batch shrinks
while group norm's stays flat. Does that happen for a small ConvNet on scikit-learn's digits?

Method:
  1. Data: `load_digits_split(seed=0)`; the test split is not used.
  2. Network: `groupnorm.norm_net(norm)`: [CONV3-16 -> NORM -> RELU]*2 -> POOL2 -> CONV3-32 ->
     NORM -> RELU -> POOL2 -> FC-10, NORM = batch norm or group norm with 4 groups.
  3. Recipe: SGD with momentum 0.9 for EPOCHS epochs, learning rate base_lr * B / 32 (the
     linear scaling rule of Wu & He). base_lr is chosen per normalisation from BASE_LRS by the
     validation error after the last epoch at B = 32, seed 0.
  4. Every (normalisation, batch size) is trained with seeds 0..NUM_SEEDS-1 (initial weights and
     data order); the validation error (batch norm in test mode, with its running averages) is
     recorded after every epoch.

The published ImageNet numbers for comparison (ResNet-50, Wu & He 2018, Table 3) are stored
in the same file under "published".
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

from cs231n_utils import groupnorm  # noqa: E402
from cs231n_utils.data import load_digits_split  # noqa: E402
from cs231n_utils.results import write_results  # noqa: E402

BATCH_SIZES = (2, 4, 8, 16, 32)
BASE_LRS = (0.05, 0.1, 0.2)
EPOCHS = 5
NUM_SEEDS = 3
GROUPS = 4
PUBLISHED = {
    "source": "Wu & He 2018, Group Normalization (ECCV), Table 3: ResNet-50 on ImageNet, "
              "validation error (%) for 8 GPUs and the given images per GPU",
    "batch_sizes": [32, 16, 8, 4, 2],
    "bn_err_pct": [23.6, 23.7, 24.8, 27.3, 34.7],
    "gn_err_pct": [24.1, 24.2, 24.0, 24.1, 24.2],
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 epochs, one base learning rate")
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / groupnorm.RESULTS_ASSET)
    args = parser.parse_args(argv)
    epochs, seeds, base_lrs = (2, 1, BASE_LRS[1:2]) if args.quick else (EPOCHS, NUM_SEEDS, BASE_LRS)
    data = load_digits_split(seed=0)
    start = time.perf_counter()
    lr_search, runs, configs = {}, {}, []
    for norm in ("bn", "gn"):
        trials = {lr: groupnorm.run_norm(data, norm, 32, seed=0, base_lr=lr, epochs=epochs, groups=GROUPS)
                  for lr in base_lrs}
        best = min(base_lrs, key=lambda lr: trials[lr]["val_err"][-1])
        lr_search[norm] = {"tried": list(base_lrs), "chosen": best,
                           "val_err_at_32": {str(lr): round(trials[lr]["val_err"][-1], 5) for lr in base_lrs}}
        print(f"{norm}: base learning rate {best} ({lr_search[norm]['val_err_at_32']})", flush=True)
        for B in BATCH_SIZES:
            label = f"{norm}-{B}"
            configs.append({"label": label, "norm": norm, "batch_size": B})
            runs[label] = []
            for seed in range(seeds):
                r = trials[best] if (B == 32 and seed == 0) else groupnorm.run_norm(
                    data, norm, B, seed=seed, base_lr=best, epochs=epochs, groups=GROUPS)
                runs[label].append({"seed": seed, "learning_rate": r["learning_rate"],
                                    "val_err": [round(float(v), 5) for v in r["val_err"]]})
                print(f"{label:<6} seed {seed}: val err {r['val_err'][-1]:.4f}  "
                      f"[{time.perf_counter() - start:.0f} s]", flush=True)
    result = {
        "description": "Batch norm vs group norm (4 groups) across batch sizes on scikit-learn's digits "
                       "(notebook 04, section 4).",
        "script": "scripts/groupnorm_batch.py" + (" --quick" if args.quick else ""),
        "data": "load_digits_split(seed=0): 1169 train / 269 validation images; test split not used",
        "recipe": {"optimizer": "sgd_momentum (momentum 0.9)", "epochs": epochs, "groups": GROUPS,
                   "learning_rate": "base_lr * batch_size / 32", "seeds": list(range(seeds)),
                   "base_lrs_tried": list(base_lrs),
                   "selection": "per normalisation, lowest validation error after the last epoch "
                                "at batch size 32, seed 0"},
        "metrics": {"val_err": "validation error after each epoch (batch norm in test mode)"},
        "numpy": np.__version__,
        "configs": configs,
        "lr_search": lr_search,
        "runs": runs,
        "published": PUBLISHED,
    }
    size = write_results(args.out, result, groupnorm._check_results)
    print(f"wrote {args.out} ({size:,} bytes) in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
