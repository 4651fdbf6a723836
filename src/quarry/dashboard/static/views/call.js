// One call: its fields, its inputs, and the graph of its function calls (each one under the
// function call whose event started it, via sourceFunctionCallID) with each one's activity and
// results: the events it produced (GET /v1-alpha/events?callIDs=…), outputs and errors.

import { follow, get, getAll } from "../api.js";
import { badge, duration, errorBox, fields, h, json, route, section, when } from "../dom.js";
import { citedDocument, reviewForm } from "./extraction.js";

const TERMINAL = ["completed", "failed"];
// Shown in an event's heading, or as its output: the rest of its fields go under "Details".
const HEADLINE = ["eventID", "eventType", "functionName", "functionCallID", "callID", "createdAt", "message", "transformedContent", "correctedContent", "s3URL"];

function fileLinks(inputs) {
  return h(
    "ul",
    { class: "files" },
    inputs.map((input, index) =>
      h(
        "li",
        {},
        h("a", { href: input.s3URL, download: "" }, `Download ${input.itemReferenceID ?? `file ${index + 1}`}`),
        h("span", { class: "muted" }, ` ${input.inputType}`),
      ),
    ),
  );
}

/** What a function call's (or a call's) model requests used: "2 requests, 1,234 + 56 tokens (gpt-4o), est. cost 0.0042". */
function usageText(usage) {
  const count = (n) => n.toLocaleString("en");
  const parts = [
    `${count(usage.requests)} model ${usage.requests === 1 ? "request" : "requests"}`,
    `${count(usage.promptTokens)} + ${count(usage.completionTokens)} tokens` + (usage.models.length ? ` (${usage.models.join(", ")})` : ""),
  ];
  if (usage.estimatedCost !== undefined) parts.push(`est. cost ${usage.estimatedCost}`);
  return parts.join(", ");
}

function callInputs(call) {
  if (call.input.singleFile) return [call.input.singleFile];
  return call.input.batchFiles.inputs;
}

/** What a send event says in a line: where it delivered, and the receiver's answer. */
function deliverySummary(event) {
  if (event.webhookOutput) return `Delivered to the webhook: HTTP ${event.webhookOutput.httpStatusCode}`;
  if (event.s3Output) return `Stored as s3://${event.s3Output.bucketName}/${event.s3Output.key}`;
  return `Delivery: ${event.deliveryStatus}`;
}

function eventCard(event, reload) {
  const details = Object.fromEntries(Object.entries(event).filter(([name, value]) => !HEADLINE.includes(name) && value !== null));
  return h(
    "article",
    { class: `event ${event.eventType}` },
    h(
      "header",
      {},
      h("strong", {}, event.eventType),
      event.referenceID ? h("span", {}, ` · ${event.referenceID}`) : null,
      h("span", { class: "muted" }, " · ", when(event.createdAt), " · ", h("code", {}, event.eventID)),
    ),
    event.message ? errorBox(event.message) : null,
    event.eventType === "send" ? h("p", { class: "delivery" }, deliverySummary(event)) : null,
    citedDocument(event),
    event.transformedContent !== undefined ? json(event.transformedContent) : null,
    event.correctedContent !== undefined ? h("div", {}, h("strong", {}, "Corrected"), json(event.correctedContent)) : null,
    event.transformationID && event.transformedContent && event.eventType !== "parse" ? reviewForm(event, reload) : null,
    event.s3URL ? h("p", {}, h("a", { href: event.s3URL, download: "" }, "Download the input of this event")) : null,
    Object.keys(details).length ? h("details", {}, h("summary", {}, "Details"), json(details)) : null,
  );
}

