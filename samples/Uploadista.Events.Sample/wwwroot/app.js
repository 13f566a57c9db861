// The sample page: uploads the files a person picks or drops, and shows each one's progress and
// processing live through the Uploadista.Events browser client, which the library itself serves.
import { UploadistaEvents, UploadTracker } from "/_content/Uploadista.Events/uploadista-events.js";

// Uploads go to this server, or to the one named by ?upload=http://host:port (another instance sharing
// Redis): the bytes land there while this page watches here.
const api = new URLSearchParams(location.search).get("upload")?.replace(/\/$/, "") ?? "";
const events = new UploadistaEvents();
// The tracker watches every file of the page over one WebSocket ({prefix}/ws), each upload subscribed
// with its own token; over Server-Sent Events (where WebSockets are broken) each has a stream.
const tracker = new UploadTracker(events, render);
const views = new Map();
const toasted = new Set();

const list = document.getElementById("uploads");
const drop = document.getElementById("drop");
const input = document.getElementById("files");
const template = document.getElementById("upload-template");

input.addEventListener("change", () => {
  for (const file of input.files) upload(file);
  input.value = "";
});
for (const name of ["dragenter", "dragover"]) {
  drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("over"); });
}
for (const name of ["dragleave", "drop"]) {
  drop.addEventListener(name, () => drop.classList.remove("over"));
}
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  for (const file of e.dataTransfer.files) upload(file);
});

async function upload(file) {
  let uploadId;
  try {
    // 1. Create the upload; its token lets this page, and only it, watch the upload.
    const created = await fetch(`${api}/api/uploads`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ filename: file.name, size: file.size }),
    });
    if (!created.ok) throw new Error(`Could not create the upload (${created.status}).`);
    const body = await created.json();
    uploadId = body.uploadId;

    // 2. Watch it before any byte is sent.
    tracker.track(uploadId, { token: tokens(uploadId, body), name: file.name });

    // 3. Send the bytes; progress comes back over the socket.
    const sent = await fetch(`${api}/api/uploads/${uploadId}`, { method: "PUT", body: file });
    if (!sent.ok) {
      const problem = await sent.json().catch(() => ({}));
      tracker.fail(uploadId, problem.detail ?? `The upload failed (${sent.status}).`);
    }
  } catch (error) {
    if (uploadId) tracker.fail(uploadId, error.message);
    else showToast("error", "Upload failed", `${file.name}: ${error.message}`);
  }
}

// Tokens expire (Uploadista:Events:Tokens:Lifetime), so every subscription after the first (on a new
// socket after a drop, or after a refusal worth retrying) asks the server for a fresh one, with the owner key that proves this page created the upload. None at all
// when the server runs with tokens off (--Sample:RequireTokens=false).
function tokens(uploadId, created) {
  if (!created.token) return undefined;
  let first = created.token;
  return async () => {
    if (first) {
      const token = first;
      first = null;
      return token;
    }
    const response = await fetch(`${api}/api/uploads/${uploadId}/token`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ownerKey: created.ownerKey }),
    });
    // Refused for good (not ours, or gone): stop watching. Anything else is worth a retry.
    if (response.status === 403 || response.status === 404) tracker.fail(uploadId, `Not allowed to watch this upload any more (${response.status}).`);
    if (!response.ok) throw new Error(`Could not get a fresh token (${response.status}).`);
    return (await response.json()).token;
  };
}

function render(upload) {
  let view = views.get(upload.uploadId);
  if (!view) {
    view = template.content.firstElementChild.cloneNode(true);
    view.dataset.uploadId = upload.uploadId;
    view.querySelector(".name").textContent = upload.name;
    list.prepend(view);
    views.set(upload.uploadId, view);
  }

  const percent = Math.round(upload.progress * 100);
  view.dataset.status = upload.status;
  view.querySelector(".status").textContent = statusText(upload);
  view.querySelector(".fill").style.width = `${percent}%`;
  view.querySelector(".bar").setAttribute("aria-valuenow", String(percent));
  view.querySelector(".percent").textContent = `${percent}%`;
  view.querySelector(".bytes").textContent = upload.totalBytes ? `${size(upload.bytesUploaded)} of ${size(upload.totalBytes)}` : "";
  renderNodes(view.querySelector(".nodes"), upload.flow);
  renderOutputs(view.querySelector(".outputs"), upload.flow?.outputs);

  const message = view.querySelector(".message");
  const text = upload.refusal ? `Not allowed to watch this upload: ${upload.refusal.reason}.`
    : upload.error ? upload.error
    : upload.connection === "reconnecting" ? "Connection lost; reconnecting…"
    : upload.connection === "offline" ? "Offline; will reconnect when the network is back…"
    : upload.flow?.name && upload.status === "processing" ? `Processing: ${upload.flow.name}` : "";
  message.textContent = text;
  message.classList.toggle("error", Boolean(upload.refusal || upload.error));

  if (upload.flow && !toasted.has(upload.uploadId)) {
    if (upload.flow.status === "complete") {
      toasted.add(upload.uploadId);
      showToast("success", "Processing complete", `${upload.name} has been processed.`);
    } else if (upload.flow.status === "failed") {
      toasted.add(upload.uploadId);
      showToast("error", "Processing failed", upload.flow.error);
    }
  }
}

function renderNodes(container, flow) {
  if (!flow) return;
  for (const [nodeId, node] of flow.nodes) {
    let row = container.querySelector(`[data-node="${CSS.escape(nodeId)}"]`);
    if (!row) {
      row = document.createElement("li");
      row.className = "node";
      row.dataset.node = nodeId;
      row.innerHTML = `<span class="label"></span><div class="bar"><div class="fill"></div></div><span class="value"></span>`;
      row.querySelector(".label").textContent = node.name;
      container.append(row);
    }
    const percent = Math.round(node.progress * 100);
    row.querySelector(".fill").style.width = `${percent}%`;
    row.querySelector(".value").textContent = `${percent}%`;
  }
}

function renderOutputs(container, outputs) {
  if (!outputs || container.childElementCount) return;
  for (const [name, url] of Object.entries(outputs)) {
    const link = document.createElement("a");
    link.href = url;
    link.textContent = name;
    container.append(link);
  }
}

function statusText(upload) {
  return {
    waiting: "waiting",
    uploading: "uploading",
    uploaded: "uploaded",
    processing: "processing",
    complete: "complete",
    failed: "failed",
  }[upload.status];
}

function showToast(kind, title, text) {
  const toast = document.createElement("div");
  toast.className = `toast ${kind}`;
  toast.innerHTML = "<strong></strong><span></span>";
  toast.querySelector("strong").textContent = title;
  toast.querySelector("span").textContent = text;
  document.getElementById("toasts").append(toast);
  setTimeout(() => toast.remove(), 8000);
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// For debugging from the console.
window.uploadista = { events, tracker };
