"""Speed of the layer engine: fast conv and max pooling vs the same-run matmul peak, the naive
loops, and (when it happens to be installed) PyTorch's CPU kernels.

    python3 workbook.py bench                          # every benchmark, BLAS env vars unset
    .venv/bin/python benchmarks/bench_layers.py [--quick] [--rounds 3] [--samples 3]
                                                [--threads 1,2] [--no-torch]

How it times (so that one library's worker threads cannot steal the CPU from the next): every
implementation runs in its own *block*: a pause, a warm-up call, then a few timed samples. The
blocks of the implementations being compared are rotated over several rounds (A B, B A, ...)
and each number is the median of all its samples. Everything runs once with 1 thread (BLAS,
our threads, torch; timed in CPU time, which other processes disturb less) and once with the
machine's thread count (wall time).

Prints: the BLAS library and CPU kernel (threadpoolctl), the matmul peak measured in this run
at each thread count, a table per layer (forward and backward ms, forward GFLOP/s and its share
of the matmul peak, torch's forward+backward ms and our ratio to it), Winograd's float32 error,
the naive -> fast speed-up on the toy shape and the fast conv's scratch memory. Nothing here
asserts a time: the numbers are for people to read (targets in issue 17).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cs231n_utils import fast_layers, layers, parallel  # noqa: E402

try:  # optional: only for the torch columns, never a dependency
    import torch
    import torch.nn.functional as TF
except Exception:  # pragma: no cover - depends on the machine
    torch = None

CONV_SHAPES = [
    # name, (N, C, H, W), (F, K, stride, pad[, groups])
    ("toy", (2, 3, 16, 16), (3, 3, 1, 1)),
    ("assignment", (50, 3, 32, 32), (32, 7, 1, 3)),
    ("mid", (64, 32, 32, 32), (64, 3, 1, 1)),
    ("VGG-ish", (8, 64, 56, 56), (64, 3, 1, 1)),
    ("stride 2", (32, 64, 32, 32), (128, 3, 2, 1)),
    ("digits", (256, 1, 8, 8), (16, 3, 1, 1)),
    ("depthwise", (32, 64, 28, 28), (64, 3, 1, 1, 64)),      # MobileNet-style, groups = C
]
POOL_SHAPES = [
    # name, (N, C, H, W), (window, stride)
    ("toy 2x2/2", (2, 3, 16, 16), (2, 2)),
    ("assignment 2x2/2", (50, 32, 32, 32), (2, 2)),
    ("mid 2x2/2", (64, 64, 32, 32), (2, 2)),
    ("mid 3x3/2 overlap", (64, 64, 33, 33), (3, 2)),
    ("AlexNet 3x3/2", (32, 96, 55, 55), (3, 2)),
    ("3x3/1", (16, 64, 32, 32), (3, 1)),
]
QUICK_CONV = ("toy", "mid", "stride 2", "digits", "depthwise")
QUICK_POOL = ("toy 2x2/2", "mid 2x2/2", "mid 3x3/2 overlap")


class Timer:
    """Block timing: pause, warm-up, samples; blocks rotated over rounds; medians."""

    def __init__(self, rounds: int, samples: int, pause: float, cpu_time: bool):
        self.rounds, self.samples, self.pause = rounds, samples, pause
        self.clock = time.process_time if cpu_time else time.perf_counter

    def timed(self, fn) -> float:
        t = self.clock()
        fn()
        return self.clock() - t

    def compare(self, impls: dict) -> dict:
        """impls: name -> sample() returning a tuple of seconds. Returns name -> tuple of medians."""
        names = list(impls)
        got = {name: [] for name in names}
        for r in range(self.rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                time.sleep(self.pause)
                impls[name]()                                   # warm-up
                got[name] += [impls[name]() for _ in range(self.samples)]
        return {name: tuple(statistics.median(s[i] for s in got[name]) for i in range(len(got[name][0])))
                for name in names}


def set_threads(n: int):
    """BLAS, our threads and torch all at n threads."""
    from threadpoolctl import threadpool_limits
    threadpool_limits(n)
    if torch is not None:
        torch.set_num_threads(n)
    return parallel.limit_threads(n)


def blas_report(thread_counts) -> list[str]:
    lines = [f"python {platform.python_version()}, numpy {np.__version__}, "
             f"{os.cpu_count()} logical CPUs, {platform.machine()}; thread counts {thread_counts}"]
    from threadpoolctl import threadpool_info
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            lines.append(f"BLAS: {info.get('internal_api')} {info.get('version')}, "
                         f"CPU kernel {info.get('architecture')}")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                parallel.ENV_VAR):
        if var in os.environ:
            lines.append(f"note: {var}={os.environ[var]} is set (OPENBLAS_* ones can select a slower kernel)")
    lines.append(f"torch {torch.__version__}" if torch is not None
                 else "torch not importable: no torch columns (optional, never a dependency)")
    try:
        lines.append(f"load average at start: {os.getloadavg()[0]:.2f} (> 0.5 means other work is running)")
    except OSError:
        pass
    return lines


def matmul_peak(timer: Timer, n: int = 1024) -> dict:
    rng = np.random.default_rng(0)
    impls, flops = {}, 2 * n ** 3
    for dtype in (np.float32, np.float64):
        a = rng.standard_normal((n, n)).astype(dtype)
        b = rng.standard_normal((n, n)).astype(dtype)
        out = np.empty((n, n), dtype)
        impls[np.dtype(dtype).name] = (lambda a=a, b=b, out=out: (timer.timed(lambda: np.matmul(a, b, out=out)),))
    res = timer.compare(impls)
    return {name: flops / t[0] / 1e9 for name, t in res.items()}


def conv_row(shape, spec, dtype, timer, use_torch):
    N, C, H, W = shape
    F, K, stride, pad, *rest = spec
    groups = rest[0] if rest else 1
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    w = (rng.standard_normal((F, C // groups, K, K)) * 0.1).astype(dtype)
    b = np.zeros(F, dtype)
    cp = {"stride": stride, "pad": pad, "groups": groups, "rounding": "floor"}
    out, cache = layers.conv_forward_fast(x, w, b, cp)
    dout = rng.standard_normal(out.shape).astype(dtype)

    def ours():
        return (timer.timed(lambda: layers.conv_forward_fast(x, w, b, cp)),
                timer.timed(lambda: layers.conv_backward_fast(dout, cache)))
    impls = {"ours": ours}
    if use_torch:
        tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
        td = torch.from_numpy(dout)

        def run_torch():
            tx.grad = tw.grad = tb.grad = None
            TF.conv2d(tx, tw, tb, stride=stride, padding=pad, groups=groups).backward(td)
        impls["torch"] = lambda: (timer.timed(run_torch),)
    res = timer.compare(impls)
    flops = 2 * N * F * out.shape[2] * out.shape[3] * (C // groups) * K * K
    strategy = fast_layers.conv_strategy(shape, w.shape, stride, pad, 1, groups)
    return res["ours"], res.get("torch", (None,))[0], flops, strategy


def pool_row(shape, spec, dtype, timer, use_torch):
    k, stride = spec
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    pp = {"pool_height": k, "pool_width": k, "stride": stride}
    out, cache = layers.max_pool_forward_fast(x, pp)
    dout = rng.standard_normal(out.shape).astype(dtype)

    def ours():
        return (timer.timed(lambda: layers.max_pool_forward_fast(x, pp)),
                timer.timed(lambda: layers.max_pool_backward_fast(dout, cache)))
    impls = {"ours": ours}
    if use_torch:
        tx = torch.from_numpy(x).requires_grad_()
        td = torch.from_numpy(dout)

        def run_torch():
            tx.grad = None
            TF.max_pool2d(tx, k, stride).backward(td)
        impls["torch"] = lambda: (timer.timed(run_torch),)
    res = timer.compare(impls)
    return res["ours"], res.get("torch", (None,))[0]


def ms(t):
    return "-" if t is None else f"{t * 1e3:.2f}"


def ratio(ours, theirs):
    return "-" if theirs is None else f"{ours / theirs:.2f}"


def print_header(title: str, header: str):
    print(title)
    print(header)
    print("-" * len(header))


def conv_table(shapes, timer, peak, use_torch, threads):
    print_header(f"\nConvolution, {threads} thread(s): shape N,C,H,W ; F filters KxK, stride, pad[, groups]. "
                 "GFLOP/s (direct-conv FLOPs, so Winograd can exceed the peak) and % of the matmul\n"
                 "peak are for the forward pass; torch = conv2d forward+backward ms; ratio = ours (fwd+bwd) / torch.",
                 f"{'shape':<11} {'N,C,H,W ; F,K,s,p[,g]':<26} {'strategy':<9} {'dtype':<7} {'fwd ms':>8} "
                 f"{'bwd ms':>8} {'GFLOP/s':>8} {'% peak':>7} {'torch ms':>9} {'ratio':>6}")
    for name, shape, spec in shapes:
        for dtype in (np.float32, np.float64):
            (t_f, t_b), t_t, flops, strategy = conv_row(shape, spec, dtype, timer, use_torch)
            gf = flops / t_f / 1e9
            desc = f"{','.join(map(str, shape))} ; {','.join(map(str, spec))}"
            dn = np.dtype(dtype).name
            print(f"{name:<11} {desc:<26} {strategy:<9} {dn:<7} {ms(t_f):>8} {ms(t_b):>8} {gf:>8.1f} "
                  f"{100 * gf / peak[dn]:>6.0f}% {ms(t_t):>9} {ratio(t_f + t_b, t_t):>6}")


def pool_table(shapes, timer, use_torch, threads):
    print_header(f"\nMax pooling, {threads} thread(s): shape N,C,H,W ; window/stride. "
                 "torch = max_pool2d forward+backward ms; ratio = ours (fwd+bwd) / torch.",
                 f"{'shape':<18} {'N,C,H,W':<14} {'dtype':<7} {'fwd ms':>8} {'bwd ms':>8} "
                 f"{'GB/s in':>8} {'torch ms':>9} {'ratio':>6}")
    for name, shape, spec in shapes:
        for dtype in (np.float32, np.float64):
            (t_f, t_b), t_t = pool_row(shape, spec, dtype, timer, use_torch)
            gbs = np.prod(shape) * np.dtype(dtype).itemsize / t_f / 1e9
            print(f"{name:<18} {','.join(map(str, shape)):<14} {np.dtype(dtype).name:<7} {ms(t_f):>8} "
                  f"{ms(t_b):>8} {gbs:>8.1f} {ms(t_t):>9} {ratio(t_f + t_b, t_t):>6}")


def float32_errors() -> list[str]:
    """max |float32 - float64| / max |float64| of the mid layer's forward, Winograd and im2col."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 32, 32, 32))
    w = rng.standard_normal((64, 32, 3, 3)) * 0.1
    b = rng.standard_normal(64) * 0.1
    ref = layers.conv_forward_naive(x[:1], w, b, {"pad": 1})[0]
    lines = []
    for label, min_ch in (("Winograd", fast_layers.WINOGRAD_MIN_CHANNELS), ("im2col", 10 ** 9)):
        saved = fast_layers.WINOGRAD_MIN_CHANNELS
        fast_layers.WINOGRAD_MIN_CHANNELS = min_ch
        try:
            out = layers.conv_forward_fast(*(a.astype(np.float32) for a in (x, w, b)), {"pad": 1})[0][:1]
            out64 = layers.conv_forward_fast(x, w, b, {"pad": 1})[0][:1]
        finally:
            fast_layers.WINOGRAD_MIN_CHANNELS = saved
        err = np.max(np.abs(out - ref)) / np.max(np.abs(ref))
        err64 = np.max(np.abs(out64 - ref)) / np.max(np.abs(ref))
        lines.append(f"  {label:<9} float32 {err:.1e}, float64 {err64:.1e}")
    return lines


