"""Small JSON result files that scripts in `scripts/` write into `assets/` and notebooks read.

Experiments too slow to run in a notebook (several seeds, many epochs) are run once by a
deterministic script; the notebook shows the stored numbers and says where they come from.
These files come from outside the running code, so `read_results` parses them with limits:
size capped, JSON only (nothing executed), and a per-file structure check:

    data = read_results("degradation_digits.json", check=my_check, script="scripts/degradation.py")
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

__all__ = ["read_results", "write_results", "check_runs", "MAX_BYTES"]

MAX_BYTES = 2_000_000


def read_results(name_or_path, check: Callable[[dict], dict] | None = None, script: str = "its script",
                 max_bytes: int = MAX_BYTES) -> dict:
    """Parse a results file (a name in assets/ or a path) and run `check` on it.

    Raises ValueError naming the file and `script` (the fix: re-run it) when the file is larger
    than `max_bytes`, is not UTF-8 JSON, or fails `check`; FileNotFoundError when it is missing.
    """
    from .paths import asset

    path = Path(name_or_path)
    if not path.is_absolute() and path.parent == Path("."):
        path = asset(str(name_or_path))
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{path.name} is {size:,} bytes; a results file is expected to be under "
                         f"{max_bytes:,} (re-run {script})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path.name} is not valid JSON ({exc}); re-run {script}") from None
    if check is not None:
        try:
            data = check(data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path.name} does not have the expected structure ({exc}); re-run {script}") from None
    return data


def check_runs(data, keys: tuple, length: int, unit_interval: tuple = ()) -> dict:
    """Common structure of a multi-seed results file: data["configs"] is a list of dicts with a
    "label", data["runs"][label] a list of 1..100 run dicts, each with every key in `keys` as a
    list of `length` finite numbers (those in `unit_interval` within [0, 1])."""
    if not isinstance(data, dict) or not isinstance(data.get("configs"), list) or \
            not isinstance(data.get("runs"), dict):
        raise ValueError("a results file must be a JSON object with 'configs' (list) and 'runs' (object)")
    for cfg in data["configs"]:
        label = cfg.get("label") if isinstance(cfg, dict) else None
        if not isinstance(label, str) or label not in data["runs"]:
            raise ValueError(f"config {cfg!r} has no runs in the file")
        runs = data["runs"][label]
        if not isinstance(runs, list) or not 1 <= len(runs) <= 100:
            raise ValueError(f"{label}: expected a list of 1..100 runs")
        for r in runs:
            for key in keys:
                series = r.get(key) if isinstance(r, dict) else None
                if not isinstance(series, list) or len(series) != length or \
                        not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                                for x in series):
                    raise ValueError(f"{label}: {key} must be a list of {length} finite numbers")
                if key in unit_interval and not all(0.0 <= x <= 1.0 for x in series):
                    raise ValueError(f"{label}: {key} must lie in [0, 1]")
    return data


def write_results(path, result: dict, check: Callable[[dict], dict]) -> int:
    """Check `result` as a reader would (after a JSON round trip), then write it to `path`
    atomically (indented UTF-8 JSON). Returns the number of bytes written."""
    from .paths import atomic_write

    text = json.dumps(result, indent=1) + "\n"
    check(json.loads(text))
    with atomic_write(path) as f:
        f.write(text.encode("utf-8"))
    return len(text.encode("utf-8"))
