// The cutstream console: plain JavaScript, no build step. Every action goes through the
// public API with the key typed into the page (kept in sessionStorage: no cookies, so no
// cross-site request can act with it).
"use strict";

const KEY_STORAGE = "cutstream.key";
const EXTENSIONS = { png: "png", webp: "webp", jpg: "jpg" };
const $ = (id) => document.getElementById(id);

// The API key ------------------------------------------------------------------------

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

function showKeyState() {
  $("key-state").textContent = apiKey() ? "key set for this tab" : "no key yet";
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  $("api-key").value = "";
  showKeyState();
  refreshView();
});

$("forget-key").addEventListener("click", () => {
  sessionStorage.removeItem(KEY_STORAGE);
  showKeyState();
});

class ApiError extends Error {
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
  } catch (_) {
    // not JSON: keep the status line
  }
  if (response.status === 401) message += " (set an API key at the top of the page)";
  return new ApiError(response.status, code, message);
}

async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (apiKey()) headers.set("Authorization", "Bearer " + apiKey());
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) throw await errorOf(response);
  return response;
}

// Views --------------------------------------------------------------------------------

const VIEWS = ["try", "batches", "account"];
let batchTimer = null;

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
  clearTimeout(batchTimer);
  if (view === "batches") loadBatches();
  if (view === "account") loadAccount();
}

window.addEventListener("hashchange", () => {
  refreshView();
  $("main").focus();
});

// Try it -------------------------------------------------------------------------------

let chosen = null; // the picked File
let beforeUrl = null;
let resultUrl = null;

function pick(file) {
  if (!file) return;
  chosen = file;
  $("image-url").value = "";
  if (beforeUrl) URL.revokeObjectURL(beforeUrl);
  beforeUrl = URL.createObjectURL(file);
  $("thumb").src = beforeUrl;
  $("thumb").alt = "Chosen: " + file.name;
  $("thumb").hidden = false;
  $("drop-label").textContent = file.name + " — drop or choose another";
  renderCurl();
}

const drop = $("drop");
drop.addEventListener("click", () => $("file").click());
drop.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    $("file").click();
  }
});
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  pick(event.dataTransfer.files[0]);
});
$("file").addEventListener("change", () => pick($("file").files[0]));
document.addEventListener("paste", (event) => {
  if (currentView() !== "try") return;
  const item = [...event.clipboardData.items].find((i) => i.type.startsWith("image/"));
  if (item) pick(item.getAsFile());
});
$("image-url").addEventListener("input", () => {
  if ($("image-url").value) {
    chosen = null;
    $("thumb").hidden = true;
    $("drop-label").textContent = "Drop, paste or choose an image";
  }
  renderCurl();
});

function background() {
  return document.querySelector('input[name="bg"]:checked').value;
}

function showBackgroundControls() {
  for (const block of document.querySelectorAll("[data-bg]")) {
    block.hidden = block.dataset.bg !== background();
  }
}

// The options as form fields, in the order the curl command shows them.
function optionFields() {
  const fields = [["format", $("format").value]];
  if ($("size").value !== "full") fields.push(["size", $("size").value]);
  const bg = background();
  if (bg === "color") fields.push(["bg_color", $("bg-color").value]);
  if (bg === "blur") fields.push(["bg_blur", $("bg-blur").value]);
  if (bg === "gradient") fields.push(["bg_gradient", $("bg-top").value + ";" + $("bg-bottom").value]);
  if (bg === "image" && $("bg-fit").value !== "cover") fields.push(["bg_fit", $("bg-fit").value]);
  if ($("shadow").checked) fields.push(["shadow", "true"]);
  if ($("crop").checked) {
    fields.push(["crop", "true"]);
    const margin = $("crop-margin").value.trim();
    if (margin && margin !== "0") fields.push(["crop_margin", margin]);
  }
  if ($("model").value) fields.push(["model", $("model").value]);
  if ($("quality").value !== "balanced") fields.push(["quality", $("quality").value]);
  return fields;
}

