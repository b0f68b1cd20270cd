"""Reading the YAML or JSON files the studio reads (recipes, studies, model manifests), bounded.

One guarded loader: :func:`load_document` reads at most :data:`MAX_FILE_BYTES` of a file, refuses text that is
not UTF-8, and :func:`parse_document` parses it with a key given twice, too many aliases or too large an
expansion (a YAML "billion laughs" grows to gigabytes from a few lines) refused before the document is built,
and values YAML recognises but cannot build, or nesting too deep, refused with a message. Every refusal is a
:class:`~core.errors.RecipeError` whose message names the kind of file (``what``: "recipe", "study file", ...);
readers of other files turn it into their own error with :func:`problems_of`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from core.errors import Problem, RecipeError
from core.registry import brief

# A real recipe is a few kilobytes; these bounds only stop hostile or mistaken files.
MAX_FILE_BYTES = 1 << 20  # read at most this much of a recipe file
MAX_ALIASES = 100  # YAML aliases (*name) in one document
MAX_EXPANDED = 1 << 20  # characters plus nodes of the document with every alias written out


def key_text(key: Any) -> str:
    return key if isinstance(key, str) and len(key) <= 60 else brief(key)


class _RecipeLoader(yaml.SafeLoader):
    """PyYAML's safe loader that counts aliases as it composes the document."""

    def __init__(self, stream, what: str = "recipe") -> None:
        super().__init__(stream)
        self.aliases = 0
        self.what = what

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise RecipeError(f"the {self.what} uses more than {MAX_ALIASES} YAML aliases (*name); "
                                  f"write the values out")
        return super().compose_node(parent, index)


def parse_yaml(text: str, what: str = "recipe") -> Any:
    """The YAML document in ``text``, refused before it is built if a key repeats or its aliases expand too far."""
    loader = _RecipeLoader(text, what)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, set(), what)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int], what: str = "recipe") -> int:
    """Characters plus nodes of ``node`` with every alias written out; refuses past :data:`MAX_EXPANDED`.

    An alias is the same node object as its anchor, so ``sizes`` counts each
    node once however often it is referred to: linear in the document's size.
    """
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise RecipeError(f"the {what} refers to itself through a YAML alias")
    if isinstance(node, yaml.ScalarNode):
        size = 1 + len(node.value)
    else:
        open_nodes.add(key)
        if isinstance(node, yaml.MappingNode):
            _refuse_repeated_keys(node)
            children = [part for pair in node.value for part in pair]
        else:
            children = node.value
        size = 1 + sum(_expanded_size(child, sizes, open_nodes, what) for child in children)
        open_nodes.discard(key)
    if size > MAX_EXPANDED:
        raise RecipeError(f"the {what}'s YAML aliases expand to more than {MAX_EXPANDED:,} characters; "
                          f"write the values out")
    sizes[key] = size
    return size


def _refuse_repeated_keys(node: yaml.MappingNode) -> None:
    seen: set[tuple[str, str]] = set()
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
            if (key.tag, key.value) in seen:
                raise RecipeError(Problem(f"given twice (again on line {key.start_mark.line + 1}); keep one",
                                          field=key_text(key.value)))
            seen.add((key.tag, key.value))


def parse_json(text: str) -> Any:
    def mapping(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise RecipeError(Problem("given twice; keep one", field=key_text(key)))
            out[key] = value
        return out

    return json.loads(text, object_pairs_hook=mapping)


def parse_document(text: str, fmt: str = "yaml", what: str = "recipe", max_bytes: int = MAX_FILE_BYTES) -> Any:
    """The YAML (``fmt`` "yaml") or JSON document in ``text``, bounded (see the module's docstring)."""
    if len(text) > max_bytes:
        size = f"a {what} is a few kilobytes and " if max_bytes == MAX_FILE_BYTES else ""
        raise RecipeError(f"the {what} is {len(text):,} characters long; {size}at most {max_bytes:,} are read "
                          f"(is it the right file?)")
    try:
        return parse_json(text) if fmt == "json" else parse_yaml(text, what)
    except (json.JSONDecodeError, yaml.YAMLError, ValueError, OverflowError) as exc:
        # ValueError and OverflowError: a value YAML recognises but cannot build (a date like 2024-13-45), or
        # an integer of more digits than Python converts.
        raise RecipeError(f"the file is not valid {fmt.upper()}: {exc}") from None
    except RecursionError:
        raise RecipeError(f"the {fmt.upper()} is nested too deeply to be a {what}") from None


def read_text(path: str | Path, what: str = "recipe", max_bytes: int = MAX_FILE_BYTES) -> str:
    """The text of the file at ``path``: at most ``max_bytes`` (:data:`MAX_FILE_BYTES`) read, UTF-8 (a BOM
    allowed) or refused."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"no {what} at {path}")
    try:
        with path.open("rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as exc:
        raise RecipeError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        size = f"a {what} is a few kilobytes" if max_bytes == MAX_FILE_BYTES else f"the most a {what} may be"
        raise RecipeError(f"{path} is larger than {max_bytes // 1024} KiB; {size} (is it the right file?)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RecipeError(f"{path} is not UTF-8 text (byte {exc.start} is {raw[exc.start]:#04x}); "
                          f"save it as UTF-8") from None


def file_format(path: str | Path) -> str:
    """"json" for a ``.json`` file, "yaml" otherwise."""
    return "json" if Path(path).suffix.lower() == ".json" else "yaml"


def load_document(path: str | Path, what: str = "recipe", fmt: str | None = None,
                  max_bytes: int = MAX_FILE_BYTES) -> Any:
    """The document in the file at ``path`` (YAML or JSON by its suffix, or ``fmt``), read and parsed bounded.

    Every file the studio reads goes through here (recipes, studies, model configs and manifests, step-cache
    entries, pending runs); ``max_bytes`` raises the size bound for a kind of file that is larger by nature.
    """
    return parse_document(read_text(path, what, max_bytes), fmt or file_format(path), what, max_bytes)


def problems_of(error: RecipeError) -> list[str]:
    """The loader's refusal as plain lines, for a reader that raises its own error type."""
    return [str(p) for p in error.problems]
