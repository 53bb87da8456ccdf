// The drawing pad: a plain <canvas> in a gr.HTML component. Its value is the drawing as a PNG data URL (props.size
// px a side, "" when clear), set on each stroke's end: one small string per stroke, no file uploads. An image the
// server puts in the value (an upload or example) is painted on the pad and can be drawn over.
const canvas = element.querySelector("canvas");
const ctx = canvas.getContext("2d");
const strokes = [];  // each a list of [x, y] in canvas pixels
let current = null, shown = null, sent = props.value || "";  // shown: an image the server put on the pad

function paint() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (shown) ctx.drawImage(shown, 0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#000";
  ctx.lineWidth = props.pen * canvas.width;
  ctx.lineCap = ctx.lineJoin = "round";
  ctx.fillStyle = "#000";
  for (const stroke of strokes) {
    ctx.beginPath();
    if (stroke.every(([x, y]) => x === stroke[0][0] && y === stroke[0][1])) {
      // a tap: a dot the pen's width (a zero-length line is not drawn, and an invisible stroke would make Undo do nothing)
      ctx.arc(...stroke[0], ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.moveTo(...stroke[0]);
    for (const point of stroke) ctx.lineTo(...point);
    ctx.stroke();
  }
}
function send() {
  sent = strokes.length || shown ? canvas.toDataURL("image/png") : "";
  props.value = sent;  // fires the pad's change event: one call per stroke
}
function at(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
}
canvas.addEventListener("pointerdown", (event) => {
  if (event.button > 0) return;
  canvas.setPointerCapture(event.pointerId);
  current = [at(event)];
  strokes.push(current);
  paint();
});
canvas.addEventListener("pointermove", (event) => {
  if (!current) return;
  current.push(at(event));
  paint();
});
for (const type of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(type, () => {
    if (!current) return;
    current = null;
    send();
  });
}
element.querySelector(".pad-undo").addEventListener("click", () => {
  if (strokes.length) strokes.pop();
  else shown = null;
  paint();
  send();
});
element.querySelector(".pad-clear").addEventListener("click", () => {
  strokes.length = 0;
  shown = null;
  paint();
  send();
});
watch("value", () => {
  if ((props.value || "") === sent) return;  // our own stroke coming back, or still empty (null and "" alike)
  strokes.length = 0;
  shown = null;
  sent = props.value || "";
  if (!sent) return paint();
  const image = new Image();
  image.onload = () => { shown = image; paint(); };
  image.src = sent;
});
paint();
canvas.dataset.ready = "true";  // strokes are taken from here on (tests wait for it; a slow phone may take a moment)
