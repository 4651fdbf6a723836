// Building the page from API data without ever parsing it as HTML: every value becomes a text
// node or an attribute, so a reference ID like "<img onerror=…>" shows as what it is.

const SAFE_URL = /^(https?:\/\/|#|\/(?!\/))/i; // no javascript: or data: links, whatever the data says

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "href" && !SAFE_URL.test(String(value))) continue;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

export function badge(status) {
  return h("span", { class: `badge ${status}` }, status);
}

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return h("time", { datetime: iso, title: iso }, date.toLocaleString());
}

export function duration(start, end) {
  if (!start || !end) return "";
  const ms = new Date(end) - new Date(start);
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

/** A definition list of [label, value] pairs; pairs whose value is empty are left out. */
export function fields(pairs) {
  return h(
    "dl",
    { class: "fields" },
    pairs.filter(([, value]) => value !== undefined && value !== null && value !== "").map(([label, value]) => [
      h("dt", {}, label),
      h("dd", {}, value),
    ]),
  );
}

export function errorBox(message) {
  return h("p", { class: "error", role: "alert" }, message);
}

export function section(title, ...children) {
  return h("section", {}, h("h2", {}, title), ...children);
}

export function table(headings, rows, empty) {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, headings.map((heading) => h("th", {}, heading)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))),
  );
}

/** A link to a page of the dashboard: ``route("functions", name)`` → ``#/functions/<name>``. */
export function route(...parts) {
  return "#/" + parts.map(encodeURIComponent).join("/");
}
