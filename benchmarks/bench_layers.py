"""Speed of the layer engine: fast conv and max pooling vs the numpy matmul peak, the naive
loops, and (when it happens to be installed) PyTorch's CPU kernels.

    python3 workbook.py bench                          # every benchmark, BLAS env vars unset
    .venv/bin/python benchmarks/bench_layers.py [--quick] [--repeat 5]

Prints: the BLAS library and CPU kernel in use (threadpoolctl), the same-run matmul peak, a
table per layer (forward and backward ms in float32 and float64, forward GFLOP/s and its
percentage of the matmul peak, torch's forward+backward time and our ratio to it), the naive
-> fast speed-up on the toy shape, and the scratch memory of the fast conv for two batch sizes.
Times are the best of several runs; on a shared machine they are noisy. Nothing here asserts a
time: the targets are in issue 3 and the numbers are for people to read.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cs231n_utils import fast_layers, layers  # noqa: E402

try:  # optional: only for the ratio column, never a dependency
    import torch
    import torch.nn.functional as TF
except Exception:  # pragma: no cover - depends on the machine
    torch = None

CONV_SHAPES = [
    # name, (N, C, H, W), (F, K, stride, pad)
    ("toy", (2, 3, 16, 16), (3, 3, 1, 1)),
    ("assignment", (50, 3, 32, 32), (32, 7, 1, 3)),
    ("mid", (64, 32, 32, 32), (64, 3, 1, 1)),
    ("VGG-ish", (8, 64, 56, 56), (64, 3, 1, 1)),
    ("digits", (256, 1, 8, 8), (16, 3, 1, 1)),
    # extra (not in the list): MobileNet-style depthwise 3x3, groups = C = 64
    ("depthwise", (32, 64, 28, 28), (64, 3, 1, 1, 64)),
]
POOL_SHAPES = [
    # name, (N, C, H, W), (window, stride)
    ("toy 2x2/2", (2, 3, 16, 16), (2, 2)),
    ("assignment 2x2/2", (50, 32, 32, 32), (2, 2)),
    ("mid 2x2/2", (64, 64, 32, 32), (2, 2)),
    ("AlexNet 3x3/2", (32, 96, 55, 55), (3, 2)),
    ("3x3/1", (16, 64, 32, 32), (3, 1)),
]


# wall time by default; CPU time of this process with --threads 1 (robust on a busy machine)
TIMER = time.perf_counter


def best_time(fn, repeat: int, min_total: float = 0.05) -> float:
    """Best time of fn() in seconds, over `repeat` runs (more if they are very short)."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeat or (time.perf_counter() - start < min_total and len(times) < 200):
        t = TIMER()
        fn()
        times.append(TIMER() - t)
    return min(times)


def blas_report() -> list[str]:
    lines = [f"python {platform.python_version()}, numpy {np.__version__}, "
             f"{os.cpu_count()} logical CPUs, {platform.machine()}"]
    try:
        from threadpoolctl import threadpool_info
        for info in threadpool_info():
            if info.get("user_api") == "blas":
                lines.append(f"BLAS: {info.get('internal_api')} {info.get('version')}, "
                             f"CPU kernel {info.get('architecture')}, {info.get('num_threads')} threads")
    except ImportError:
        lines.append("BLAS: unknown (pip install threadpoolctl to see the library and kernel)")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        if var in os.environ:
            lines.append(f"note: {var}={os.environ[var]} is set (OPENBLAS_* ones can select a slower kernel)")
    if torch is not None:
        lines.append(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    else:
        lines.append("torch not installed: no torch column (optional, never a dependency)")
    return lines


def matmul_peak(dtype, repeat: int, n: int = 1024) -> float:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype)
    t = best_time(lambda: np.matmul(a, b, out=out), repeat)
    return 2 * n ** 3 / t / 1e9


