/* The drawing pad: strokes under the pointer, Undo and Clear, a chosen picture, and the PNG
 * the service is sent.
 *
 * Strokes are kept as arrays of points in canvas units (0..1), so Undo and resizing simply
 * redraw them. What goes to the service is a fixed-size black-on-white PNG rendered from the
 * same strokes: the service crops, scales and centres it like MNIST.
 */

// The pen, from the server (data/drawing.json, which the renderer of page-like digits reads too):
// the stroke's width as a fraction of the canvas side, and the px of the square PNG sent.
const { line_width: LINE_WIDTH, export_side: EXPORT_SIDE } = JSON.parse(document.body.dataset.pen);

const canvas = document.getElementById("canvas");
const pad = document.getElementById("pad");
const undoButton = document.getElementById("undo");
const clearButton = document.getElementById("clear");
const ctx = canvas.getContext("2d");

let strokes = []; // each an array of [x, y] in canvas units
let activePointer = null; // the pointer drawing the last stroke, while it is down
let picture = null; // an ImageBitmap of a chosen file, shown on the pad
let colors = readColors();
let renderQueued = false;
let hooks = { stroke() {}, replaced() {}, erased() {} };

export function isEmpty() {
  return strokes.length === 0 && picture === null;
}

/* Whether a stroke is being drawn: the pen, finger or mouse button is down. */
export function isDrawing() {
  return activePointer !== null;
}

/* How far the strokes reach, in pen widths: the longer side of their bounding box. */
export function spanInPens() {
  const points = strokes.flat();
  if (!points.length) return 0;
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  return Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)) / LINE_WIDTH;
}

/* Listen to the pointer, the buttons and the keys. `stroke(phase)` is called as a stroke
 * "start"s, "move"s and "end"s, `replaced()` when a stroke starts a new drawing over a chosen
 * picture, `erased()` when Undo or Clear took ink away. */
export function start({ stroke, replaced, erased }) {
  hooks = { stroke, replaced, erased };
  listenToThePointer();
  onPress(undoButton, undo);
  onPress(clearButton, clear);
  document.addEventListener("keydown", onKey);
  if (window.ResizeObserver) new ResizeObserver(resize).observe(canvas);
  window.addEventListener("resize", resize); // also catches a changed devicePixelRatio (zoom)
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    colors = readColors();
    render();
  });
  resize();
  updateControls();
}

// ---- painting ----------------------------------------------------------------------

function readColors() {
  const style = getComputedStyle(pad);
  return {
    paper: style.getPropertyValue("--paper").trim() || "#fff",
    ink: style.getPropertyValue("--ink").trim() || "#111",
  };
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

/* The drawing as the service is sent it: always black on white and the same size, whatever
 * the screen and colour scheme. A promise of the PNG's Blob. */
export function exportPng() {
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
  });
}

// ---- strokes under the pointer ----------------------------------------------------

function pointFrom(event) {
  const rect = canvas.getBoundingClientRect();
  return [(event.clientX - rect.left) / rect.width, (event.clientY - rect.top) / rect.height];
}

function listenToThePointer() {
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
      hooks.replaced();
    }
    strokes.push([pointFrom(event)]);
    updateControls();
    scheduleRender();
    hooks.stroke("start");
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
    hooks.stroke("move");
  });

  const endStroke = (event) => {
    if (event.pointerId !== activePointer) return;
    activePointer = null;
    if (canvas.hasPointerCapture(event.pointerId)) canvas.releasePointerCapture(event.pointerId);
    scheduleRender();
    hooks.stroke("end"); // the stroke's final shape is always classified
  };
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  canvas.addEventListener("lostpointercapture", endStroke);
  canvas.addEventListener("contextmenu", (event) => event.preventDefault());
}

// ---- Undo, Clear and a chosen picture ----------------------------------------------

function undo() {
  if (activePointer !== null) return;
  if (strokes.length) strokes.pop();
  else if (picture) picture = null;
  else return;
  afterEdit();
}

export function clear() {
  if (activePointer !== null) {
    if (canvas.hasPointerCapture(activePointer)) canvas.releasePointerCapture(activePointer);
    activePointer = null;
  }
  strokes = [];
  picture = null;
  afterEdit();
}

function afterEdit() {
  updateControls();
  render(); // at once: the pad must never show what was just removed
  hooks.erased();
}

/* Show a chosen image file on the pad (Undo and Clear apply to it even before the browser
 * has decoded it). */
export function showPicture(file) {
  const shown = { width: 1, height: 1, placeholder: true };
  picture = shown;
  updateControls();
  if (!window.createImageBitmap) return;
  createImageBitmap(file)
    .then((bitmap) => {
      if (picture !== shown) return; // cleared or replaced meanwhile
      picture = bitmap;
      updateControls();
      scheduleRender();
    })
    .catch(() => {}); // the browser cannot show it; the service may still read it
}

// A tap right after a quick stroke can be taken by the browser as "stop the fling" and
// never become a click; the buttons therefore act on the finger's or pen's release too.
export function onPress(element, action, { keepClick = false } = {}) {
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

function onKey(event) {
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
}
