/* Image files: chosen, dropped or pasted. Each is shown on the pad and sent to the service as
 * it is: the service reads photos, scans and screenshots as well as drawings.
 */
import * as drawing from "./drawing.js";
import * as requests from "./requests.js";
import * as results from "./results.js";

const input = document.getElementById("file");
const pad = document.getElementById("pad");
let dragDepth = 0;

export function start() {
  input.addEventListener("change", () => {
    classify(input.files && input.files[0]);
    input.value = ""; // choosing the same file again classifies it again
  });
  // The label's own click opens the file picker; a release that never became a click opens it too.
  drawing.onPress(document.getElementById("file-label"), () => input.click(), { keepClick: true });
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
    if (file) classify(file);
  });
  document.addEventListener("paste", (event) => {
    const items = event.clipboardData ? Array.from(event.clipboardData.files || []) : [];
    const image = items.find((f) => f.type.startsWith("image/"));
    if (image) {
      event.preventDefault();
      classify(image);
    }
  });
}

const hasFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types || []).includes("Files");

function classify(file) {
  if (!file) return;
  drawing.clear();
  if (file.type && !file.type.startsWith("image/")) {
    results.showProblem({ failure: "not_an_image" });
    return;
  }
  if (file.size > results.maxBytes) {
    results.showProblem({ status: 413 }); // refused here: no upload the service would refuse
    return;
  }
  drawing.showPicture(file);
  requests.sendFile(file);
}
