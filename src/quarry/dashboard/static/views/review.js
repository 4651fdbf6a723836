// The review queue: the extractions that need a person (a field under the review confidence, or
// found nowhere in the document) and that nobody reviewed yet, oldest first, one at a time —
// each decision (approve or correct) moves on to the next.

import { get } from "../api.js";
import { h, route } from "../dom.js";
import { citedDocument, PAGED, reviewForm } from "./extraction.js";

function filterForm(query, go) {
  const input = (name, label) => h("label", {}, `${label} `, h("input", { name, value: query.get(name) ?? "", placeholder: "name, name…" }));
  return h(
    "form",
    {
      class: "filters",
      onsubmit: (submitted) => {
        submitted.preventDefault();
        const next = new URLSearchParams();
        for (const [name, value] of new FormData(submitted.target)) if (String(value).trim()) next.set(name, String(value).trim());
        go(next);
      },
    },
    input("functionNames", "Function"),
    input("workflowNames", "Workflow"),
    h("button", { type: "submit" }, "Apply"),
  );
}

export async function reviewView({ query, go, reload }) {
  const filters = Object.fromEntries(["functionNames", "workflowNames"].map((name) => [name, query.get(name)]));
  const waiting = { ...filters, needsReview: true, isLabelled: false, sortOrder: "asc" };
  const { outputs } = await get("/v3/outputs", { ...waiting, limit: 1 });
  const [event] = outputs;
  return h(
    "div",
    {},
    h("h1", {}, "Review"),
    h("p", { class: "muted" }, "Extractions that need a person and that nobody reviewed yet, oldest first."),
    filterForm(query, go),
    event
      ? h(
          "article",
          { class: "event to-review", "data-event": event.eventID },
          h(
            "header",
            {},
            h("strong", {}, event.functionName),
            event.referenceID ? h("span", {}, ` · ${event.referenceID}`) : null,
            " · ",
            h("a", { href: route("calls", event.callID) }, "its call"),
          ),
          event.fieldBoundingBoxes && event.pagesURL && PAGED.includes(event.inputType) ? citedDocument(event) : null,
          reviewForm({ ...event, needsReview: true }, reload),
        )
      : h("p", { class: "empty" }, "Nothing to review."),
  );
}