def conv_case(shape, spec, dtype, repeat):
    N, C, H, W = shape
    F, K, stride, pad, *rest = spec
    groups = rest[0] if rest else 1
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    w = (rng.standard_normal((F, C // groups, K, K)) * 0.1).astype(dtype)
    b = np.zeros(F, dtype)
    cp = {"stride": stride, "pad": pad, "groups": groups}
    out, cache = layers.conv_forward_fast(x, w, b, cp)
    dout = rng.standard_normal(out.shape).astype(dtype)
    t_fwd = best_time(lambda: layers.conv_forward_fast(x, w, b, cp), repeat)
    t_bwd = best_time(lambda: layers.conv_backward_fast(dout, cache), repeat)
    flops = 2 * N * F * out.shape[2] * out.shape[3] * (C // groups) * K * K
    t_torch = None
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_()
        tw = torch.from_numpy(w).requires_grad_()
        tb = torch.from_numpy(b).requires_grad_()
        td = torch.from_numpy(dout)

        def run_torch():
            tx.grad = tw.grad = tb.grad = None
            TF.conv2d(tx, tw, tb, stride=stride, padding=pad, groups=groups).backward(td)
        t_torch = best_time(run_torch, repeat)
    return t_fwd, t_bwd, flops, t_torch


def pool_case(shape, spec, dtype, repeat):
    k, stride = spec
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    pp = {"pool_height": k, "pool_width": k, "stride": stride}
    out, cache = layers.max_pool_forward_fast(x, pp)
    dout = rng.standard_normal(out.shape).astype(dtype)
    t_fwd = best_time(lambda: layers.max_pool_forward_fast(x, pp), repeat)
    t_bwd = best_time(lambda: layers.max_pool_backward_fast(dout, cache), repeat)
    t_torch = None
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_()
        td = torch.from_numpy(dout)

        def run_torch():
            tx.grad = None
            TF.max_pool2d(tx, k, stride).backward(td)
        t_torch = best_time(run_torch, repeat)
    return t_fwd, t_bwd, t_torch


def naive_speedups(repeat):
    rows = []
    rng = np.random.default_rng(0)
    _, shape, (F, K, stride, pad) = CONV_SHAPES[0]
    x = rng.standard_normal(shape)
    w = rng.standard_normal((F, shape[1], K, K))
    b = np.zeros(F)
    cp = {"stride": stride, "pad": pad}

    def conv(fwd, bwd):
        out, cache = fwd(x, w, b, cp)
        bwd(np.ones_like(out), cache)
    t_naive = best_time(lambda: conv(layers.conv_forward_naive, layers.conv_backward_naive),
                        max(1, repeat // 2))
    t_fast = best_time(lambda: conv(layers.conv_forward_fast, layers.conv_backward_fast), repeat)
    rows.append(("conv fwd+bwd, toy (float64)", t_naive, t_fast))
    t_naive = best_time(lambda: layers.conv_forward_naive(x, w, b, cp), max(1, repeat // 2))
    t_fast = best_time(lambda: layers.conv_forward_fast(x, w, b, cp), repeat)
    rows.append(("conv forward only, toy (float64)", t_naive, t_fast))
    pp = {"pool_height": 2, "pool_width": 2, "stride": 2}

    def pool(fwd, bwd):
        out, cache = fwd(x, pp)
        bwd(np.ones_like(out), cache)
    t_naive = best_time(lambda: pool(layers.max_pool_forward_naive, layers.max_pool_backward_naive),
                        max(1, repeat // 2))
    t_fast = best_time(lambda: pool(layers.max_pool_forward_fast, layers.max_pool_backward_fast), repeat)
    rows.append(("max pool fwd+bwd, toy (float64)", t_naive, t_fast))
    return rows


def conv_scratch_mib(N: int, dtype=np.float64) -> float:
    """Peak memory allocated during a fast conv forward+backward, minus the arrays it returns."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 32, 32, 32)).astype(dtype)
    w = rng.standard_normal((64, 32, 3, 3)).astype(dtype)
    b = np.zeros(64, dtype)
    out, cache = layers.conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
    dout = np.ones_like(out)
    del out
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    out, cache = layers.conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
    grads = layers.conv_backward_fast(dout, cache)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    returned = out.nbytes + sum(g.nbytes for g in grads)
    return (peak - returned) / 2 ** 20


def ms(t):
    return "-" if t is None else f"{t * 1e3:.2f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and shapes (~20 s)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per timing (best is kept)")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit BLAS (and torch) to this many threads; 1 also switches to CPU "
                             "time, which other processes on a shared machine disturb less")
    args = parser.parse_args(argv)
    if args.threads is not None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            parser.error("--threads needs threadpoolctl (pip install threadpoolctl)")
        threadpool_limits(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
        if args.threads == 1:
            global TIMER
            TIMER = time.process_time
    repeat = args.repeat or (2 if args.quick else 5)
    conv_shapes = CONV_SHAPES if not args.quick else [CONV_SHAPES[i] for i in (0, 2, 4)]
    pool_shapes = POOL_SHAPES if not args.quick else POOL_SHAPES[:3]
    t0 = time.perf_counter()

    print("== Layer engine benchmark (cs231n_utils.layers) ==")
    for line in blas_report():
        print(line)
    print("timing: best of {} runs, {}".format(
        repeat, "CPU time (process_time)" if TIMER is time.process_time else "wall time"))
    peak = {np.float32: matmul_peak(np.float32, repeat), np.float64: matmul_peak(np.float64, repeat)}
    print(f"matmul peak this run (1024x1024): float32 {peak[np.float32]:.1f} GFLOP/s, "
          f"float64 {peak[np.float64]:.1f} GFLOP/s")

    print("\nConvolution (fast): shape N,C,H,W ; F filters KxK, stride, pad[, groups]. "
          "GFLOP/s and % of peak are for the forward pass;")
    print("torch = conv2d forward+backward ms; ratio = ours (fwd+bwd) / torch (fwd+bwd).")
    header = (f"{'shape':<11} {'N,C,H,W ; F,K,s,p[,g]':<24} {'dtype':<7} {'fwd ms':>8} {'bwd ms':>8} "
              f"{'GFLOP/s':>8} {'% peak':>7} {'torch ms':>9} {'ratio':>6}")
    print(header)
    print("-" * len(header))
    for name, shape, spec in conv_shapes:
        for dtype in (np.float32, np.float64):
            t_f, t_b, flops, t_t = conv_case(shape, spec, dtype, repeat)
            gf = flops / t_f / 1e9
            ratio = "-" if t_t is None else f"{(t_f + t_b) / t_t:.2f}"
            desc = f"{','.join(map(str, shape))} ; {','.join(map(str, spec))}"
            print(f"{name:<11} {desc:<24} {np.dtype(dtype).name:<7} {ms(t_f):>8} {ms(t_b):>8} "
                  f"{gf:>8.1f} {100 * gf / peak[dtype]:>6.0f}% {ms(t_t):>9} {ratio:>6}")

    print("\nMax pooling (fast): shape N,C,H,W ; window/stride. torch = max_pool2d forward+backward ms.")
    header = (f"{'shape':<17} {'N,C,H,W':<14} {'dtype':<7} {'fwd ms':>8} {'bwd ms':>8} "
              f"{'GB/s in':>8} {'torch ms':>9} {'ratio':>6}")
    print(header)
    print("-" * len(header))
    for name, shape, spec in pool_shapes:
        for dtype in (np.float32, np.float64):
            t_f, t_b, t_t = pool_case(shape, spec, dtype, repeat)
            gbs = np.prod(shape) * np.dtype(dtype).itemsize / t_f / 1e9
            ratio = "-" if t_t is None else f"{(t_f + t_b) / t_t:.2f}"
            print(f"{name:<17} {','.join(map(str, shape)):<14} {np.dtype(dtype).name:<7} {ms(t_f):>8} "
                  f"{ms(t_b):>8} {gbs:>8.1f} {ms(t_t):>9} {ratio:>6}")

    print("\nNaive loops vs fast (toy shape 2,3,16,16):")
    for what, t_naive, t_fast in naive_speedups(repeat):
        print(f"  {what:<34} naive {t_naive * 1e3:8.2f} ms   fast {t_fast * 1e3:6.3f} ms   "
              f"speed-up {t_naive / t_fast:.0f}x")

    print(f"\nScratch memory of the fast conv (chunks of ~{fast_layers.CHUNK_BYTES >> 20} MiB, "
          f"hard cap {fast_layers.SCRATCH_BYTES >> 20} MiB per chunk), "
          "3x3 conv 32->64 channels on 32x32, float64,")
    print("peak allocation during forward+backward minus the returned arrays:")
    for N in ((16, 128) if args.quick else (16, 256)):
        print(f"  N = {N:4d}: {conv_scratch_mib(N):7.1f} MiB")
    print(f"\ntotal benchmark time {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
