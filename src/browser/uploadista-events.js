// Uploadista.Events browser client: watches uploads and processing jobs over WebSockets (or Server-Sent
// Events where a WebSocket cannot be opened), reconnects
// with exponential backoff and jitter, and resumes with `since` (and the run of seqs it belongs to) so
// nothing retained is missed. An ES module with no dependencies (its Server-Sent Events transport is
// in event-stream.js); its types are in uploadista-events.d.ts. See docs/browser-client.md.

// Many uploads at once, with a state object each for the page to render; in a file of its own.
export { UploadTracker } from "./upload-tracker.js";
import { REFUSED, CLIENT_FAULTS, STABLE_AFTER, STARTED_OVER, backoff, offline } from "./reconnect.js";
import { openStream } from "./event-stream.js";

/** Connects to the Uploadista.Events WebSocket (or Server-Sent Events) endpoints of one server. */
export class UploadistaEvents {
  /**
   * @param {object} [options]
   * @param {string} [options.url] Base WebSocket URL including the prefix, e.g. "wss://api.example.com/uploadista".
   *   Defaults to this page's host with "/uploadista".
   * @param {number} [options.minDelay] First reconnection delay in ms (default 500).
   * @param {number} [options.maxDelay] Longest reconnection delay in ms (default 15000).
   * @param {typeof WebSocket} [options.WebSocket] A WebSocket implementation (default: the browser's).
   * @param {"websocket" | "sse" | "auto"} [options.transport] "auto" (the default) uses a WebSocket, and
   *   Server-Sent Events once a WebSocket could not be opened; "sse" or "websocket" uses only that.
   * @param {typeof EventSource} [options.EventSource] An EventSource implementation (default: the browser's).
   * @param {typeof fetch} [options.fetch] A fetch implementation (default: the browser's), only to ask
   *   the server why it refused a stream, which EventSource does not tell.
   */
  constructor(options = {}) {
    this.url = (options.url ?? defaultUrl()).replace(/\/+$/, "");
    this.minDelay = options.minDelay ?? 500;
    this.maxDelay = options.maxDelay ?? 15000;
    this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this.EventSource = options.EventSource ?? globalThis.EventSource;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.transport = options.transport ?? "auto";
    if (!["websocket", "sse", "auto"].includes(this.transport)) throw new TypeError(`transport must be "websocket", "sse" or "auto"`);
    // The streams' base URL: the same host and prefix, over HTTP(S).
    this.streamUrl = this.url.replace(/^ws(s?):/i, "http$1:");
    this.active = new Set(); // subscriptions that may still connect: told when the network comes and goes
    this.onOnline = () => { for (const subscription of [...this.active]) subscription.networkBack(); };
    this.onOffline = () => { for (const subscription of [...this.active]) subscription.networkGone(); };
  }

  /** Watches an upload, and the jobs that belong to it. Returns a {@link Subscription}. */
  watchUpload(uploadId, handlers = {}) {
    return new Subscription(this, `upload/${encodeURIComponent(uploadId)}`, handlers);
  }

  /** Watches one processing job. Returns a {@link Subscription}. */
  watchFlow(jobId, handlers = {}) {
    return new Subscription(this, `flow/${encodeURIComponent(jobId)}`, handlers);
  }

  // The window's listeners are held only while a subscription is active, so that a client nobody
  // uses any more is not kept alive by them.
  activate(subscription) {
    if (this.active.size === 0) listen(this, "addEventListener");
    this.active.add(subscription);
  }

  deactivate(subscription) {
    if (this.active.delete(subscription) && this.active.size === 0) listen(this, "removeEventListener");
  }
}

/**
 * One watched upload or job. States: "connecting", "open", "reconnecting" (waiting to retry),
 * "offline" (the browser is offline: waiting for it to be back), "refused" (4401/4403, or a stream
 * refused with 401/403: stopped for good), "failed" (this client broke the protocol: stopped),
 * "closed" (by close()).
 */
export class Subscription {
  /**
   * @param {UploadistaEvents} client
   * @param {string} path
   * @param {object} handlers
   * @param {string | (() => string | Promise<string>)} [handlers.token] Subscription token, sent as
   *   ?token=; a function is called before every connection, so that each one carries a fresh token.
   * @param {number} [handlers.since] The last seq already seen (resume from there).
   * @param {(message: object) => void} [handlers.onEvent] Each event, with seq and timestamp.
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
    this.socket = null; // the WebSocket or the EventSource
    this.streaming = client.transport === "sse" || client.streamsOnly === true; // whether it uses Server-Sent Events
    this.retryTimer = null;
    client.activate(this);
    this.connect();
  }

  /** Stops watching: closes the socket and cancels any retry. */
  close() {
    this.setState("closed");
    this.stop();
    this.socket?.close(1000);
  }

