#!/usr/bin/env python3
"""Notebook 05's recipe choice, ensemble members and filter-size comparison, on validation data only.

    python scripts/digits_recipes.py              # about 3-5 minutes on one core
    python scripts/digits_recipes.py --quick      # 2 seeds, 2 epochs: checks the pipeline only
    python scripts/digits_recipes.py --out-dir D  # write somewhere else than assets/

Writes assets/digits_recipes.json (the numbers, settings and the weights file's sha256) and
assets/digits_ensemble.npz (the weights of the ensemble members, "m<seed>.<param>").

Method (scikit-learn's 8x8 digits, `load_digits_split(seed=0, val=0.15, test=0.2)`, float64):
  1. Recipe: the network of 05 section 7 (PATTERN_BN), SGD with momentum, batches of 32,
     EPOCHS epochs, learning rate x0.85 per epoch. The learning rate is chosen from
     LEARNING_RATES by the mean best validation accuracy of seeds 0..2.
  2. Ensemble members: seeds 0..MEMBERS-1 with that recipe (the Solver keeps each network's
     best-validation parameters). The notebook chooses the ensemble size on validation data.
  3. Filter sizes (05 section 10): "3 x CONV3" vs "1 x CONV7" after the same first layer,
     Adam 2e-3, EPOCHS epochs, seeds 0..NUM_SEEDS-1: best validation accuracy per seed.
The test split is never read here: the notebook evaluates it once, at its end.

Determinism: every generator is seeded and training is float64 with BLAS pinned to one thread,
so a rerun gives the same numbers and the same weights file (bytes) on the same machine.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "CS231N_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from cs231n_utils.data import load_digits_split  # noqa: E402
from cs231n_utils.pattern import build_from_pattern  # noqa: E402
from cs231n_utils.results import write_results  # noqa: E402
from cs231n_utils.solver import Solver  # noqa: E402
from cs231n_utils.transfer import save_weights  # noqa: E402

PATTERN_BN = "INPUT -> [[CONV3-16 -> BN -> RELU]*2 -> POOL2]*2 -> [FC-64 -> RELU]*1 -> FC-10"
VARIANTS = {"3 x CONV3": "INPUT -> CONV3-16 -> RELU -> [CONV3-16 -> RELU]*3 -> POOL2 -> FC-10",
            "1 x CONV7": "INPUT -> CONV3-16 -> RELU -> CONV7-16 -> RELU -> POOL2 -> FC-10"}
LEARNING_RATES = (0.02, 0.05, 0.1)
SEARCH_SEEDS = 3
MEMBERS = 7
NUM_SEEDS = 5
EPOCHS = 6
REG = 1e-4
RESULTS_NAME = "digits_recipes.json"
WEIGHTS_NAME = "digits_ensemble.npz"


def recipe_settings(learning_rate: float, epochs: int = EPOCHS) -> dict:
    """The Solver settings of 05's section-7 recipe."""
    return dict(update_rule="sgd_momentum", optim_config={"learning_rate": learning_rate},
                lr_decay=0.85, batch_size=32, num_epochs=epochs)


def variant_settings(epochs: int = EPOCHS) -> dict:
    """The Solver settings of 05's section-10 comparison."""
    return dict(update_rule="adam", optim_config={"learning_rate": 2e-3}, lr_decay=0.85,
                batch_size=32, num_epochs=epochs)


def _train(pattern, data, seed, settings):
    model = build_from_pattern(pattern, (1, 8, 8), seed=seed, dtype=np.float64, reg=REG)
    solver = Solver(model, data, seed=seed, progress=False, **settings)
    solver.train()
    return model, float(solver.best_val_acc)


