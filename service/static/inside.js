/* The "Inside the network" panel: why the network gave the answer just shown.
 *
 * requests.js asks /predict for an `explanation` with every answer; app.js hands each answer
 * to `show` (and a cleared result to `reset`). This module draws the explanation: the input
 * with its heatmap, the hidden units' activations, the logits, and on demand what one unit
 * looks for (GET model/units/<layer>/<unit>.png).
 */
const WIDE = "(min-width: 760px) and (min-height: 480px)"; // the two-column layout of app.css
const LAYER_NAMES = { 1: "first", 2: "second" };

const $ = (id) => document.getElementById(id);
const inside = $("inside");
const summary = inside.querySelector("summary");
const whyLink = $("why"); // beside the answer: the panel starts below the fold
const body = $("inside-body");
const empty = $("inside-empty");
const saliency = $("saliency");
const saliencyInput = $("saliency-input");
const modeFor = $("mode-for");
const modeContrast = $("mode-contrast");
const unitView = $("unit-view");
const unitPattern = $("unit-pattern");
const unitCaption = $("unit-caption");
const grids = Array.from(document.querySelectorAll(".units"));
const logitRows = Array.from(document.querySelectorAll("#logits .logit"), (item) => ({
  item,
  fill: item.querySelector(".logit-fill"),
  value: item.querySelector(".logit-value"),
  prob: item.querySelector(".logit-prob"),
}));

let current = null; // the answer shown, with its explanation
let shownUnit = null; // the unit button whose pattern is shown

const layerName = (layer) => LAYER_NAMES[layer] || `layer ${layer}`;
const isExplained = (answer) => {
  const why = answer && answer.explanation;
  return (
    why &&
    typeof why.heatmap === "string" &&
    typeof why.contrast_heatmap === "string" &&
    Array.isArray(why.hidden) &&
    why.hidden.length === grids.length &&
    Array.isArray(why.logits) &&
    why.logits.length === logitRows.length
  );
};

// ---- the input and its heatmap -------------------------------------------------------

function contrastMode() {
  return document.querySelector('input[name="saliency-mode"]:checked').value === "contrast";
}

function showSaliency() {
  if (!current) return;
  const { digit, explanation: why } = current;
  const other = why.runner_up;
  inside.dataset.mode = contrastMode() ? "contrast" : "for";
  saliency.src = contrastMode() ? why.contrast_heatmap : why.heatmap;
  saliency.alt = contrastMode()
    ? `The 28 by 28 input coloured by what made it a ${digit} rather than a ${other}: orange for ${digit}, blue for ${other}`
    : `The 28 by 28 input coloured by each pixel's effect on the score for ${digit}: orange raised it, blue lowered it`;
}


// ---- hidden units -------------------------------------------------------------------

function paintUnits(grid, values) {
  const peak = Math.max(...values) || 1; // a layer that stayed silent shows all dark
  grid.querySelectorAll(".unit").forEach((button, unit) => {
    const value = Number(values[unit]) || 0;
    button.style.setProperty("--level", String(Math.min(1, value / peak)));
    button.dataset.value = String(value);
    button.setAttribute(
      "aria-label",
      `unit ${unit}: ${value > 0 ? `fired, ${value.toFixed(2)}` : "silent"}. Show what it looks for`,
    );
  });
}

function describeUnit(button) {
  const layer = Number(button.dataset.layer);
  const unit = Number(button.dataset.unit);
  const value = Number(button.dataset.value);
  const activity = current && value > 0 ? `fired at ${value.toFixed(2)}` : "silent for this drawing";
  const how = layer === 1 ? "its 784 weights" : "its weights applied to the first layer's patterns";
  return `Unit ${unit} of the ${layerName(layer)} hidden layer, ${activity}. What it looks for (${how}): ink on orange pixels makes it fire, ink on blue ones keeps it quiet.`;
}