  /** Asks for a token when it is a function (sync or async), then opens the socket with it. */
  connect() {
    if (typeof this.token !== "function") {
      this.open(this.token);
      return;
    }
    let token;
    try {
      token = this.token();
    } catch (error) {
      this.retry({ error });
      return;
    }
    if (typeof token?.then !== "function") {
      this.open(token);
      return;
    }
    token.then(
      (value) => { if (this.state === "connecting" || this.state === "reconnecting") this.open(value); },
      (error) => { if (this.state === "connecting" || this.state === "reconnecting") this.retry({ error }); });
  }

  /** The query of a new connection: where to resume, and the token. */
  query(token) {
    const query = new URLSearchParams();
    if (this.lastSeq > 0) query.set("since", String(this.lastSeq));
    if (this.lastSeq > 0 && this.epoch) query.set("epoch", this.epoch);
    if (token != null && token !== "") query.set("token", String(token));
    return query.size ? `?${query}` : "";
  }

  open(token) {
    if (this.streaming) {
      openStream(this, `${this.client.streamUrl}/sse/${this.path}${this.query(token)}`);
      return;
    }
    const url = `${this.client.url}/ws/${this.path}${this.query(token)}`;
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
      this.received(message);
    };

    socket.onclose = (event) => {
      if (this.socket !== socket || this.state === "closed") return;
      this.socket = null;
      if (!openedAt && this.client.transport === "auto" && this.client.EventSource) {
        // The WebSocket could not even be opened (a proxy that breaks them, say): Server-Sent Events
        // from now on, at once. A refusal is not this: the server accepts the socket, then closes it.
        this.streaming = true;
        this.client.streamsOnly = true; // and so do the client's later subscriptions
        this.connect();
        return;
      }
      this.ended({ code: event.code, reason: event.reason }, openedAt);
    };
  }

  /** An event: where a reconnection resumes from, and a sign that the connection works. */
  received(message) {
    this.lastSeq = message.seq;
    this.attempt = 0;
    this.onEvent(message);
  }

  /**
   * The connection ended (closed, or its stream ended or refused) with detail.code, the close status
   * (docs/protocol.md): stops for good after a refusal or a fault of this client, else reconnects.
   */
  ended(detail, openedAt) {
    const { code } = detail;
    if (REFUSED.has(code)) {
      this.stop();
      this.setState("refused", { ...detail, reason: detail.reason || REFUSED.get(code) });
      return;
    }
    if (CLIENT_FAULTS.has(code)) {
      this.stop();
      this.setState("failed", detail);
      return;
    }
    if (code === STARTED_OVER) {
      // The server lost the channel's state and it started over: what this client has is from the
      // lost run, so it asks for everything.
      this.lastSeq = 0;
      this.epoch = null;
    }
    if (openedAt && Date.now() - openedAt >= STABLE_AFTER) this.attempt = 0;
    this.retry(detail);
  }

  /** Waits, then connects again; while the browser is offline, waits for it to be back instead. */
  retry(detail) {
    if (offline()) {
      // Attempts made now would fail at once and only grow the backoff; "online" resumes.
      this.setState("offline", detail);
      return;
    }
    const delay = backoff(this.client, this.attempt);
    this.attempt += 1;
    this.setState("reconnecting", { ...detail, attempt: this.attempt, delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.state === "reconnecting") this.connect();
    }, delay);
  }

  /** The browser went offline: a pending retry waits for the network instead of its timer. */
  networkGone() {
    if (this.retryTimer === null) return; // an open socket is left alone: it closes if it is dead
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.setState("offline", {});
  }

  /** The browser is back online: connect now, with the backoff started over. */
  networkBack() {
    if (this.state !== "offline" && this.retryTimer === null) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.attempt = 0;
    this.setState("reconnecting", { attempt: 0, delay: 0 });
    this.connect();
  }

  /** Never connects again. */
  stop() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.client.deactivate(this);
  }

  setState(state, detail = {}) {
    if (this.state === state && state !== "reconnecting") return;
    this.state = state;
    this.onState(state, detail);
  }
}

function listen(client, method) {
  if (typeof globalThis[method] !== "function") return; // no window, as in Node or a worker without one
  globalThis[method]("online", client.onOnline);
  globalThis[method]("offline", client.onOffline);
}

function defaultUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/uploadista`;
}
