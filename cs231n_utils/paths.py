"""Where the workbook's files are: the repository root and its `assets/` folder."""
from __future__ import annotations

from pathlib import Path

__all__ = ["REPO_ROOT", "ASSETS_DIR", "asset"]

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = REPO_ROOT / "assets"


def asset(name: str) -> Path:
    """Path of a file in `assets/`; FileNotFoundError saying where it was looked for if missing."""
    path = ASSETS_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"asset {name!r} not found at {path}; the workbook expects it in "
                                f"the repository's assets/ folder (re-clone or `git checkout assets/`)")
    return path
