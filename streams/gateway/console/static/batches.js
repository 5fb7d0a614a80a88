// The batches page: the account's bulk imports, refreshed while one runs.

import { $, NO_KEY, api, apiKey, cell, seconds } from "./api.js";

let timer = null;

export function stopBatches() {
  clearTimeout(timer);
}

export async function loadBatches() {
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
  if (running && !$("view-batches").hidden) timer = setTimeout(loadBatches, 2000);
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
