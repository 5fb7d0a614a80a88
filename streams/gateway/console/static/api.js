// Shared by the console's pages: the API key (kept in sessionStorage: no cookies, so no
// cross-site request can act with it), calls to the public API, and small helpers.

const KEY_STORAGE = "cutstream.key";
export const $ = (id) => document.getElementById(id);
export const NO_KEY = "Set an API key at the top of the page to see this account's ";

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function errorOf(response) {
  let code = "http_" + response.status;
  let message = response.statusText || "request failed";
  try {
    const body = await response.json();
    const error = body.error || (body.errors && body.errors[0]) || body;
    code = error.code || code;
    message = error.message || error.title || message;
  } catch {
    // not JSON: keep the status line
  }
  if (response.status === 401) message += " (set an API key at the top of the page)";
  return new ApiError(response.status, code, message);
}

export async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (apiKey()) headers.set("Authorization", "Bearer " + apiKey());
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) throw await errorOf(response);
  return response;
}

export function seconds(value) {
  if (value === null || value === undefined) return "—";
  if (value < 90) return Math.round(value) + " s";
  if (value < 5400) return Math.round(value / 60) + " min";
  return (value / 3600).toFixed(1) + " h";
}

export function cell(row, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  row.append(td);
  return td;
}

export function plural(count, noun) {
  return count + " " + noun + (count === 1 ? "" : "s");
}
