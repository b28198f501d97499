"""One setting chooses the language of learner-facing messages."""
import pytest

from cs231n_utils import i18n


@pytest.fixture(autouse=True)
def _restore():
    before = i18n._current
    yield
    i18n._current = before


def test_default_is_english(monkeypatch):
    monkeypatch.delenv("CS231N_LANG", raising=False)
    i18n._current = None
    assert i18n.get_language() == "en"
    assert i18n.say("stride", "步长") == "stride"


def test_set_language_switches_and_environment_is_read(monkeypatch):
    assert i18n.set_language("ZH") == "zh"
    assert i18n.say("stride", "步长") == "步长"
    i18n._current = None
    monkeypatch.setenv("CS231N_LANG", "zh")
    assert i18n.get_language() == "zh"
    monkeypatch.setenv("CS231N_LANG", "klingon")
    assert i18n.get_language() == "en"


@pytest.mark.parametrize("bad", ["fr", "", None, 1])
def test_unknown_language_is_refused(bad):
    with pytest.raises(ValueError, match="language must be one of 'en', 'zh'"):
        i18n.set_language(bad)
