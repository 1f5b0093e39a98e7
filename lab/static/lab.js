/* The training lab's page: start runs, poll their history, draw the views, try the network.
 *
 * Plain ES modules, no framework and no build step. The lab's JSON API (lab/api.py) is
 * polled: the list of runs every second, and each running run's new history points
 * (`?since=` the last step seen) a few times a second.
 */

import { LineChart } from "./chart.js";
import { Pad } from "./pad.js";

const POLL_MS = 400; // history of the running runs
const LIST_MS = 1500; // the list of runs
const PICTURE_MS = 2000; // the first layer's weights, and the drawing's answer, while training
const TIMEOUT_MS = 10000;
const COLORS = 8; // --run-0 .. --run-7
const LAYER_COLORS = 6; // --layer-0 .. --layer-5

const $ = (id) => document.getElementById(id);
const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

const runs = new Map(); // id -> {summary, points, shown, color}
let chosen = null; // the run whose gradients, weights and answers are shown
let connectionLost = false;

// ---- talking to the lab --------------------------------------------------------------

async function call(method, url, body, type = "application/json") {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      method,
      body,
      headers: body === undefined ? {} : { "Content-Type": type },
      signal: controller.signal,
    });
    const answer = await response.json().catch(() => ({}));
    setConnection(true);
    if (!response.ok) {
      const error = new Error(answer.error?.message || `the lab answered ${response.status}`);
      error.setting = answer.error?.setting;
      error.status = response.status;
      throw error;
    }
    return answer;
  } catch (err) {
    if (err.status === undefined) setConnection(false);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function setConnection(ok) {
  if (ok === !connectionLost) return;
  connectionLost = !ok;
  $("connection").textContent = ok ? "" : "The lab does not answer: is mnist-lab still running?";
}

// ---- starting runs -----------------------------------------------------------------------

function formSettings(form) {
  const data = new FormData(form);
  const settings = {};
  for (const [name, value] of data.entries()) {
    const text = String(value).trim();
    if (name === "hidden") {
      settings.hidden = text === "" ? [] : text.split(/[\s,]+/).filter(Boolean).map(Number);
    } else if (["init", "activation", "optimizer"].includes(name)) {
      settings[name] = text;
    } else if (text !== "") {
      settings[name] = Number(text);
    }
  }
  return settings;
}

function showFormError(message, setting) {
  const box = $("form-error");
  for (const input of document.querySelectorAll("#settings [aria-invalid]")) input.removeAttribute("aria-invalid");
  box.hidden = !message;
  box.textContent = message || "";
  const input = setting && document.querySelector(`#settings [name="${CSS.escape(setting)}"]`);
  if (input) input.setAttribute("aria-invalid", "true");
}

async function startRuns(list) {
  const started = [];
  for (const settings of list) {
    try {
      const { id } = await call("POST", "api/runs", JSON.stringify(settings));
      started.push(id);
    } catch (err) {
      showFormError(err.message, err.setting);
      break;
    }
  }
  if (started.length) {
    if (started.length === list.length) showFormError("");
    for (const run of runs.values()) run.shown = false; // a new experiment: its runs alone, overlaid
    await refreshList();
    for (const id of started) {
      const run = runs.get(id);
      if (run) run.shown = true;
    }
    choose(started[0]);
    // one column (a phone): the views are far below the buttons, so go to them
    if (!window.matchMedia("(min-width: 900px)").matches) $("status").scrollIntoView({ block: "start" });
  }
}

$("settings").addEventListener("submit", (event) => {
  event.preventDefault();
  startRuns([formSettings(event.target)]);
});

for (const button of document.querySelectorAll(".experiment-start")) {
  button.addEventListener("click", () => {
    markExperiment(button.dataset.key);
    startRuns(JSON.parse(button.dataset.runs));
  });
}

function markExperiment(key) {
  for (const item of document.querySelectorAll(".experiment")) item.classList.toggle("is-chosen", item.id === key);
}

// a link to #zero-init (docs/how-it-works.md) shows that experiment, ready for one click
function followFragment() {
  const key = decodeURIComponent(location.hash.slice(1));
  const item = key && document.getElementById(key);
  if (item && item.classList.contains("experiment")) {
    markExperiment(key);
    item.scrollIntoView({ block: "center" });
    item.querySelector("button").focus({ preventScroll: true });
  }
}
window.addEventListener("hashchange", followFragment);

// ---- the runs and their history ----------------------------------------------------------

function describe(settings) {
  const layers = settings.hidden.length ? settings.hidden.join("-") : "no hidden layer";
  return `${layers} ${settings.activation}, ${settings.init.replace("_", " ")}, ${settings.optimizer} lr ${settings.lr}, batch ${settings.batch_size}, ${settings.epochs} ep on ${settings.train_size}`;
}

async function refreshList() {
  let answer;
  try {
    answer = await call("GET", "api/runs");
  } catch (err) {
    return;
  }
  const seen = new Set();
  for (const summary of answer.runs) {
    seen.add(summary.id);
    const known = runs.get(summary.id);
    if (known) {
      known.summary = { ...known.summary, ...summary };
      if (summary.state !== "running" && !known.complete) fetchHistory(summary.id, true);
    } else {
      runs.set(summary.id, { summary, points: [], shown: false, color: `--run-${(Number(summary.id) - 1) % COLORS}` });
      fetchHistory(summary.id, true);
    }
  }
  for (const id of [...runs.keys()]) if (!seen.has(id)) runs.delete(id); // forgotten by the lab
  if (chosen && !runs.has(chosen)) chosen = null;
  if (!chosen && runs.size) chosen = [...runs.keys()].pop();
  renderList();
  renderAll();
}

async function fetchHistory(id, full = false) {
  const run = runs.get(id);
  if (!run || run.fetching) return;
  run.fetching = true;
  try {
    // a run that has ended is read whole once: its last point is measured in place at the end
    const since = full || !run.points.length ? 0 : run.points[run.points.length - 1].step;
    const answer = await call("GET", `api/runs/${encodeURIComponent(id)}?since=${since}`);
    run.summary = { ...run.summary, ...answer, history: undefined };
    run.points = since === 0 ? answer.history : run.points.concat(answer.history);
    if (answer.state !== "running") {
      if (since !== 0) {
        run.fetching = false;
        return fetchHistory(id, true);
      }
      run.complete = true;
      if (id === chosen) refreshPicture(true);
    }
    renderList();
    renderAll();
  } catch (err) {
    if (err.status === 404) runs.delete(id);
  } finally {
    run.fetching = false;
  }
}

function pollRunning() {
  for (const [id, run] of runs) if (run.summary.state === "running") fetchHistory(id);
}

function choose(id) {
  chosen = id;
  renderList();
  renderAll();
  refreshPicture(true);
  predict();
}

function renderList() {
  const list = $("runs");
  $("runs-empty").hidden = runs.size > 0;
  const items = [];
  for (const [id, run] of [...runs].reverse()) {
    const item = document.createElement("li");
    item.className = "run" + (id === chosen ? " is-chosen" : "");
    item.style.setProperty("--run-color", `var(${run.color})`);
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = run.shown;
    box.setAttribute("aria-label", `overlay run ${id}'s curves`);
    box.addEventListener("change", () => {
      run.shown = box.checked;
      renderAll();
    });
    const button = document.createElement("button");
    button.type = "button";
    button.className = "run-choose";
    button.setAttribute("aria-pressed", String(id === chosen));
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.dataset.state = run.summary.state;
    badge.textContent = run.summary.state;
    const title = document.createElement("span");
    title.className = "run-title";
    title.append(`#${id} `, badge);
    const words = document.createElement("span");
    words.className = "run-desc";
    words.textContent = describe(run.summary.settings);
    button.append(title, words);
    button.addEventListener("click", () => choose(id));
    item.append(box, button);
    items.push(item);
  }
  list.replaceChildren(...items);
}

// ---- the views ---------------------------------------------------------------------------

const charts = {
  loss: new LineChart($("chart-loss"), { log: true, xLabel: "epochs" }),
  accuracy: new LineChart($("chart-accuracy"), { yMin: 0, yMax: 1, percent: true, xLabel: "epochs" }),
  grad: new LineChart($("chart-grad"), { log: true, xLabel: "epochs" }),
  dead: new LineChart($("chart-dead"), { yMin: 0, yMax: 1, percent: true, xLabel: "epochs" }),
};

function epochs(run, point) {
  const perEpoch = Math.ceil(run.summary.settings.train_size / run.summary.settings.batch_size);
  return point.step / perEpoch;
}

function series(run, key, style = {}) {
  return { color: css(run.color), points: run.points.filter((p) => key in p).map((p) => [epochs(run, p), p[key]]), ...style };
}

function legend(id, items) {
  $(id).replaceChildren(
    ...items.map(({ color, dashed, text }) => {
      const li = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch" + (dashed ? " dashed" : "");
      swatch.style.setProperty("--swatch", color);
      li.append(swatch, text);
      return li;
    }),
  );
}

const last = (points, key) => {
  for (let i = points.length - 1; i >= 0; i -= 1) if (points[i][key] !== undefined && points[i][key] !== null) return points[i][key];
  return null;
};
const fmt = (value, digits = 3) => (value === null ? "–" : Number(value).toPrecision(digits));
const pct = (value) => (value === null ? "–" : `${(100 * value).toFixed(1)} %`);

function renderAll() {
  const shown = [...runs.values()].filter((run) => run.shown);
  charts.loss.update(
    shown.flatMap((run) => [series(run, "loss"), series(run, "val_loss", { dots: true })]),
  );
  legend(
    "legend-loss",
    shown.map((run) => ({ color: css(run.color), text: `#${run.summary.id}: ${fmt(last(run.points, "loss"))} (validation ${fmt(last(run.points, "val_loss"))})` })),
  );
  $("chart-loss").setAttribute("aria-label", `Loss of ${shown.length} run(s) against epochs`);
  charts.accuracy.update(
    shown.flatMap((run) => [series(run, "val_accuracy"), series(run, "train_accuracy", { dash: [5, 4] })]),
  );
  legend(
    "legend-accuracy",
    shown.map((run) => ({ color: css(run.color), text: `#${run.summary.id}: validation ${pct(last(run.points, "val_accuracy"))}, training ${pct(last(run.points, "train_accuracy"))}` })),
  );
  $("chart-accuracy").setAttribute("aria-label", `Accuracy of ${shown.length} run(s) against epochs`);
  renderChosen();
}

function layerSeries(run, key) {
  const count = run.points.length ? run.points[0][key].length : 0;
  return Array.from({ length: count }, (_, layer) => ({
    color: css(`--layer-${layer % LAYER_COLORS}`),
    points: run.points.map((p) => [epochs(run, p), p[key][layer]]),
  }));
}

function renderChosen() {
  const run = chosen && runs.get(chosen);
  const status = $("status");
  if (!run) {
    status.dataset.state = "empty";
    return;
  }
  const { summary, points } = run;
  status.dataset.state = summary.state;
  $("status-run").textContent = `#${summary.id}`;
  $("status-badge").textContent = summary.state;
  $("status-badge").dataset.state = summary.state;
  $("status-progress").textContent = `step ${summary.step} of ${summary.steps}`;
  $("status-message").textContent = `${describe(summary.settings)}: ${summary.message}.`;
  const guard = $("guard");
  guard.hidden = summary.state !== "diverged";
  guard.textContent = summary.state === "diverged" ? summary.message : "";
  $("stop").disabled = summary.state !== "running";
  const save = $("save");
  save.href = `api/runs/${encodeURIComponent(summary.id)}/weights.npz`;
  save.removeAttribute("aria-disabled");

  const sizes = [784, ...summary.settings.hidden, 10];
  charts.grad.update(layerSeries(run, "grad_norms"));
  const norms = points.length ? points[points.length - 1].grad_norms : [];
  legend(
    "legend-grad",
    norms.map((value, layer) => ({
      color: css(`--layer-${layer % LAYER_COLORS}`),
      text: `W${layer + 1} (${sizes[layer]}→${sizes[layer + 1]}): ${fmt(value)}`,
    })),
  );
  $("chart-grad").setAttribute("aria-label", `Gradient norms of run ${summary.id}, per layer: ${norms.map((v) => fmt(v)).join(", ")}`);
  charts.dead.update(layerSeries(run, "dead_units"));
  const dead = points.length ? points[points.length - 1].dead_units : [];
  legend(
    "legend-dead",
    dead.length
      ? dead.map((value, layer) => ({ color: css(`--layer-${layer % LAYER_COLORS}`), text: `hidden layer ${layer + 1} (${sizes[layer + 1]} units): ${pct(value)}` }))
      : [{ color: "transparent", text: "no hidden layer" }],
  );
  $("chart-dead").setAttribute("aria-label", `Dead units of run ${summary.id}, per hidden layer: ${dead.map(pct).join(", ")}`);
}

$("stop").addEventListener("click", async () => {
  if (!chosen) return;
  try {
    await call("POST", `api/runs/${encodeURIComponent(chosen)}/stop`);
  } catch (err) {
    $("status-message").textContent = err.message;
  }
});

// ---- the first layer's weights -----------------------------------------------------------

let pictureStep = null;

function refreshPicture(force = false) {
  const run = chosen && runs.get(chosen);
  const img = $("first-layer");
  if (!run) return;
  if (!force && run.summary.state !== "running") return;
  const step = run.summary.step;
  if (!force && step === pictureStep) return;
  pictureStep = step;
  const next = new Image();
  next.onload = () => {
    img.src = next.src;
    img.hidden = false;
    $("first-layer-empty").hidden = true;
  };
  const show = document.querySelector('input[name="first-layer-show"]:checked').value;
  next.src = `api/runs/${encodeURIComponent(run.summary.id)}/first-layer.png?show=${show}&step=${step}`;
}

for (const radio of document.querySelectorAll('input[name="first-layer-show"]')) {
  radio.addEventListener("change", () => refreshPicture(true));
}

// ---- the drawing box ---------------------------------------------------------------------

const bars = Array.from(document.querySelectorAll("#bars .bar"), (item) => ({
  item,
  fill: item.querySelector(".bar-fill"),
  value: item.querySelector(".bar-value"),
}));
let predicting = false;

const pad = new Pad($("pad-canvas"), () => predict());
$("clear").addEventListener("click", () => pad.clear());

async function predict() {
  const answer = $("answer");
  if (pad.isEmpty() || !chosen) {
    answer.dataset.state = "empty";
    $("answer-digit").textContent = "";
    $("answer-words").textContent = chosen ? "Draw a digit." : "Start a run, then draw a digit.";
    $("seen").hidden = true;
    for (const bar of bars) {
      bar.fill.style.width = "0";
      bar.value.textContent = "–";
      bar.item.classList.remove("is-top");
    }
    return;
  }
  if (predicting) return;
  predicting = true;
  const id = chosen;
  try {
    const result = await call("POST", `api/runs/${encodeURIComponent(id)}/predict`, await pad.png(), "image/png");
    answer.dataset.state = "answered";
    $("answer-digit").textContent = result.digit;
    $("answer-words").textContent = `${pct(result.probabilities[result.digit])} sure, says run #${id} at step ${result.step}`;
    $("seen").src = result.preview;
    $("seen").hidden = false;
    bars.forEach((bar, digit) => {
      const p = result.probabilities[digit];
      bar.fill.style.width = `${(100 * p).toFixed(1)}%`;
      bar.value.textContent = `${Math.round(100 * p)}%`;
      bar.item.classList.toggle("is-top", digit === result.digit);
    });
  } catch (err) {
    answer.dataset.state = "error";
    $("answer-digit").textContent = "?";
    $("answer-words").textContent = err.message;
  } finally {
    predicting = false;
  }
}

// ---- timers and start-up -----------------------------------------------------------------

function wideScreen() {
  // the code sits beside its picture on wide screens: open it there, folded on phones
  const wide = window.matchMedia("(min-width: 1200px)").matches;
  for (const details of document.querySelectorAll(".view:not(.status) .code-details")) details.open = wide;
}

window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
  renderList();
  renderAll();
  pad.render();
});

wideScreen();
followFragment();
refreshList().then(() => {
  if (chosen) runs.get(chosen).shown = true; // a page opened on earlier runs draws the newest
  renderList();
  renderAll();
  document.documentElement.dataset.ready = "true"; // for the browser tests: the first list is shown
});
setInterval(pollRunning, POLL_MS);
setInterval(refreshList, LIST_MS);
setInterval(() => {
  const run = chosen && runs.get(chosen);
  if (run && run.summary.state === "running") {
    refreshPicture();
    predict();
  }
}, PICTURE_MS);
