"""send: deliver the incoming output to a webhook or an S3-compatible bucket, and say how it went.

The delivery itself (what is sent, the signature, the address rule, the retries, the bucket) is
the calls job's ``Outbound``; the send event records where it went and the receiver's answer
(bem's ``SendEvent``). What came in is handed on unchanged, so a send can sit mid-workflow.
"""

from __future__ import annotations

import json
from typing import Any

from quarry.engine.runners import Emission, FunctionError, RunInput


def run(run_input: RunInput) -> list[Emission]:
    outbound, config = run_input.outbound, run_input.config
    if outbound is None:
        raise FunctionError("this runner needs the engine's delivery")  # only the engine runs send
    content = outbound.incoming(run_input.files)
    body = json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()
    destination = config["destinationType"]
    event: dict[str, Any] = {"deliveryStatus": "success", "destinationType": destination}
    if destination == "webhook":
        posted = outbound.post(config["webhookUrl"], body, signed=config.get("webhookSigningEnabled", True))
        event["webhookOutput"] = {"httpStatusCode": posted.status_code, "httpResponseBody": posted.response_body}
        event["deliveryAttempts"] = posted.attempts
    elif destination == "s3":
        key = outbound.put(config["s3Bucket"], config.get("s3Prefix"), body)
        event["s3Output"] = {"bucketName": config["s3Bucket"], "key": key}
    else:
        raise FunctionError(f"Quarry cannot deliver to {destination!r}")
    event["deliveredContent"] = content
    if run_input.payload is not None:
        return [Emission("send", event, output=run_input.payload)]
    files = [
        {"inputType": f.input_type, "blobKey": f.blob_key}
        | ({"itemReferenceID": f.item_reference_id} if f.item_reference_id else {})
        for f in run_input.files
    ]
    return [Emission("send", event, files=files)]
