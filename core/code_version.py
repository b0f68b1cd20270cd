"""The version of a method's code: a hash of the source its handler runs.

The step cache keys a prefix by each step's method version, so a fixed bug in a
method must change it; a number bumped by hand is forgotten. The version is
therefore derived: the SHA-256 of the source of the handler's module and of every
module it imports, followed transitively, as long as the import stays inside
:data:`CODE_PACKAGES` (the methods, the engine's training loop and context, the
architecture adapters and model surgery, data preparation). Imports are read from
the source text (:mod:`ast`, function-level ones included, as this code base
imports heavily inside functions), so nothing is imported to compute a version.

What is left out, on purpose: modules outside those packages (the database, the
CLI, export formats, the studio: they do not decide a step's weights), a package's
``__init__`` unless it is imported by name (``core/methods/__init__.py`` imports
every method, and a change to one method must not invalidate the others' cached
steps), and third-party libraries (their versions are in the cache key already).
Comments and docstrings count as source: a reworded comment is a miss, which
costs a recomputation, never a wrong reuse. A module whose source is not on disk
(a frozen build) is left out; such a build's code only changes with its version,
which the cache key does not see, so clear the cache after installing another.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
from pathlib import Path

# Packages whose modules count toward a version when a handler (transitively) imports them.
CODE_PACKAGES = ("core.methods", "core.engine", "core.models", "core.data", "core.metrics")

_PARSED: dict[str, tuple] = {}  # path -> (stat, digest, imports)


def _inside(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in CODE_PACKAGES)


def module_file(name: str) -> Path | None:
    """The source file of module ``name`` without importing it (None when it has none)."""
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if path is None:
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None
        path = found.origin if found is not None and found.has_location else None
    return Path(path) if path and str(path).endswith(".py") else None


def _imports(tree: ast.AST, name: str, is_package: bool) -> list[tuple[str, tuple[str, ...]]]:
    """``(module, names)`` of each import statement of ``tree`` (module ``name``), relative ones resolved.

    ``import a.b``: ``("a.b", ())``; ``from a import b, c``: ``("a", ("b", "c"))``, where ``b`` may be a module
    of its own or a name defined in ``a``.
    """
    package = name if is_package else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            out.append((base, tuple(alias.name for alias in node.names)))
    return out


def _parse(name: str, path: Path) -> tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    stat = path.stat()
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _PARSED.get(str(path))
    if cached and cached[0] == key:
        return cached[1], cached[2]
    source = path.read_bytes()
    digest = hashlib.sha256(source).hexdigest()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = ast.Module(body=[], type_ignores=[])
    imports = tuple(sorted(set(_imports(tree, name, path.name == "__init__.py"))))
    _PARSED[str(path)] = (key, digest, imports)
    return digest, imports


def _imported_modules(base: str, names: tuple[str, ...]) -> list[str]:
    """The modules an import statement loads for its names: each submodule, and ``base`` when a name lives there."""
    if not names:
        return [base]
    modules = [f"{base}.{n}" for n in names if _is_module(f"{base}.{n}")]
    return modules + ([base] if len(modules) < len(names) else [])


def code_modules(root: str) -> dict[str, str]:
    """``{module: sha256 of its source}`` for ``root`` and what it imports inside :data:`CODE_PACKAGES`."""
    found: dict[str, str] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        path = module_file(name)
        if path is None:
            continue
        digest, imports = _parse(name, path)
        found[name] = digest
        for base, names in imports:
            if _inside(base):
                todo += [m for m in _imported_modules(base, names) if m not in found]
    return found


def _is_module(name: str) -> bool:
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError, AttributeError):  # "a.b.c" where a.b is a module, not a package
        return False


def code_version(root: str) -> str:
    """One hash for ``root``'s module and what it imports (see the module's docstring)."""
    text = "\n".join(f"{name} {digest}" for name, digest in sorted(code_modules(root).items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
