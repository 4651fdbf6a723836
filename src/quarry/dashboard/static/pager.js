// Cursor paging both ways over any list of the API (Stripe semantics, docs/decisions.md
// "Pagination"): Next asks for the items after the last one shown (startingAfter), Previous
// for the items immediately before the first one (endingBefore). One item more than shown is
// asked for, so the page knows whether there is anything further in the direction it went;
// in the other direction there is, since the cursor item itself is there.

import { get } from "./api.js";
import { h } from "./dom.js";

export const CURSORS = ["startingAfter", "endingBefore"];
export const ORDERS = { desc: "newest first", asc: "oldest first" }; // what each list says it is in
const MAX_LIMIT = 99; // the API's limit is 100, and one more item is asked for

export function pageSize(query, fallback) {
  const limit = Number.parseInt(query.get("limit") ?? "", 10);
  return Number.isInteger(limit) && limit >= 1 ? Math.min(limit, MAX_LIMIT) : fallback;
}

/** One page of ``path``: {items, total, order (in words), hasPrevious, hasNext}. ``query`` holds filters, limit and cursor. */
export async function fetchPage(path, listKey, query, defaults) {
  const limit = pageSize(query, defaults.limit);
  const params = { sortOrder: defaults.sortOrder, ...Object.fromEntries(query), limit: limit + 1 };
  const body = await get(path, params);
  let items = body[listKey];
  const more = items.length > limit;
  const order = ORDERS[params.sortOrder];
  if (query.has("endingBefore")) {
    if (more) items = items.slice(1); // the extra item is the farthest from the cursor: first
    return { items, total: body.totalCount, order, hasPrevious: more, hasNext: items.length > 0 };
  }
  if (more) items = items.slice(0, limit);
  return { items, total: body.totalCount, order, hasPrevious: query.has("startingAfter") && items.length > 0, hasNext: more };
}

/** Previous and Next buttons, if there is anywhere to go; ``go(query)`` shows the list with another query. */
export function pagerControls(page, query, idOf, go) {
  if (!page.hasPrevious && !page.hasNext) return null;
  const to = (cursor, item) => () => {
    const next = new URLSearchParams(query);
    for (const name of CURSORS) next.delete(name);
    next.set(cursor, idOf(item));
    go(next);
  };
  const first = page.items[0];
  const last = page.items[page.items.length - 1];
  return h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", disabled: !page.hasPrevious, onclick: page.hasPrevious && to("endingBefore", first) }, "← Previous"),
    h("button", { type: "button", disabled: !page.hasNext, onclick: page.hasNext && to("startingAfter", last) }, "Next →"),
  );
}