function functionCallNode(fc, childrenOf, eventsOf, card) {
  const events = eventsOf.get(fc.functionCallID) ?? [];
  const children = childrenOf.get(fc.functionCallID) ?? [];
  return h(
    "li",
    { "data-function-call": fc.functionCallID },
    h(
      "div",
      { class: "node" },
      h(
        "div",
        {},
        badge(fc.status),
        " ",
        h("a", { href: route("functions", fc.functionName) }, h("strong", {}, fc.functionName)),
        h("span", { class: "muted" }, ` ${fc.type} v${fc.functionVersionNum} · `, h("code", {}, fc.functionCallID)),
        fc.startedAt ? h("span", { class: "muted" }, " · started ", when(fc.startedAt), fc.finishedAt ? `, took ${duration(fc.startedAt, fc.finishedAt)}` : "") : null,
      ),
      fc.usage ? h("p", { class: "muted usage" }, usageText(fc.usage)) : null,
      fc.activity.length
        ? h("ol", { class: "activity", "aria-label": "Activity" }, fc.activity.map((step) => h("li", {}, badge(step.status), " ", step.displayName)))
        : null,
      fc.inputs.length ? fileLinks(fc.inputs) : null,
    ),
    events.length ? h("div", { class: "events" }, events.map(card)) : null,
    children.length ? h("ul", { class: "tree" }, children.map((child) => functionCallNode(child, childrenOf, eventsOf, card))) : null,
  );
}

/** The function calls as a forest: roots are those no function call of this call started. */
function graph(call, events, reload) {
  const card = (event) => eventCard(event, reload);
  const ids = new Set(call.functionCalls.map((fc) => fc.functionCallID));
  const childrenOf = new Map();
  const roots = [];
  for (const fc of call.functionCalls) {
    const source = fc.sourceFunctionCallID;
    if (source && ids.has(source)) childrenOf.set(source, [...(childrenOf.get(source) ?? []), fc]);
    else roots.push(fc);
  }
  const eventsOf = new Map();
  for (const event of events) eventsOf.set(event.functionCallID, [...(eventsOf.get(event.functionCallID) ?? []), event]);
  const orphans = events.filter((event) => !ids.has(event.functionCallID));
  return [
    roots.length ? h("ul", { class: "tree root" }, roots.map((fc) => functionCallNode(fc, childrenOf, eventsOf, card))) : h("p", { class: "muted" }, "No function call yet."),
    orphans.length ? h("div", { class: "events" }, orphans.map(card)) : null,
  ];
}

export async function callView({ args: [callID], reload, signal }) {
  const [{ call }, events] = await Promise.all([
    get(`/v2/calls/${encodeURIComponent(callID)}`),
    getAll("/v1-alpha/events", { callIDs: callID }, "events", (event) => event.eventID),
  ]);
  const finished = TERMINAL.includes(call.status);
  // follow it until it is done: shown again (with its new events) each time its status changes
  if (!finished) follow({ callIDs: callID }, (changed) => changed.status !== call.status && reload(), signal);
  const [name, version, kind] =
    call.callType === "workflow"
      ? [call.workflowName, call.workflowVersionNum, "workflows"]
      : [call.functionName, call.functionVersionNum, "functions"];
  const errors = events.filter((event) => event.eventType === "error").length;
  return h(
    "div",
    {},
    h("p", { class: "crumbs" }, h("a", { href: route("calls") }, "← Calls")),
    h("h1", {}, "Call ", h("code", {}, call.callID), " ", badge(call.status)),
    fields([
      ["Type", call.callType],
      [call.callType === "workflow" ? "Workflow" : "Function", [h("a", { href: route(kind, name) }, name), ` v${version}`]],
      ["Function type", call.functionType],
      ["Reference", call.callReferenceID],
      ["Created", when(call.createdAt)],
      ["Finished", call.finishedAt ? [when(call.finishedAt), ` (took ${duration(call.createdAt, call.finishedAt)})`] : finished ? "" : "not yet — following"],
      ["Results", `${events.length} ${events.length === 1 ? "event" : "events"}${errors ? `, ${errors} ${errors === 1 ? "error" : "errors"}` : ""}`],
      ["Model usage", call.usage ? usageText(call.usage) : undefined],
    ]),
    section("Inputs", fileLinks(callInputs(call))),
    section("Function calls and results", graph(call, events, reload)),
  );
}
