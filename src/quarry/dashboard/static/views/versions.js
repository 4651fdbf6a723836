// The versions of a function or a workflow, newest first and paged by version number: each one
// summarised, with its whole definition a click away.

import { fetchPage, pagerControls } from "../pager.js";
import { h, json, section, when } from "../dom.js";

const PAGE_SIZE = 20;

/** ``summary(version)`` is what matters about one version of this kind of object. */
export async function versionsSection(path, query, go, summary) {
  const page = await fetchPage(path, "versions", query, { limit: PAGE_SIZE, sortOrder: "desc" });
  const items = page.items.map((version) =>
    h(
      "details",
      { class: "version", "data-version": version.versionNum },
      h(
        "summary",
        {},
        h("strong", {}, `Version ${version.versionNum}`),
        h("span", { class: "muted" }, " · created ", when(version.createdAt ?? version.audit?.versionCreatedBy?.createdAt)),
        version.audit?.versionCreatedBy?.apiKeyName ? h("span", { class: "muted" }, ` with key “${version.audit.versionCreatedBy.apiKeyName}”`) : null,
      ),
      summary(version),
      json(version),
    ),
  );
  return section(
    `Versions (${page.total}, ${page.order})`,
    items.length ? h("div", { class: "versions" }, items) : h("p", { class: "muted" }, "No versions on this page."),
    pagerControls(page, query, (version) => version.versionNum, go),
  );
}
