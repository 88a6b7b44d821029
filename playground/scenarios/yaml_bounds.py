"""YAML read with bounds, for scenario files a stranger may have written.

PyYAML shares one node for every alias to an anchor, so a small file can stand for a
huge tree (the "billion laughs": nine levels of ten aliases are 10^9 values); anything
that walks the data, the duplicate-key check or pydantic, would take forever. Deep
nesting exhausts Python's recursion in the composer. :class:`BoundedLoader` (PyYAML's
SafeLoader with its composer hook) counts, while composing, how many values each node
stands for once aliases are expanded, and how deep the nesting is, and stops at the
first node past a limit with an ordinary YAML error that has a line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent

MAX_YAML_BYTES = 2_000_000  # a scenario file; documents and images live beside it
MAX_DEPTH = 40  # levels of nesting (a scenario uses about 6)
MAX_EXPANDED_NODES = 50_000  # values once every alias is expanded


class YamlBoundsError(ComposerError):
    """A file past one of the bounds (a YAMLError, reported like a syntax error)."""


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses deep nesting and aliases that expand to too much."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id(node) -> values it stands for, expanded

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):
            mark = self.peek_event().start_mark
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:  # the anchor is still open: a cycle
                raise YamlBoundsError(None, None, "an alias refers to a value that contains "
                                      "it (recursive alias)", mark)
            return node
        mark = self.peek_event().start_mark
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlBoundsError(None, None, f"nested more than {MAX_DEPTH} levels deep",
                                      mark)
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        self._sizes[id(node)] = size = 1 + sum(self._sizes[id(child)]
                                               for child in _children(node))
        if size > MAX_EXPANDED_NODES:
            raise YamlBoundsError(None, None, f"stands for more than {MAX_EXPANDED_NODES:,} "
                                  "values once its aliases are expanded (an alias bomb?)", mark)
        return node


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load_bounded(text: str) -> tuple[yaml.Node | None, Any]:
    """(the node tree, for line numbers; the data) of one YAML document, composed once.
    Raises yaml.YAMLError for bad YAML and for a text past a bound."""
    if len(text) > MAX_YAML_BYTES:
        raise YamlBoundsError(None, None, f"the file has {len(text):,} characters; a "
                              f"scenario file is at most {MAX_YAML_BYTES:,}", None)
    loader = BoundedLoader(text)
    try:
        root = loader.get_single_node()
        return root, (None if root is None else loader.construct_document(root))
    finally:
        loader.dispose()
