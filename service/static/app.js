/* The draw-a-digit page: draw or choose a digit, and see live what the network thinks.
 *
 * Plain ES modules from this origin, no framework and no build step, one idea each:
 *   drawing.js   the pad: strokes, Undo, Clear, the PNG sent;
 *   requests.js  talking to the service: live requests paced while drawing, stale answers dropped;
 *   results.js   the answer shown, problems in plain words;
 *   files.js     image files chosen, dropped or pasted;
 *   inside.js    the "Inside the network" panel;
 *   feedback.js  "Wrong? It was …", a module script of its own that the template adds only
 *                when the server stores corrections.
 * This module wires them together.
 */
import * as drawing from "./drawing.js";
import * as files from "./files.js";
import * as inside from "./inside.js";
import * as requests from "./requests.js";
import * as results from "./results.js";

results.onAnswer(inside.show);
results.onReset(inside.reset);

drawing.start({
  stroke(phase) {
    if (phase === "start") results.reading();
    requests.sendDrawing();
  },
  replaced: requests.forget,
  erased() {
    requests.forget();
    if (drawing.isEmpty()) results.reset();
    else requests.sendDrawing();
  },
});
files.start();
inside.start();
results.reset();
document.documentElement.dataset.ready = "true";
