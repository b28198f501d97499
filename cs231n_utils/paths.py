"""Where the workbook's files are (the repository root, `assets/`), and writing files safely."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

__all__ = ["REPO_ROOT", "ASSETS_DIR", "asset", "atomic_write", "file_digest"]

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = REPO_ROOT / "assets"


def asset(name: str) -> Path:
    """Path of a file in `assets/`; FileNotFoundError saying where it was looked for if missing."""
    path = ASSETS_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"asset {name!r} not found at {path}; the workbook expects it in "
                                f"the repository's assets/ folder (re-clone or `git checkout assets/`)")
    return path


@contextlib.contextmanager
def atomic_write(path, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Open a temporary file next to `path` for binary writing; on success move it over `path`.

    Readers never see a half-written file and a crash (or an exception in the `with` body)
    leaves the old file untouched and no temporary file behind:

        with atomic_write("model.npz") as fh:
            np.savez(fh, **arrays)
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, mode)  # mkstemp creates 0600
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
        raise


def file_digest(path, algorithm: str = "sha256") -> str:
    """Hex digest (`hashlib` algorithm name, e.g. "sha256", "md5") of a file's bytes, read in
    1 MiB blocks."""
    import hashlib

    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
