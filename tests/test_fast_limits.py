"""The fast conv's limits: its scratch memory stays within fast_layers.SCRATCH_BYTES for any
shape (measured with tracemalloc), a layer that cannot fit is refused with a message naming
the limit, and strides, pads and dilations far beyond the input are refused at once."""
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

from cs231n_utils import fast_conv, fast_layers
from cs231n_utils import layers as L


def _scratch_peak(fn):
    """Peak bytes allocated while fn() runs, minus the arrays it returns."""
    fn()                                   # warm caches (offset tables, the threads' arenas)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    arrays = [a for a in (result if isinstance(result, tuple) else (result,)) if isinstance(a, np.ndarray)]
    return peak - sum(a.nbytes for a in arrays)


LAYERS = {
    # name: (x shape, F, K, conv_param)
    "winograd, bands of tile rows": ((2, 16, 40, 36), 16, 3, {"pad": 1}),
    "im2col + transposed": ((2, 4, 40, 36), 6, 3, {"pad": 1}),
    "im2col + col2im, 7x7": ((2, 3, 40, 36), 16, 7, {"pad": 3}),
    "stride 2, phases": ((2, 8, 61, 57), 16, 3, {"stride": 2, "pad": 1}),
    "11x11, column bands": ((1, 64, 20, 20), 2, 11, {"pad": 5}),
    "depthwise": ((2, 32, 40, 36), 32, 3, {"pad": 1, "groups": 32}),
}


@pytest.mark.parametrize("name", list(LAYERS), ids=list(LAYERS))
def test_scratch_stays_within_the_budget(monkeypatch, name):
    budget = 2 ** 19
    monkeypatch.setattr(fast_layers, "SCRATCH_BYTES", budget)
    monkeypatch.setattr(fast_layers, "CHUNK_BYTES", budget // 4)
    monkeypatch.setattr(fast_layers, "WINOGRAD_MIN_MACS", 0)
    monkeypatch.setattr(fast_layers, "WINOGRAD_TILES_PER_CHANNEL", 0)
    shape, F, K, cp = LAYERS[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((F, shape[1] // cp.get("groups", 1), K, K))
    b = rng.standard_normal(F)
    out, cache = L.conv_forward_fast(x, w, b, cp)
    cache = cache[:3] + ({k: v for k, v in cache[3].items() if k != "cols"},)
    dout = rng.standard_normal(out.shape)
    whole_cols = shape[0] * shape[1] * K * K * out.shape[2] * out.shape[3] * 8
    assert whole_cols > budget                       # without chunks it would not fit
    assert _scratch_peak(lambda: L.conv_forward_fast(x, w, b, cp)) <= budget
    assert _scratch_peak(lambda: L.conv_backward_fast(dout, cache)) <= budget
    ref = L.conv_forward_naive(x[:1, :, :13, :13], w, b, cp)[0]     # and the numbers are right
    small = L.conv_forward_fast(x[:1, :, :13, :13], w, b, cp)[0]
    np.testing.assert_allclose(small, ref, rtol=1e-10, atol=1e-10)


def test_a_layer_that_cannot_fit_is_refused_before_allocating(monkeypatch):
    monkeypatch.setattr(fast_layers, "SCRATCH_BYTES", 10 ** 4)
    x = np.ones((1, 64, 8, 8))
    w = np.ones((2, 64, 5, 5))                      # one output position: 64*25 columns = 12.8 kB
    tracemalloc.start()
    try:
        with pytest.raises(fast_layers.ScratchLimitError,
                           match=r"even one output position needs 12\d{3} bytes.*SCRATCH_BYTES = 10000 bytes"):
            L.conv_forward_fast(x, w, np.zeros(2), {"pad": 2})
        assert tracemalloc.get_traced_memory()[1] < 10 ** 4 + 2 ** 16
    finally:
        tracemalloc.stop()
    with pytest.raises(fast_layers.ScratchLimitError, match="one channel of one sample"):
        L.conv_forward_fast(np.ones((1, 2, 40, 40)), np.ones((2, 1, 3, 3)), np.zeros(2),
                            {"pad": 1, "groups": 2})


@pytest.mark.slow
def test_a_huge_layer_runs_within_the_default_budget():
    """The layer of issue 13, (1, 512, 224, 224) with 11x11 filters, float32 (stride 4 keeps
    the test short; stride 1 is the same per chunk, only 16x longer): scratch <= 64 MiB."""
    x = np.ones((1, 512, 224, 224), np.float32)
    w = np.full((2, 512, 11, 11), 0.01, np.float32)
    b = np.zeros(2, np.float32)
    cp = {"stride": 4, "pad": 5, "rounding": "floor"}
    out, cache = L.conv_forward_fast(x, w, b, cp)
    assert out.shape == (1, 2, 56, 56)
    np.testing.assert_allclose(out[0, 0, 10, 10], 512 * 121 * 0.01, rtol=1e-4)
    assert _scratch_peak(lambda: L.conv_forward_fast(x, w, b, cp)) <= fast_layers.SCRATCH_BYTES
    dout = np.ones_like(out)
    assert _scratch_peak(lambda: L.conv_backward_fast(dout, cache)) <= fast_layers.SCRATCH_BYTES


def _run_quickly(code: str) -> str:
    """Run code in a fresh interpreter with a time limit; a hang fails the test."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_strides_pads_and_dilations_far_beyond_the_input_are_refused_at_once():
    out = _run_quickly("""
        import numpy as np
        from cs231n_utils import layers as L
        x, w, b = np.ones((1, 1, 8, 8)), np.ones((1, 1, 3, 3)), np.zeros(1)
        for cp in ({"stride": 10 ** 12}, {"pad": 10 ** 13}, {"dilation": 10 ** 12},
                   {"stride": 10 ** 12, "rounding": "floor"}):
            try:
                L.conv_forward(x, w, b, cp)
                print("accepted", cp)
            except ValueError as e:
                print(e)
    """)
    lines = out.strip().splitlines()
    assert len(lines) == 4 and not any(line.startswith("accepted") for line in lines)
    assert "conv_param['stride'] = 1000000000000 is far larger than the input height (8; filter 3)" in lines[0]
    assert "EXTENT_LIMIT" in lines[0] and "use a smaller stride" in lines[0]
    assert "conv_param['pad'] = 10000000000000" in lines[1]
    assert "conv_param['dilation'] = 1000000000000" in lines[2]


def test_settings_a_little_beyond_the_input_still_work(rng):
    x = rng.standard_normal((1, 2, 3, 3))
    w = rng.standard_normal((2, 2, 3, 3))
    for cp in ({"pad": 4}, {"stride": 5, "pad": 1, "rounding": "floor"}, {"dilation": 2, "pad": 2}):
        out_n = L.conv_forward_naive(x, w, np.zeros(2), cp)[0]
        np.testing.assert_allclose(L.conv_forward_fast(x, w, np.zeros(2), cp)[0], out_n, atol=1e-12)


def test_plan_refuses_with_the_unit_it_could_not_fit():
    with pytest.raises(fast_conv.ScratchLimitError, match="even one channel of one sample needs 5000 bytes"):
        fast_conv.plan(1, 3, 5000, budget=4000, target=1000, threads=2, unit="one channel of one sample")
