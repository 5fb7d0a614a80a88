// The cutstream console: plain JavaScript modules, no build step. Every action goes
// through the public API with the key typed into the page.

import { loadAccount } from "./account.js";
import { $, apiKey, setApiKey } from "./api.js";
import { loadBatches, stopBatches } from "./batches.js";
import { initTry } from "./try.js";

function showKeyState() {
  $("key-state").textContent = apiKey()
    ? "key set for this tab"
    : "no key yet: open the console link that cutstream up prints, or paste a key";
}

// `cutstream up` prints the console's address with a key in its fragment (#key=…), which
// never reaches the server: kept for this tab, then dropped from the address bar.
function takeKeyFromAddress() {
  if (!location.hash.startsWith("#key=")) return;
  const key = decodeURIComponent(location.hash.slice("#key=".length));
  if (key) setApiKey(key);
  history.replaceState(null, "", location.pathname + location.search + "#try");
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (key) setApiKey(key);
  $("api-key").value = "";
  showKeyState();
  refreshView();
});

$("forget-key").addEventListener("click", () => {
  setApiKey("");
  showKeyState();
});

const VIEWS = ["try", "batches", "account"];

function currentView() {
  const name = location.hash.replace("#", "");
  return VIEWS.includes(name) ? name : "try";
}

function refreshView() {
  const view = currentView();
  for (const name of VIEWS) $("view-" + name).hidden = name !== view;
  for (const link of document.querySelectorAll("nav a[data-view]")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  stopBatches();
  if (view === "batches") loadBatches();
  if (view === "account") loadAccount();
}

window.addEventListener("hashchange", () => {
  refreshView();
  $("main").focus();
});

takeKeyFromAddress();
showKeyState();
initTry();
refreshView();
