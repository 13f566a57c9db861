// Uploads each chosen file and follows it over a WebSocket, using the client pattern of the
// Uploadista event system docs: one socket per upload, a switch on message.type.

const list = document.getElementById("uploads");
const wsBase = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}`;

// Uploads go to this server, or to the one named by ?upload=http://host:port (another instance
// sharing Redis): the bytes land there while this page watches here.
const api = new URLSearchParams(location.search).get("upload")?.replace(/\/$/, "") ?? "";

document.getElementById("files").addEventListener("change", (e) => {
  for (const file of e.target.files) uploadFile(file);
  e.target.value = "";
});

async function uploadFile(file) {
  const view = renderUpload(file.name);
  try {
    // 1. Create the upload, so the socket can be open before any byte is sent.
    const created = await fetch(`${api}/api/uploads`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ filename: file.name, size: file.size }),
    });
    if (!created.ok) throw new Error(`Could not create the upload (${created.status})`);
    const { uploadId, token } = await created.json();

    // 2. Watch it, with the token that proves this page created it.
    const ws = new WebSocket(`${wsBase}/uploadista/ws/upload/${uploadId}?token=${token}`);
    ws.onmessage = (event) => handleMessage(view, ws, JSON.parse(event.data));
    ws.onerror = () => view.note("Lost the live connection to the server.", true);
    ws.onclose = (event) => {
      if (event.code === 4401 || event.code === 4403) view.fail("Not allowed to watch this upload.");
    };
    await new Promise((resolve) => { ws.onopen = resolve; });

    // 3. Send the bytes; progress comes back over the socket.
    const sent = await fetch(`${api}/api/uploads/${uploadId}`, { method: "PUT", body: file });
    if (!sent.ok && view.status !== "error") {
      const problem = await sent.json().catch(() => ({}));
      view.fail(problem.detail || `Upload failed (${sent.status})`);
    }
  } catch (err) {
    view.fail(err.message);
  }
}

function handleMessage(view, ws, message) {
  switch (message.type) {
    case "upload_started":
      view.setStatus("uploading");
      break;
    case "upload_progress":
      view.setProgress(message.progress);
      view.setStatus(`${Math.round(message.progress * 100)}% uploaded`);
      break;
    case "upload_complete":
      view.setProgress(1);
      view.complete("Uploaded, processing…");
      break;
    case "upload_error":
      view.fail(message.error);
      ws.close();
      break;
    case "flow_started":
      view.note(`Processing: ${message.flowName}`);
      break;
    case "flow_progress":
      view.note(`Processing: ${message.nodeName} ${Math.round(message.progress * 100)}%`);
      break;
    case "flow_complete":
      view.complete("Complete");
      view.outputs(message.outputs);
      ws.close();
      break;
    case "flow_error":
      view.note(`Processing failed: ${message.error}`, true);
      ws.close();
      break;
  }
}

function renderUpload(name) {
  const item = document.createElement("li");
  item.className = "upload";
  item.innerHTML = `
    <header><span class="name"></span><span class="status">starting…</span></header>
    <div class="progress-container"><div class="progress-bar"></div></div>
    <div class="note"></div>`;
  item.querySelector(".name").textContent = name;
  list.prepend(item);
  const status = item.querySelector(".status");
  const bar = item.querySelector(".progress-bar");
  const note = item.querySelector(".note");
  const view = {
    status: "uploading",
    setStatus: (text) => { status.textContent = text; },
    setProgress: (p) => { bar.style.width = `${p * 100}%`; },
    complete: (text) => { view.status = "complete"; item.classList.add("complete"); status.textContent = text; },
    fail: (error) => { view.status = "error"; item.classList.add("error"); status.textContent = "failed"; view.note(error, true); },
    note: (text, isError = false) => { note.textContent = text; note.classList.toggle("error", isError); },
    outputs: (outputs) => {
      note.textContent = "Processing complete: ";
      note.classList.remove("error");
      for (const [label, url] of Object.entries(outputs)) {
        const link = document.createElement("a");
        link.href = url;
        link.textContent = label;
        note.append(link);
      }
    },
  };
  return view;
}
