"""Threads of the fast layers: how many (CS231N_THREADS, limit_threads, threadpoolctl), blocks
run in order with BLAS held to one thread, errors propagate, no nesting, reused scratch."""
import threading

import numpy as np
import pytest

from cs231n_utils import parallel

threadpoolctl = pytest.importorskip("threadpoolctl")


def test_environment_variable_sets_the_thread_count(monkeypatch):
    monkeypatch.setenv(parallel.ENV_VAR, "3")
    assert parallel.num_threads() == 3
    monkeypatch.setenv(parallel.ENV_VAR, "1")
    assert parallel.num_threads() == 1
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(parallel.ENV_VAR, bad)
        with pytest.raises(ValueError, match=r"CS231N_THREADS=.* is not a thread count; set it to an integer >= 1"):
            parallel.num_threads()


def test_limit_threads_wins_and_is_restored(monkeypatch):
    monkeypatch.setenv(parallel.ENV_VAR, "4")
    with parallel.limit_threads(2):
        assert parallel.num_threads() == 2
        with parallel.limit_threads(1):
            assert parallel.num_threads() == 1
        assert parallel.num_threads() == 2
    assert parallel.num_threads() == 4
    with pytest.raises(ValueError, match="limit_threads needs an integer >= 1"):
        with parallel.limit_threads(0):
            pass


def test_threadpoolctl_limits_are_honoured(monkeypatch):
    monkeypatch.delenv(parallel.ENV_VAR, raising=False)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        assert parallel.num_threads() == 1


def test_map_blocks_cuts_the_same_blocks_whatever_the_thread_count():
    seen = []
    blas = parallel._blas_controllers()

    def fn(lo, hi):
        seen.append(threading.current_thread().name)
        return (lo, hi, [c.get_num_threads() for c in blas])
    expected = [(10 * i // 8, 10 * (i + 1) // 8) for i in range(8)]
    for threads in (1, 2, 3):
        results = parallel.map_blocks(fn, 10, threads)
        assert [r[:2] for r in results] == expected                  # in order, the same blocks
        if blas and threads > 1:                                     # BLAS held to one thread
            assert all(n == [1] * len(blas) for *_, n in results)
    if blas:
        assert len(set(seen)) >= 2                                   # some blocks ran elsewhere
    assert [r[:2] for r in parallel.map_blocks(fn, 3, 8)] == [(0, 1), (1, 2), (2, 3)]
    assert [r[:2] for r in parallel.map_blocks(fn, 10, 2, blocks=2)] == [(0, 5), (5, 10)]


def test_map_blocks_raises_the_first_error_after_every_block_ended():
    ended = []

    def fn(lo, hi):
        if lo == 0:
            raise ZeroDivisionError("block 0")
        ended.append(lo)
        return lo
    with pytest.raises(ZeroDivisionError, match="block 0"):
        parallel.map_blocks(fn, 4, 4)
    assert sorted(ended) == [1, 2, 3]


def test_no_nested_threads_inside_a_worker(monkeypatch):
    monkeypatch.setenv(parallel.ENV_VAR, "4")
    inner = parallel.map_blocks(lambda lo, hi: parallel.num_threads(), 4, 2)
    assert inner == [1, 1, 1, 1]
    assert parallel.num_threads() == 4                              # and restored after


def test_scratch_is_reused_between_calls_and_never_shared_within_one():
    def fn(lo, hi):
        a = parallel.empty(1000, np.float64)
        b = parallel.empty(1000, np.float32)
        assert not np.shares_memory(a, b)
        return a.__array_interface__["data"][0]
    first = parallel.map_blocks(fn, 1, 1)[0]
    assert parallel.map_blocks(fn, 1, 1)[0] == first          # the same buffer, no new pages
    outside = parallel.empty(10, np.float64)                   # outside map_blocks: a new array
    assert outside.shape == (10,) and outside.dtype == np.float64
