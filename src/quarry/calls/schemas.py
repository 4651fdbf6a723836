"""Wire shapes of calls and function calls."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from quarry.documents.input_types import InputType
from quarry.functions.schemas import FunctionType
from quarry.wire import Timestamp, WireModel

ReferenceID = Annotated[str, Field(min_length=1, max_length=256)]
CallStatus = Literal["pending", "running", "completed", "failed"]


class FileInput(WireModel):
    input_type: InputType
    input_content: str = Field(description="Standard base64 (RFC 4648), or a data URL with base64 content.")


class BatchFileInput(FileInput):
    item_reference_id: ReferenceID | None = None


class BatchFiles(WireModel):
    inputs: Annotated[list[BatchFileInput], Field(min_length=1, max_length=100)]


class CallInput(WireModel):
    single_file: FileInput | None = None
    batch_files: BatchFiles | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CallInput:
        if (self.single_file is None) == (self.batch_files is None):
            raise ValueError("give exactly one of singleFile and batchFiles")
        return self


class CallCreateItem(WireModel):
    workflow_id: str | None = None
    workflow_name: str | None = None
    function_id: str | None = None
    function_name: str | None = None
    call_reference_id: ReferenceID | None = None
    input: CallInput

    @model_validator(mode="after")
    def _one_target(self) -> CallCreateItem:
        targets = [self.workflow_id, self.workflow_name, self.function_id, self.function_name]
        if sum(target is not None for target in targets) != 1:
            raise ValueError("give exactly one of workflowID, workflowName, functionID and functionName")
        return self


class CallsCreate(WireModel):
    calls: Annotated[list[CallCreateItem], Field(min_length=1, max_length=100)]


class FileInfo(WireModel):
    input_type: str
    item_reference_id: str | None = None
    s3_url: str


class SingleFileInfo(WireModel):
    input_type: str
    s3_url: str


class BatchFilesInfo(WireModel):
    inputs: list[FileInfo]


class CallInputInfo(WireModel):
    single_file: SingleFileInfo | None = None
    batch_files: BatchFilesInfo | None = None


class Activity(WireModel):
    display_name: str
    status: CallStatus


class ModelUsage(WireModel):
    """What model requests used (a Quarry extension): answers counted, tokens from each answer's
    ``usage``, the models that answered, and the cost estimated at the configured prices."""

    requests: int
    prompt_tokens: int
    completion_tokens: int
    models: list[str]
    estimated_cost: float | None = Field(
        None, description="At QUARRY_LLM_PRICE_INPUT / _OUTPUT per million tokens when the function call ended."
    )


class FunctionCallOut(WireModel):
    function_call_id: str
    function_id: str
    function_name: str
    type: FunctionType
    reference_id: str | None = None
    status: CallStatus
    function_version_num: int
    activity: list[Activity]
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    source_function_call_id: str | None = None
    source_event_id: str | None = None
    workflow_call_id: str
    input_type: str | None = None
    s3_url: str | None = None
    inputs: list[FileInfo]
    usage: ModelUsage | None = Field(None, description="Quarry: what its model requests used; absent when none.")


class CallOut(WireModel):
    call_id: str
    call_type: Literal["workflow", "function"]
    status: CallStatus
    created_at: Timestamp
    finished_at: Timestamp | None = None
    workflow_id: str | None = None
    workflow_name: str | None = None
    workflow_version_num: int | None = None
    function_id: str | None = None
    function_name: str | None = None
    function_type: FunctionType | None = None
    function_version_num: int | None = None
    call_reference_id: str | None = None
    function_calls: list[FunctionCallOut]
    input: CallInputInfo
    usage: ModelUsage | None = Field(None, description="Quarry: its function calls' model usage, summed.")


class CallsCreated(WireModel):
    calls: list[CallOut]
    error: str | None = None


class CallEnvelope(WireModel):
    call: CallOut
    error: str | None = None


class CallList(WireModel):
    calls: list[CallOut]
    total_count: int
    error: str | None = None


class FunctionCallsCreated(WireModel):
    function_calls: list[FunctionCallOut]


class FunctionCallArgument(WireModel):
    """One argument of ``POST /v2/functions/{name}/call``: one file, or several (for a join)."""

    reference_id: ReferenceID
    input_type: InputType | None = None
    input_content: str | None = None
    inputs: Annotated[list[BatchFileInput], Field(min_length=1, max_length=100)] | None = None

    @model_validator(mode="after")
    def _one_input(self) -> FunctionCallArgument:
        single = self.input_type is not None or self.input_content is not None
        if single == (self.inputs is not None):
            raise ValueError("give inputType and inputContent, or inputs, but not both")
        if single and (self.input_type is None or self.input_content is None):
            raise ValueError("inputType and inputContent go together")
        return self


class FunctionCallRequest(WireModel):
    arguments: Annotated[list[FunctionCallArgument], Field(min_length=1, max_length=100)]
