#!/usr/bin/env python3
"""Notebook 07's table: few-shot transfer from the grey glyphs to the handwritten digits.

    python scripts/transfer_experiment.py           # the full table (29 min with --jobs 3 on a busy 2-core machine)
    python scripts/transfer_experiment.py --quick   # a tiny run (2 seeds, 1 and 5 labels/class)

Source network: assets/pretrained_glyphs_grey.npz (made by scripts/pretrain_glyphs_grey.py).
Target: scikit-learn's ten digits (`transfer_fewshot.digits_target`): a labelled pool of 70 per
class, 30 per class for validation, the remaining 797 for test. For every row (1, 5, 20 or
all 70 labels per class), seed and column (`transfer_fewshot.COLUMNS`), every candidate recipe
of RECIPES is trained; the recipe with the best mean validation accuracy over the seeds is
chosen, and only the chosen models are evaluated on the test split (once).

Output: assets/transfer_results.json (the chosen recipe, validation and test accuracy per
seed for every cell, the validation means of every candidate). Deterministic: same code, same
numpy, same numbers; BLAS is pinned to one thread below.
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
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from cs231n_utils import transfer, transfer_fewshot as tf  # noqa: E402
from cs231n_utils.results import write_results  # noqa: E402

SEEDS = (0, 1, 2, 3, 4)
SHOTS = tf.SHOTS
CUTS = ("pool2", "relu3")  # where the linear heads may cut the network (a recipe choice)
COPIES = 64              # versions of each labelled image for the augmented linear head
_HEAD = {f"{cut}, C {c}": {"cut": cut, "C": float(c)} for cut in CUTS for c in ("0.003", "0.03")}
RECIPES = {              # candidates per column, chosen on validation (scratch gets as many as any head)
    "from scratch": {"lr 1e-3": {"learning_rate": 1e-3, "num_updates": 300},
                     "lr 3e-3": {"learning_rate": 3e-3, "num_updates": 300},
                     "lr 1e-2": {"learning_rate": 1e-2, "num_updates": 300},
                     "lr 3e-3, 600 updates": {"learning_rate": 3e-3, "num_updates": 600}},
    "frozen + linear head": dict(_HEAD),
    "frozen + linear head, augmented": dict(_HEAD),
    "fine-tune all": {"lr 3e-4": {"learning_rate": 3e-4, "num_updates": 200},
                      "lr 1e-3": {"learning_rate": 1e-3, "num_updates": 200}},
}
OUT = ROOT / "assets" / "transfer_results.json"


def shots_key(k):
    return "all" if k is None else int(k)


_STATE: dict = {}


def _setup(directory=None) -> dict:
    """Load the source network, the target splits and their frozen features (once per process)."""
    if _STATE.get("directory", 0) != directory:
        pretrained, prov = transfer.load_pretrained(transfer.PRETRAINED_GLYPHS_GREY, directory)
        target = tf.digits_target(tf.input_transform(prov))
        features = {}
        for cut in CUTS + ("pool3",):
            frozen = transfer.FrozenPart(pretrained, cut)
            features[cut] = {s: frozen.forward(target[f"X_{s}"]) for s in ("train", "val", "test")}
        _STATE.update(directory=directory, pretrained=pretrained, prov=prov, target=target,
                      features=features)
    return _STATE


def run_cell(task) -> dict:
    """One cell of the table: every candidate recipe for every seed, the choice on validation,
    then the chosen models on test. task = (shots, column, seeds, recipes, directory)."""
    k, column, seeds, recipes, directory = task
    st = _setup(directory)
    target = st["target"]
    start = time.perf_counter()
    pool = np.arange(len(target["y_train"]))
    subsets = [transfer.few_shot(pool, target["y_train"], k, seed)[0] for seed in seeds]
    candidates = {name: [] for name in recipes}
    for seed, idx in zip(seeds, subsets):
        memo: dict = {}                          # augmented features shared by this seed's recipes
        for name, recipe in recipes.items():
            cut = recipe.get("cut", "pool3")
            _, evaluate = tf.run_column(column, recipe, st["pretrained"], target, idx, seed,
                                        features=st["features"][cut], cut=cut, copies=COPIES, memo=memo)
            candidates[name].append((evaluate("val"), evaluate))
    val_means = {name: round(float(np.mean([v for v, _ in runs])), 6) for name, runs in candidates.items()}
    chosen, val, test = tf.select_and_test(candidates)
    return {"shots": shots_key(k), "column": column, "recipe_name": chosen,
            "recipe": recipes[chosen], "val": val, "test": test,
            "candidates_val_mean": val_means, "seconds": time.perf_counter() - start}


def run(seeds=SEEDS, shots=SHOTS, recipes=RECIPES, *, directory=None, jobs: int = 1, log=print) -> dict:
    """Run the whole table (cells in `jobs` processes; the numbers do not depend on it);
    returns the results dict (see transfer_fewshot.check_results)."""
    tasks = [(k, column, tuple(seeds), recipes[column], directory) for k in shots for column in tf.COLUMNS]
    if jobs > 1:
        import multiprocessing
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            cells = pool.map(run_cell, tasks, chunksize=1)
    else:
        cells = [run_cell(t) for t in tasks]
    for c in cells:
        log(f"{str(c['shots']):>3} labels/class  {c['column']:32s} {c['recipe_name']:8s} val "
            f"{100 * np.mean(c['val']):5.1f}  test {100 * np.mean(c['test']):5.1f} ± "
            f"{100 * np.std(c['test'], ddof=1) if len(c['test']) > 1 else 0:.1f}  ({c.pop('seconds'):.0f} s)")
    prov = _setup(directory)["prov"]
    target = _STATE["target"]
    return {
        "script": "scripts/transfer_experiment.py",
        "source": {"file": f"{transfer.PRETRAINED_GLYPHS_GREY}.npz", "sha256": prov["sha256"],
                   "pattern": prov["pattern"]},
        "target": {"data": "scikit-learn load_digits (1,797 8x8 images, classes 0-9)",
                   "pool_per_class": 70, "val_per_class": 30, "num_test": int(len(target["y_test"])),
                   "split_seed": 0},
        "protocol": "every recipe chosen on the validation split (mean over the seeds); only "
                    "the chosen models were evaluated on the test split, once",
        "columns": list(tf.COLUMNS), "shots": [shots_key(k) for k in shots], "seeds": list(seeds),
        "cuts": list(CUTS), "copies": COPIES, "augment": tf.AUGMENT, "recipes": recipes, "cells": cells,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, 1 and 5 labels per class")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--jobs", type=int, default=1, help="processes (same numbers for any count)")
    parser.add_argument("--assets", type=Path, default=None, help="folder of the pretrained files")
    args = parser.parse_args(argv)
    seeds, shots = ((0, 1), (1, 5)) if args.quick else (SEEDS, SHOTS)
    start = time.perf_counter()
    result = run(seeds, shots, directory=args.assets, jobs=args.jobs)
    size = write_results(args.out, result, tf.check_results)
    table = tf.ResultTable.from_results(result)
    print(table)
    print(tf.gain_line(table, 5))
    print(f"wrote {args.out} ({size:,} bytes) in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
