/* "Wrong? It was …": after each answer, a button for each other digit (or its key) stores a correction
 * through POST /feedback, with the image the answer was about (requests.js adds it to the answer).
 *
 * The correction goes out UNDO_MS after the tap, so Undo never has to delete anything on the
 * server; one still waiting goes at once when another digit is chosen or the page is left.
 * A module script of its own, which the template adds only when the server stores corrections:
 * it follows the answers itself.
 */
import { onAnswer, onReset } from "./results.js";

const UNDO_MS = 4000;
const FEEDBACK_URL = "feedback"; // relative: works behind a path prefix too

const $ = (id) => document.getElementById(id);
const box = $("feedback");
const status = $("feedback-status");
const statusText = $("feedback-text");
const undoButton = $("feedback-undo");
const digitButtons = Array.from(box.querySelectorAll(".feedback-digit"));

let answer = null; // the answer shown, with its image
let pending = null; // { form, timer } of the correction waiting out its undo time

onAnswer((shown) => {
  answer = shown;
  box.hidden = !(answer.image instanceof Blob);
  for (const button of digitButtons) button.hidden = Number(button.dataset.digit) === answer.digit;
});
onReset(() => {
  answer = null;
  box.hidden = true;
});
for (const button of digitButtons) {
  button.addEventListener("click", () => choose(Number(button.dataset.digit)));
}
undoButton.addEventListener("click", undo);
document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.isComposing || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
  if (box.hidden || !/^[0-9]$/.test(event.key) || Number(event.key) === answer.digit) return;
  event.preventDefault();
  choose(Number(event.key));
});
window.addEventListener("pagehide", () => {
  if (!pending) return;
  clearTimeout(pending.timer);
  navigator.sendBeacon(FEEDBACK_URL, pending.form);
  pending = null;
});

function choose(label) {
  if (!answer) return;
  sendPending();
  const form = new FormData();
  form.append("image", answer.image, "drawing.png");
  form.append("label", String(label));
  form.append("predicted", String(answer.digit));
  if (answer.model) form.append("model", answer.model);
  form.append("source", "page");
  pending = { form, timer: setTimeout(sendPending, UNDO_MS) };
  say(`Thanks: it was ${label}. Saving…`, true);
}

function undo() {
  if (!pending) return;
  clearTimeout(pending.timer);
  pending = null;
  say("Not saved.", false);
}

function sendPending() {
  if (!pending) return;
  clearTimeout(pending.timer);
  const { form } = pending;
  pending = null;
  store(form);
}

async function store(form) {
  const label = form.get("label");
  try {
    const response = await fetch(FEEDBACK_URL, {
      method: "POST",
      body: form,
      cache: "no-store",
      credentials: "same-origin",
    });
    if (response.status === 201) say(`Saved: it was ${label}. Thank you.`, false);
    else if (response.status === 429) say("Too many corrections at once. Wait a moment and try again.", false);
    else say(`The correction could not be saved (error ${response.status}).`, false);
  } catch (err) {
    say("The correction could not be saved: can't reach the digit service.", false);
  }
}

function say(text, canUndo) {
  statusText.textContent = text;
  undoButton.hidden = !canUndo;
  status.hidden = false;
}
