// Uploadista.Events browser client: a Subscription's Server-Sent Events transport ({prefix}/sse/...,
// docs/protocol.md), used where a WebSocket cannot be opened. EventSource resumes a dropped stream by
// itself; the subscription reconnects itself only when the server ended the stream, or refused it.

/** The event types a stream names in its event: lines; EventSource has no catch-all listener. */
const EVENT_TYPES = ["upload_started", "upload_progress", "upload_complete", "upload_error",
  "flow_started", "flow_progress", "flow_complete", "flow_error", "message"];

/** EventSource's readyState once it has given up, and will not reconnect by itself. */
const CLOSED = 2;

/**
 * The HTTP status of a refused stream, as the close status of a WebSocket refused for the same
 * reason (docs/protocol.md): the subscription then acts as it would on that close.
 */
const CLOSE_STATUS_OF_HTTP = new Map([
  [400, 1008], // invalid_id (or since, epoch): retrying would send the same request
  [401, 4401],
  [403, 4403],
  [429, 1013],
  [500, 1011],
  [503, 1001], // shutting_down
]);

/**
 * Opens a stream at url for the subscription, and tells it each event and state. EventSource
 * reconnects by itself after a dropped stream, with Last-Event-ID (the seq of the last event, each
 * event's id), so the server resumes after it. The subscription reconnects itself (fresh token, since)
 * when the server ended the stream with its close event, or EventSource gave up.
 * @param {import("./uploadista-events.js").Subscription} subscription
 * @param {string} url
 */
export function openStream(subscription, url) {
  const source = new subscription.client.EventSource(url);
  subscription.socket = source;
  let openedAt = 0;
  let first = true;
  const end = (detail) => {
    source.close();
    if (subscription.socket !== source || subscription.state === "closed") return;
    subscription.socket = null;
    subscription.ended(detail, openedAt);
  };

  source.onopen = () => {
    if (subscription.socket !== source) return;
    openedAt = Date.now();
    subscription.setState("open");
  };

  const onMessage = (event) => {
    if (subscription.socket !== source) return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (typeof message.seq !== "number") return;
    // A stream names no epoch: the seq alone says where to resume.
    if (first) {
      first = false;
      subscription.epoch = null;
    }
    subscription.received(message);
  };
  for (const type of EVENT_TYPES) source.addEventListener(type, onMessage);

  // The server ended the stream (slow consumer, shutdown, start-over): its last event says why.
  source.addEventListener("close", (event) => {
    let detail = {};
    try {
      detail = JSON.parse(event.data);
    } catch {
      // keep the empty detail
    }
    end({ code: detail.code, reason: detail.reason });
  });

  source.onerror = () => {
    if (subscription.socket !== source) return;
    if (source.readyState !== CLOSED) {
      subscription.setState("reconnecting", { attempt: subscription.attempt, delay: 0 }); // EventSource resumes by itself
      return;
    }
    if (openedAt) {
      // EventSource's own reconnection was refused, with the token the stream started with (which
      // may have expired since): a new stream, with a fresh token, will say whether it still is.
      end({});
      return;
    }
    // Refused, or not an event stream at all: EventSource does not say which, nor why.
    source.close();
    askWhyRefused(subscription.client.fetch, url).then(end);
  };
}

/**
 * Why a stream that never opened was refused: the same URL is requested once more, for its status
 * and the JSON body of a refusal only (a stream that is served this time is aborted at once).
 * Resolves to { code, status, reason }, code being the close status a WebSocket would have had; to
 * {} when the server cannot be asked (no fetch, no network, a response CORS does not let it read).
 */
async function askWhyRefused(fetchStatus, url) {
  if (typeof fetchStatus !== "function") return {};
  const controller = new AbortController();
  try {
    const response = await fetchStatus(url, { headers: { Accept: "text/event-stream" }, cache: "no-store", signal: controller.signal });
    if (response.ok) return {}; // served this time: the retry will tell
    const detail = { status: response.status };
    if (CLOSE_STATUS_OF_HTTP.has(response.status)) detail.code = CLOSE_STATUS_OF_HTTP.get(response.status);
    try {
      const body = await response.json();
      if (typeof body?.message === "string") detail.reason = body.message;
    } catch {
      // not the server's JSON (a proxy's page, say): the status says enough
    }
    return detail;
  } catch {
    return {};
  } finally {
    controller.abort();
  }
}
