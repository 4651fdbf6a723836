"""A workflow's graph: its shapes (``Graph``, ``Layout``) and the checks that need no database
(labels, duplicates, cycles, reachability).

Nodes are function IDs; edges are ``(source, destinationName, destination)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Node:
    """What the graph checks need to know about a function."""

    name: str
    type: str
    config: dict[str, Any]

    def branch_names(self) -> set[str] | None:
        """Names an outgoing edge may carry as ``destinationName``; ``None`` when edges carry none."""
        if self.type == "route":
            return {route["name"] for route in self.config.get("routes", [])}
        if self.type == "split" and self.config.get("splitType") == "semantic_page":
            return {c["name"] for c in (self.config.get("semanticPageSplitConfig") or {}).get("itemClasses", [])}
        return None


@dataclass(frozen=True)
class Edge:
    source: str
    destination_name: str | None
    destination: str


def graph_errors(main: str, edges: list[Edge], nodes: dict[str, Node]) -> list[dict[str, str]]:
    """Every problem of the graph, as ``{"field", "reason"}`` pointing into ``relationships``."""
    errors: list[dict[str, str]] = []
    seen: dict[Edge, int] = {}
    for i, edge in enumerate(edges):
        source = nodes[edge.source]
        if edge.destination_name is not None:
            allowed = source.branch_names()
            field = f"relationships[{i}].destinationName"
            if allowed is None:
                errors.append(
                    {
                        "field": field,
                        "reason": "destinationName is only for edges leaving a route or a semantic_page split "
                        f"function; {source.name!r} is a {source.type!r} function",
                    }
                )
            elif edge.destination_name not in allowed:
                errors.append(
                    {
                        "field": field,
                        "reason": f"{edge.destination_name!r} is not a route or item class of {source.name!r}; "
                        f"expected one of {sorted(allowed)}",
                    }
                )
        if edge in seen:
            errors.append({"field": f"relationships[{i}]", "reason": f"same edge as relationships[{seen[edge]}]"})
        seen.setdefault(edge, i)

    successors: dict[str, list[str]] = {node: [] for node in nodes}
    for edge in edges:
        successors[edge.source].append(edge.destination)
    cycle = _find_cycle(successors)
    if cycle:
        path = " -> ".join(nodes[node].name for node in cycle)
        errors.append({"field": "relationships", "reason": f"the workflow has a cycle: {path}"})
    unreachable = set(nodes) - _reachable(main, successors)
    if unreachable:
        names = ", ".join(sorted(nodes[node].name for node in unreachable))
        errors.append(
            {
                "field": "relationships",
                "reason": f"not reachable from the main function {nodes[main].name!r}: {names}",
            }
        )
    return errors


def _reachable(start: str, successors: dict[str, list[str]]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for nxt in successors[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _find_cycle(successors: dict[str, list[str]]) -> list[str] | None:
    """A cycle as a closed path of nodes (first node repeated at the end), or ``None``."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in successors:
        if root in state:
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, index = stack.pop()
            if index == 0:
                state[node] = 1
                path.append(node)
            if index < len(successors[node]):
                stack.append((node, index + 1))
                nxt = successors[node][index]
                if state.get(nxt) == 1:
                    return path[path.index(nxt) :] + [nxt]
                if nxt not in state:
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    return None


@dataclass
class Layout:
    """What v3 attaches to a graph and Quarry only stores: call-site names of nodes (by function
    ID; absent: the function's name), their opaque metadata, and each edge's (in edge order)."""

    names: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    edge_metadata: list[Any] = field(default_factory=list)


REVIEWABLE_TYPES = ("transform", "analyze", "join", "route")
"""Functions whose events a person can approve or correct (``transformations.FEEDBACK_TYPES``):
the only ones a review gate can hold."""


def review_error(function_name: str, function_type: str) -> str | None:
    """Why this function cannot be a review gate, if it cannot."""
    if function_type in REVIEWABLE_TYPES:
        return None
    return (
        f"{function_name!r} is a {function_type!r} function: a person can only approve or correct the events "
        f"of {', '.join(REVIEWABLE_TYPES)} functions, so only those can wait for review"
    )


@dataclass
class Graph:
    """A validated graph: the main node, the edges, each node's pinned version (or ``None``) and
    the review settings of the nodes that wait for a person (``ReviewSetting.stored``)."""

    main: str
    edges: list[Edge]
    pins: dict[str, int | None]
    layout: Layout = field(default_factory=Layout)
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)
