"""The package index: every module is listed in cs231n_utils.__init__ and loads on first use."""
import importlib
import subprocess
import sys
from pathlib import Path

import cs231n_utils

PACKAGE = Path(cs231n_utils.__file__).parent


def _modules_on_disk() -> set:
    names = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    names |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    return names


def test_every_module_is_listed_once_in_submodules_and_the_docstring():
    listed = cs231n_utils._SUBMODULES
    assert len(listed) == len(set(listed))
    assert set(listed) == _modules_on_disk()
    for name in listed:
        assert f"- `{name}`" in cs231n_utils.__doc__, f"{name} is missing from the module list"


def test_submodules_load_on_first_attribute_access():
    assert cs231n_utils.tables is importlib.import_module("cs231n_utils.tables")
    try:
        cs231n_utils.no_such_module
    except AttributeError as exc:
        assert "no_such_module" in str(exc)
    else:
        raise AssertionError("unknown attribute did not raise")


def test_importing_the_package_loads_no_submodule():
    code = ("import sys, cs231n_utils; "
            "print(sorted(m for m in sys.modules if m.startswith('cs231n_utils.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
