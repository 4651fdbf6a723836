// Sign in with an API key: the key is checked against the API before it is kept, so a wrong one
// shows the API's own answer (401 "Invalid or revoked API key").

import { get, session } from "../api.js";
import { errorBox, h } from "../dom.js";

export function signInView(message, done) {
  const input = h("input", { type: "password", id: "api-key", name: "apiKey", required: true, autocomplete: "off", spellcheck: "false" });
  const status = h("div", { class: "status" }, message ? errorBox(message) : null);
  const button = h("button", { type: "submit" }, "Sign in");
  async function submit(event) {
    event.preventDefault();
    const key = input.value.trim();
    button.disabled = true;
    status.replaceChildren(h("p", { class: "muted" }, "Checking the key…"));
    try {
      await get("/v2/functions", { limit: 1 }, key);
    } catch (error) {
      button.disabled = false;
      status.replaceChildren(errorBox(error.message));
      return;
    }
    session.signIn(key);
    if (!location.hash.startsWith("#/")) history.replaceState(null, "", "#/calls");
    done();
  }
  return h(
    "form",
    { class: "sign-in", onsubmit: submit },
    h("h1", {}, "Sign in to Quarry"),
    h("p", { class: "muted" }, "Paste an API key: the one printed at the server's first start, or one made with ", h("code", {}, "quarry keys create --environment production"), "."),
    h("label", { for: "api-key" }, "API key"),
    input,
    button,
    status,
  );
}
