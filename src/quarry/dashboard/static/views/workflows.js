// Workflows: the list, and one workflow with its graph of functions and its versions.

import { get } from "../api.js";
import { fields, h, route, table, when } from "../dom.js";
import { fetchPage, pagerControls } from "../pager.js";
import { versionsSection } from "./versions.js";

const PAGE_SIZE = 50;

function functionLink(ref) {
  return h("a", { href: route("functions", ref.name) }, ref.name);
}

/** Main function, then each relationship as "source → destination (label)". */
function shape(workflow) {
  return fields([
    ["Main function", functionLink(workflow.mainFunction)],
    [
      "Relationships",
      workflow.relationships.length
        ? h(
            "ul",
            { class: "edges" },
            workflow.relationships.map((edge) =>
              h("li", {}, functionLink(edge.sourceFunction), " → ", functionLink(edge.destinationFunction), edge.destinationName ? ` (${edge.destinationName})` : ""),
            ),
          )
        : "none",
    ],
  ]);
}

export async function workflowsView({ query, go }) {
  const page = await fetchPage("/v2/workflows", "workflows", query, { limit: PAGE_SIZE, sortOrder: "asc" });
  const rows = page.items.map((workflow) => [
    h("a", { href: route("workflows", workflow.name) }, workflow.name),
    `v${workflow.versionNum}`,
    functionLink(workflow.mainFunction),
    String(workflow.relationships.length),
    (workflow.tags ?? []).join(", "),
    when(workflow.updatedAt),
  ]);
  return h(
    "div",
    {},
    h("h1", {}, "Workflows"),
    h("p", { class: "count" }, `${page.total} ${page.total === 1 ? "workflow" : "workflows"}, ${page.order}`),
    table(["Name", "Version", "Main function", "Relationships", "Tags", "Last updated"], rows, "No workflows yet."),
    pagerControls(page, query, (workflow) => workflow.id, go),
  );
}

export async function workflowView({ args: [name], query, go }) {
  const path = `/v2/workflows/${encodeURIComponent(name)}`;
  const [{ workflow }, versions] = await Promise.all([get(path), versionsSection(`${path}/versions`, query, go, shape)]);
  return h(
    "div",
    {},
    h("p", { class: "crumbs" }, h("a", { href: route("workflows") }, "← Workflows")),
    h("h1", {}, workflow.name),
    fields([
      ["Current version", `v${workflow.versionNum}`],
      ["ID", h("code", {}, workflow.id)],
      ["Display name", workflow.displayName],
      ["Description", workflow.description],
      ["Email address", workflow.emailAddress],
      ["Calls", h("a", { href: `${route("calls")}?workflowNames=${encodeURIComponent(workflow.name)}` }, "Calls of this workflow")],
    ]),
    shape(workflow),
    versions,
  );
}
