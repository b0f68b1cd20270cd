"""The layers of the code and the directions their imports may take (docs/architecture.md), read from the source.

Every module of ``core`` and ``studio`` is parsed with :mod:`ast` (nothing is
imported) and each of its imports classified:

- *module-level*: run when the module is imported (class bodies and ``try``
  blocks included). These may go to the module's own layer or any layer below
  it, never above.
- *deferred*: inside a function, under ``if TYPE_CHECKING:``, or an
  ``importlib.import_module("core....")`` call with a literal name. Upward ones
  are allowed only where :data:`DEFERRED_UPWARD` lists them, each with its
  reason; an entry that no longer matches an import fails too, so the list only
  shrinks.

``core`` never imports ``studio``, Qt or pyqtgraph, at any depth. A new module
belongs to the layer of its package; a new top-level module or package of
``core`` must be given a layer here (and in docs/architecture.md) first.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lowest first. A module belongs to the layer whose prefix names its package (longest match wins);
# "core" alone is the package's own __init__ (its version string).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("core", "core.errors", "core.env", "core.events")),
    ("metrics", ("core.metrics",)),
    ("recipe", ("core.registry", "core.settings", "core.code_version", "core.recipe", "core.recipe_parts",
                "core.recipe_text", "core.recipe_diff", "core.naming", "core.scoring")),
    ("data", ("core.data", "core.tasks")),
    ("models", ("core.models",)),
    ("engine", ("core.engine", "core.applicability")),
    ("methods", ("core.methods",)),
    ("export", ("core.export",)),
    ("db", ("core.db",)),
    ("study", ("core.study",)),
    ("services", ("core.services",)),
    ("cli", ("core.cli",)),
    ("studio", ("studio",)),
)
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}
FORBIDDEN_IN_CORE = ("studio", "PySide6", "pyqtgraph", "shiboken6")

# Deferred imports that go up a layer: (importing module, imported module) -> why it may.
# Keep this short; each entry is a place where a piece could move down a layer instead.
DEFERRED_UPWARD: dict[tuple[str, str], str] = {
    # The registry fills itself by importing the methods package by name the first time a method is looked up
    # (a plug-in entry point: the engine and the studio find methods through the registry, never directly).
    ("core.registry", "core.methods"): "the registry's plug-in hook loads the methods",
    # Custom modules (factorized linears, k-bit layers) register their classes when core.methods is imported;
    # rebuilding a saved model by class name needs that registry filled first.
    ("core.models.custom", "core.methods"): "custom module classes are registered by the methods that define them",
}


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module (a core or studio module, or a third-party top-level name)
    line: int
    deferred: bool
    path: Path

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _targets(node: ast.AST, source: str, is_package: bool) -> list[str]:
    """The modules an import statement or a literal ``import_module`` call loads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            package = source.split(".") if is_package else source.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join(package + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        # ``from core import events`` imports the module core.events; ``from core.x import name`` imports core.x
        subs = [f"{base}.{alias.name}" for alias in node.names if _is_module(f"{base}.{alias.name}")]
        return subs if len(subs) == len(node.names) else [base, *subs]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        return [node.args[0].value]
    return []


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports_of(path: Path, text: str | None = None) -> list[Import]:
    """Every import in the module at ``path`` (its source ``text`` when given, else read from the file)."""
    source = module_name(path)
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def visit(node: ast.AST, deferred: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            for target in _targets(child, source, is_package):
                # a literal import_module call runs when its enclosing code runs: deferred inside a function
                found.append(Import(source, target, child.lineno, inner, path))
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.body:
                    visit(ast.Module(body=[sub], type_ignores=[]), True)
                for sub in child.orelse:
                    visit(ast.Module(body=[sub], type_ignores=[]), deferred)
                continue
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8") if text is None else text, str(path)), False)
    return found


@lru_cache(maxsize=1)
def all_imports() -> tuple[Import, ...]:
    files = sorted(ROOT.glob("core/**/*.py")) + sorted(ROOT.glob("studio/**/*.py"))
    return tuple(imp for path in files for imp in _imports_of(path))


def layer_of(module: str) -> str | None:
    best, length = None, -1
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            exact_only = prefix == "core"
            if module == prefix or (not exact_only and module.startswith(prefix + ".")):
                if len(prefix) > length:
                    best, length = name, len(prefix)
    return best


def _ours(module: str) -> bool:
    return module.split(".")[0] in ("core", "studio")


def _upward(imports) -> list[tuple[Import, str, str]]:
    out = []
    for imp in imports:
        if not _ours(imp.target):
            continue
        src, dst = layer_of(imp.source), layer_of(imp.target)
        if src is not None and dst is not None and RANK[dst] > RANK[src]:
            out.append((imp, src, dst))
    return out


def _allowed(imp: Import) -> bool:
    return any(imp.source == source and (imp.target == target or imp.target.startswith(target + "."))
               for source, target in DEFERRED_UPWARD)


def test_every_module_has_a_layer():
    modules = sorted({imp.source for imp in all_imports()} |
                     {module_name(p) for p in (*ROOT.glob("core/**/*.py"), *ROOT.glob("studio/**/*.py"))})
    missing = [m for m in modules if layer_of(m) is None]
    assert not missing, ("modules in no layer (give their package one in LAYERS of "
                         f"tests/core/test_architecture_layers.py and in docs/architecture.md): {', '.join(missing)}")


def test_core_never_imports_studio_or_qt():
    bad = [f"{imp.where()}: {imp.source} imports {imp.target}" + (" (inside a function)" if imp.deferred else "")
           for imp in all_imports()
           if imp.source.split(".")[0] == "core" and imp.target.split(".")[0] in FORBIDDEN_IN_CORE]
    assert not bad, "core must not import the studio, Qt or pyqtgraph:\n" + "\n".join(bad)


def test_no_module_level_import_goes_up_a_layer():
    bad = [f"{imp.where()}: {imp.source} ({src}) imports {imp.target} ({dst}) at module level; {dst} is above {src}"
           for imp, src, dst in _upward(i for i in all_imports() if not i.deferred)]
    assert not bad, ("lower layers must not import higher ones (docs/architecture.md); move the shared piece "
                     "down a layer:\n" + "\n".join(bad))


def test_deferred_upward_imports_are_only_the_listed_ones():
    bad = [f"{imp.where()}: {imp.source} ({src}) imports {imp.target} ({dst}) inside a function; {dst} is above "
           f"{src}" for imp, src, dst in _upward(i for i in all_imports() if i.deferred) if not _allowed(imp)]
    assert not bad, ("an import inside a function that goes up a layer dodges the layering; move the shared piece "
                     "down a layer (or, with a reason, list it in DEFERRED_UPWARD):\n" + "\n".join(bad))


def test_the_allow_list_names_only_imports_that_exist():
    upward = _upward(i for i in all_imports() if i.deferred)
    stale = [f"{source} -> {target}" for source, target in DEFERRED_UPWARD
             if not any(imp.source == source and (imp.target == target or imp.target.startswith(target + "."))
                        for imp, _, _ in upward)]
    assert not stale, "DEFERRED_UPWARD lists imports that no longer exist or no longer go up; remove: " + \
        ", ".join(stale)


def test_the_export_modules_import_each_other_only_at_module_level():
    """The ONNX split's direction stays visible: no export module reaches another one from inside a function."""
    bad = [f"{imp.where()}: {imp.source} imports {imp.target} inside a function"
           for imp in all_imports() if imp.deferred and imp.source.startswith("core.export")
           and imp.target.startswith("core.export.") and imp.target != imp.source]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("code, deferred, target", [
    ("import core.models.loading\n", False, "core.models.loading"),
    ("def f():\n    from core.export.api import export_model\n", True, "core.export.api"),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from core.db import Repository\n", True, "core.db"),
    ("import importlib\ndef f():\n    importlib.import_module('core.methods')\n", True, "core.methods"),
    ("from core import events\n", False, "core.events"),
    ("from . import spec\n", False, "core.study.spec"),
])
def test_the_reader_classifies_imports(code, deferred, target):
    """What the checks above rely on: each kind of import is found, with the module it loads and when."""
    found = [imp for imp in _imports_of(ROOT / "core" / "study" / "probe_module.py", code) if _ours(imp.target)]
    assert [(imp.target, imp.deferred) for imp in found] == [(target, deferred)]
    assert layer_of("core.study.probe_module") == "study" and layer_of("core.unknown") is None