function quoted(text) {
  return /^[A-Za-z0-9_.:\/@=#;%+-]+$/.test(text) ? text : "'" + text.replace(/'/g, "'\\''") + "'";
}

function renderCurl() {
  const url = $("image-url").value.trim();
  const lines = [
    "curl -s " + location.origin + "/v1/remove-background",
    '-H "Authorization: Bearer $CUTSTREAM_KEY"',
    url ? "-F " + quoted("image_url=" + url) : "-F " + quoted("image=@" + (chosen ? chosen.name : "photo.jpg")),
  ];
  if (background() === "image") {
    const backdrop = $("bg-image").files[0];
    lines.push("-F " + quoted("bg_image=@" + (backdrop ? backdrop.name : "backdrop.jpg")));
  }
  for (const [name, value] of optionFields()) lines.push("-F " + quoted(name + "=" + value));
  lines.push("-o cutout." + EXTENSIONS[$("format").value]);
  $("curl").textContent = lines.join(" \\\n  ");
}

$("try-form").addEventListener("input", (event) => {
  if (event.target.name === "bg") showBackgroundControls();
  $("crop-margin").disabled = !$("crop").checked;
  renderCurl();
});
$("try-form").addEventListener("change", renderCurl);

function showError(error) {
  const box = $("error");
  box.textContent = "";
  const code = document.createElement("strong");
  code.textContent = error.code || "error";
  box.append(code, ": " + error.message);
  box.hidden = false;
}

function kilobytes(bytes) {
  return bytes < 1024 * 1024 ? (bytes / 1024).toFixed(1) + " KB" : (bytes / 1048576).toFixed(2) + " MB";
}

$("try-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("error").hidden = true;
  const url = $("image-url").value.trim();
  if (!chosen && !url) {
    showError({ code: "missing_image", message: "drop, paste or choose an image, or give its URL" });
    return;
  }
  const form = new FormData();
  if (url) form.append("image_url", url);
  else form.append("image", chosen, chosen.name);
  if (background() === "image") {
    const backdrop = $("bg-image").files[0];
    if (!backdrop) {
      showError({ code: "invalid_request", message: "choose a background image" });
      return;
    }
    form.append("bg_image", backdrop, backdrop.name);
  }
  for (const [name, value] of optionFields()) form.append(name, value);
  $("run").disabled = true;
  $("busy").hidden = false;
  const started = performance.now();
  try {
    const response = await api("/v1/remove-background", { method: "POST", body: form });
    const blob = await response.blob();
    if (resultUrl) URL.revokeObjectURL(resultUrl);
    resultUrl = URL.createObjectURL(blob);
    const ms = response.headers.get("X-Processing-Time-Ms");
    const roundTrip = Math.round(performance.now() - started);
    $("stat-time").textContent = (ms ? ms + " ms processing, " : "") + roundTrip + " ms in all";
    $("stat-size").textContent = kilobytes(blob.size) + " " + (blob.type || "");
    $("stat-dims").textContent =
      response.headers.get("X-Image-Width") + " × " + response.headers.get("X-Image-Height") + " px";
    $("before").src = url || beforeUrl;
    $("after").src = resultUrl;
    $("download").href = resultUrl;
    $("download").download = "cutout." + EXTENSIONS[$("format").value];
    $("compare").hidden = false;
    applySlider();
  } catch (error) {
    showError(error);
  } finally {
    $("run").disabled = false;
    $("busy").hidden = true;
  }
});

function applySlider() {
  const value = Number($("slider").value);
  // The result covers the original from the left up to the slider.
  $("after").style.clipPath = "inset(0 " + (100 - value) + "% 0 0)";
  $("slider").setAttribute("aria-valuetext", value + "% result");
}
$("slider").addEventListener("input", applySlider);

$("copy-curl").addEventListener("click", async () => {
  await navigator.clipboard.writeText($("curl").textContent);
  $("copied").textContent = "copied";
  setTimeout(() => ($("copied").textContent = ""), 2000);
});

// Batches ------------------------------------------------------------------------------