def check_results(data: dict) -> dict:
    """Structure check used when writing and reading digits_recipes.json."""
    rec = data["recipe"]
    if rec["learning_rate"] not in data["search"]["learning_rates"]:
        raise ValueError("the chosen learning rate is not one of those searched")
    for key in ("member_val_acc",):
        vals = data["ensemble"][key]
        if not (isinstance(vals, list) and 1 <= len(vals) <= 20 and all(0 <= v <= 1 for v in vals)):
            raise ValueError(f"ensemble.{key} must be 1..20 accuracies")
    for name in VARIANTS:
        v = data["filter_sizes"][name]
        if not (isinstance(v["val_acc"], list) and all(0 <= a <= 1 for a in v["val_acc"])):
            raise ValueError(f"filter_sizes[{name!r}].val_acc must be accuracies")
        int(v["params"])
    if not isinstance(data["weights_sha256"], str) or len(data["weights_sha256"]) != 64:
        raise ValueError("weights_sha256 must be a sha256 hex digest")
    return data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, 2 epochs, one learning rate")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "assets")
    args = parser.parse_args(argv)
    epochs = 2 if args.quick else EPOCHS
    rates = LEARNING_RATES[1:2] if args.quick else LEARNING_RATES
    search_seeds, members, seeds = (2, 2, 2) if args.quick else (SEARCH_SEEDS, MEMBERS, NUM_SEEDS)
    data = load_digits_split(seed=0, val=0.15, test=0.2, dtype=np.float64)
    data = {k: v for k, v in data.items() if not k.endswith("_test")}       # never touched here
    start = time.perf_counter()

    search, trained = {}, {}
    for lr in rates:
        accs = []
        for seed in range(search_seeds):
            model, acc = _train(PATTERN_BN, data, seed, recipe_settings(lr, epochs))
            trained[(lr, seed)] = model
            accs.append(acc)
        search[str(lr)] = accs
        print(f"lr {lr}: best val acc {np.round(accs, 4).tolist()} (mean {np.mean(accs):.4f})", flush=True)
    best_lr = max(rates, key=lambda lr: (round(float(np.mean(search[str(lr)])), 6), -lr))

    weights, member_acc = {}, []
    for seed in range(members):
        model = trained.get((best_lr, seed))
        if model is None:
            model, acc = _train(PATTERN_BN, data, seed, recipe_settings(best_lr, epochs))
        else:
            acc = search[str(best_lr)][seed]
        member_acc.append(acc)
        for k, v in model.state_dict().items():
            weights[f"m{seed}.{k}"] = v
    sha = save_weights(args.out_dir / WEIGHTS_NAME, weights)
    print(f"members: {np.round(member_acc, 4).tolist()}", flush=True)

    sizes = {}
    for name, pattern in VARIANTS.items():
        accs, params = [], 0
        for seed in range(seeds):
            model, acc = _train(pattern, data, seed, variant_settings(epochs))
            accs.append(acc)
            params = model.num_params()
        sizes[name] = {"pattern": pattern, "params": params, "val_acc": [round(a, 6) for a in accs]}
        print(f"{name}: {np.round(accs, 4).tolist()}", flush=True)

    result = {
        "script": "scripts/digits_recipes.py" + (" --quick" if args.quick else ""),
        "data": "load_digits_split(seed=0, val=0.15, test=0.2), float64; test split not used",
        "search": {"learning_rates": list(rates), "seeds": search_seeds, "epochs": epochs,
                   "best_val_acc": {k: [round(a, 6) for a in v] for k, v in search.items()}},
        "recipe": {"pattern": PATTERN_BN, "learning_rate": best_lr, "reg": REG, "dtype": "float64",
                   **{k: v for k, v in recipe_settings(best_lr, epochs).items() if k != "optim_config"}},
        "ensemble": {"seeds": list(range(members)), "member_val_acc": [round(a, 6) for a in member_acc],
                     "weights": WEIGHTS_NAME},
        "filter_sizes": {**sizes, "settings": "adam 2e-3, lr x0.85 per epoch, batches of 32, "
                                             f"{epochs} epochs, float64, seeds 0..{seeds - 1}"},
        "weights_sha256": sha,
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_results(args.out_dir / RESULTS_NAME, result, check_results)
    print(f"wrote {args.out_dir / RESULTS_NAME} and {WEIGHTS_NAME} in {result['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
