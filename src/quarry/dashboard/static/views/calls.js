// The calls list: the List Calls filters, newest first, paged both ways with cursors. The whole
// state (filters, page size, cursor) is in the hash, so Back and a shared link show the same page.

import { follow, get } from "../api.js";
import { badge, duration, h, route, table, when } from "../dom.js";
import { CURSORS, ORDERS, fetchPage, pagerControls, pageSize } from "../pager.js";

const PAGE_SIZE = 25;
const STATUSES = ["pending", "running", "completed", "failed"];

/** A select of [value, text] options; ``any`` adds a first, empty option (no filter). */
function select(name, label, options, value, any = true) {
  return labelled(
    name,
    label,
    h(
      "select",
      { name, id: `filter-${name}` },
      any && h("option", { value: "" }, "any"),
      options.map(([option, shown]) => h("option", { value: option, selected: option === value }, shown)),
    ),
  );
}

const same = (values) => values.map((value) => [value, value]);

function text(name, label, value, attributes = {}) {
  return labelled(name, label, h("input", { name, id: `filter-${name}`, value: value ?? "", ...attributes }));
}

/** A control with its label beside it, not around it: a select's name would include its options. */
function labelled(name, label, control) {
  return h("div", { class: "field" }, h("label", { for: `filter-${name}` }, label), control);
}

/** Names for the workflow and function inputs to suggest (the first page is plenty to type from). */
async function suggestions() {
  const [workflows, functions] = await Promise.all([get("/v2/workflows", { limit: 100 }), get("/v2/functions", { limit: 100 })]);
  return [
    h("datalist", { id: "workflow-names" }, workflows.workflows.map((w) => h("option", { value: w.name }))),
    h("datalist", { id: "function-names" }, functions.functions.map((f) => h("option", { value: f.functionName }))),
  ];
}

function filterForm(query, go) {
  function submit(event) {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [name, value] of new FormData(event.target)) {
      if (String(value).trim()) next.set(name, String(value).trim());
    }
    go(next); // new filters start from the first page: no cursor
  }
  return h(
    "form",
    { class: "filters", onsubmit: submit, "aria-label": "Filters" },
    text("referenceIDSubstring", "Reference contains", query.get("referenceIDSubstring"), { type: "search" }),
    text("workflowNames", "Workflow", query.get("workflowNames"), { list: "workflow-names", placeholder: "name, name…" }),
    text("functionNames", "Function", query.get("functionNames"), { list: "function-names", placeholder: "name, name…" }),
    select("statuses", "Status", same(STATUSES), query.get("statuses")),
    select("callTypes", "Type", same(["workflow", "function"]), query.get("callTypes")),
    select("sortOrder", "Order", Object.entries(ORDERS), query.get("sortOrder"), false),
    text("limit", "Per page", String(pageSize(query, PAGE_SIZE)), { type: "number", min: 1, max: 99 }),
    h("button", { type: "submit" }, "Apply"),
  );
}

function target(call) {
  return call.callType === "workflow"
    ? [h("a", { href: route("workflows", call.workflowName) }, call.workflowName), ` v${call.workflowVersionNum}`]
    : [h("a", { href: route("functions", call.functionName) }, call.functionName), ` v${call.functionVersionNum}`];
}

/** Keep the status and duration of the page's unfinished calls up to date, from the stream. */
function followUnfinished(calls, cells, signal) {
  const unfinished = calls.filter((call) => !["completed", "failed"].includes(call.status));
  if (!unfinished.length) return;
  const params = { callIDs: unfinished.map((call) => call.callID).join(",") };
  follow(params, (call) => {
    const cell = cells.get(call.callID);
    if (!cell) return;
    cell.status.replaceChildren(badge(call.status));
    cell.took.replaceChildren(duration(call.createdAt, call.finishedAt));
  }, signal);
}

export async function callsView({ query, go, signal }) {
  const [page, datalists] = await Promise.all([
    fetchPage("/v2/calls", "calls", query, { limit: PAGE_SIZE, sortOrder: "desc" }),
    suggestions(),
  ]);
  const filtered = [...query.keys()].some((name) => !CURSORS.includes(name) && !["limit", "sortOrder"].includes(name));
  const cells = new Map();
  const rows = page.items.map((call) => {
    const cell = { status: h("span", {}, badge(call.status)), took: h("span", {}, duration(call.createdAt, call.finishedAt)) };
    cells.set(call.callID, cell);
    return [
      h("a", { href: route("calls", call.callID) }, h("code", {}, call.callID)),
      call.callReferenceID ?? "",
      call.callType,
      target(call),
      cell.status,
      when(call.createdAt),
      cell.took,
    ];
  });
  followUnfinished(page.items, cells, signal);
  return h(
    "div",
    {},
    h("h1", {}, "Calls"),
    filterForm(query, go),
    datalists,
    h("p", { class: "count" }, `${page.total} ${page.total === 1 ? "call" : "calls"}${filtered ? " match the filters" : ""}, ${page.order}`),
    table(["Call", "Reference", "Type", "Workflow or function", "Status", "Created", "Took"], rows, "No calls on this page."),
    pagerControls(page, query, (call) => call.callID, go),
  );
}
