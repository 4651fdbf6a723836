// The single page: hash routes (#/calls, #/calls/<id>, #/functions, …) mapped to views. A view
// is an async function of the route that returns the node to show; a newer navigation wins over
// a view still loading.

import { ApiError, session } from "./api.js";
import { errorBox, h } from "./dom.js";
import { callView } from "./views/call.js";
import { callsView } from "./views/calls.js";
import { functionsView, functionView } from "./views/functions.js";
import { reviewView } from "./views/review.js";
import { signInView } from "./views/signin.js";
import { workflowsView, workflowView } from "./views/workflows.js";

const ROUTES = [
  [/^calls$/, callsView],
  [/^calls\/([^/]+)$/, callView],
  [/^functions$/, functionsView],
  [/^functions\/([^/]+)$/, functionView],
  [/^workflows$/, workflowsView],
  [/^workflows\/([^/]+)$/, workflowView],
  [/^review$/, reviewView],
];

const main = document.getElementById("view");
const bar = document.querySelector("header.bar");
let shown = 0; // the navigation being shown: a slower, older one must not overwrite it

function parseHash() {
  const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?", 2);
  return { path, query: new URLSearchParams(search) };
}

function navigate(path, query) {
  const search = query && query.toString();
  location.hash = `#/${path}${search ? `?${search}` : ""}`;
}

function signedOut(message) {
  shown++; // a view still loading is not shown once signed out
  session.signOut();
  bar.hidden = true;
  document.title = "Sign in · Quarry";
  main.replaceChildren(signInView(message, show));
}

let following = new AbortController(); // streams of the view shown: ended when another is shown

async function show() {
  const navigation = ++shown;
  following.abort();
  following = new AbortController();
  const signal = following.signal;
  if (!session.key) return signedOut();
  const { path, query } = parseHash();
  const match = ROUTES.map(([pattern, view]) => [path.match(pattern), view]).find(([found]) => found);
  if (!match) return navigate("calls");
  const [found, view] = match;
  bar.hidden = false;
  const sectionName = path.split("/")[0];
  for (const link of bar.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.section === sectionName);
  }
  const current = location.hash;
  const stillShown = () => navigation === shown && location.hash === current;
  let node;
  try {
    const args = found.slice(1).map(decodeURIComponent);
    node = await view({ args, query, signal, go: (next) => navigate(path, next), reload: () => stillShown() && show() });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return navigation === shown && signedOut(error.message);
    node = h("div", {}, h("h1", {}, "Something went wrong"), errorBox(error.message));
  }
  if (navigation !== shown) return;
  main.replaceChildren(node);
  document.title = `${main.querySelector("h1")?.textContent ?? "Dashboard"} · Quarry`;
}

document.getElementById("sign-out").addEventListener("click", () => {
  signedOut();
  history.replaceState(null, "", location.pathname);
});
window.addEventListener("hashchange", show);
show();
