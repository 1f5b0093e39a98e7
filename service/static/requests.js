/* Talking to the service: the drawing sent live while it grows, paced; files sent at once;
 * answers for a drawing that is gone dropped.
 *
 * A stroke goes once it is longer than a dot, and always when it ends. At most one live
 * request is in flight; what is drawn meanwhile goes when it returns, and never sooner than
 * MIN_INTERVAL_MS after the previous one started. Answers for a drawing that was since
 * cleared, undone or replaced by a file are dropped (the drawing's "generation" changed);
 * among the rest only ever-newer ones are shown.
 */
import * as drawing from "./drawing.js";
import * as results from "./results.js";

const MIN_INTERVAL_MS = 150; // between two live requests while drawing
// While the pen is down, a drawing that reaches less far than this (in pen widths) is not sent
// yet: it is still growing, and the service refuses a dot or a short tick as no digit.
const MIN_LIVE_SPAN = 2;
const TIMEOUT_MS = 10000;
// relative: works behind a path prefix too. The explanation feeds the "Inside the network" panel.
const PREDICT_URL = "predict?preview=1&explain=1";

let generation = 0; // of the drawing: a new one each time it is cleared, undone or replaced
let sequence = 0; // of the requests sent ...
let shownSequence = 0; // ... and of the one whose answer is shown
const flying = []; // generations of the requests in flight
const live = {
  queued: false, // the drawing changed since the last live request started
  inFlight: false,
  timer: 0, // waiting out MIN_INTERVAL_MS
  lastStart: -Infinity,
  controller: null, // aborts the live request when its drawing is gone
};

/* The drawing changed: send it once the pace allows. */
export function sendDrawing() {
  if (drawing.isEmpty() || (drawing.isDrawing() && drawing.spanInPens() < MIN_LIVE_SPAN)) return;
  live.queued = true;
  showBusy();
  pump();
}

/* The drawing the answers on their way are about is gone. */
export function forget() {
  generation += 1;
  live.queued = false;
  clearTimeout(live.timer);
  live.timer = 0;
  if (live.controller) live.controller.abort(); // frees the slot for the new drawing at once
  showBusy();
}

export function sendFile(file) {
  const form = new FormData();
  form.append("image", file, file.name || "image");
  send(Promise.resolve({ body: form, headers: {} })).finally(showBusy);
  showBusy();
}

function showBusy() {
  const busy = live.queued || live.timer !== 0 || flying.includes(generation);
  results.setBusy(busy);
  return busy;
}

function pump() {
  if (!live.queued || live.inFlight || live.timer) return;
  const wait = live.lastStart + MIN_INTERVAL_MS - performance.now();
  if (wait > 0) {
    live.timer = setTimeout(() => {
      live.timer = 0;
      pump();
    }, wait);
    return;
  }
  live.queued = false;
  live.inFlight = true;
  live.lastStart = performance.now();
  const controller = new AbortController();
  live.controller = controller;
  const png = drawing.exportPng().then((blob) => ({ body: blob, headers: { "Content-Type": "image/png" } }));
  send(png, controller).finally(() => {
    if (live.controller === controller) live.controller = null;
    live.inFlight = false;
    pump();
    showBusy();
  });
}

async function send(request, controller = new AbortController()) {
  const mine = ++sequence;
  const gen = generation;
  flying.push(gen);
  let outcome;
  try {
    const { body, headers } = await request;
    outcome = await post(body, headers, controller);
    // the image the answer is about, for a correction (feedback.js): the drawing's PNG or the file
    if (outcome.answer) outcome.answer.image = body instanceof FormData ? body.get("image") : body;
  } catch (err) {
    outcome = { failure: "unprepared" };
  } finally {
    flying.splice(flying.indexOf(gen), 1);
  }
  if (gen !== generation || mine < shownSequence) return;
  shownSequence = mine;
  if (outcome.answer) results.showAnswer(outcome.answer);
  else if (outcome.status === 422 && drawing.isDrawing()) results.reset("Keep drawing…"); // no verdict yet
  else results.showProblem(outcome);
  if (!showBusy()) results.announce();
}

/* {answer} for a prediction, else {status} of an answer that is none, or {failure}. */
async function post(body, headers, controller) {
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  let response;
  try {
    response = await fetch(PREDICT_URL, {
      method: "POST",
      body,
      headers,
      signal: controller.signal,
      cache: "no-store",
      credentials: "same-origin",
    });
  } catch (err) {
    clearTimeout(timer);
    return { failure: err && err.name === "AbortError" ? "timeout" : "unreachable" };
  }
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null; // a proxy's HTML error page, or a body cut short
  } finally {
    clearTimeout(timer);
  }
  if (response.ok && data && typeof data.digit === "number" && Array.isArray(data.probabilities)) {
    return { answer: data };
  }
  return { status: response.status };
}
