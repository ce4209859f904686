"""The API reference (docs/api.rst) lists every public name, and each has an
example in its docstring."""

import importlib
import inspect
import re
from pathlib import Path

import pytest

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.rst"


def documented_names():
    """``(module, name)`` of each entry of the page's autosummary lists."""
    entries, module, in_list = [], None, False
    for line in API_PAGE.read_text().splitlines():
        current = re.match(r"\.\. currentmodule:: (\S+)", line)
        if current:
            module = current.group(1)
        elif line.startswith(".. autosummary::"):
            in_list = True
        elif in_list and line.strip() and not line.startswith("   "):
            in_list = False
        elif in_list and line.strip() and not line.strip().startswith(":"):
            entries.append((module, line.strip()))
    return entries


def resolve(module, name):
    target = importlib.import_module(module)
    for part in name.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            target = importlib.import_module(f"{target.__name__}.{part}")
    return target


ENTRIES = documented_names()


def test_page_lists_entries():
    # a change of the page's layout must not silently empty the checks below
    assert len(ENTRIES) > 50


def public_modules():
    """Modules whose names the page documents, with the package itself."""
    modules = {"sklmeta"}
    for module, name in ENTRIES:
        parts = f"{module}.{name}".split(".")
        for end in range(1, len(parts)):
            candidate = ".".join(parts[:end])
            try:
                importlib.import_module(candidate)
            except ImportError:
                break
            modules.add(candidate)
    return sorted(modules)


@pytest.mark.parametrize("module_name", public_modules())
def test_every_public_name_is_documented(module_name):
    public = importlib.import_module(module_name)
    documented = {id(resolve(module, name)) for module, name in ENTRIES}
    missing = [name for name in getattr(public, "__all__", ())
               if id(getattr(public, name)) not in documented]
    assert not missing, f"{module_name}: not in docs/api.rst: {missing}"


@pytest.mark.parametrize("module, name", ENTRIES,
                         ids=[f"{module}.{name}" for module, name in ENTRIES])
def test_docstring_has_an_example(module, name):
    entry = f"{module}.{name}"
    obj = resolve(module, name)
    if inspect.ismodule(obj):
        pytest.skip("a module: its page lists its members")
    doc = inspect.getdoc(obj) or ""
    section = re.search(r"^Examples\n-{8}\n(.*?)(?=^\S[^\n]*\n-{3,}\n|\Z)", doc,
                        flags=re.MULTILINE | re.DOTALL)
    assert section, f"{entry} has no Examples section"
    # runnable (a doctest) or a script to run, such as one for torchrun
    assert ">>>" in section.group(1) or "::" in section.group(1), (
        f"{entry}'s Examples section shows no code"
    )