function seconds(value) {
  if (value === null || value === undefined) return "—";
  if (value < 90) return Math.round(value) + " s";
  if (value < 5400) return Math.round(value / 60) + " min";
  return (value / 3600).toFixed(1) + " h";
}

function cell(row, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  row.append(td);
  return td;
}

const NO_KEY = "Set an API key at the top of the page to see this account's ";

async function loadBatches() {
  const state = $("batches-state");
  if (!apiKey()) {
    state.textContent = NO_KEY + "batches.";
    return;
  }
  let batches;
  try {
    batches = await (await api("/v1/batches")).json();
  } catch (error) {
    state.textContent = error.code + ": " + error.message;
    return;
  }
  const body = $("batches-table").querySelector("tbody");
  body.textContent = "";
  for (const batch of batches) {
    const counts = batch.counts;
    const done = counts.succeeded + counts.failed + counts.canceled;
    const row = document.createElement("tr");
    row.dataset.batch = batch.batch_id;
    cell(row, batch.batch_id);
    cell(row, batch.state).className = "state-" + batch.state;
    const bar = document.createElement("progress");
    bar.max = counts.total || 1;
    bar.value = done;
    bar.setAttribute("aria-label", batch.batch_id + ": " + done + " of " + (counts.total ?? "?"));
    const progress = cell(row, bar);
    progress.append(" " + done + " / " + (counts.total ?? "…"));
    cell(row, String(counts.succeeded));
    const failed = cell(row, "");
    if (counts.failed > 0) {
      const show = document.createElement("button");
      show.type = "button";
      show.className = "failed-count";
      show.textContent = counts.failed + " — show";
      show.addEventListener("click", () => showFailures(batch.batch_id));
      failed.append(show);
    } else {
      failed.textContent = "0";
    }
    cell(row, batch.rate_per_s ? batch.rate_per_s.toFixed(2) + " /s" : "—");
    cell(row, batch.finished_at ? "done" : seconds(batch.eta_s));
    if (batch.results_url) {
      const link = document.createElement("a");
      link.href = batch.results_url;
      link.textContent = "results.csv";
      cell(row, link);
    } else {
      cell(row, "—");
    }
    body.append(row);
  }
  const running = batches.filter((b) => !b.finished_at).length;
  state.textContent = batches.length
    ? batches.length + " batches, " + running + " running"
    : "No batches yet.";
  if (running && currentView() === "batches") batchTimer = setTimeout(loadBatches, 2000);
}

async function showFailures(batchId) {
  const list = $("failures-list");
  list.textContent = "";
  $("failures-title").textContent = "Failed items of " + batchId;
  $("failures").hidden = false;
  try {
    const path = "/v1/batches/" + encodeURIComponent(batchId) + "/results?format=jsonl";
    const text = await (await api(path)).text();
    const rows = text.split("\n").filter(Boolean).map((line) => JSON.parse(line));
    for (const row of rows.filter((r) => r.status === "failed").slice(0, 200)) {
      const item = document.createElement("li");
      const code = document.createElement("code");
      code.textContent = row.error_code;
      item.append(row.item_id + " (" + row.input + "): ", code, " " + (row.error_message || ""));
      list.append(item);
    }
  } catch (error) {
    list.textContent = error.code + ": " + error.message;
  }
}

// Account ------------------------------------------------------------------------------

function fact(list, name, value) {
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.append(dt, dd);
}

const SVG = "http://www.w3.org/2000/svg";

function plural(count, noun) {
  return count + " " + noun + (count === 1 ? "" : "s");
}

