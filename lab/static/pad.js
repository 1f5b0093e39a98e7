/* The drawing box: pointer strokes on a canvas, exported as a small black-on-white PNG.
 *
 * Strokes are kept in canvas units (0..1), so resizing redraws them. The PNG goes to the
 * lab, which reads it with the project's one `preprocess` (crop, scale, centre by mass, as
 * MNIST was made) before the network sees it.
 */

const LINE_WIDTH = 1 / 16; // of the side: MNIST's strokes are about 1/8 of the digit's height
const EXPORT_SIDE = 56; // px: twice the 28 the network sees

export class Pad {
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.onChange = onChange;
    this.strokes = [];
    this.pointer = null;
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
      canvas.addEventListener(type, (e) => this.up(e));
    }
    canvas.addEventListener("keydown", (e) => {
      if (e.key === "Escape" || e.key === "Delete") this.clear();
    });
    new ResizeObserver(() => this.render()).observe(canvas);
  }

  isEmpty() {
    return this.strokes.length === 0;
  }

  point(event) {
    const rect = this.canvas.getBoundingClientRect();
    return [(event.clientX - rect.left) / rect.width, (event.clientY - rect.top) / rect.height];
  }

  down(event) {
    if (this.pointer !== null || (event.pointerType === "mouse" && event.button !== 0)) return;
    event.preventDefault();
    try {
      this.canvas.setPointerCapture(event.pointerId);
    } catch (err) {
      // the pointer is gone already: draw without capture
    }
    this.pointer = event.pointerId;
    this.strokes.push([this.point(event)]);
    this.render();
  }

  move(event) {
    if (event.pointerId !== this.pointer) return;
    event.preventDefault();
    const stroke = this.strokes[this.strokes.length - 1];
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) stroke.push(this.point(e));
    this.render();
  }

  up(event) {
    if (event.pointerId !== this.pointer) return;
    this.pointer = null;
    this.render();
    this.onChange();
  }

  clear() {
    this.strokes = [];
    this.pointer = null;
    this.render();
    this.onChange();
  }

  paint(context, side, paper, ink) {
    context.fillStyle = paper;
    context.fillRect(0, 0, side, side);
    context.lineCap = "round";
    context.lineJoin = "round";
    context.lineWidth = side * LINE_WIDTH;
    context.strokeStyle = ink;
    context.fillStyle = ink;
    for (const stroke of this.strokes) {
      const p = stroke.map(([x, y]) => [x * side, y * side]);
      context.beginPath();
      if (p.length === 1) {
        context.arc(p[0][0], p[0][1], context.lineWidth / 2, 0, 2 * Math.PI);
        context.fill();
        continue;
      }
      context.moveTo(p[0][0], p[0][1]);
      for (const [x, y] of p.slice(1)) context.lineTo(x, y);
      context.stroke();
    }
  }

  render() {
    const ratio = window.devicePixelRatio || 1;
    const side = Math.max(1, Math.round(this.canvas.clientWidth * ratio));
    if (this.canvas.width !== side) {
      this.canvas.width = side;
      this.canvas.height = side;
    }
    const style = getComputedStyle(this.canvas.parentElement);
    this.paint(this.canvas.getContext("2d"), side, style.getPropertyValue("--paper"), style.getPropertyValue("--ink"));
    this.canvas.parentElement.classList.toggle("has-ink", !this.isEmpty());
  }

  /* The drawing as PNG bytes (a Blob): black ink on white, whatever the page's theme. */
  png() {
    const out = document.createElement("canvas");
    out.width = EXPORT_SIDE;
    out.height = EXPORT_SIDE;
    this.paint(out.getContext("2d"), EXPORT_SIDE, "#fff", "#000");
    return new Promise((resolve) => out.toBlob(resolve, "image/png"));
  }
}
