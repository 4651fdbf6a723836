// An extraction as a person checks it: beside its document (the cited pages, a region per
// citation) and with a review form that approves it or corrects its fields.

import { post } from "../api.js";
import { errorBox, h } from "../dom.js";

const PAGED = ["pdf", "png", "jpeg", "webp", "heic", "heif"]; // inputs whose pages Quarry renders as images
const TEXT = ["text"]; // inputs whose text is the file itself

/** The value at an RFC 6901 pointer. */
function at(value, pointer) {
  for (const part of pointer.split("/").slice(1)) value = value?.[part.replaceAll("~1", "/").replaceAll("~0", "~")];
  return value;
}

/** The fields of an extraction as buttons (selecting one calls ``select`` with its pointer), each
 * with its value and confidence; fields under the review confidence, and those written nowhere in
 * the document, are marked. */
function fieldList(event, cited, select) {
  const doubtful = new Set(event.fieldsNeedingReview ?? []);
  const ungrounded = new Set(event.ungroundedFields ?? []);
  const pointers = [...new Set([...Object.keys(event.fieldConfidences ?? {}), ...Object.keys(cited), ...ungrounded])].sort();
  const rows = pointers.map((pointer) => {
    const confidence = event.fieldConfidences?.[pointer];
    const marks = [ungrounded.has(pointer) ? "not found in the document" : null, doubtful.has(pointer) ? "needs review" : null].filter(Boolean);
    const cell = (cited[pointer] ?? []).find((place) => place.cell); // a spreadsheet's cell: Invoice!B3
    return h(
      "li",
      { class: [ungrounded.has(pointer) ? "ungrounded" : "", doubtful.has(pointer) ? "doubtful" : ""].join(" ").trim() },
      h("button", { type: "button", "data-pointer": pointer, onclick: () => select(pointer) }, h("code", {}, pointer)),
      " ",
      JSON.stringify(at(event.transformedContent, pointer)),
      confidence === undefined ? "" : h("span", { class: "muted" }, ` ${Math.round(confidence * 100)} %`),
      cell ? h("span", { class: "cell muted" }, ` ${cell.sheet ? `${cell.sheet}!` : ""}${cell.cell}`) : null,
      marks.length ? h("span", { class: "mark" }, ` ${marks.join(", ")}`) : null,
    );
  });
  return h("ul", { class: "cited-fields", "aria-label": "Fields" }, rows);
}

/** Mark the places (elements with ``data-pointer``) of one field, and bring the first into view. */
function selecting(places) {
  return (pointer) => {
    for (const place of places) place.classList.toggle("selected", place.dataset.pointer === pointer);
    places.find((place) => place.dataset.pointer === pointer)?.scrollIntoView({ block: "center", behavior: "smooth" });
  };
}

/** An extraction beside its document: each cited page (an image Quarry renders, loaded lazily)
 * with the regions its fields were read from; selecting a field highlights its regions. */
function citedPages(event) {
  const boxes = event.fieldBoundingBoxes;
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
  return h("div", { class: "cited" }, fieldList(event, boxes, selecting(regions)), h("div", { class: "cited-pages" }, figures));
}

/** Words as the citations join them: runs of white space as one space. */
const words = (text) => text.split(/\s+/).filter(Boolean).join(" ");

/** An extraction beside its text input: the text as Quarry read it (line ends as \n; offsets
 * count characters, as Python does, not UTF-16 units), each cited span marked. A span whose words
 * are not where it says is left unmarked rather than drawn in the wrong place. */
function citedText(event) {
  const spans = event.fieldTextSpans;
  const holder = h("div", { class: "cited" }, fieldList(event, spans, () => {}), h("pre", { class: "cited-text" }, "…"));
  fetch(event.pagesURL)
    .then((response) => (response.ok ? response.text() : Promise.reject(new Error(response.statusText))))
    .then((file) => {
      const chars = Array.from(file.replaceAll("\r\n", "\n"));
      const slice = (start, end) => chars.slice(start, end).join("");
      const found = Object.entries(spans)
        .flatMap(([pointer, cited]) => cited.map((span) => ({ pointer, ...span })))
        .filter((span) => words(slice(span.start, span.end)) === words(span.text))
        .sort((a, b) => a.start - b.start || b.end - a.end);
      const parts = [];
      const marks = [];
      let at = 0;
      for (const span of found) {
        if (span.start < at) continue; // overlaps one marked already
        parts.push(slice(at, span.start));
        const mark = h("mark", { "data-pointer": span.pointer, title: span.pointer }, slice(span.start, span.end));
        parts.push(mark);
        marks.push(mark);
        at = span.end;
      }
      parts.push(slice(at));
      holder.replaceChildren(fieldList(event, spans, selecting(marks)), h("pre", { class: "cited-text" }, parts));
    })
    .catch((error) => holder.lastChild.replaceChildren(`The input could not be loaded: ${error.message}`));
  return holder;
}

/** The extraction beside its document, where Quarry cited its fields: pages for PDFs and images,
 * the text for text inputs, the fields with their cells for spreadsheets (and the fields alone
 * for other inputs cited by spans); nothing otherwise. */
export function citedDocument(event) {
  if (!event.pagesURL) return null;
  if (event.fieldBoundingBoxes && Object.keys(event.fieldBoundingBoxes).length && PAGED.includes(event.inputType)) return citedPages(event);
  const spans = event.fieldTextSpans ?? {};
  if (!Object.keys(spans).length) return null;
  if (TEXT.includes(event.inputType)) return citedText(event);
  return h("div", { class: "cited" }, fieldList(event, spans, () => {}));
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
