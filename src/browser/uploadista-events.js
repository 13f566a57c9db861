// Uploadista.Events browser client: watches uploads and processing jobs over WebSockets, reconnects
// with exponential backoff and jitter, and resumes with `since` (and the run of seqs it belongs to) so
// nothing retained is missed. An ES module with no dependencies. See docs/browser-client.md.

/** Close statuses after which retrying cannot help: the server refused this client (docs/protocol.md). */
const REFUSED = new Map([
  [4401, "not authenticated: the token is missing, invalid or expired"],
  [4403, "forbidden: not allowed to watch this"],
]);

/** Close statuses that mean this client broke the protocol; retrying would only repeat it. */
const CLIENT_FAULTS = new Set([1003, 1007, 1008, 1009]);

/** A connection that stayed open this long (ms) starts the backoff over. */
const STABLE_AFTER = 5000;

/** The server closes with this when the channel started over beneath the connection: reconnect without since. */
const STARTED_OVER = 4010;

/** Connects to the Uploadista.Events WebSocket endpoints of one server. */
export class UploadistaEvents {
  /**
   * @param {object} [options]
   * @param {string} [options.url] Base WebSocket URL including the prefix, e.g. "wss://api.example.com/uploadista".
   *   Defaults to this page's host with "/uploadista".
   * @param {number} [options.minDelay] First reconnection delay in ms (default 500).
   * @param {number} [options.maxDelay] Longest reconnection delay in ms (default 15000).
   * @param {typeof WebSocket} [options.WebSocket] A WebSocket implementation (default: the browser's).
   */
  constructor(options = {}) {
    this.url = (options.url ?? defaultUrl()).replace(/\/+$/, "");
    this.minDelay = options.minDelay ?? 500;
    this.maxDelay = options.maxDelay ?? 15000;
    this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
  }

  /** Watches an upload, and the jobs that belong to it. Returns a {@link Subscription}. */
  watchUpload(uploadId, handlers = {}) {
    return new Subscription(this, `ws/upload/${encodeURIComponent(uploadId)}`, handlers);
  }

  /** Watches one processing job. Returns a {@link Subscription}. */
  watchFlow(jobId, handlers = {}) {
    return new Subscription(this, `ws/flow/${encodeURIComponent(jobId)}`, handlers);
  }
}

/**
 * One watched upload or job. States: "connecting", "open", "reconnecting" (waiting to retry),
 * "refused" (4401/4403: stopped for good), "failed" (this client broke the protocol: stopped),
 * "closed" (by close()).
 */
export class Subscription {
  /**
   * @param {UploadistaEvents} client
   * @param {string} path
   * @param {object} handlers
   * @param {string} [handlers.token] Subscription token, sent as ?token=.
   * @param {number} [handlers.since] The last seq already seen (resume from there).
   * @param {(message: object) => void} [handlers.onEvent] Each event, in the seed's shape, with seq and timestamp.
   * @param {(state: string, detail: object) => void} [handlers.onState] Each change of state.
   */
  constructor(client, path, { token, since = 0, onEvent = () => {}, onState = () => {} } = {}) {
    this.client = client;
    this.path = path;
    this.token = token;
    this.lastSeq = since;
    this.epoch = null; // the run of seqs lastSeq belongs to, as a pong names it
    this.onEvent = onEvent;
    this.onState = onState;
    this.state = "connecting";
    this.attempt = 0;
    this.socket = null;
    this.retryTimer = null;
    this.connect();
  }

  /** Stops watching: closes the socket and cancels any retry. */
  close() {
    this.setState("closed");
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.socket?.close(1000);
  }

