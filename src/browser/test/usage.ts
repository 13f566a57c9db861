// Compiled (never run) by `npm run typecheck`: the ways a page uses the client must type-check, and
// the misuses marked @ts-expect-error must not. Not part of the published package.
import {
  Subscription,
  UploadistaEvents,
  UploadTracker,
  type ConnectionState,
  type MultiplexedSubscription,
  type FlowEvent,
  type TrackedUpload,
  type UploadistaEvent,
} from "uploadista-events";

const events = new UploadistaEvents({ url: "wss://api.example.com/uploadista", minDelay: 250, maxDelay: 10_000 });

// Server-Sent Events: forced, or (the default) where a WebSocket cannot be opened.
const streams = new UploadistaEvents({ transport: "sse", EventSource, fetch });
new UploadistaEvents({ transport: "auto" });
// @ts-expect-error: only "websocket", "sse" and "auto"
new UploadistaEvents({ transport: "long-polling" });
const streaming: boolean = streams.watchFlow("job-1").streaming;

// Every event type, each with its own fields; the switch covers all eight.
function describe(message: UploadistaEvent): string {
  const at = `#${message.seq} at ${message.timestamp}`;
  switch (message.type) {
    case "upload_started": return `${message.uploadId}: ${message.filename}, ${message.size} bytes ${at}`;
    case "upload_progress": return `${message.progress * 100}% (${message.bytesUploaded} of ${message.totalBytes})`;
    case "upload_complete": return message.url;
    case "upload_error": return message.error;
    case "flow_started": return `${message.jobId} ${message.flowName} for ${message.uploadId ?? "no upload"}`;
    case "flow_progress": return `${message.nodeId} ${message.nodeName} ${message.progress}`;
    case "flow_complete": return Object.entries(message.outputs).map(([name, url]) => `${name}: ${url}`).join();
    case "flow_error": return message.error;
    default: {
      const unknown: never = message;
      return unknown;
    }
  }
}

// Tokens: a string, a function, or an async function called before every connection.
const subscription = events.watchUpload("abc123", {
  token: async () => (await fetch("/api/uploads/abc123/token", { method: "POST" }).then((r) => r.json())).token as string,
  since: 12,
  onEvent: (message) => console.log(describe(message)),
  onState: (state: ConnectionState, detail) => {
    if (state === "refused") console.log(detail.code, detail.reason, detail.status ?? "a WebSocket's close");
    if (state === "reconnecting") console.log(detail.attempt, detail.delay, detail.error);
  },
});
events.watchUpload("abc123", { token: "a.b" });
events.watchUpload("abc123", { token: () => "a.b" });
const state: ConnectionState = subscription.state;
const seen: number = subscription.lastSeq;
subscription.close();

// A job's socket receives flow events only.
events.watchFlow("job-789", {
  onEvent(message: FlowEvent) {
    if (message.type === "flow_complete") console.log(message.outputs["thumbnail"]);
    // @ts-expect-error: no upload event reaches a job's socket
    if (message.type === "upload_progress") console.log(message);
  },
});

const tracker = new UploadTracker(events, (upload: TrackedUpload, message?: UploadistaEvent) => {
  const nodes = upload.flow ? [...upload.flow.nodes.values()].map((node) => `${node.name} ${node.progress}`) : [];
  console.log(upload.status, upload.progress, upload.connection, upload.refusal?.code, nodes, message?.seq);
});
tracker.track("abc123", { name: "photo.jpg", token: () => Promise.resolve("a.b") });
tracker.fail("abc123", "The upload failed (500).");
tracker.untrack("abc123");

// One socket for all tracked uploads by default; a socket per upload on request.
const tracked: TrackedUpload = tracker.track("def456", { token: "a.b" });
const watched: Subscription | MultiplexedSubscription = tracked.subscription;
const lastSeen: number = watched.lastSeq;
new UploadTracker(events, () => {}, { multiplex: false });
// @ts-expect-error: multiplex is a boolean
new UploadTracker(events, () => {}, { multiplex: "yes" });

// @ts-expect-error: a token is a string or a function returning one
events.watchUpload("abc123", { token: 42 });
// @ts-expect-error: flow events have no filename
events.watchFlow("job-789", { onEvent: (message) => message.filename });
// @ts-expect-error: an upload_started has no url
events.watchUpload("abc123", { onEvent: (message) => message.type === "upload_started" && message.url });
// @ts-expect-error: subscriptions are made by watchUpload and watchFlow
new Subscription();

export { state, seen, lastSeen };
