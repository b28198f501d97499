"""A text progress bar for slow notebook cells whose stored output nbval can compare.

tqdm's default in Jupyter is a widget, and its text bar redraws on a timer, so the stored
output would change from run to run. `progress_bar` is a plain-text tqdm on stdout that draws
exactly once per step (never on a timer), so a cell prints the same sequence of bars every
time; only the elapsed time and rate differ, and `tools/nbval_sanitize.cfg` masks those
("[00:03<00:00]").

    bar = progress_bar(total=12, desc="training")
    for ...:
        ...
        bar.update(1)
    bar.close()
"""
from __future__ import annotations

import sys

from .checks import check_int

__all__ = ["progress_bar"]


def progress_bar(total: int, desc: str = "", unit: str = "it"):
    """A tqdm bar of `total` steps on stdout, ASCII, redrawn on every `update` and nowhere else.

    Use it as a context manager or call `close()` at the end.
    """
    from tqdm.std import tqdm

    total = check_int(total, "total", 1)
    # fixed width: no rate (its text length varies), elapsed<remaining are always mm:ss, so no
    # line is ever shorter than the one before and tqdm never pads with a varying number of spaces
    fmt = "{desc}: {percentage:3.0f}%|{bar:30}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]"
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stdout, ascii=True, bar_format=fmt,
                mininterval=0, miniters=1, maxinterval=float("inf"), smoothing=0, dynamic_ncols=False,
                leave=True)
