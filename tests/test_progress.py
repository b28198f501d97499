"""The notebook progress bar draws once per step, on stdout, whatever the timing."""
import re
import time

from cs231n_utils.progress import progress_bar

MASK = re.compile(r"\[\d+:\d+(:\d+)?<[^\]]*\]")       # what tools/nbval_sanitize.cfg masks


def _run(capsys, pause):
    with progress_bar(4, "work", "step") as bar:
        for _ in range(4):
            time.sleep(pause)
            bar.update(1)
    out = capsys.readouterr()
    return MASK.sub("[T]", out.out), out.err


def test_progress_bar_output_is_the_same_fast_or_slow(capsys):
    fast, err1 = _run(capsys, 0.0)
    slow, err2 = _run(capsys, 0.05)
    assert fast == slow and err1 == err2 == ""
    assert fast.count("\r") == 6                 # the empty bar, 4 steps, the final redraw on close
    assert "work: 100%" in fast and "4/4" in fast


def test_progress_bar_checks_total():
    import pytest
    with pytest.raises(ValueError, match="total must be >= 1"):
        progress_bar(0)
