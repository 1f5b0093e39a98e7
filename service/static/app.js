/* The draw-a-digit page: pointer drawing, live predictions from POST /predict, files.
 *
 * Plain JavaScript, no framework and no build step. Strokes are kept as arrays of
 * points in canvas units (0..1), so Undo and resizing simply redraw them. What goes to
 * the service is a fixed-size black-on-white PNG rendered from the same strokes: the
 * service crops, scales and centres it like MNIST, and answers with the 28x28 image the
 * network saw.
 */
(() => {
  "use strict";

  const LINE_WIDTH = 1 / 16; // of the canvas side: MNIST strokes are about 1/8 of the digit's height
  // px of the PNG sent to the service: twice the 28 px the network sees, so small drawings keep
  // their detail, yet half as much to decode as 112 px (the README has the measured accuracies).
  const EXPORT_SIDE = 56;
  const MIN_INTERVAL_MS = 150; // between two live requests while drawing
  const TIMEOUT_MS = 10000;
  // relative: works behind a path prefix too. The explanation feeds the "Inside the network" panel.
  const PREDICT_URL = "predict?preview=1&explain=1";

  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas");
  const pad = $("pad");
  const undoButton = $("undo");
  const clearButton = $("clear");
  const fileInput = $("file");
  const result = $("result");
  const prediction = $("prediction");
  const confidence = $("confidence");
  const unsure = $("unsure");
  const preview = $("preview");
  const errorBox = $("error");
  const announce = $("announce");
  const modelId = $("model-id");
  const bars = Array.from(document.querySelectorAll("#bars .bar"), (item) => ({
    item,
    value: item.querySelector(".bar-value"),
    fill: item.querySelector(".bar-fill"),
  }));
  const maxBytes = Number(document.body.dataset.maxBytes) || 16 * 1024 * 1024;
  const maxPixels = Number(document.body.dataset.maxPixels) || 4096 * 4096;
  const ctx = canvas.getContext("2d");

  // ---- the drawing -------------------------------------------------------------------

  let strokes = []; // each an array of [x, y] in canvas units
  let activePointer = null; // the pointer drawing the last stroke, while it is down
  let picture = null; // an ImageBitmap of a chosen file, shown on the pad
  let colors = readColors();
  let renderQueued = false;

  function readColors() {
    const style = getComputedStyle(pad);
    return {
      paper: style.getPropertyValue("--paper").trim() || "#fff",
      ink: style.getPropertyValue("--ink").trim() || "#111",
    };
  }

  function isEmpty() {
    return strokes.length === 0 && picture === null;
  }

  function drawStrokes(context, side, list, color) {
    context.lineCap = "round";
    context.lineJoin = "round";
    context.lineWidth = side * LINE_WIDTH;
    context.strokeStyle = color;
    context.fillStyle = color;
    for (const points of list) {
      const p = points.map(([x, y]) => [x * side, y * side]);
      if (p.length === 1) {
        context.beginPath();
        context.arc(p[0][0], p[0][1], context.lineWidth / 2, 0, 2 * Math.PI);
        context.fill();
        continue;
      }
      // Quadratic curves through the midpoints: smooth, and still passing near every point.
      context.beginPath();
      context.moveTo(p[0][0], p[0][1]);
      for (let i = 1; i < p.length - 1; i += 1) {
        const mx = (p[i][0] + p[i + 1][0]) / 2;
        const my = (p[i][1] + p[i + 1][1]) / 2;
        context.quadraticCurveTo(p[i][0], p[i][1], mx, my);
      }
      const last = p[p.length - 1];
      context.lineTo(last[0], last[1]);
      context.stroke();
    }
  }

  function drawPicture(context, side) {
    if (picture.placeholder) return; // still decoding
    const scale = Math.min(side / picture.width, side / picture.height);
    const w = picture.width * scale;
    const h = picture.height * scale;
    context.drawImage(picture, (side - w) / 2, (side - h) / 2, w, h);
  }

  function render() {
    renderQueued = false;
    const side = canvas.width;
    ctx.fillStyle = colors.paper;
    ctx.fillRect(0, 0, side, side);
    if (picture) drawPicture(ctx, side);
    drawStrokes(ctx, side, strokes, colors.ink);
  }

  function scheduleRender() {
    if (!renderQueued) {
      renderQueued = true;
      requestAnimationFrame(render);
    }
  }

  function resize() {
    // Backing store in device pixels, so strokes stay crisp on high-density screens.
    const ratio = window.devicePixelRatio || 1;
    const side = Math.max(1, Math.round(canvas.getBoundingClientRect().width * ratio));
    if (canvas.width !== side || canvas.height !== side) {
      canvas.width = side;
      canvas.height = side;
    }
    render();
  }

  function updateControls() {
    const empty = isEmpty();
    // Muted, not disabled: pressing them on an empty pad is harmless, and they keep their focus.
    undoButton.classList.toggle("is-idle", empty);
    clearButton.classList.toggle("is-idle", empty);
    pad.classList.toggle("has-ink", !empty);
  }

  function pointFrom(event) {
    const rect = canvas.getBoundingClientRect();
    return [(event.clientX - rect.left) / rect.width, (event.clientY - rect.top) / rect.height];
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (activePointer !== null) return; // one stroke at a time: a second finger is ignored
    if (event.pointerType === "mouse" && event.button !== 0) return;
    event.preventDefault();
    try {
      canvas.setPointerCapture(event.pointerId); // the stroke goes on outside the pad
    } catch (err) {
      // the pointer is already gone: draw without capture
    }
    activePointer = event.pointerId;
    if (picture) {
      // Drawing after a chosen image starts a new drawing.
      picture = null;
      newDrawing();
    }
    strokes.push([pointFrom(event)]);
    if (result.dataset.state === "empty") confidence.textContent = "Reading your digit…";
    updateControls();
    scheduleRender();
    requestPrediction();
  });

  canvas.addEventListener("pointermove", (event) => {
    if (event.pointerId !== activePointer) return;
    event.preventDefault();
    const stroke = strokes[strokes.length - 1];
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) {
      const point = pointFrom(e);
      const last = stroke[stroke.length - 1];
      if (Math.hypot(point[0] - last[0], point[1] - last[1]) > 0.002) stroke.push(point);
    }
    scheduleRender();
    requestPrediction();
  });

  function endStroke(event) {
    if (event.pointerId !== activePointer) return;
    activePointer = null;
    if (canvas.hasPointerCapture(event.pointerId)) canvas.releasePointerCapture(event.pointerId);
    scheduleRender();
    requestPrediction(); // the stroke's final shape is always classified
  }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  canvas.addEventListener("lostpointercapture", endStroke);
  canvas.addEventListener("contextmenu", (event) => event.preventDefault());

  function undo() {
    if (activePointer !== null) return;
    if (strokes.length) strokes.pop();
    else if (picture) picture = null;
    else return;
    afterEdit();
  }

  function clear() {
    if (activePointer !== null) {
      if (canvas.hasPointerCapture(activePointer)) canvas.releasePointerCapture(activePointer);
      activePointer = null;
    }
    strokes = [];
    picture = null;
    afterEdit();
  }

  function afterEdit() {
    newDrawing();
    updateControls();
    render(); // at once: the pad must never show what was just removed
    if (isEmpty()) {
      resetResult();
      setBusy();
    } else {
      requestPrediction();
    }
  }

  // A tap right after a quick stroke can be taken by the browser as "stop the fling" and
  // never become a click; the buttons therefore act on the finger's or pen's release too.
  function onPress(element, action, { keepClick = false } = {}) {
    let pressedBy = null;
    let pressedAt = -Infinity;
    element.addEventListener("pointerdown", (event) => {
      if (event.pointerType !== "mouse" && event.isPrimary) pressedBy = event.pointerId;
    });
    element.addEventListener("pointercancel", () => {
      pressedBy = null;
    });
    element.addEventListener("pointerup", (event) => {
      if (event.pointerId !== pressedBy) return;
      pressedBy = null;
      const r = element.getBoundingClientRect();
      if (event.clientX < r.left || event.clientX > r.right || event.clientY < r.top || event.clientY > r.bottom) return;
      pressedAt = performance.now();
      action();
    });
    element.addEventListener("click", (event) => {
      if (performance.now() - pressedAt < 1000) {
        event.preventDefault(); // the same tap, already handled on release
      } else if (!keepClick) {
        action();
      }
    });
  }

  onPress(undoButton, undo);
  onPress(clearButton, clear);
  // The label's own click opens the file picker; a release that never became a click opens it too.
  onPress($("file-label"), () => fileInput.click(), { keepClick: true });

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.isComposing) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    const key = event.key;
    const command = event.ctrlKey || event.metaKey;
    if (command && !event.altKey && !event.shiftKey && key.toLowerCase() === "z") {
      event.preventDefault();
      undo();
    } else if (!command && !event.altKey) {
      if (key === "Escape" || key === "Delete") {
        event.preventDefault();
        clear();
      } else if (key === "u" || key === "U" || key === "Backspace") {
        event.preventDefault();
        undo();
      }
    }
  });

  // ---- talking to the service ------------------------------------------------------

  // Answers for a drawing that was since cleared, undone or replaced by a file are dropped
  // (the drawing's "generation" changed); among the rest only ever-newer ones are shown.
  let generation = 0;
  let sequence = 0;
  let shownSequence = 0;
  let liveInFlight = false; // at most one live request at a time ...
  let liveQueued = false; // ... and the latest drawing is sent when it returns
  let liveTimer = 0;
  let lastLiveStart = -Infinity;
  let liveController = null; // aborts the live request when its drawing is gone
  const flying = []; // generations of requests in flight

  function newDrawing() {
    generation += 1;
    liveQueued = false;
    clearTimeout(liveTimer);
    liveTimer = 0;
    if (liveController) liveController.abort(); // frees the slot for the new drawing at once
  }

  function setBusy() {
    const busy = liveQueued || liveTimer !== 0 || flying.includes(generation);
    result.setAttribute("aria-busy", String(busy));
    return busy;
  }

  function requestPrediction() {
    if (isEmpty()) return;
    liveQueued = true;
    setBusy();
    pump();
  }

  function pump() {
    if (!liveQueued || liveInFlight || liveTimer) return;
    const wait = lastLiveStart + MIN_INTERVAL_MS - performance.now();
    if (wait > 0) {
      liveTimer = setTimeout(() => {
        liveTimer = 0;
        pump();
      }, wait);
      return;
    }
    liveQueued = false;
    liveInFlight = true;
    lastLiveStart = performance.now();
    const controller = new AbortController();
    liveController = controller;
    send(exportDrawing(), controller).finally(() => {
      if (liveController === controller) liveController = null;
      liveInFlight = false;
      pump();
      setBusy();
    });
  }

  function exportDrawing() {
    // Always black on white and the same size, whatever the screen and colour scheme.
    const off = document.createElement("canvas");
    off.width = EXPORT_SIDE;
    off.height = EXPORT_SIDE;
    // Opaque: Chromium then encodes an RGB PNG, a quarter less to inflate than RGBA, and
    // the service has no transparency to check.
    const c = off.getContext("2d", { alpha: false });
    c.fillStyle = "#fff";
    c.fillRect(0, 0, EXPORT_SIDE, EXPORT_SIDE);
    drawStrokes(c, EXPORT_SIDE, strokes, "#000");
    return new Promise((resolve, reject) => {
      off.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("toBlob failed"))), "image/png");
    }).then((blob) => ({ body: blob, headers: { "Content-Type": "image/png" } }));
  }

  async function send(requestBody, controller = new AbortController()) {
    const mine = ++sequence;
    const gen = generation;
    flying.push(gen);
    let outcome;
    try {
      const { body, headers } = await requestBody;
      outcome = await post(body, headers, controller);
      // the image the answer is about, for a correction (feedback.js): the drawing's PNG or the file
      if (outcome.answer) outcome.answer.image = body instanceof FormData ? body.get("image") : body;
    } catch (err) {
      outcome = { error: "Your drawing could not be prepared for sending. Please try again." };
    } finally {
      flying.splice(flying.indexOf(gen), 1);
    }
    if (gen !== generation || mine < shownSequence) return;
    shownSequence = mine;
    if (outcome.error) showError(outcome.error);
    else showAnswer(outcome.answer);
    if (!setBusy()) announceResult();
  }

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
      return {
        error:
          err && err.name === "AbortError"
            ? "The digit service took too long to answer. Check your connection and try again."
            : "Can't reach the digit service. Check your connection, then draw or choose the image again.",
      };
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
    return { error: describeError(response.status) };
  }

  function describeError(status) {
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
        return "No digit found. Draw a digit bigger and bolder, or choose a picture with one clear digit.";
      case 429:
        return "The digit service is busy. Wait a moment and try again.";
      default:
        if (status >= 500) return `The digit service isn't working right now (error ${status}). Try again in a moment.`;
        return `The digit service answered with an unexpected error (${status}).`;
    }
  }

  // ---- showing answers ------------------------------------------------------------

  const percent = (p, digits = 0) => `${(p * 100).toFixed(digits)}%`;

  function showAnswer(answer) {
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
    document.dispatchEvent(new CustomEvent("digit:answer", { detail: answer })); // inside.js, feedback.js
  }

  function resetResult(message = "Draw a digit to start.") {
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
    announce.textContent = "";
    document.dispatchEvent(new CustomEvent("digit:reset"));
  }

  function showError(message) {
    resetResult("No answer.");
    result.dataset.state = "error";
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function announceResult() {
    if (result.dataset.state !== "ready") return; // errors are announced by their alert role
    const digit = prediction.textContent;
    announce.textContent =
      prediction.dataset.uncertain === "true"
        ? `Not sure. ${unsure.textContent.replace("Not sure — ", "")}.`
        : `Predicted ${digit}, ${confidence.textContent}.`;
  }

  // ---- image files: choose, drop or paste --------------------------------------------

  function classifyFile(file) {
    if (!file) return;
    clear();
    if (file.type && !file.type.startsWith("image/")) {
      showError("That file isn't an image. Choose a PNG, JPEG, GIF, BMP or WebP picture.");
      return;
    }
    if (file.size > maxBytes) {
      showError(describeError(413));
      return;
    }
    // Undo and Clear apply to the chosen picture even before the browser has decoded it.
    picture = { width: 1, height: 1, placeholder: true };
    updateControls();
    const gen = generation;
    if (window.createImageBitmap) {
      createImageBitmap(file)
        .then((bitmap) => {
          if (gen !== generation) return;
          picture = bitmap;
          updateControls();
          scheduleRender();
        })
        .catch(() => {}); // the browser cannot show it; the service may still read it
    }
    const form = new FormData();
    form.append("image", file, file.name || "image");
    send(Promise.resolve({ body: form, headers: {} })).finally(setBusy);
    setBusy();
  }

  fileInput.addEventListener("change", () => {
    classifyFile(fileInput.files && fileInput.files[0]);
    fileInput.value = ""; // choosing the same file again classifies it again
  });

  const hasFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types || []).includes("Files");
  let dragDepth = 0;
  document.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth += 1;
    pad.classList.add("dragging");
  });
  document.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault(); // without this the browser would open the file instead
    event.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("dragleave", (event) => {
    if (!hasFiles(event)) return;
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) pad.classList.remove("dragging");
  });
  document.addEventListener("drop", (event) => {
    if (!event.dataTransfer) return;
    event.preventDefault();
    dragDepth = 0;
    pad.classList.remove("dragging");
    const file = event.dataTransfer.files && event.dataTransfer.files[0];
    if (file) classifyFile(file);
  });
  document.addEventListener("paste", (event) => {
    const items = event.clipboardData ? Array.from(event.clipboardData.files || []) : [];
    const image = items.find((f) => f.type.startsWith("image/"));
    if (image) {
      event.preventDefault();
      classifyFile(image);
    }
  });

  // ---- start ------------------------------------------------------------------------

  if (window.ResizeObserver) new ResizeObserver(resize).observe(canvas);
  window.addEventListener("resize", resize); // also catches a changed devicePixelRatio (zoom)
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    colors = readColors();
    render();
  });
  resize();
  updateControls();
  resetResult();
  document.documentElement.dataset.ready = "true";
})();
