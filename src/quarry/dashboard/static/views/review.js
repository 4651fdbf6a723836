// The review queue: the extractions that need a person (a field under the review confidence,
// found nowhere in the document, or held by a workflow's review gate) and that nobody reviewed
// yet, oldest first, one at a time — each decision (approve or correct) moves on to the next.

import { get } from "../api.js";
import { h, route } from "../dom.js";
import { citedDocument, reviewForm } from "./extraction.js";

const AGES = [["", "any"], ["3600", "older than an hour"], ["86400", "older than a day"], ["604800", "older than a week"]]; // seconds

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
    h(
      "label",
      {},
      "Age ",
      h(
        "select",
        { name: "olderThan" },
        AGES.map(([value, label]) => h("option", { value, selected: (query.get("olderThan") ?? "") === value }, label)),
      ),
    ),
    h("button", { type: "submit" }, "Apply"),
  );
}

export async function reviewView({ query, go, reload }) {
  const filters = Object.fromEntries(["functionNames", "workflowNames"].map((name) => [name, query.get(name)]));
  const age = Number(query.get("olderThan"));
  if (age > 0) filters.createdBefore = new Date(Date.now() - age * 1000).toISOString();
  const waiting = { ...filters, needsReview: true, isLabelled: false, sortOrder: "asc" };
  const { outputs } = await get("/v3/outputs", { ...waiting, limit: 1 });
  const [event] = outputs;
  return h(
    "div",
    {},
    h("h1", {}, "Review"),
    h("p", { class: "muted" }, "Extractions that need a person and that nobody reviewed yet, oldest first. A call held by a review gate goes on once its extraction is approved or corrected."),
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
          citedDocument(event),
          reviewForm({ ...event, needsReview: true }, reload),
        )
      : h("p", { class: "empty" }, "Nothing to review."),
  );
}