  connect() {
    const query = new URLSearchParams();
    if (this.lastSeq > 0) query.set("since", String(this.lastSeq));
    if (this.lastSeq > 0 && this.epoch) query.set("epoch", this.epoch);
    if (this.token) query.set("token", this.token);
    const url = `${this.client.url}/${this.path}${query.size ? `?${query}` : ""}`;
    const socket = new this.client.WebSocket(url);
    this.socket = socket;
    let openedAt = 0;
    let askedForEpoch = false;

    socket.onopen = () => {
      if (this.socket !== socket) return;
      openedAt = Date.now();
      this.setState("open");
    };

    socket.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // the server only sends JSON; ignore anything else rather than break the page
      }
      if (typeof message.seq !== "number") {
        // A pong names the run of seqs this connection is in, so that a resume after a reset of the
        // server's state is never taken for one within the run it knew.
        if (message.type === "pong" && typeof message.epoch === "string") this.epoch = message.epoch;
        return;
      }
      // A connection's events are all of one run; ask which, once, as soon as there is one.
      if (!askedForEpoch) {
        askedForEpoch = true;
        this.epoch = null;
        socket.send(JSON.stringify({ type: "ping" }));
      }
      // seq never goes down on a connection (the server closes it with 4010 instead); an older
      // server may still do it after losing its state: take it as the new start.
      this.lastSeq = message.seq;
      this.attempt = 0;
      this.onEvent(message);
    };

    socket.onclose = (event) => {
      if (this.socket !== socket || this.state === "closed") return;
      this.socket = null;
      if (REFUSED.has(event.code)) {
        this.setState("refused", { code: event.code, reason: event.reason || REFUSED.get(event.code) });
        return;
      }
      if (CLIENT_FAULTS.has(event.code)) {
        this.setState("failed", { code: event.code, reason: event.reason });
        return;
      }
      if (event.code === STARTED_OVER) {
        // The server lost the channel's state and it started over: what this client has is from the
        // lost run, so it asks for everything.
        this.lastSeq = 0;
        this.epoch = null;
      }
      if (openedAt && Date.now() - openedAt >= STABLE_AFTER) this.attempt = 0;
      const ceiling = Math.min(this.client.maxDelay, this.client.minDelay * 2 ** this.attempt);
      const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2); // jitter: half to all of it
      this.attempt += 1;
      this.setState("reconnecting", { code: event.code, reason: event.reason, attempt: this.attempt, delay });
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (this.state === "reconnecting") this.connect();
      }, delay);
    };
  }

  setState(state, detail = {}) {
    if (this.state === state && state !== "reconnecting") return;
    this.state = state;
    this.onState(state, detail);
  }
}

/**
 * Tracks many uploads at once (the seed's multiple-upload tracking), each with its processing
 * flow: one subscription per upload, and a plain state object per upload that the page renders.
 *
 * State: { uploadId, name, status, progress, bytesUploaded, totalBytes, url, error,
 *          connection, refusal, flow: { jobId, name, status, nodes: Map(nodeId → {name, progress}),
 *          outputs, error } | null }
 * status: "waiting" → "uploading" → "uploaded" → "processing" → "complete", or "failed".
 */
export class UploadTracker {
  /**
   * @param {UploadistaEvents} client
   * @param {(upload: object, message?: object) => void} onChange Called after every change of an upload.
   */
  constructor(client, onChange = () => {}) {
    this.client = client;
    this.onChange = onChange;
    this.uploads = new Map();
  }

  /** Starts tracking an upload. Open it before sending the bytes; events retained meanwhile arrive anyway. */
  track(uploadId, { token, name = uploadId } = {}) {
    const upload = {
      uploadId, name, status: "waiting", progress: 0, bytesUploaded: 0, totalBytes: 0,
      url: null, error: null, connection: "connecting", refusal: null, flow: null,
    };
    this.uploads.set(uploadId, upload);
    upload.subscription = this.client.watchUpload(uploadId, {
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
    });
    this.onChange(upload);
    return upload;
  }

  /** Marks an upload failed for a reason the events cannot tell (for example the request failed). */
  fail(uploadId, error) {
    const upload = this.uploads.get(uploadId);
    if (!upload || upload.status === "complete" || upload.status === "failed") return;
    upload.status = "failed";
    upload.error = error;
    upload.subscription.close();
    this.onChange(upload);
  }

  /** Stops tracking an upload. */
  untrack(uploadId) {
    this.uploads.get(uploadId)?.subscription.close();
    this.uploads.delete(uploadId);
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

function defaultUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/uploadista`;
}