function showUnit(button) {
  if (shownUnit) shownUnit.classList.remove("is-shown");
  shownUnit = button;
  button.classList.add("is-shown");
  const layer = button.dataset.layer;
  const unit = button.dataset.unit;
  unitPattern.src = `model/units/${layer}/${unit}.png`; // relative: works behind a path prefix
  unitPattern.alt = `What unit ${unit} of the ${layerName(layer)} hidden layer looks for`;
  unitCaption.textContent = describeUnit(button);
  unitView.hidden = false;
}

function moveFocus(grid, button, key) {
  const units = Array.from(grid.querySelectorAll(".unit"));
  const columns = getComputedStyle(grid).gridTemplateColumns.split(" ").length;
  const steps = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns, Home: -Infinity, End: Infinity };
  if (!(key in steps)) return false;
  const at = Math.max(0, Math.min(units.length - 1, units.indexOf(button) + steps[key]));
  // one tab stop per grid: the arrows move it
  button.tabIndex = -1;
  units[at].tabIndex = 0;
  units[at].focus();
  return true;
}

function listenToUnits(grid) {
  grid.addEventListener("pointerover", (event) => {
    const button = event.target.closest(".unit");
    if (button && event.pointerType !== "touch") showUnit(button);
  });
  grid.addEventListener("click", (event) => {
    const button = event.target.closest(".unit");
    if (button) showUnit(button);
  });
  grid.addEventListener("focusin", (event) => {
    if (event.target.matches(".unit")) showUnit(event.target);
  });
  grid.addEventListener("keydown", (event) => {
    const button = event.target.closest(".unit");
    if (button && moveFocus(grid, button, event.key)) event.preventDefault();
  });
}

// ---- logits -------------------------------------------------------------------------

function paintLogits(logits, probabilities, digit) {
  const peak = Math.max(...logits.map(Math.abs)) || 1;
  logitRows.forEach((row, d) => {
    const z = Number(logits[d]) || 0;
    const half = (50 * Math.abs(z)) / peak; // % of the track, from its middle
    row.fill.style.left = `${z >= 0 ? 50 : 50 - half}%`;
    row.fill.style.width = `${half}%`;
    row.item.classList.toggle("negative", z < 0);
    row.item.classList.toggle("best", d === digit);
    row.value.textContent = z.toFixed(2);
    row.prob.textContent = `${(100 * (Number(probabilities[d]) || 0)).toFixed(0)}%`;
  });
}

// ---- following the answers -------------------------------------------------------------

export function start() {
  for (const radio of document.querySelectorAll('input[name="saliency-mode"]')) {
    radio.addEventListener("change", showSaliency);
  }
  grids.forEach(listenToUnits);
  whyLink.addEventListener("click", (event) => {
    event.preventDefault(); // the panel opens too, which following the link would not do
    inside.open = true;
    const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    inside.scrollIntoView({ behavior: still ? "auto" : "smooth", block: "start" });
    summary.focus({ preventScroll: true }); // keyboard users go on from there
  });
  // Open where there is room beside the pad; on a phone it waits below, one tap away.
  inside.open = window.matchMedia(WIDE).matches;
  reset();
}

export function show(answer) {
  if (!isExplained(answer)) {
    reset();
    return;
  }
  current = answer;
  const why = answer.explanation;
  inside.dataset.state = "ready";
  whyLink.hidden = false;
  empty.hidden = true;
  body.hidden = false;
  if (typeof answer.preview === "string") saliencyInput.src = answer.preview;
  modeFor.textContent = `Evidence for ${answer.digit}`;
  modeContrast.textContent = `${answer.digit} rather than ${why.runner_up}`;
  showSaliency();
  why.hidden.forEach((values, layer) => paintUnits(grids[layer], values));
  paintLogits(why.logits, answer.probabilities, answer.digit);
  if (shownUnit) unitCaption.textContent = describeUnit(shownUnit);
}

export function reset() {
  current = null;
  inside.dataset.state = "empty";
  whyLink.hidden = true;
  empty.hidden = false;
  body.hidden = true;
  saliency.removeAttribute("src");
  saliencyInput.removeAttribute("src");
}
