// The account page: plan, credits, limits, 30 days of usage, and API keys.

import { $, NO_KEY, api, apiKey, cell, plural } from "./api.js";

function fact(list, name, value) {
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.append(dt, dd);
}

const SVG = "http://www.w3.org/2000/svg";

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
  // The axes: 0 to the busiest day's count, the first day to today; a line at the peak.
  $("usage-peak").textContent = String(peak);
  $("usage-from").textContent = days[0];
  const top = document.createElementNS(SVG, "line");
  for (const [name, value] of [["x1", 0], ["x2", 600], ["y1", 10], ["y2", 10]]) {
    top.setAttribute(name, String(value));
  }
  top.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(top);
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

export async function loadAccount() {
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