function drawUsage(daily) {
  const svg = $("usage-chart");
  svg.textContent = "";
  const today = new Date();
  const days = [];
  for (let back = 29; back >= 0; back--) {
    const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - back));
    days.push(day.toISOString().slice(0, 10));
  }
  const byDay = Object.fromEntries(daily.map((d) => [d.day, d]));
  const peak = Math.max(1, ...daily.map((d) => d.requests));
  const width = 600 / days.length;
  days.forEach((day, index) => {
    const requests = byDay[day] ? byDay[day].requests : 0;
    const height = (requests / peak) * 150;
    const bar = document.createElementNS(SVG, "rect");
    bar.setAttribute("x", String(index * width + 2));
    bar.setAttribute("y", String(160 - height));
    bar.setAttribute("width", String(width - 4));
    bar.setAttribute("height", String(height));
    const title = document.createElementNS(SVG, "title");
    title.textContent = day + ": " + requests + " requests";
    bar.append(title);
    svg.append(bar);
  });
  const total = daily.reduce((sum, d) => sum + d.requests, 0);
  const credits = daily.reduce((sum, d) => sum + d.credits, 0);
  $("usage-caption").textContent =
    plural(total, "request") + " and " + plural(credits, "credit") + " in 30 days" +
    (total ? "; the busiest day had " + plural(peak, "request") + "." : ".");
}

async function loadAccount() {
  const state = $("account-state");
  const facts = $("account-facts");
  if (!apiKey()) {
    state.textContent = NO_KEY + "plan, usage and keys.";
    return;
  }
  try {
    const page = await (await api("/v1/account")).json();
    facts.textContent = "";
    fact(facts, "Account", page.account);
    if (!page.metering) {
      fact(facts, "Plan", "metering is off on this gateway: no limits, nothing charged");
    } else if (page.plan) {
      fact(facts, "Plan", page.plan.name + (page.plan.description ? " — " + page.plan.description : ""));
      fact(facts, "Status", page.status);
      fact(facts, "Credits left", String(page.credits));
      fact(facts, "Requests draw credits", page.plan.draws_credits ? "yes" : "no");
      if (page.subscription_end) fact(facts, "Subscription ends", page.subscription_end);
    }
    const limits = $("limits-table").querySelector("tbody");
    limits.textContent = "";
    for (const window of page.usage) {
      const row = document.createElement("tr");
      cell(row, window.window);
      cell(row, String(window.limit));
      cell(row, String(window.remaining));
      cell(row, new Date(window.reset_at * 1000).toLocaleString());
      limits.append(row);
    }
    if (!page.usage.length) {
      const row = document.createElement("tr");
      cell(row, "no limits on this plan").colSpan = 4;
      limits.append(row);
    }
    drawUsage(page.daily);
    state.textContent = page.updated_at ? "As of " + new Date(page.updated_at).toLocaleString() : "";
  } catch (error) {
    state.textContent = error.code + ": " + error.message;
    return;
  }
  await loadKeys();
}

async function loadKeys() {
  const body = $("keys-table").querySelector("tbody");
  body.textContent = "";
  const keys = await (await api("/v1/keys")).json();
  for (const key of keys) {
    const row = document.createElement("tr");
    row.dataset.key = key.id;
    cell(row, key.id);
    cell(row, key.name || "—");
    cell(row, new Date(key.created_at).toLocaleString());
    cell(row, key.revoked_at ? "revoked" : "active").className = key.revoked_at ? "revoked" : "";
    const action = cell(row, "");
    if (!key.revoked_at) {
      const revoke = document.createElement("button");
      revoke.type = "button";
      revoke.textContent = "Revoke";
      revoke.setAttribute("aria-label", "Revoke key " + key.id);
      revoke.addEventListener("click", async () => {
        if (!confirm("Revoke key " + key.id + "? Requests made with it will be refused.")) return;
        await api("/v1/keys/" + encodeURIComponent(key.id), { method: "DELETE" });
        await loadKeys();
      });
      action.append(revoke);
    }
    body.append(row);
  }
}

$("new-key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const response = await api("/v1/keys", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: $("new-key-name").value.trim() }),
    });
    const created = await response.json();
    $("new-key-value").textContent = created.key;
    $("new-key").hidden = false;
    $("new-key-name").value = "";
    await loadKeys();
  } catch (error) {
    $("account-state").textContent = error.code + ": " + error.message;
  }
});

$("copy-key").addEventListener("click", () => navigator.clipboard.writeText($("new-key-value").textContent));

// Start --------------------------------------------------------------------------------

showKeyState();
showBackgroundControls();
renderCurl();
refreshView();
