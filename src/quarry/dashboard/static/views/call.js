// One call: its fields, its inputs, and the graph of its function calls (each one under the
// function call whose event started it, via sourceFunctionCallID) with each one's activity and
// results: the events it produced (GET /v1-alpha/events?callIDs=…), outputs and errors.

import { follow, get, getAll, post } from "../api.js";
import { badge, duration, errorBox, fields, h, json, route, section, when } from "../dom.js";

const TERMINAL = ["completed", "failed"];
// Shown in an event's heading, or as its output: the rest of its fields go under "Details".
const HEADLINE = ["eventID", "eventType", "functionName", "functionCallID", "callID", "createdAt", "message", "transformedContent", "correctedContent", "s3URL"];
const PAGED = ["pdf", "png", "jpeg", "webp", "heic", "heif"]; // inputs whose pages Quarry renders as images

/** The value at an RFC 6901 pointer. */
function at(value, pointer) {
  for (const part of pointer.split("/").slice(1)) value = value?.[part.replaceAll("~1", "/").replaceAll("~0", "~")];
  return value;
}

/** An extraction beside its document: each cited page (an image Quarry renders, loaded lazily)
 * with the regions its fields were read from; selecting a field highlights its regions. Fields
 * under the review confidence, and those written nowhere in the document, are marked. */
function citedDocument(event) {
  const boxes = event.fieldBoundingBoxes;
  const doubtful = new Set(event.fieldsNeedingReview ?? []);
  const ungrounded = new Set(event.ungroundedFields ?? []);
  const pointers = [...new Set([...Object.keys(event.fieldConfidences ?? {}), ...Object.keys(boxes), ...ungrounded])].sort();
  const pages = [...new Set(Object.values(boxes).flat().map((box) => box.page))].sort((a, b) => a - b);
  const regions = [];
  const figures = pages.map((number) => {
    const figure = h("figure", { class: "cited-page", "data-page": number }, h("img", { src: `${event.s3URL}&page=${number}`, alt: `Page ${number}`, loading: "lazy" }));
    for (const [pointer, cited] of Object.entries(boxes)) {
      for (const box of cited.filter((b) => b.page === number)) {
        const region = h("div", { class: "region", "data-pointer": pointer, title: `${pointer}: ${box.text}` });
        Object.assign(region.style, { left: `${box.left * 100}%`, top: `${box.top * 100}%`, width: `${box.width * 100}%`, height: `${box.height * 100}%` });
        figure.append(region);
        regions.push(region);
      }
    }
    return figure;
  });
  function select(pointer) {
    for (const region of regions) region.classList.toggle("selected", region.dataset.pointer === pointer);
    regions.find((region) => region.dataset.pointer === pointer)?.scrollIntoView({ block: "center", behavior: "smooth" });
  }
  const rows = pointers.map((pointer) => {
    const confidence = event.fieldConfidences?.[pointer];
    const marks = [ungrounded.has(pointer) ? "not found in the document" : null, doubtful.has(pointer) ? "needs review" : null].filter(Boolean);
    return h(
      "li",
      { class: [ungrounded.has(pointer) ? "ungrounded" : "", doubtful.has(pointer) ? "doubtful" : ""].join(" ").trim() },
      h("button", { type: "button", "data-pointer": pointer, onclick: () => select(pointer) }, h("code", {}, pointer)),
      " ",
      JSON.stringify(at(event.transformedContent, pointer)),
      confidence === undefined ? "" : h("span", { class: "muted" }, ` ${Math.round(confidence * 100)} %`),
      marks.length ? h("span", { class: "mark" }, ` ${marks.join(", ")}`) : null,
    );
  });
  return h("div", { class: "cited" }, h("ul", { class: "cited-fields", "aria-label": "Fields" }, rows), h("div", { class: "cited-pages" }, figures));
}

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

function callInputs(call) {
  if (call.input.singleFile) return [call.input.singleFile];
  return call.input.batchFiles.inputs;
}

/** Every leaf of a JSON value: [pointer, value]. */
function leaves(value, pointer = "") {
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([key, item]) => leaves(item, `${pointer}/${String(key).replaceAll("~", "~0").replaceAll("/", "~1")}`));
  }
  return [[pointer, value]];
}

function setAt(value, pointer, leaf) {
  const parts = pointer.split("/").slice(1).map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"));
  let holder = value;
  for (const part of parts.slice(0, -1)) holder = holder[part];
  holder[parts[parts.length - 1]] = leaf;
}

/** What a person typed, as the type the extracted value had (a number stays a number). */
function typed(text, like) {
  if (typeof like === "number" && text.trim() !== "" && !Number.isNaN(Number(text))) return Number(text);
  if (typeof like === "boolean" && ["true", "false"].includes(text.trim())) return text.trim() === "true";
  if (like === null && text === "") return null;
  return text;
}

/** A person approves an extraction as it is, or corrects its fields: either is recorded as the
 * event's correction (POST /v3/events/{eventID}/feedback), which counts in the function's metrics. */
function reviewForm(event, reload) {
  const content = event.correctedContent ?? event.transformedContent;
  const fieldsOf = leaves(content).filter(([pointer]) => pointer !== "");
  const status = h("p", { class: "muted", role: "status" }, event.correctedContent !== undefined ? "Reviewed: the correction below is recorded." : "");
  async function send(correction) {
    try {
      await post(`/v3/events/${encodeURIComponent(event.eventID)}/feedback`, { correction });
      reload();
    } catch (error) {
      status.replaceChildren(errorBox(error.message));
    }
  }
  const inputs = fieldsOf.map(([pointer, value]) => h("input", { name: pointer, value: value === null ? "" : String(value), "aria-label": pointer }));
  const form = h(
    "form",
    {
      class: "review",
      onsubmit: (submitted) => {
        submitted.preventDefault();
        const corrected = structuredClone(content);
        inputs.forEach((input, index) => setAt(corrected, input.name, typed(input.value, fieldsOf[index][1])));
        send(corrected);
      },
    },
    fieldsOf.map(([pointer], index) => h("label", {}, h("code", {}, pointer), " ", inputs[index])),
    h("div", {}, h("button", { type: "button", onclick: () => send(event.transformedContent) }, "Approve as extracted"), " ", h("button", { type: "submit" }, "Save correction")),
    status,
  );
  return h("details", { class: "review-panel", open: event.needsReview && event.correctedContent === undefined }, h("summary", {}, "Review"), form);
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
    event.fieldBoundingBoxes && event.s3URL && PAGED.includes(event.inputType) ? citedDocument(event) : null,
    event.transformedContent !== undefined ? json(event.transformedContent) : null,
    event.correctedContent !== undefined ? h("div", {}, h("strong", {}, "Corrected"), json(event.correctedContent)) : null,
    event.transformationID && event.transformedContent ? reviewForm(event, reload) : null,
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
    ]),
    section("Inputs", fileLinks(callInputs(call))),
    section("Function calls and results", graph(call, events, reload)),
  );
}
