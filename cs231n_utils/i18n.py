"""Language of the messages learners read (界面语言): English by default, or Chinese.

    import cs231n_utils
    cs231n_utils.i18n.set_language("zh")     # explorer messages and checker verdicts in Chinese
    cs231n_utils.i18n.set_language("en")     # back to English

Code that shows a message to the learner writes both versions side by side and picks one
with `say(en, zh)`, so the two never drift apart in separate files:

    say(f"stride {s} does not fit", f"步长 {s} 不合适")

The setting also reads the environment variable `CS231N_LANG` ("en" or "zh") at first use,
so a whole session can be switched without editing a notebook.
"""
from __future__ import annotations

import os

__all__ = ["LANGUAGES", "set_language", "get_language", "say"]

#: The languages messages come in.
LANGUAGES = ("en", "zh")

_current: str | None = None


def set_language(lang: str) -> str:
    """Choose the language of explorer messages and checker verdicts: "en" or "zh".
    Returns the language now in use."""
    global _current
    if not isinstance(lang, str) or lang.lower() not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(map(repr, LANGUAGES))}, got {lang!r}; "
                         f"e.g. set_language('zh') for Chinese")
    _current = lang.lower()
    return _current


def get_language() -> str:
    """The language in use: set_language's choice, else $CS231N_LANG, else "en"."""
    if _current is not None:
        return _current
    env = os.environ.get("CS231N_LANG", "en").lower()
    return env if env in LANGUAGES else "en"


def say(en: str, zh: str) -> str:
    """The message in the language in use."""
    return zh if get_language() == "zh" else en