def naive_speedups(timer):
    rows = []
    rng = np.random.default_rng(0)
    _, shape, (F, K, stride, pad) = CONV_SHAPES[0]
    x = rng.standard_normal(shape)
    w = rng.standard_normal((F, shape[1], K, K))
    b = np.zeros(F)
    cp = {"stride": stride, "pad": pad}
    pp = {"pool_height": 2, "pool_width": 2, "stride": 2}

    def conv(fwd, bwd):
        out, cache = fwd(x, w, b, cp)
        bwd(np.ones_like(out), cache)

    def pool(fwd, bwd):
        out, cache = fwd(x, pp)
        bwd(np.ones_like(out), cache)
    for what, run, naive, fast in [
            ("conv fwd+bwd, toy (float64)", conv, (layers.conv_forward_naive, layers.conv_backward_naive),
             (layers.conv_forward_fast, layers.conv_backward_fast)),
            ("max pool fwd+bwd, toy (float64)", pool, (layers.max_pool_forward_naive, layers.max_pool_backward_naive),
             (layers.max_pool_forward_fast, layers.max_pool_backward_fast))]:
        res = timer.compare({"naive": lambda: (timer.timed(lambda: run(*naive)),),
                             "fast": lambda: (timer.timed(lambda: run(*fast)),)})
        rows.append((what, res["naive"][0], res["fast"][0]))
    return rows


