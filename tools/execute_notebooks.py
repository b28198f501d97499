"""Re-execute notebooks in place so their stored outputs are regenerated the same way every time.

    python tools/execute_notebooks.py                      # every notebook in notebooks/
    python tools/execute_notebooks.py notebooks/02_*.ipynb # just these

Runs each notebook top to bottom in a fresh kernel of this environment with its working
directory set to notebooks/, with BLAS pinned to one thread (the outputs must not depend on
it, but fewer moving parts while regenerating), then writes it back with normalised
metadata so diffs show only real changes. Cell ids are kept. Widget state is stored so
that widgets display in JupyterLab before the notebook is run again.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
KERNEL_NAME = "python3"


def normalise(nb: nbformat.NotebookNode) -> None:
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": KERNEL_NAME}
    # Keep the kernel's whole language_info: JupyterLab fills in whatever is missing when the
    # kernel starts, which would mark every freshly opened notebook as modified.
    nb.metadata.setdefault("language_info", {"name": "python", "pygments_lexer": "ipython3"})
    for cell in nb.cells:
        cell.metadata.pop("execution", None)


def execute(path: Path, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout, kernel_name=KERNEL_NAME,
                            resources={"metadata": {"path": str(NOTEBOOKS)}},
                            store_widget_state=True, record_timing=False)
    client.execute()
    elapsed = time.perf_counter() - start
    normalise(nb)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    failed = []
    for path in paths:
        try:
            secs = execute(path.resolve(), args.timeout)
            print(f"executed {path.name} in {secs:.1f} s")
        except Exception as exc:  # report every failing notebook, not just the first
            failed.append(path.name)
            print(f"FAILED {path.name}: {type(exc).__name__}: {str(exc)[-2000:]}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
