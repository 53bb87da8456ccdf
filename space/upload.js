// The Upload tab: a file picker (and, on a phone, the camera); the image is decoded in the browser (EXIF orientation
// applied), scaled to at most props.side px a side and sent as a data URL. A file the browser cannot decode is sent
// as it is, so the server says what is wrong with it.
const input = element.querySelector("input");
const status = element.querySelector(".upload-status");
const side = props.side, maxBytes = props.max_bytes;
function send(url) { status.textContent = ""; props.value = url; }
input.addEventListener("change", async () => {
  const file = input.files[0];
  input.value = "";  // the same file chosen again is a new upload
  if (!file) return;
  if (file.size > maxBytes) {
    status.textContent = `That file is ${(file.size / 1e6).toFixed(1)} MB; an upload can be at most ${maxBytes / 1e6} MB.`;
    return;
  }
  status.textContent = "Reading…";
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch (error) {  // not an image this browser decodes: the server's message says what it is
    const reader = new FileReader();
    reader.onload = () => send(reader.result);
    reader.readAsDataURL(file);
    return;
  }
  const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  send(canvas.toDataURL(file.type === "image/jpeg" ? "image/jpeg" : "image/png", 0.92));  // PNG keeps transparency
});
