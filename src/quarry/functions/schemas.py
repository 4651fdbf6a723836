"""Wire shapes of functions: one configuration model per type, shared by requests and responses.

Validation that needs no database happens here (JSON Schema validity, JMESPath syntax, regular
expressions, route names); checks against other objects happen in the service.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, Field, StrictBool, ValidationInfo, field_validator, model_validator

from quarry.audit import UserActionSummary
from quarry.collections.names import check_collection_name
from quarry.expressions import check_json_schema, compile_jmespath, compile_regex
from quarry.wire import Timestamp, WireModel

FunctionType = Literal["transform", "analyze", "route", "split", "join", "payload_shaping", "enrich", "send", "parse"]
FUNCTION_TYPES: tuple[str, ...] = FunctionType.__args__  # type: ignore[attr-defined]
EMAIL_FUNCTION_TYPES = frozenset({"transform", "route"})

NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,128}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="Letters, digits, '-' and '_'; 1-128 characters.")]
Tag = Annotated[str, Field(pattern=r"^[^,]{1,256}$", description="1-256 characters, no comma.")]


def _check_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    check_json_schema(schema)
    if schema.get("type", "object") != "object":
        raise ValueError("the output of a function is a JSON object: the schema's root 'type' must be 'object'")
    return schema


def _check_jmespath(expression: str) -> str:
    compile_jmespath(expression)
    return expression


def _check_regex(pattern: str) -> str:
    compile_regex(pattern)
    return pattern


def _unique_names(items: list[Any], what: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            raise ValueError(f"{what} names must be unique; {item.name!r} appears twice")
        seen.add(item.name)


def _one_target(model: Any, id_field: str, name_field: str) -> None:
    if getattr(model, id_field) is not None and getattr(model, name_field) is not None:
        raise ValueError("give either the function's ID or its name, not both")


OutputSchema = Annotated[dict[str, Any], AfterValidator(_check_json_schema)]
JMESPathExpression = Annotated[str, Field(min_length=1), AfterValidator(_check_jmespath)]
Regex = Annotated[str, AfterValidator(_check_regex)]
CollectionName = Annotated[str, AfterValidator(check_collection_name)]
Label = Annotated[str, Field(min_length=1, max_length=128)]


# --- per-type configuration -------------------------------------------------------------------


ProviderChoice = Annotated[
    Literal["builtin", "openai"] | None,
    Field(
        description="Quarry extension: the provider this function uses; "
        "by default the deployment's (QUARRY_LLM_PROVIDER)."
    ),
]


class ExtractionConfig(WireModel):
    output_schema_name: Annotated[str, Field(min_length=1, max_length=256)]
    output_schema: OutputSchema
    provider: ProviderChoice = None


class CitedExtractionConfig(ExtractionConfig):
    enable_bounding_boxes: Annotated[
        bool | None,
        Field(
            description="Quarry extension on v2 (as bem's v3): events cite where each value is written "
            "(fieldBoundingBoxes, fieldTextSpans) and list the values found nowhere (ungroundedFields)."
        ),
    ] = None
    pre_count: Annotated[
        bool | None,
        Field(
            description="Quarry extension on v2 (as bem's v3): a document too long for one model request is read"
            " in parts half as long, so that the model is asked for less at a time (fewer values lost to a model"
            " that stops early), at the price of more requests. No effect with the builtin provider."
        ),
    ] = None


class TransformConfig(CitedExtractionConfig):
    tabular_chunking_enabled: bool = False
    independent_document_processing_enabled: bool = False


class AnalyzeConfig(CitedExtractionConfig):
    pass


class RegexMatch(WireModel):
    patterns: Annotated[list[Regex], Field(min_length=1)]


class EmailOriginMatch(WireModel):
    patterns: Annotated[list[Regex], Field(min_length=1)]


class RouteOrigin(WireModel):
    email: EmailOriginMatch | None = None


class RouteListItem(WireModel):
    name: Label
    description: str | None = None
    function_id: str | None = None
    function_name: Name | None = None
    is_error_fallback: bool | None = None
    regex: RegexMatch | None = None
    origin: RouteOrigin | None = None

    @model_validator(mode="after")
    def _target(self) -> RouteListItem:
        _one_target(self, "function_id", "function_name")
        return self


def _check_routes(routes: list[RouteListItem]) -> list[RouteListItem]:
    # a validator of the field (not of the model), so that the error names ``routes``
    _unique_names(routes, "route")
    if sum(1 for route in routes if route.is_error_fallback) > 1:
        raise ValueError("at most one route can be the error fallback (isErrorFallback)")
    return routes


class RouteConfig(WireModel):
    description: str
    routes: Annotated[list[RouteListItem], Field(min_length=1, max_length=100), AfterValidator(_check_routes)]
    provider: ProviderChoice = None


class PrintPageSplitConfig(WireModel):
    next_function_id: str | None = None
    next_function_name: Name | None = None

    @model_validator(mode="after")
    def _target(self) -> PrintPageSplitConfig:
        _one_target(self, "next_function_id", "next_function_name")
        return self


class SemanticItemClass(WireModel):
    name: Label
    description: str | None = None
    next_function_id: str | None = None
    next_function_name: Name | None = None

    @model_validator(mode="after")
    def _target(self) -> SemanticItemClass:
        _one_target(self, "next_function_id", "next_function_name")
        return self


class SemanticPageSplitConfig(WireModel):
    item_classes: Annotated[list[SemanticItemClass], Field(min_length=1, max_length=100)]

    @model_validator(mode="after")
    def _classes(self) -> SemanticPageSplitConfig:
        _unique_names(self.item_classes, "item class")
        return self


class SplitConfig(WireModel):
    split_type: Literal["print_page", "semantic_page"]
    print_page_split_config: PrintPageSplitConfig | None = None
    semantic_page_split_config: SemanticPageSplitConfig | None = None
    provider: ProviderChoice = None

    # Validators of the fields (not of the model), so that errors name the configuration field;
    # ``splitType`` is declared first, so it is in ``info.data`` when it was valid. An absent
    # configuration becomes an explicit null so that its validator runs (``validate_default``
    # would report the Python name instead of the wire name).
    @model_validator(mode="before")
    @classmethod
    def _explicit_configs(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for alias, name in (
                ("printPageSplitConfig", "print_page_split_config"),
                ("semanticPageSplitConfig", "semantic_page_split_config"),
            ):
                if alias not in data and name not in data:
                    data[alias] = None
        return data

    @field_validator("print_page_split_config")
    @classmethod
    def _print_page_only(cls, value: PrintPageSplitConfig | None, info: ValidationInfo) -> PrintPageSplitConfig | None:
        if value is not None and info.data.get("split_type") == "semantic_page":
            raise ValueError("printPageSplitConfig is only for splitType 'print_page'")
        return value

    @field_validator("semantic_page_split_config")
    @classmethod
    def _semantic_page_only(
        cls, value: SemanticPageSplitConfig | None, info: ValidationInfo
    ) -> SemanticPageSplitConfig | None:
        split_type = info.data.get("split_type")
        if value is not None and split_type == "print_page":
            raise ValueError("semanticPageSplitConfig is only for splitType 'semantic_page'")
        if value is None and split_type == "semantic_page":
            raise ValueError("splitType 'semantic_page' needs semanticPageSplitConfig with itemClasses")
        return value


class JoinConfig(ExtractionConfig):
    description: str
    join_type: Literal["standard"]


class PayloadShapingConfig(WireModel):
    shaping_schema: JMESPathExpression


class EnrichStep(WireModel):
    collection_name: CollectionName
    source_field: JMESPathExpression
    target_field: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
    top_k: Annotated[int, Field(ge=1, le=100)] = 1
    search_mode: Literal["semantic", "exact", "hybrid"] = "semantic"
    score_threshold: Annotated[float, Field(ge=0.0, le=2.0)] = 0.6
    include_cosine_distance: bool = False
    include_subcollections: bool = False


class EnrichConfig(WireModel):
    steps: Annotated[list[EnrichStep], Field(min_length=1, max_length=20)]


class EnrichFunctionConfig(WireModel):
    config: EnrichConfig


S3_BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


class SendConfig(WireModel):
    """Where a send function delivers its incoming output (docs/decisions.md, "Send functions").

    The fields of the other destinations are dropped, so that an update switching the destination
    needs no nulls; the webhook URL's address is checked by ``catalog.functions`` (the rule lives
    with subscriptions, above this package)."""

    destination_type: Literal["webhook", "s3", "google_drive"] = "webhook"
    webhook_url: Annotated[str | None, Field(alias="webhookUrl", min_length=1, max_length=2048)] = None
    webhook_signing_enabled: Annotated[
        StrictBool | None, Field(alias="webhookSigningEnabled", description="true by default for a webhook.")
    ] = None
    s3_bucket: Annotated[str | None, Field(pattern=S3_BUCKET_PATTERN, description="An S3 bucket name.")] = None
    s3_prefix: Annotated[str | None, Field(max_length=512)] = None
    google_drive_folder_id: Annotated[str | None, Field(alias="googleDriveFolderId")] = None

    # As SplitConfig's: an absent field becomes an explicit null so that its validator runs and
    # the error names the wire field.
    @model_validator(mode="before")
    @classmethod
    def _explicit_destination(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {"webhookUrl": None, "s3Bucket": None, **data}
        return data

    @field_validator("destination_type")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value == "google_drive":
            raise ValueError(
                "destinationType 'google_drive' is not supported by Quarry (it has no Google Drive connection): "
                "use 'webhook' or 's3'"
            )
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("destination_type") == "webhook":
            raise ValueError("destinationType 'webhook' needs webhookUrl")
        return value

    @field_validator("s3_bucket")
    @classmethod
    def _s3_bucket(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("destination_type") == "s3":
            raise ValueError("destinationType 's3' needs s3Bucket")
        return value

    @model_validator(mode="after")
    def _one_destination(self) -> SendConfig:
        if self.destination_type == "webhook":
            self.webhook_signing_enabled = self.webhook_signing_enabled is not False
        else:
            self.webhook_url = self.webhook_signing_enabled = None
        if self.destination_type != "s3":
            self.s3_bucket = self.s3_prefix = None
        self.google_drive_folder_id = None
        return self


class ParseOptions(WireModel):
    """bem's ``parseConfig``. ``linkAcrossDocuments`` and ``defaultBucket`` feed bem's cross-document
    memory, which Quarry does not serve: accepted, kept, and without effect (docs/decisions.md)."""

    extract_entities: Annotated[
        StrictBool | None, Field(description="false: entities and relationships come back empty. Defaults to true.")
    ] = None
    link_across_documents: Annotated[StrictBool | None, Field(description="Accepted; no effect in Quarry.")] = None
    default_bucket: Annotated[str, Field(max_length=256, description="Accepted; no effect in Quarry.")] | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_schema(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("schema") is not None:
            raise ValueError("schema-guided parsing (parseConfig.schema) is not supported: chain an extract instead")
        return {key: value for key, value in data.items() if key != "schema"} if isinstance(data, dict) else data


class ParseExtraConfig(WireModel):
    enable_bounding_boxes: Annotated[
        StrictBool | None,
        Field(
            description="Regions of the sections and entity occurrences in fieldBoundingBoxes (documents with "
            "word positions: PDF, images)."
        ),
    ] = None


class ParseConfig(WireModel):
    parse_config: ParseOptions | None = None
    extra_config: ParseExtraConfig | None = None
    provider: ProviderChoice = None


CONFIG_MODELS: dict[str, type[WireModel]] = {
    "transform": TransformConfig,
    "analyze": AnalyzeConfig,
    "route": RouteConfig,
    "split": SplitConfig,
    "join": JoinConfig,
    "payload_shaping": PayloadShapingConfig,
    "enrich": EnrichFunctionConfig,
    "send": SendConfig,
    "parse": ParseConfig,
}


# --- requests -------------------------------------------------------------------------------


class FunctionCommon(WireModel):
    function_name: Name
    display_name: Annotated[str, Field(max_length=512)] | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] | None = None


class TransformCreate(FunctionCommon, TransformConfig):
    type: Literal["transform"]


class AnalyzeCreate(FunctionCommon, AnalyzeConfig):
    type: Literal["analyze"]


class RouteCreate(FunctionCommon, RouteConfig):
    type: Literal["route"]


class SplitCreate(FunctionCommon, SplitConfig):
    type: Literal["split"]


class JoinCreate(FunctionCommon, JoinConfig):
    type: Literal["join"]


class PayloadShapingCreate(FunctionCommon, PayloadShapingConfig):
    type: Literal["payload_shaping"]


class EnrichCreate(FunctionCommon, EnrichFunctionConfig):
    type: Literal["enrich"]


class SendCreate(FunctionCommon, SendConfig):
    type: Literal["send"]


class ParseCreate(FunctionCommon, ParseConfig):
    type: Literal["parse"]


FunctionCreate = Annotated[
    TransformCreate
    | AnalyzeCreate
    | RouteCreate
    | SplitCreate
    | JoinCreate
    | PayloadShapingCreate
    | EnrichCreate
    | SendCreate
    | ParseCreate,
    Field(discriminator="type"),
]
CREATE_MODELS: dict[str, type[FunctionCommon]] = {
    "transform": TransformCreate,
    "analyze": AnalyzeCreate,
    "route": RouteCreate,
    "split": SplitCreate,
    "join": JoinCreate,
    "payload_shaping": PayloadShapingCreate,
    "enrich": EnrichCreate,
    "send": SendCreate,
    "parse": ParseCreate,
}


class FunctionCopy(WireModel):
    source_function_name: Name
    target_function_name: Name
    target_display_name: Annotated[str, Field(max_length=512)] | None = None
    target_environment: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    tags: list[Tag] | None = None


# --- responses ------------------------------------------------------------------------------


class FunctionAudit(WireModel):
    function_created_by: UserActionSummary | None = None
    function_last_updated_by: UserActionSummary | None = None
    version_created_by: UserActionSummary | None = None


class WorkflowUsageInfo(WireModel):
    workflow_id: str
    workflow_name: str
    current_version_num: int
    used_in_workflow_version_nums: list[int]


class FunctionOut(WireModel):
    """Fields every function has, whatever its type."""

    function_id: str
    function_name: str
    version_num: int
    type: FunctionType
    display_name: str | None = None
    tags: list[str] | None = None
    email_address: str | None = None
    audit: FunctionAudit | None = None
    used_in_workflows: list[WorkflowUsageInfo] | None = None
    created_at: Timestamp | None = Field(None, description="Only on function versions: when the version was made.")


def _response_model(type_name: str, config: type[WireModel]) -> type[WireModel]:
    return type(
        f"{config.__name__.removesuffix('Config').removesuffix('Function')}Function",
        (config, FunctionOut),
        {
            "__annotations__": {"type": Literal[type_name]},  # type: ignore[valid-type]
            "__module__": __name__,
        },
    )


Function = Annotated[
    Union[tuple(_response_model(name, model) for name, model in CONFIG_MODELS.items())],  # type: ignore[misc]  # noqa: UP007
    Field(discriminator="type"),
]


class FunctionList(WireModel):
    functions: list[Function]
    total_count: int


class FunctionVersionList(WireModel):
    versions: list[Function]
    total_count: int
