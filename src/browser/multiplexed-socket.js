// Uploadista.Events browser client: one WebSocket, {prefix}/ws, that carries the subscriptions of many
// uploads (docs/protocol.md, "One socket, many uploads"), for UploadTracker. Each subscription keeps
// its own token, seq, epoch and state, as a per-upload Subscription does; the socket reconnects with the
// client's backoff, and subscribes each again where it left off.
import { REFUSED, CLIENT_FAULTS, STABLE_AFTER, STARTED_OVER, backoff, offline } from "./reconnect.js";

/** The multiplexed socket of one client: opened with its first subscription, closed after its last. */
export class MultiplexedSocket {
  /**
   * @param {import("./uploadista-events.js").UploadistaEvents} client Its URL, delays and WebSocket.
   * @param {(moved: MultiplexedSubscription[]) => void} [onUnavailable] Called with the subscriptions
   *   still wanted when no WebSocket could be opened and the client turned to Server-Sent Events.
   */
  constructor(client, onUnavailable = () => {}) {
    this.client = client;
    this.onUnavailable = onUnavailable;
    this.subscriptions = new Map(); // channel ("upload:{id}") → MultiplexedSubscription
    this.socket = null;
    this.open = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.waitingForNetwork = false;
  }

  /** Subscribes to an upload (and its jobs) on the socket, opening it if needed. */
  watchUpload(uploadId, handlers = {}) {
    const channel = `upload:${uploadId}`;
    // The server takes one subscription per channel: a second watch replaces the first.
    this.subscriptions.get(channel)?.close();
    const subscription = new MultiplexedSubscription(this, channel, { uploadId }, handlers);
    if (this.subscriptions.size === 0) this.client.activate(this);
    this.subscriptions.set(channel, subscription);
    if (this.open) subscription.subscribe();
    else if (!this.socket && this.retryTimer === null && !this.waitingForNetwork) this.connect();
    return subscription;
  }

  connect() {
    const socket = new this.client.WebSocket(`${this.client.url}/ws`);
    this.socket = socket;
    this.open = false;
    let openedAt = 0;

    socket.onopen = () => {
      if (this.socket !== socket) return;
      openedAt = Date.now();
      this.open = true;
      for (const subscription of [...this.subscriptions.values()]) subscription.subscribe();
    };

    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // the server only sends JSON; ignore anything else rather than break the page
      }
      // Events and answers name their channel; a refusal of an id that is not valid names only the id.
      const channel = message.channel ?? (typeof message.uploadId === "string" ? `upload:${message.uploadId}` : null);
      const subscription = this.subscriptions.get(channel);
      if (!subscription) return; // a pong, or what was sent before an unsubscribe took effect
      if (typeof message.seq === "number") {
        this.attempt = 0;
        subscription.receive(message);
      } else {
        subscription.answer(message);
      }
    };

    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.open = false;
      const subscriptions = [...this.subscriptions.values()];
      for (const subscription of subscriptions) subscription.dropped();
      if (!openedAt && this.client.transport === "auto" && this.client.EventSource) {
        // No WebSocket could even be opened (a proxy that breaks them): Server-Sent Events from now
        // on, for these uploads and the client's later subscriptions, as a per-upload socket does.
        this.client.streamsOnly = true;
        this.subscriptions.clear();
        this.client.deactivate(this);
        this.onUnavailable(subscriptions);
        return;
      }
      // A refusal of the socket itself (its origin) or a protocol fault holds for every subscription.
      const ending = REFUSED.has(event.code) ? "refused" : CLIENT_FAULTS.has(event.code) ? "failed" : null;
      if (ending) {
        const reason = event.reason || REFUSED.get(event.code);
        for (const subscription of subscriptions) subscription.end(ending, { code: event.code, reason });
        return;
      }
      if (openedAt && Date.now() - openedAt >= STABLE_AFTER) this.attempt = 0;
      this.retry({ code: event.code, reason: event.reason });
    };
  }

  /** Waits, then opens the socket again; while the browser is offline, waits for it to be back instead. */
  retry(detail) {
    if (this.subscriptions.size === 0) return;
    if (offline()) {
      this.waitingForNetwork = true;
      this.each((subscription) => subscription.setState("offline", detail));
      return;
    }
    const delay = backoff(this.client, this.attempt);
    this.attempt += 1;
    this.each((subscription) => subscription.setState("reconnecting", { ...detail, attempt: this.attempt, delay }));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.subscriptions.size > 0) this.connect();
    }, delay);
  }

  /** The browser went offline: a pending retry waits for the network instead of its timer. */
  networkGone() {
    if (this.retryTimer === null) return; // an open socket is left alone: it closes if it is dead
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.waitingForNetwork = true;
    this.each((subscription) => subscription.setState("offline", {}));
  }

  /** The browser is back online: reconnect now, with the backoff started over. */
  networkBack() {
    if (this.open) {
      // Subscriptions that waited for the network (a token that could not be fetched) go on now.
      this.each((subscription) => subscription.state === "offline" && subscription.resume());
      return;
    }
    if (!this.waitingForNetwork && this.retryTimer === null) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.waitingForNetwork = false;
    this.attempt = 0;
    this.each((subscription) => subscription.setState("reconnecting", { attempt: 0, delay: 0 }));
    this.connect();
  }

  /** A subscription is no longer wanted: leaves its channel, and the socket closes after the last one. */
  remove(subscription, unsubscribe) {
    if (this.subscriptions.get(subscription.channel) !== subscription) return;
    this.subscriptions.delete(subscription.channel);
    if (unsubscribe && this.open) this.socket.send(JSON.stringify({ type: "unsubscribe", ...subscription.ids }));
    if (this.subscriptions.size > 0) return;
    // Nothing left to watch: no socket is held open, nor retried, for nobody.
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.waitingForNetwork = false;
    this.client.deactivate(this);
    const socket = this.socket;
    this.socket = null;
    this.open = false;
    socket?.close(1000);
  }

  each(action) {
    for (const subscription of [...this.subscriptions.values()]) action(subscription);
  }
}

