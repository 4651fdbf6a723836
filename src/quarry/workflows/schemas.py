"""Wire shapes of workflows."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from quarry.audit import UserActionSummary
from quarry.functions.schemas import Name, Tag
from quarry.wire import Timestamp, VersionNum, WireModel


class FunctionVersionIdentifier(WireModel):
    """A function by ID or by name (not both); ``versionNum`` pins a version, otherwise the
    workflow follows the function's current version."""

    id: str | None = None
    name: str | None = None
    version_num: VersionNum | None = None

    @model_validator(mode="after")
    def _id_or_name(self) -> FunctionVersionIdentifier:
        if (self.id is None) == (self.name is None):
            raise ValueError("give either the function's id or its name")
        return self


class Relationship(WireModel):
    source_function: FunctionVersionIdentifier
    destination_name: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    destination_function: FunctionVersionIdentifier


Relationships = Annotated[list[Relationship], Field(max_length=500)]

MAX_REVIEW_DEADLINE_SECONDS = 366 * 24 * 3600


class ReviewSetting(WireModel):
    """Quarry extension: a node whose outputs wait for a person before they go on (a review gate).

    ``when``: ``always``, or only when one of the node's events ``needsReview``. Without
    ``deadlineSeconds`` the call waits until someone decides; with it, ``onDeadline`` says what
    happens then: ``continue`` with the outputs as they are, or ``fail`` the function call."""

    when: Literal["always", "needsReview"] = "always"
    deadline_seconds: Annotated[int, Field(ge=1, le=MAX_REVIEW_DEADLINE_SECONDS)] | None = None
    on_deadline: Literal["continue", "fail"] = "fail"

    def stored(self) -> dict[str, Any]:
        """As kept with the workflow version and pinned in a call's plan."""
        return self.model_dump(by_alias=True, exclude_none=True, include=set(ReviewSetting.model_fields))


class ReviewGate(ReviewSetting):
    """The review setting of one function of a v2 workflow (v3 sets it on the node)."""

    function: FunctionVersionIdentifier


ReviewGates = Annotated[list[ReviewGate], Field(max_length=500)]


class WorkflowCreate(WireModel):
    name: Name
    display_name: Annotated[str, Field(max_length=512)] | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] | None = None
    main_function: FunctionVersionIdentifier
    relationships: Relationships | None = None
    review_gates: ReviewGates | None = None


class WorkflowUpdate(WireModel):
    """Only the given fields change; ``mainFunction``, ``relationships`` and ``reviewGates`` change
    together (the others without mainFunction are refused by the service, naming the field)."""

    name: Name | None = None
    display_name: Annotated[str, Field(max_length=512)] | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] | None = None
    main_function: FunctionVersionIdentifier | None = None
    relationships: Relationships | None = None
    review_gates: ReviewGates | None = None


class WorkflowCopy(WireModel):
    source_workflow_name: Name
    source_workflow_version_num: VersionNum | None = None
    target_workflow_name: Name
    target_display_name: Annotated[str, Field(max_length=512)] | None = None
    target_environment: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] | None = None


class WorkflowAudit(WireModel):
    workflow_created_by: UserActionSummary | None = None
    workflow_last_updated_by: UserActionSummary | None = None
    version_created_by: UserActionSummary | None = None


class FunctionReference(WireModel):
    id: str
    name: str
    version_num: int | None = None


class RelationshipOut(WireModel):
    source_function: FunctionReference
    destination_name: str | None = None
    destination_function: FunctionReference


class ReviewGateOut(WireModel):
    function: FunctionReference
    when: str
    deadline_seconds: int | None = None
    on_deadline: str


class Workflow(WireModel):
    id: str
    name: str
    version_num: int
    display_name: str | None = None
    email_address: str
    tags: list[str]
    main_function: FunctionReference
    relationships: list[RelationshipOut]
    review_gates: list[ReviewGateOut] | None = None  # only when the workflow has any
    created_at: Timestamp
    updated_at: Timestamp
    audit: WorkflowAudit


class WorkflowEnvelope(WireModel):
    workflow: Workflow
    error: str | None = None


class WorkflowList(WireModel):
    workflows: list[Workflow]
    total_count: int
    error: str | None = None


class WorkflowVersionList(WireModel):
    versions: list[Workflow]
    total_count: int
    error: str | None = None


class CopiedFunction(WireModel):
    source_function_name: str
    source_function_id: str
    source_version_num: int
    target_function_name: str
    target_function_id: str
    target_version_num: int


class WorkflowCopyResult(WireModel):
    environment: str
    workflow: Workflow
    copied_functions: list[CopiedFunction]
    error: str | None = None
