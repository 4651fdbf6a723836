"""Pure checks of a workflow graph (``quarry.workflows.graph``): no server, no database."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from quarry.workflows.graph import Edge, Node, _find_cycle, _reachable, graph_errors


def transform_node(name: str) -> Node:
    return Node(name, "transform", {"outputSchemaName": "X", "outputSchema": {"type": "object"}})


def route_node(name: str, routes: list[str]) -> Node:
    return Node(name, "route", {"description": "d", "routes": [{"name": r} for r in routes]})


def split_node(name: str, classes: list[str] | None = None) -> Node:
    if classes is None:
        return Node(name, "split", {"splitType": "print_page"})
    return Node(
        name,
        "split",
        {
            "splitType": "semantic_page",
            "semanticPageSplitConfig": {"itemClasses": [{"name": c} for c in classes]},
        },
    )


def nodes_of(*names: str) -> dict[str, Node]:
    """Transform nodes keyed by ID ``id-<name>``."""
    return {f"id-{n}": transform_node(n) for n in names}


def e(source: str, destination: str, label: str | None = None) -> Edge:
    return Edge(f"id-{source}", label, f"id-{destination}")


def successors(edges: list[tuple[str, str]], nodes: list[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {n: [] for n in nodes}
    for source, destination in edges:
        result[source].append(destination)
    return result


def fields(errors: list[dict[str, str]]) -> list[str]:
    return [error["field"] for error in errors]


# --- _find_cycle ----------------------------------------------------------------------------


def assert_is_cycle(cycle: list[str] | None, graph: dict[str, list[str]]) -> None:
    assert cycle is not None
    assert len(cycle) >= 2
    assert cycle[0] == cycle[-1]
    for a, b in pairwise(cycle):
        assert b in graph[a], f"{a} -> {b} is not an edge"
    assert len(set(cycle[:-1])) == len(cycle) - 1  # a simple cycle


@pytest.mark.parametrize(
    "edges",
    [
        [],
        [("a", "b"), ("b", "c")],
        [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")],  # diamond
        [("a", "b"), ("a", "c"), ("c", "b"), ("b", "d"), ("c", "d")],
        [("c", "a"), ("b", "a")],  # edges into an earlier root
    ],
)
def test_acyclic_graphs_have_no_cycle(edges: list[tuple[str, str]]) -> None:
    assert _find_cycle(successors(edges, ["a", "b", "c", "d"])) is None


@pytest.mark.parametrize(
    "edges",
    [
        [("a", "a")],
        [("a", "b"), ("b", "a")],
        [("a", "b"), ("b", "c"), ("c", "a")],
        [("a", "b"), ("b", "c"), ("c", "d"), ("d", "b")],  # cycle not through the start
        [("a", "b"), ("a", "c"), ("c", "d"), ("d", "c")],  # cycle on the second branch
        [("c", "d"), ("d", "c")],  # cycle unreachable from a
    ],
)
def test_cycles_are_found_as_closed_paths(edges: list[tuple[str, str]]) -> None:
    graph = successors(edges, ["a", "b", "c", "d"])
    assert_is_cycle(_find_cycle(graph), graph)


def test_long_chain_needs_no_recursion() -> None:
    names = [f"n{i}" for i in range(5000)]
    chain = list(pairwise(names))
    assert _find_cycle(successors(chain, names)) is None
    graph = successors(chain + [(names[-1], names[0])], names)
    cycle = _find_cycle(graph)
    assert_is_cycle(cycle, graph)
    assert cycle is not None and len(cycle) == 5001


# --- _reachable -----------------------------------------------------------------------------


def test_reachable_follows_edges_from_the_start_only() -> None:
    graph = successors([("a", "b"), ("b", "c"), ("d", "a"), ("e", "e")], ["a", "b", "c", "d", "e"])
    assert _reachable("a", graph) == {"a", "b", "c"}
    assert _reachable("d", graph) == {"a", "b", "c", "d"}
    assert _reachable("c", graph) == {"c"}
    assert _reachable("e", graph) == {"e"}


def test_reachable_terminates_on_cycles() -> None:
    graph = successors([("a", "b"), ("b", "a"), ("b", "c")], ["a", "b", "c"])
    assert _reachable("a", graph) == {"a", "b", "c"}


# --- graph_errors ---------------------------------------------------------------------------


def test_valid_graphs_have_no_errors() -> None:
    assert graph_errors("id-a", [], nodes_of("a")) == []
    assert graph_errors("id-a", [e("a", "b"), e("b", "c")], nodes_of("a", "b", "c")) == []
    diamond = [e("a", "b"), e("a", "c"), e("b", "d"), e("c", "d")]
    assert graph_errors("id-a", diamond, nodes_of("a", "b", "c", "d")) == []


def test_cycle_is_reported_on_relationships_with_its_path() -> None:
    errors = graph_errors("id-a", [e("a", "b"), e("b", "c"), e("c", "b")], nodes_of("a", "b", "c"))
    assert fields(errors) == ["relationships"]
    assert "cycle" in errors[0]["reason"]
    assert "b -> c -> b" in errors[0]["reason"] or "c -> b -> c" in errors[0]["reason"]


def test_unreachable_nodes_are_named() -> None:
    errors = graph_errors("id-a", [e("a", "b"), e("c", "d")], nodes_of("a", "b", "c", "d"))
    assert fields(errors) == ["relationships"]
    assert "c, d" in errors[0]["reason"]
    assert "'a'" in errors[0]["reason"]  # the main function


def test_cycle_away_from_main_is_both_a_cycle_and_unreachable() -> None:
    errors = graph_errors("id-a", [e("b", "c"), e("c", "b")], nodes_of("a", "b", "c"))
    reasons = " | ".join(error["reason"] for error in errors)
    assert fields(errors) == ["relationships", "relationships"]
    assert "cycle" in reasons and "not reachable" in reasons


def test_edge_into_the_main_function_is_a_cycle() -> None:
    errors = graph_errors("id-a", [e("a", "b"), e("b", "a")], nodes_of("a", "b"))
    assert fields(errors) == ["relationships"]
    assert "cycle" in errors[0]["reason"]


def test_duplicate_edge_names_its_index_and_the_first() -> None:
    edges = [e("a", "b"), e("a", "c"), e("a", "b")]
    errors = graph_errors("id-a", edges, nodes_of("a", "b", "c"))
    assert fields(errors) == ["relationships[2]"]
    assert "relationships[0]" in errors[0]["reason"]


def test_same_destination_under_different_labels_is_not_a_duplicate() -> None:
    nodes = {"id-r": route_node("r", ["x", "y"]), **nodes_of("b")}
    assert graph_errors("id-r", [e("r", "b", "x"), e("r", "b", "y")], nodes) == []
    errors = graph_errors("id-r", [e("r", "b", "x"), e("r", "b", "x")], nodes)
    assert fields(errors) == ["relationships[1]"]


def test_label_only_on_route_and_semantic_split() -> None:
    nodes: dict[str, Any] = {
        "id-r": route_node("r", ["x", "y"]),
        "id-s": split_node("s", ["inv", "con"]),
        "id-p": split_node("p"),
        **nodes_of("t", "b"),
    }
    edges = [
        e("r", "s", "x"),  # ok
        e("s", "p", "inv"),  # ok
        e("p", "t", "page"),  # print_page split: no labels
        e("t", "b", "x"),  # transform: no labels
        e("r", "b", "z"),  # not a route of r
        e("s", "b", "x"),  # a route name, not an item class of s
        e("r", "t"),  # unlabelled from a route: fine
    ]
    errors = graph_errors("id-r", edges, nodes)
    assert fields(errors) == [f"relationships[{i}].destinationName" for i in (2, 3, 4, 5)]
    assert "['x', 'y']" in errors[2]["reason"]
    assert "['con', 'inv']" in errors[3]["reason"]


def test_branch_names() -> None:
    assert route_node("r", ["a", "b"]).branch_names() == {"a", "b"}
    assert split_node("s", ["c"]).branch_names() == {"c"}
    assert split_node("p").branch_names() is None
    assert transform_node("t").branch_names() is None
    assert Node("j", "join", {}).branch_names() is None
    assert Node("ps", "payload_shaping", {"shapingSchema": "@"}).branch_names() is None
