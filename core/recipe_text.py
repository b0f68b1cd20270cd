"""Reading a recipe's YAML or JSON text, bounded: a key given twice, too many aliases or too large an
expansion (a YAML "billion laughs" grows to gigabytes from a few lines) is refused before the document is
built."""

from __future__ import annotations

import json
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

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise RecipeError(f"the recipe uses more than {MAX_ALIASES} YAML aliases (*name); write the values out")
        return super().compose_node(parent, index)


def parse_yaml(text: str) -> Any:
    """The YAML document in ``text``, refused before it is built if a key repeats or its aliases expand too far."""
    loader = _RecipeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """Characters plus nodes of ``node`` with every alias written out; refuses past :data:`MAX_EXPANDED`.

    An alias is the same node object as its anchor, so ``sizes`` counts each
    node once however often it is referred to: linear in the document's size.
    """
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise RecipeError("the recipe refers to itself through a YAML alias")
    if isinstance(node, yaml.ScalarNode):
        size = 1 + len(node.value)
    else:
        open_nodes.add(key)
        if isinstance(node, yaml.MappingNode):
            _refuse_repeated_keys(node)
            children = [part for pair in node.value for part in pair]
        else:
            children = node.value
        size = 1 + sum(_expanded_size(child, sizes, open_nodes) for child in children)
        open_nodes.discard(key)
    if size > MAX_EXPANDED:
        raise RecipeError(f"the recipe's YAML aliases expand to more than {MAX_EXPANDED:,} characters; "
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
