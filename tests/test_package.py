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


def _notebook_sections(number: str) -> dict:
    """Section number -> the code of that section, for notebooks/<number>_*.ipynb."""
    import json
    import re
    (path,) = (PACKAGE.parent / "notebooks").glob(f"{number}_*.ipynb")
    sections, current = {}, 0
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            m = re.search(r"^##\s+(\d+)\.", text, re.M)
            current = int(m.group(1)) if m else current
        else:
            sections[current] = sections.get(current, "") + "\n" + text
    return sections


def test_shown_in_references_point_at_sections_that_call_the_function():
    """'Shown in 07, section 4.' in a docstring: section 4 of notebook 07 calls that function."""
    import inspect
    import re
    checked = 0
    for module_name in cs231n_utils._SUBMODULES:
        module = importlib.import_module(f"cs231n_utils.{module_name}")
        modules = [module]
        if module_name == "plotting":
            modules = [importlib.import_module(f"cs231n_utils.plotting.{p.stem}")
                       for p in (PACKAGE / "plotting").glob("*.py") if p.stem != "__init__"]
        for mod in modules:
            for name, obj in vars(mod).items():
                if not (inspect.isfunction(obj) or inspect.isclass(obj)) or obj.__module__ != mod.__name__ \
                        or name != obj.__name__:         # aliases such as FC = Affine: checked once
                    continue
                m = re.search(r"Shown in ((?:\d\d, sections? [\d, ]+(?:; )?)+)", obj.__doc__ or "")
                if not m:
                    continue
                for part in m.group(1).split(";"):
                    number, _, secs = part.strip().partition(", ")
                    code = _notebook_sections(number)
                    for sec in re.findall(r"\d+", secs.split(" ", 1)[1]):
                        assert re.search(rf"(?<![\w]){name}\(", code.get(int(sec), "")), \
                            f"{mod.__name__}.{name} says it is shown in {number}, section {sec}, but is not called there"
                        checked += 1
    assert checked > 50