/**
 * One upload watched through a {@link MultiplexedSocket}, with the states of a Subscription: it is
 * "open" once subscribed, and "reconnecting" or "offline" while the socket is (or while it waits to
 * subscribe again after a refusal worth retrying).
 */
export class MultiplexedSubscription {
  constructor(socket, channel, ids, { token, since = 0, onEvent = () => {}, onState = () => {} } = {}) {
    this.socket = socket;
    this.channel = channel;
    this.ids = ids; // { uploadId }: how subscribe and unsubscribe name it
    this.token = token;
    this.lastSeq = since;
    this.epoch = null; // the run of seqs lastSeq belongs to, as the "subscribed" frame names it
    this.onEvent = onEvent;
    this.onState = onState;
    this.state = "connecting";
    this.attempt = 0;
    this.retryTimer = null;
    this.sentOn = null; // the WebSocket its subscribe went out on (or is about to, once its token comes)
    this.streaming = false;
  }

  get active() {
    return this.state !== "refused" && this.state !== "failed" && this.state !== "closed";
  }

  /** Stops watching: unsubscribes, and cancels any retry. */
  close() {
    const subscribed = this.sentOn !== null;
    this.setState("closed");
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.socket.remove(this, subscribed);
  }

  /** Subscribes on the open socket, with a fresh token and where it left off; once per socket. */
  subscribe() {
    const socket = this.socket.socket;
    if (!this.active || this.retryTimer !== null || !this.socket.open || this.sentOn === socket) return;
    this.sentOn = socket;
    let token;
    try {
      token = typeof this.token === "function" ? this.token() : this.token; // called before each subscribe
    } catch (error) {
      this.sentOn = null;
      this.retry({ error });
      return;
    }
    Promise.resolve(token).then((value) => {
      // Closed, or the socket dropped, while the token was on its way: the next socket subscribes anew.
      if (this.sentOn !== socket || !this.active || this.socket.socket !== socket) return;
      const message = { type: "subscribe", ...this.ids };
      if (value != null && value !== "") message.token = String(value);
      if (this.lastSeq > 0) message.since = this.lastSeq;
      if (this.lastSeq > 0 && this.epoch) message.epoch = this.epoch;
      socket.send(JSON.stringify(message));
    }, (error) => {
      if (this.sentOn !== socket || !this.active) return;
      this.sentOn = null;
      this.retry({ error });
    });
  }

  receive(message) {
    if (!this.active) return;
    // A resume is exact, so this never happens with a conforming server; an event applied twice would.
    if (message.seq <= this.lastSeq) return;
    this.lastSeq = message.seq;
    this.attempt = 0;
    this.onEvent(message);
  }

  /** A subscribed, subscription_refused or subscription_ended frame. */
  answer(message) {
    if (!this.active) return;
    if (message.type === "subscribed") {
      this.epoch = typeof message.epoch === "string" ? message.epoch : null;
      // Where the server resumes: 0 when the since this client sent was of another run.
      if (typeof message.since === "number") this.lastSeq = message.since;
      this.setState("open");
      return;
    }
    if (message.type !== "subscription_refused" && message.type !== "subscription_ended") return;
    this.sentOn = null;
    // The code is the close status a per-upload socket would have had, and is treated as it would be.
    const { code, reason } = message;
    if (REFUSED.has(code)) {
      this.end("refused", { code, reason: reason || REFUSED.get(code) });
    } else if (CLIENT_FAULTS.has(code)) {
      this.end("failed", { code, reason });
    } else {
      if (code === STARTED_OVER) {
        // The channel started over: what this client has is from the lost run, so it asks for everything.
        this.lastSeq = 0;
        this.epoch = null;
      }
      this.retry({ code, reason });
    }
  }

  /** Waits, then subscribes again on the socket (or on the next one, if this one drops meanwhile). */
  retry(detail) {
    if (offline()) {
      this.setState("offline", detail); // the socket's networkBack resumes it
      return;
    }
    const delay = backoff(this.socket.client, this.attempt);
    this.attempt += 1;
    this.setState("reconnecting", { ...detail, attempt: this.attempt, delay });
    this.retryTimer = setTimeout(() => this.resume(), delay);
  }

  resume() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.subscribe();
  }

  /** The socket dropped: the next one subscribes it again; its own pending retry is moot. */
  dropped() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.sentOn = null;
  }

  /** Never subscribes again. */
  end(state, detail) {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.setState(state, detail);
    this.socket.remove(this, false);
  }

  setState(state, detail = {}) {
    if (this.state === state && state !== "reconnecting") return;
    this.state = state;
    this.onState(state, detail);
  }
}
