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
  const response = await fetch(url, { headers: { "x-api-key": key ?? "", accept: "application/json" } });
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