def scratch_mib(shape, F, K, pad, dtype=np.float32) -> float:
    """Peak memory allocated during a fast conv forward+backward, minus the arrays it returns."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((F, shape[1], K, K)).astype(dtype)
    b = np.zeros(F, dtype)
    cp = {"stride": 1, "pad": pad}
    out, cache = layers.conv_forward_fast(x, w, b, cp)
    dout = np.ones_like(out)
    del out, cache
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    out, cache = layers.conv_forward_fast(x, w, b, cp)
    grads = layers.conv_backward_fast(dout, cache)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    returned = out.nbytes + sum(g.nbytes for g in grads)
    return (peak - returned) / 2 ** 20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer shapes, rounds and samples")
    parser.add_argument("--rounds", type=int, default=None, help="rotations of the blocks (default 3)")
    parser.add_argument("--samples", type=int, default=None, help="timed calls per block (default 3)")
    parser.add_argument("--pause", type=float, default=0.1, help="seconds of pause before each block")
    parser.add_argument("--threads", default=None,
                        help="comma-separated thread counts (default: 1 and this machine's count)")
    parser.add_argument("--no-torch", action="store_true", help="leave torch out even if importable")
    args = parser.parse_args(argv)
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        parser.error("the benchmark needs threadpoolctl (pip install threadpoolctl)")
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    counts = ([int(t) for t in args.threads.split(",")] if args.threads
              else sorted({1, max(1, ncpu or 1)}))
    rounds = args.rounds or (2 if args.quick else 3)
    samples = args.samples or (2 if args.quick else 3)
    use_torch = torch is not None and not args.no_torch
    conv_shapes = [s for s in CONV_SHAPES if not args.quick or s[0] in QUICK_CONV]
    pool_shapes = [s for s in POOL_SHAPES if not args.quick or s[0] in QUICK_POOL]
    t0 = time.perf_counter()

    print("== Layer engine benchmark (cs231n_utils.layers) ==")
    for line in blas_report(counts):
        print(line)
    print(f"timing: each implementation in its own block ({args.pause} s pause, 1 warm-up, "
          f"{samples} samples), blocks rotated over {rounds} rounds, median; CPU time at 1 thread, "
          f"wall time above")
    for n in counts:
        timer = Timer(rounds, samples, args.pause, cpu_time=n == 1)
        with set_threads(n):
            peak = matmul_peak(timer)
            print(f"\n-- {n} thread(s): matmul peak this run (1024x1024): float32 {peak['float32']:.1f} "
                  f"GFLOP/s, float64 {peak['float64']:.1f} GFLOP/s")
            conv_table(conv_shapes, timer, peak, use_torch, n)
            pool_table(pool_shapes, timer, use_torch, n)
    from threadpoolctl import threadpool_limits
    threadpool_limits(ncpu)
    timer = Timer(rounds, samples, args.pause, cpu_time=False)

    print("\nWinograd's float32 error (mid layer 32->64, 3x3, one image; max |error| / max |value| "
          "against the float64 naive loops):")
    for line in float32_errors():
        print(line)
    print("\nNaive loops vs fast (toy shape 2,3,16,16):")
    for what, t_naive, t_fast in naive_speedups(timer):
        print(f"  {what:<34} naive {t_naive * 1e3:8.2f} ms   fast {t_fast * 1e3:6.3f} ms   "
              f"speed-up {t_naive / t_fast:.0f}x")
    print(f"\nScratch memory of the fast conv forward+backward, float32 (budget "
          f"fast_layers.SCRATCH_BYTES = {fast_layers.SCRATCH_BYTES >> 20} MiB, chunks of ~"
          f"{fast_layers.CHUNK_BYTES >> 20} MiB): peak allocation minus the returned arrays")
    cases = [("mid layer, N = 16", (16, 32, 32, 32), 64, 3, 1),
             ("mid layer, N = 256", (256, 32, 32, 32), 64, 3, 1)]
    if not args.quick:
        cases.append(("AlexNet-size 11x11 on (1, 64, 224, 224)", (1, 64, 224, 224), 64, 11, 5))
    for label, shape, F, K, pad in cases:
        print(f"  {label:<42} {scratch_mib(shape, F, K, pad):7.1f} MiB")
    print(f"\ntotal benchmark time {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
