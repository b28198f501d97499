"""Threads for the fast layers (多线程): split a layer's batch over the machine's cores.

A fast conv runs as a list of chunks (a few samples, or a band of output rows), each doing its
copies (im2col, Winograd transforms), its matrix multiplications and its output writes. The
chunks are cut into BLOCKS contiguous blocks; with several threads, each thread takes blocks
and does *all* of their work, while the BLAS library is held to one thread for that time: the
threads then never fight BLAS's own threads, and the copies (numpy releases the GIL in them) run
on every core, not only the GEMMs. The blocks are the same whatever the thread count, and so
are the results, to the bit (as far as BLAS itself gives the same bits with 1 or more threads).

How many threads (`num_threads()`):
1. `limit_threads(n)` (a context manager), if active;
2. the environment variable `CS231N_THREADS` (an integer >= 1);
3. otherwise the BLAS library's thread count, read through `threadpoolctl` so that
   `threadpoolctl.threadpool_limits(1)` and `OMP_NUM_THREADS` / `OPENBLAS_NUM_THREADS` are
   honoured.
Threads are used only when BLAS can be held to one thread meanwhile, i.e. when `threadpoolctl`
is installed (it is in the workbook's environment); without it everything runs in one thread.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

__all__ = ["num_threads", "limit_threads", "map_blocks", "empty", "ENV_VAR", "ARENA_BYTES", "BLOCKS"]

#: Environment variable that sets the number of threads of the fast layers (e.g. 1 in CI).
ENV_VAR = "CS231N_THREADS"
#: Work is always cut into this many blocks (fewer when there are fewer items), whatever the
#: thread count: sums over the blocks are then added in the same order, to the same bits, with
#: 1 thread or 8 (notebooks that train print the same numbers at OMP_NUM_THREADS=1 and 2).
#: At most BLOCKS blocks run at once, so each gets 1/BLOCKS of a scratch budget.
BLOCKS = 8
#: Scratch memory each thread keeps between calls, in bytes. Fresh memory costs a page fault
#: per 4 KiB the first time it is written, which dominates small layers: buffers taken with
#: `empty` inside `map_blocks` are handed back and reused by the next call.
ARENA_BYTES = 16 * 2 ** 20

_state = threading.local()          # .override: set by limit_threads; .inside: in a worker
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid = None
_blas = None                          # list of threadpoolctl BLAS controllers, or [] if none


def _blas_controllers() -> list:
    """threadpoolctl's controllers of the loaded BLAS libraries ([] without threadpoolctl)."""
    global _blas
    if _blas is None:
        try:
            import numpy  # noqa: F401  (threadpoolctl only sees libraries already loaded)
            from threadpoolctl import ThreadpoolController
            _blas = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        except Exception:       # not installed, or an unknown BLAS: run in one thread
            _blas = []
    return _blas


def _env_threads() -> int | None:
    value = os.environ.get(ENV_VAR, "").strip()
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{ENV_VAR}={value!r} is not a thread count; set it to an integer "
                         f">= 1 (e.g. {ENV_VAR}=1) or unset it")
    return n


def num_threads() -> int:
    """Threads the fast layers may use now (see the module docstring for the order of rules)."""
    if getattr(_state, "inside", False):
        return 1                                  # already inside a worker: no nesting
    override = getattr(_state, "override", None)
    if override is not None:
        return override
    env = _env_threads()
    if env is not None:
        return env
    blas = _blas_controllers()
    if not blas:
        return 1
    n = blas[0].get_num_threads()
    return max(1, int(n)) if n else 1


@contextmanager
def limit_threads(n: int):
    """Use at most `n` threads in the fast layers inside this block (this thread only)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"limit_threads needs an integer >= 1, got {n!r}")
    old = getattr(_state, "override", None)
    _state.override = n
    try:
        yield
    finally:
        _state.override = old


def _executor() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():        # new process after fork: new pool
            _pool = ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) - 1),
                                       thread_name_prefix="cs231n-fast")
            _pool_pid = os.getpid()
        return _pool


class _Arena:
    """This thread's reusable buffers: `take` hands out free ones (or new ones), `close` takes
    them all back, keeping at most ARENA_BYTES."""

    def __init__(self):
        self.free: list = []
        self.taken: list = []

    def take(self, n: int, dtype) -> np.ndarray:
        nbytes = int(n) * np.dtype(dtype).itemsize
        fits = [i for i, b in enumerate(self.free) if b.nbytes >= nbytes]
        if fits:
            buf = self.free.pop(min(fits, key=lambda i: self.free[i].nbytes))
        else:
            buf = np.empty(max(nbytes, 64), np.uint8)
        self.taken.append(buf)
        return buf[:nbytes].view(dtype)

    def close(self):
        keep, total = [], 0
        for buf in sorted(self.taken + self.free, key=lambda b: b.nbytes, reverse=True):
            if total + buf.nbytes <= ARENA_BYTES:
                keep.append(buf)
                total += buf.nbytes
        self.free, self.taken = keep, []


def empty(n: int, dtype) -> np.ndarray:
    """A 1-D scratch array of n items: from this thread's arena inside `map_blocks` (valid until
    the block ends: never return it), else a new array."""
    arena = getattr(_state, "arena", None)
    if arena is None or not getattr(_state, "arena_open", False):
        return np.empty(n, dtype)
    return arena.take(n, dtype)


def _as_worker(fn, lo, hi, worker=True):
    was_inside = getattr(_state, "inside", False)
    if worker:
        _state.inside = True
    arena = getattr(_state, "arena", None)
    if arena is None:
        arena = _state.arena = _Arena()
    nested = getattr(_state, "arena_open", False)
    _state.arena_open = True
    try:
        return fn(lo, hi)
    finally:
        if not nested:
            _state.arena_open = False
            arena.close()
        _state.inside = was_inside


def map_blocks(fn, n_items: int, threads: int, blocks: int = BLOCKS):
    """Call fn(lo, hi) on min(blocks, n_items) contiguous blocks covering range(n_items), up to
    `threads` of them at a time (BLAS held to one thread meanwhile).

    Returns the blocks' results in block order. The blocks do not depend on `threads`, so a sum
    of their results is added in the same order, to the same bits, with any thread count.
    Without threadpoolctl (to hold BLAS to one thread) the blocks run in the calling thread.
    """
    nb = max(1, min(blocks, n_items))
    bounds = [n_items * i // nb for i in range(nb + 1)]
    threads = max(1, min(threads, nb))
    blas = _blas_controllers() if threads > 1 else []
    if threads == 1 or not blas:
        return [_as_worker(fn, bounds[i], bounds[i + 1], worker=False) for i in range(nb)]
    groups = [nb * r // threads for r in range(threads + 1)]       # runner r: blocks groups[r]..

    def runner(r):
        return [_as_worker(fn, bounds[i], bounds[i + 1]) for i in range(groups[r], groups[r + 1])]
    old = [c.get_num_threads() for c in blas]
    for c in blas:
        c.set_num_threads(1)
    error = None
    results = [[] for _ in range(threads)]
    try:
        pool = _executor()
        futures = [pool.submit(runner, r) for r in range(1, threads)]
        try:
            results[0] = runner(0)
        except BaseException as exc:          # still wait for the other blocks
            error = exc
        for r, f in enumerate(futures, 1):
            try:
                results[r] = f.result()
            except BaseException as exc:
                error = error or exc
    finally:
        for c, n in zip(blas, old):
            c.set_num_threads(n)
    if error is not None:
        raise error
    return [res for part in results for res in part]
