/* Showing answers: the digit, its confidence, the bars and what the network saw; problems in
 * plain words; and each answer passed on to whoever follows them (the inside panel, corrections).
 */

const $ = (id) => document.getElementById(id);
const result = $("result");
const prediction = $("prediction");
const confidence = $("confidence");
const unsure = $("unsure");
const preview = $("preview");
const errorBox = $("error");
const announcer = $("announce");
const modelId = $("model-id");
const bars = Array.from(document.querySelectorAll("#bars .bar"), (item) => ({
  item,
  value: item.querySelector(".bar-value"),
  fill: item.querySelector(".bar-fill"),
}));
export const maxBytes = Number(document.body.dataset.maxBytes) || 16 * 1024 * 1024;
const maxPixels = Number(document.body.dataset.maxPixels) || 4096 * 4096;

const answerListeners = [];
const resetListeners = [];

/* `listener(answer)` after each answer shown, with the image it is about in `answer.image`. */
export function onAnswer(listener) {
  answerListeners.push(listener);
}

/* `listener()` each time the result is emptied: nothing drawn, or no answer. */
export function onReset(listener) {
  resetListeners.push(listener);
}

const percent = (p, digits = 0) => `${(p * 100).toFixed(digits)}%`;

export function showAnswer(answer) {
  const probs = answer.probabilities;
  const digit = answer.digit;
  const uncertain = answer.uncertain === true;
  errorBox.hidden = true;
  errorBox.textContent = "";
  result.dataset.state = "ready";
  result.dataset.uncertain = String(uncertain);
  prediction.textContent = String(digit);
  prediction.dataset.uncertain = String(uncertain);
  const conf = typeof answer.confidence === "number" ? answer.confidence : probs[digit];
  confidence.textContent = `${percent(conf, conf >= 0.99 || conf < 0.1 ? 1 : 0)} confident`;
  if (uncertain) {
    const [first, second] = probs
      .map((p, d) => [p, d])
      .sort((a, b) => b[0] - a[0])
      .map(([, d]) => d);
    unsure.textContent = `Not sure — maybe ${first} or ${second}`;
    unsure.hidden = false;
  } else {
    unsure.hidden = true;
    unsure.textContent = "";
  }
  bars.forEach((bar, d) => {
    const p = Math.min(1, Math.max(0, Number(probs[d]) || 0));
    bar.fill.style.transform = `scaleY(${p})`;
    bar.value.textContent = percent(p);
    bar.item.classList.toggle("best", d === digit);
  });
  if (typeof answer.preview === "string" && answer.preview.startsWith("data:image/")) {
    preview.src = answer.preview;
    preview.alt = `The 28 by 28 pixel image the network saw, read as ${digit}`;
    preview.hidden = false;
  }
  if (answer.model) modelId.textContent = `Model ${answer.model}`;
  for (const listener of answerListeners) listener(answer);
}

export function reset(message = "Draw a digit to start.") {
  result.dataset.state = "empty";
  result.dataset.uncertain = "false";
  prediction.textContent = "";
  delete prediction.dataset.uncertain;
  confidence.textContent = message;
  unsure.hidden = true;
  unsure.textContent = "";
  for (const bar of bars) {
    bar.fill.style.transform = "scaleY(0)";
    bar.value.textContent = "–";
    bar.item.classList.remove("best");
  }
  preview.hidden = true;
  preview.removeAttribute("src");
  preview.alt = "";
  errorBox.hidden = true;
  errorBox.textContent = "";
  announcer.textContent = "";
  for (const listener of resetListeners) listener();
}

/* A first stroke is on its way to the service. */
export function reading() {
  if (result.dataset.state === "empty") confidence.textContent = "Reading your digit…";
}

export function setBusy(busy) {
  result.setAttribute("aria-busy", String(busy));
}

/* No answer: {status} of the service's refusal, or {failure} on the way. */
export function showProblem(problem) {
  reset("No answer.");
  result.dataset.state = "error";
  errorBox.textContent = describe(problem);
  errorBox.hidden = false;
}

function describe({ status, failure }) {
  switch (failure) {
    case "not_an_image":
      return "That file isn't an image. Choose a PNG, JPEG, GIF, BMP or WebP picture.";
    case "unprepared":
      return "Your drawing could not be prepared for sending. Please try again.";
    case "timeout":
      return "The digit service took too long to answer. Check your connection and try again.";
    case "unreachable":
      return "Can't reach the digit service. Check your connection, then draw or choose the image again.";
    default:
      return describeStatus(status);
  }
}

function describeStatus(status) {
  const round = (n) => (n >= 10 ? Math.floor(n) : Math.floor(n * 10) / 10);
  const megapixels = round(maxPixels / 1e6);
  const limits = `at most ${round(maxBytes / (1024 * 1024))} MB and ${megapixels} megapixel${megapixels === 1 ? "" : "s"}`;
  switch (status) {
    case 200:
      return "The digit service sent an answer this page doesn't understand.";
    case 400:
      return "That file couldn't be read as an image. Try another picture.";
    case 413:
      return `That image is too large. Choose a smaller picture (${limits}).`;
    case 415:
      return "That file type isn't supported. Choose a PNG, JPEG, GIF, BMP or WebP image.";
    case 422:
      return "No digit found. Draw one whole digit, large, or choose a picture with one clear digit.";
    case 429:
      return "The digit service is busy. Wait a moment and try again.";
    default:
      if (status >= 500) return `The digit service isn't working right now (error ${status}). Try again in a moment.`;
      return `The digit service answered with an unexpected error (${status}).`;
  }
}

/* Say the settled answer to screen readers; problems are announced by their alert role. */
export function announce() {
  if (result.dataset.state !== "ready") return;
  const digit = prediction.textContent;
  announcer.textContent =
    prediction.dataset.uncertain === "true"
      ? `Not sure. ${unsure.textContent.replace("Not sure — ", "")}.`
      : `Predicted ${digit}, ${confidence.textContent}.`;
}
