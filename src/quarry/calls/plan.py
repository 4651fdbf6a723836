"""A call's plan: which function versions it runs and where each output goes next.

The plan is fixed when the call is created (so a workflow or function changed afterwards does not
change a call in flight) and stored with it as JSON: ``{"main", "versions", "edges", "targets",
"reviews"?}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EVERY_ITEM = "*"
"""The branch of a target that takes every output of its function (a print_page split's items)."""


@dataclass(frozen=True)
class Plan:
    main: str
    """The function the call starts with (a workflow's main function)."""
    versions: dict[str, int]
    """The version of each function the call may run, by function ID."""
    edges: list[dict[str, Any]] = field(default_factory=list)
    """The workflow version's relationships as stored: ``{"source", "destination", "destinationName"?}``."""
    targets: dict[str, dict[str, str]] = field(default_factory=dict)
    """The route and split targets a function's own configuration names, pinned at creation:
    ``{functionID: {branch: targetFunctionID}}`` (branch :data:`EVERY_ITEM`: every output)."""
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The workflow's review gates: ``{functionID: ReviewSetting.stored}`` (``calls.reviews``)."""

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> Plan:
        return cls(
            stored["main"],
            stored["versions"],
            stored.get("edges", []),
            stored.get("targets", {}),
            stored.get("reviews", {}),
        )

    def to_json(self) -> dict[str, Any]:
        stored = {"main": self.main, "versions": self.versions, "edges": self.edges, "targets": self.targets}
        if self.reviews:  # most workflows have none: their plans stay as they were
            stored["reviews"] = self.reviews
        return stored

    @property
    def single(self) -> bool:
        """A plan of one function that hands nothing on and has no review gate."""
        return len(self.versions) == 1 and not self.edges and not self.targets and not self.reviews

    def destinations(self, function_id: str, branch: str | None) -> list[str]:
        """Where an output of ``function_id`` along ``branch`` goes next: the workflow's edges
        leaving that node for that branch; where it has none, the target the function's own
        configuration names for that branch (never both)."""
        along_edges = [
            edge["destination"]
            for edge in self.edges
            if edge["source"] == function_id and edge.get("destinationName") in (None, branch)
        ]
        if along_edges:
            return along_edges
        target = self.targets.get(function_id, {}).get(branch or EVERY_ITEM)
        return [target] if target else []

    def incoming_labels(self) -> dict[tuple[str, str], set[str]]:
        """The labels of the edges from one function to another: ``{(source, destination): names}``."""
        labels: dict[tuple[str, str], set[str]] = {}
        for edge in self.edges:
            if edge.get("destinationName") is not None:
                labels.setdefault((edge["source"], edge["destination"]), set()).add(edge["destinationName"])
        return labels
