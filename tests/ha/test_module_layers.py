"""The integration's modules import each other without a circle, and wire types stay HA-free."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter

from .integration_files import all_sources


def _local_imports() -> dict[str, set[str]]:
    """module -> the integration modules it imports (at any depth of the file, typing-only included)."""
    graph: dict[str, set[str]] = {}
    for name, text in all_sources().items():
        module = name.removesuffix(".py")
        graph[module] = set()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    graph[module].add(node.module.split(".")[0])
                else:
                    graph[module].update(alias.name for alias in node.names)
    return graph


def test_no_import_circle() -> None:
    """Client, coordinator, wire and wyoming_link (and the rest) form a layering, not a circle."""
    graph = _local_imports()
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as err:
        raise AssertionError(f"import circle: {err.args[1]}") from err
    assert order.index("wire") < order.index("wyoming_link") < order.index("client") < order.index("coordinator")


def test_wire_types_know_nothing_of_home_assistant() -> None:
    """wire.py is what crosses the network: plain dataclasses, no Home Assistant imports."""
    tree = ast.parse(all_sources()["wire.py"])
    imported = {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name.startswith("homeassistant") for name in imported), imported
    assert _local_imports()["wire"] == set()
