// The try-it page: one photo through POST /v1/remove-background, the result beside the
// original, and the curl command for the same request.

import { $, api, apiKey } from "./api.js";

const EXTENSIONS = { png: "png", webp: "webp", jpg: "jpg" };

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
  // As the hosted tools do: a picked photo runs at once with the options as they stand
  // (changed options run again with the button).
  if (apiKey() && !$("run").disabled) $("try-form").requestSubmit();
}

for (const button of document.querySelectorAll("[data-sample]")) {
  button.addEventListener("click", async () => {
    const name = button.dataset.sample + ".jpg";
    const response = await fetch("/console/samples/" + name);
    pick(new File([await response.blob()], name, { type: "image/jpeg" }));
  });
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
  if ($("view-try").hidden) return;
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
  const canvas = $("canvas").value.trim();
  if (canvas) {
    fields.push(["canvas", canvas]);
    const padding = $("padding").value.trim();
    if (padding && padding !== "0") fields.push(["padding", padding]);
    if ($("align").value !== "center") fields.push(["align", $("align").value]);
  }
  if ($("model").value) fields.push(["model", $("model").value]);
  if ($("quality").value !== "balanced") fields.push(["quality", $("quality").value]);
  const preset = presets[$("preset").value];
  if (!preset) return fields;
  // The preset, then only what differs from it: the curl command says what was changed.
  return [["preset", preset.name], ...fields.filter(([name, value]) => !sameAs(preset.options[name], value))];
}

// A colour the API writes as #rrggbbaa and the colour input as #rrggbb are the same when
// the alpha is ff.
function sameAs(presetValue, value) {
  if (presetValue === undefined || presetValue === null) return false;
  const plain = (text) => String(text).toLowerCase().replace(/^(#[0-9a-f]{6})ff$/, "$1");
  return plain(presetValue) === plain(value);
}

// The marketplace presets (GET /v1/presets, no key needed): choosing one fills in the
// fields it sets, which stay editable.
let presets = {};

async function loadPresets() {
  try {
    const response = await fetch("/v1/presets");
    for (const preset of await response.json()) {
      presets[preset.name] = preset;
      $("preset").append(new Option(preset.name, preset.name));
    }
  } catch {
    presets = {};
  }
}

function applyPreset() {
  const preset = presets[$("preset").value];
  if (!preset) return;
  const options = preset.options;
  if (options.format) $("format").value = options.format;
  if (options.bg_color) {
    document.querySelector('input[name="bg"][value="color"]').checked = true;
    $("bg-color").value = String(options.bg_color).slice(0, 7);
  }
  $("canvas").value = options.canvas || "";
  $("padding").value = options.padding || "0";
  showBackgroundControls();
}

// A canvas frames the subject itself: cropping is off while one is set.
function showCanvasControls() {
  const onCanvas = $("canvas").value.trim() !== "";
  $("padding").disabled = !onCanvas;
  $("align").disabled = !onCanvas;
  if (onCanvas) $("crop").checked = false;
  $("crop").disabled = onCanvas;
  $("crop-margin").disabled = !$("crop").checked;
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
  if (event.target.id === "preset") applyPreset();
  showCanvasControls();
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
  box.scrollIntoView({ block: "nearest" });
}

function kilobytes(bytes) {
  return bytes < 1024 * 1024 ? (bytes / 1024).toFixed(1) + " KB" : (bytes / 1048576).toFixed(2) + " MB";
}

$("try-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("error").hidden = true;
  $("compare").hidden = true; // a new run: the last result (or error) is not this one's
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
  const fields = optionFields();
  for (const [name, value] of fields) form.append(name, value);
  const reframed = fields.some(([name]) => ["crop", "canvas", "preset"].includes(name));
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
    await Promise.allSettled([$("before").decode(), $("after").decode()]);
    showComparable(reframed);
    $("compare").hidden = false;
    applySlider();
    $("compare").scrollIntoView({ block: "nearest" });
  } catch (error) {
    showError(error);
  } finally {
    $("run").disabled = false;
    $("busy").hidden = true;
  }
});

// Before and after side by side only when they frame the same picture: a crop (or a
// canvas) changes the framing, and the result is then shown alone.
function showComparable(reframed) {
  const before = $("before");
  const after = $("after");
  const same =
    !reframed &&
    before.naturalWidth > 0 &&
    Math.abs(before.naturalWidth / before.naturalHeight - after.naturalWidth / after.naturalHeight) < 0.01;
  before.hidden = !same;
  $("slider").hidden = !same;
  $("slider-label").hidden = !same;
  $("result-alone").hidden = same;
  if (!same) $("slider").value = 100;
}

function applySlider() {
  const value = Number($("slider").value);
  // The result from the left up to the slider, the original from there on: each part
  // shows one picture only, so the cutout's transparent pixels show the checkerboard
  // (or the chosen background), never the photo behind them.
  $("after").style.clipPath = "inset(0 " + (100 - value) + "% 0 0)";
  $("before").style.clipPath = "inset(0 0 0 " + value + "%)";
  $("slider").setAttribute("aria-valuetext", value + "% result");
}
$("slider").addEventListener("input", applySlider);

$("copy-curl").addEventListener("click", async () => {
  await navigator.clipboard.writeText($("curl").textContent);
  $("copied").textContent = "copied";
  setTimeout(() => ($("copied").textContent = ""), 2000);
});

// The model menu offers only what this service has installed (GET /v1/models).
async function loadModels() {
  const menu = $("model");
  try {
    const models = await (await api("/v1/models")).json();
    const fallback = models.find((model) => model.default);
    menu.replaceChildren(new Option(fallback ? `the default (${fallback.name})` : "the default", ""));
    for (const model of models.filter((model) => !model.default)) {
      menu.append(new Option(model.name, model.name));
    }
  } catch {
    menu.replaceChildren(new Option("the default", ""));
  }
}

export function initTry() {
  showBackgroundControls();
  showCanvasControls();
  renderCurl();
  loadModels();
  loadPresets();
}
