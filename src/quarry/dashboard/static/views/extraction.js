// An extraction as a person checks it: beside its document (the cited pages, a region per
// citation) and with a review form that approves it or corrects its fields.

import { post } from "../api.js";
import { errorBox, h } from "../dom.js";

export const PAGED = ["pdf", "png", "jpeg", "webp", "heic", "heif"]; // inputs whose pages Quarry renders as images

/** The value at an RFC 6901 pointer. */
function at(value, pointer) {
  for (const part of pointer.split("/").slice(1)) value = value?.[part.replaceAll("~1", "/").replaceAll("~0", "~")];
  return value;
}

/** An extraction beside its document: each cited page (an image Quarry renders, loaded lazily)
 * with the regions its fields were read from; selecting a field highlights its regions. Fields
 * under the review confidence, and those written nowhere in the document, are marked. */
export function citedDocument(event) {
  const boxes = event.fieldBoundingBoxes;
  const doubtful = new Set(event.fieldsNeedingReview ?? []);
  const ungrounded = new Set(event.ungroundedFields ?? []);
  const pointers = [...new Set([...Object.keys(event.fieldConfidences ?? {}), ...Object.keys(boxes), ...ungrounded])].sort();
  const pages = [...new Set(Object.values(boxes).flat().map((box) => box.page))].sort((a, b) => a - b);
  const regions = [];
  const figures = pages.map((number) => {
    const figure = h("figure", { class: "cited-page", "data-page": number }, h("img", { src: `${event.pagesURL}&page=${number}`, alt: `Page ${number}`, loading: "lazy" }));
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
export function reviewForm(event, reload) {
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
