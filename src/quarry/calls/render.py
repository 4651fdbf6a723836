"""The v2 wire form of calls and function calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from quarry.calls.models import Call, FunctionCall
from quarry.calls.service import function_calls_of
from quarry.storage.blobs.urls import FileLinks


@dataclass
class Renderer:
    """Turns stored calls into their wire form; file fields become signed URLs under ``base_url``."""

    links: FileLinks
    base_url: str

    def file(self, entry: dict[str, Any]) -> dict[str, Any]:
        out = {"inputType": entry["inputType"], "s3URL": self.links.url(self.base_url, entry["blobKey"])}
        if "itemReferenceID" in entry:
            out["itemReferenceID"] = entry["itemReferenceID"]
        return out

    def function_call(self, fc: FunctionCall) -> dict[str, Any]:
        files = [self.file(entry) for entry in fc.inputs]
        out: dict[str, Any] = {
            "functionCallID": fc.id,
            "functionID": fc.function_id,
            "functionName": fc.function_name,
            "type": fc.function_type,
            "referenceID": fc.reference_id,
            "status": fc.status,
            "functionVersionNum": fc.function_version_num,
            "activity": fc.activity,
            "startedAt": fc.started_at,
            "finishedAt": fc.finished_at,
            "sourceFunctionCallID": fc.source_function_call_id,
            "sourceEventID": fc.source_event_id,
            "workflowCallID": fc.call_id,
            "inputs": files,
        }
        if len(files) == 1:
            out["inputType"] = files[0]["inputType"]
            out["s3URL"] = files[0]["s3URL"]
        return out

    def call_input(self, call: Call) -> dict[str, Any]:
        if "singleFile" in call.input:
            single = self.file(call.input["singleFile"])
            return {"singleFile": {"inputType": single["inputType"], "s3URL": single["s3URL"]}}
        return {"batchFiles": {"inputs": [self.file(e) for e in call.input["batchFiles"]["inputs"]]}}

    def call(self, call: Call, function_calls: list[FunctionCall]) -> dict[str, Any]:
        return {
            "callID": call.id,
            "callType": call.call_type,
            "status": call.status,
            "createdAt": call.created_at,
            "finishedAt": call.finished_at,
            "workflowID": call.workflow_id,
            "workflowName": call.workflow_name,
            "workflowVersionNum": call.workflow_version_num,
            "functionID": call.function_id,
            "functionName": call.function_name,
            "functionType": call.function_type,
            "functionVersionNum": call.function_version_num,
            "callReferenceID": call.call_reference_id,
            "functionCalls": [self.function_call(fc) for fc in function_calls],
            "input": self.call_input(call),
        }

    def calls(self, session: Session, calls: list[Call]) -> list[dict[str, Any]]:
        by_call = function_calls_of(session, calls)
        return [self.call(call, by_call[call.id]) for call in calls]
