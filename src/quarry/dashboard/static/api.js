// The API, called as any client calls it: same origin, the key in x-api-key. The key lives in
// sessionStorage: it is gone when the tab closes and never reaches another site.

const STORAGE_KEY = "quarry.apiKey";

export const session = {
  get key() {
    return sessionStorage.getItem(STORAGE_KEY);
  },
  signIn(key) {
    sessionStorage.setItem(STORAGE_KEY, key);
  },
  signOut() {
    sessionStorage.removeItem(STORAGE_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET ``path`` with ``params`` (empty ones left out); the body, or an ApiError with the API's message. */
export async function get(path, params = {}, key = session.key) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  return answer(await fetch(url, { headers: { "x-api-key": key ?? "", accept: "application/json" } }));
}

/** POST ``body`` as JSON to ``path``; the answer's body, or an ApiError with the API's message. */
export async function post(path, body) {
  const headers = { "x-api-key": session.key ?? "", accept: "application/json", "content-type": "application/json" };
  return answer(await fetch(new URL(path, location.origin), { method: "POST", headers, body: JSON.stringify(body) }));
}

/** POST ``file`` as the multipart field ``field`` to ``path``; the answer's body, or an ApiError. */
export async function upload(path, field, file) {
  const body = new FormData();
  body.append(field, file, file.name);
  const headers = { "x-api-key": session.key ?? "", accept: "application/json" };
  return answer(await fetch(new URL(path, location.origin), { method: "POST", headers, body }));
}

async function answer(response) {
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body?.message ?? `${response.status} ${response.statusText}`);
  return body;
}

/** Every item of a list, following startingAfter until a short page (for the events of one call). */
export async function getAll(path, params, listKey, idOf) {
  const items = [];
  for (let after; ; ) {
    const page = (await get(path, { ...params, limit: 100, startingAfter: after }))[listKey];
    items.push(...page);
    if (page.length < 100) return items;
    after = idOf(page[page.length - 1]);
  }
}

/**
 * Follow the calls passing ``params`` (List Calls' filters) on the stream of call changes:
 * ``onCall(call)`` for each unfinished call at first, then for each change, until ``signal`` is
 * aborted. Read with fetch(), not EventSource: EventSource cannot send the x-api-key header, and
 * the key must not travel in a URL (URLs end up in logs and histories). A dropped stream is
 * resumed after its last event (Last-Event-ID), as EventSource would.
 */
export async function follow(params, onCall, signal) {
  const url = new URL("/v2/calls/stream", location.origin);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  let lastEventID = null;
  while (!signal.aborted) {
    try {
      const headers = { "x-api-key": session.key ?? "", accept: "text/event-stream" };
      if (lastEventID) headers["last-event-id"] = lastEventID;
      const response = await fetch(url, { headers, signal });
      if (response.status >= 400 && response.status < 500) return; // refused: nothing to follow
      if (!response.ok) throw new ApiError(response.status, response.statusText);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      let fields = {};
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const lines = (buffer + value).split(/\r\n|\r|\n/);
        buffer = lines.pop();
        for (const line of lines) {
          if (line === "") {
            if (fields.id) lastEventID = fields.id;
            if (fields.event === "call" && fields.data) onCall(JSON.parse(fields.data).call);
            fields = {};
          } else if (!line.startsWith(":")) {
            const colon = line.indexOf(":");
            const name = colon < 0 ? line : line.slice(0, colon);
            const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
            fields[name] = name === "data" && fields.data !== undefined ? `${fields.data}\n${text}` : text;
          }
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000)); // then reconnect
  }
}
