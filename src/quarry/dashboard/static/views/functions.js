// Functions: the list, and one function with its current definition, its accuracy and its versions.

import { get } from "../api.js";
import { fields, h, json, route, table, when } from "../dom.js";
import { fetchPage, pagerControls } from "../pager.js";
import { accuracySections } from "./accuracy.js";
import { newFunctionForm } from "./newfunction.js";
import { versionsSection } from "./versions.js";

const PAGE_SIZE = 50;

function usedIn(fn) {
  return (fn.usedInWorkflows ?? []).map((use, index) => [index ? ", " : "", h("a", { href: route("workflows", use.workflowName) }, use.workflowName)]);
}

/** Where a send function delivers: its webhook URL, or s3://bucket/prefix. */
function destination(fn) {
  if (fn.type !== "send") return undefined;
  return fn.webhookUrl ?? `s3://${fn.s3Bucket}/${fn.s3Prefix ?? ""}`;
}

export async function functionsView({ query, go }) {
  const page = await fetchPage("/v2/functions", "functions", query, { limit: PAGE_SIZE, sortOrder: "asc" });
  const rows = page.items.map((fn) => [
    h("a", { href: route("functions", fn.functionName) }, fn.functionName),
    fn.type,
    `v${fn.versionNum}`,
    usedIn(fn),
    (fn.tags ?? []).join(", "),
    when(fn.audit?.functionLastUpdatedBy?.createdAt),
  ]);
  return h(
    "div",
    {},
    h("h1", {}, "Functions"),
    h("p", { class: "count" }, `${page.total} ${page.total === 1 ? "function" : "functions"}, ${page.order}`),
    table(["Name", "Type", "Version", "Used in workflows", "Tags", "Last updated"], rows, "No functions yet."),
    pagerControls(page, query, (fn) => fn.functionID, go),
    newFunctionForm(),
  );
}

export async function functionView({ args: [name], query, go, signal }) {
  const path = `/v2/functions/${encodeURIComponent(name)}`;
  const current = get(path);
  const [fn, accuracy, versions] = await Promise.all([
    current,
    current.then((fn) => accuracySections(fn, signal)),
    versionsSection(`${path}/versions`, query, go, (version) => fields([["Type", version.type], ["Description", version.description]])),
  ]);
  return h(
    "div",
    {},
    h("p", { class: "crumbs" }, h("a", { href: route("functions") }, "← Functions")),
    h("h1", {}, fn.functionName),
    fields([
      ["Type", fn.type],
      ["Current version", `v${fn.versionNum}`],
      ["ID", h("code", {}, fn.functionID)],
      ["Display name", fn.displayName],
      ["Description", fn.description],
      ["Email address", fn.emailAddress],
      ["Delivers to", destination(fn)],
      ["Used in workflows", usedIn(fn)],
      ["Calls", h("a", { href: `${route("calls")}?functionNames=${encodeURIComponent(fn.functionName)}` }, "Calls of this function")],
    ]),
    h("details", {}, h("summary", {}, "Current definition"), json(fn)),
    accuracy,
    versions,
  );
}
