"""Reading catalogue YAML safely, with the line of every key kept for messages.

Split from :mod:`proxylab.scenarios.loader` (which validates what this reads) because
it is the part that must hold against hostile input: a mapping type that remembers
lines, and bounds on size and alias expansion checked on the composed node graph
before anything walks the data.
"""

from __future__ import annotations

from typing import Any

import yaml


class _Map(dict):
    """A YAML mapping that remembers the line of each key (1-based)."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}
        self.duplicates: list[tuple[Any, int]] = []


class _Loader(yaml.SafeLoader):
    pass


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    m = _Map()
    m.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            key = str(key)
        line = key_node.start_mark.line + 1
        if key in m:
            m.duplicates.append((key, line))
        m[key] = loader.construct_object(value_node, deep=True)
        m.lines[key] = line
    return m


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)


def _seq_lines(node: yaml.Node) -> list[int]:
    return [n.start_mark.line + 1 for n in getattr(node, "value", [])]


# A catalogue is a few kilobytes. These bounds stop a hostile or broken file (a
# "billion laughs" alias bomb of a few hundred bytes expands to gigabytes once
# anything walks it) before anything walks it: the node graph is measured first.
MAX_CATALOG_BYTES = 1 << 20
MAX_EXPANDED_NODES = 100_000


def _expanded_size(node: yaml.Node) -> int:
    """How many nodes the document holds once every alias is expanded, computed on
    the composed graph (an alias is the anchored node object itself) in linear time;
    stops counting past the bound."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:  # post-order without recursion: deep nesting cannot blow the stack
        n, children_done = stack.pop()
        if id(n) in sizes:
            continue
        if not children_done:
            stack.append((n, True))
            stack.extend((c, False) for c in _children(n) if id(c) not in sizes)
            continue
        sizes[id(n)] = min(MAX_EXPANDED_NODES + 1,
                           1 + sum(sizes.get(id(c), 0) for c in _children(n)))
    return sizes[id(node)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [x for pair in node.value for x in pair]
    return []


def load_bounded(text: str) -> Any:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node)
        if size > MAX_EXPANDED_NODES:
            raise TooBig(f"the YAML expands to more than {MAX_EXPANDED_NODES:,} values once "
                          "its anchors and aliases are followed; a catalogue is far smaller "
                          "(is this an alias bomb?)")
        return loader.construct_document(node)
    finally:
        loader.dispose()


class TooBig(ValueError):
    """The YAML is beyond the bounds above; the message says which."""

