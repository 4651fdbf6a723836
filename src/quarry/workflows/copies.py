"""Copying a workflow's functions along with it into another environment: each node's version
and, transitively, the route and split targets their configurations name, under the same names."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from quarry.errors import conflict
from quarry.functions import service as functions
from quarry.functions.models import Function, FunctionVersion
from quarry.ids import new_id
from quarry.tenancy.service import Principal
from quarry.workflows.graph import Edge, Graph, Layout


@dataclass(frozen=True)
class CopiedFunction:
    source: Function
    source_version_num: int
    target: Function


def _functions_to_copy(session: Session, graph: Graph) -> dict[str, FunctionVersion]:
    """The version of each function a copy of ``graph`` needs: its nodes (pinned or current
    version), and, transitively, the route/split targets named in their configurations."""
    wanted: dict[str, FunctionVersion] = {}
    pending: list[tuple[Function, int | None]] = [
        (session.get_one(Function, fid), pin) for fid, pin in graph.pins.items()
    ]
    while pending:
        function, pin = pending.pop()
        if function.id in wanted:
            continue
        version = functions.get_version(session, function, pin or function.current_version_num)
        assert version is not None
        wanted[function.id] = version
        for ref in functions.target_references(function.type, version.config):
            target = functions.find_target(session, function.environment_id, ref)
            if target is not None:
                pending.append((target, None))
    return wanted


def copy_functions(
    session: Session, principal: Principal, graph: Graph, environment_id: str, email_domain: str
) -> tuple[Graph, list[CopiedFunction]]:
    """Copy the graph's functions into ``environment_id`` under the same names; refuse if a name is taken there."""
    versions = _functions_to_copy(session, graph)
    sources = {fid: session.get_one(Function, fid) for fid in versions}
    taken = sorted(f.name for f in sources.values() if functions.find_live(session, environment_id, f.name))
    if taken:
        raise conflict(
            f"the target environment already has functions named {', '.join(taken)}",
            {"field": "targetEnvironment", "functionNames": taken},
        )
    id_map = {fid: new_id("f") for fid in versions}
    copied = []
    for function_id, version in versions.items():
        source = sources[function_id]
        new_function, _ = functions.copy_version(
            session,
            principal,
            source,
            version,
            environment_id,
            source.name,
            display_name=version.display_name or version.name,
            tags=None,
            email_domain=email_domain,
            id_map=id_map,
            function_id=id_map[function_id],
        )
        copied.append(CopiedFunction(source, version.version_num, new_function))
    layout = graph.layout
    new_graph = Graph(
        main=id_map[graph.main],
        edges=[Edge(id_map[e.source], e.destination_name, id_map[e.destination]) for e in graph.edges],
        pins={id_map[fid]: (1 if pin else None) for fid, pin in graph.pins.items()},
        layout=Layout(
            names={id_map[fid]: name for fid, name in layout.names.items()},
            metadata={id_map[fid]: metadata for fid, metadata in layout.metadata.items()},
            edge_metadata=layout.edge_metadata,
        ),
        reviews={id_map[fid]: review for fid, review in graph.reviews.items()},
    )
    return new_graph, copied
