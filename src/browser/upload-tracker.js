// Uploadista.Events browser client: tracks many uploads at once, each with its processing flow,
// through one multiplexed WebSocket of an UploadistaEvents client (or one subscription per upload over
// Server-Sent Events). Exported by uploadista-events.js, whose .d.ts describes it.
import { MultiplexedSocket } from "./multiplexed-socket.js";

/**
 * Tracks many uploads at once, each with its processing flow: one subscription per upload, all on one
 * WebSocket ({prefix}/ws) unless the client uses Server-Sent Events, and a plain state object per
 * upload that the page renders.
 *
 * State: { uploadId, name, status, progress, bytesUploaded, totalBytes, url, error,
 *          connection, refusal, flow: { jobId, name, status, nodes: Map(nodeId → {name, progress}),
 *          outputs, error } | null }
 * status: "waiting" → "uploading" → "uploaded" → "processing" → "complete", or "failed".
 */
export class UploadTracker {
  /**
   * @param {import("./uploadista-events.js").UploadistaEvents} client
   * @param {(upload: object, message?: object) => void} onChange Called after every change of an upload.
   * @param {object} [options]
   * @param {boolean} [options.multiplex] false: a WebSocket per upload, as before {prefix}/ws (default true).
   */
  constructor(client, onChange = () => {}, { multiplex = true } = {}) {
    this.client = client;
    this.onChange = onChange;
    this.uploads = new Map();
    this.multiplex = multiplex;
    this.handlers = new Map(); // uploadId → the handlers its subscription was made with
    this.socket = null; // the MultiplexedSocket, made with the first upload that uses it
  }

  /** Starts tracking an upload. Open it before sending the bytes; events retained meanwhile arrive anyway. */
  track(uploadId, { token, name = uploadId } = {}) {
    const upload = {
      uploadId, name, status: "waiting", progress: 0, bytesUploaded: 0, totalBytes: 0,
      url: null, error: null, connection: "connecting", refusal: null, flow: null,
    };
    this.uploads.set(uploadId, upload);
    const handlers = {
      token,
      onEvent: (message) => {
        apply(upload, message);
        if (["upload_error", "flow_complete", "flow_error"].includes(message.type)) upload.subscription.close();
        this.onChange(upload, message);
      },
      onState: (state, detail) => {
        upload.connection = state;
        if (state === "refused" || state === "failed") {
          upload.refusal = detail;
          if (upload.status !== "complete") upload.status = "failed";
        }
        this.onChange(upload);
      },
    };
    this.handlers.set(uploadId, handlers);
    upload.subscription = this.watch(uploadId, handlers);
    this.onChange(upload);
    return upload;
  }

  /** One socket for all (fewer connections, one handshake) wherever the client would use a WebSocket. */
  watch(uploadId, handlers) {
    const { client } = this;
    if (!this.multiplex || client.transport === "sse" || client.streamsOnly || typeof client.WebSocket !== "function") {
      return client.watchUpload(uploadId, handlers);
    }
    this.socket ??= new MultiplexedSocket(client, (moved) => this.moveToStreams(moved));
    return this.socket.watchUpload(uploadId, handlers);
  }

  /** No WebSocket could be opened: each upload goes on over a stream of its own, from where it was. */
  moveToStreams(moved) {
    for (const subscription of moved) {
      const { uploadId } = subscription.ids;
      const upload = this.uploads.get(uploadId);
      if (upload?.subscription !== subscription) continue;
      upload.subscription = this.client.watchUpload(uploadId, { ...this.handlers.get(uploadId), since: subscription.lastSeq });
    }
  }

  /** Marks an upload failed for a reason the events cannot tell (for example the request failed). */
  fail(uploadId, error) {
    const upload = this.uploads.get(uploadId);
    if (!upload || upload.status === "complete" || upload.status === "failed") return;
    upload.status = "failed";
    upload.error = error;
    upload.subscription?.close(); // absent when track() has not returned yet (a token function failing at once)
    this.onChange(upload);
  }

  /** Stops tracking an upload. */
  untrack(uploadId) {
    this.uploads.get(uploadId)?.subscription.close();
    this.uploads.delete(uploadId);
    this.handlers.delete(uploadId);
  }
}

function apply(upload, message) {
  switch (message.type) {
    case "upload_started":
      upload.status = "uploading";
      upload.totalBytes = message.size;
      break;
    case "upload_progress":
      if (upload.status === "waiting") upload.status = "uploading";
      upload.progress = message.progress;
      upload.bytesUploaded = message.bytesUploaded;
      upload.totalBytes = message.totalBytes;
      break;
    case "upload_complete":
      upload.status = "uploaded";
      upload.progress = 1;
      upload.bytesUploaded = upload.totalBytes;
      upload.url = message.url;
      break;
    case "upload_error":
      upload.status = "failed";
      upload.error = message.error;
      break;
    case "flow_started":
      upload.status = "processing";
      upload.flow = { jobId: message.jobId, name: message.flowName, status: "processing", nodes: new Map(), outputs: null, error: null };
      break;
    case "flow_progress":
      upload.flow ??= { jobId: message.jobId, name: "", status: "processing", nodes: new Map(), outputs: null, error: null };
      upload.flow.nodes.set(message.nodeId, { name: message.nodeName, progress: message.progress });
      break;
    case "flow_complete":
      upload.status = "complete";
      if (upload.flow) {
        upload.flow.status = "complete";
        upload.flow.outputs = message.outputs;
        for (const node of upload.flow.nodes.values()) node.progress = 1;
      } else {
        upload.flow = { jobId: message.jobId, name: "", status: "complete", nodes: new Map(), outputs: message.outputs, error: null };
      }
      break;
    case "flow_error":
      upload.status = "failed";
      upload.error = message.error;
      if (upload.flow) {
        upload.flow.status = "failed";
        upload.flow.error = message.error;
      }
      break;
  }
}
