// Types of the Uploadista.Events browser client (uploadista-events.js, with its Server-Sent Events
// transport in event-stream.js, and the UploadTracker it re-exports from upload-tracker.js, with its
// multiplexed socket in multiplexed-socket.js) and of the events the server sends (docs/protocol.md).
// Written by hand; the tests check each event's fields against the C# events, and `npm run typecheck`
// against the types generated from docs/schema (test/schema-types.test.ts).

/** Fields every event carries. */
export interface EventBase {
  /** The event's position in its channel: 1 for the channel's first event, exactly 1 more for each later one. */
  seq: number;
  /** When the event was published: RFC 3339 UTC with milliseconds, e.g. "2026-11-29T10:15:30.250Z". */
  timestamp: string;
}

/** `upload_started`: the server began receiving an upload. */
export interface UploadStartedEvent extends EventBase {
  type: "upload_started";
  uploadId: string;
  /** The file name the client gave. */
  filename: string;
  /** The size of the upload in bytes. */
  size: number;
}

/** `upload_progress`: more of the upload has arrived. */
export interface UploadProgressEvent extends EventBase {
  type: "upload_progress";
  uploadId: string;
  /** The fraction received, from 0 to 1. */
  progress: number;
  bytesUploaded: number;
  totalBytes: number;
}

/** `upload_complete`: the upload was received and stored. */
export interface UploadCompleteEvent extends EventBase {
  type: "upload_complete";
  uploadId: string;
  /** Where the uploaded file can be fetched. */
  url: string;
}

/** `upload_error`: the upload failed. */
export interface UploadErrorEvent extends EventBase {
  type: "upload_error";
  uploadId: string;
  /** A message for the user. */
  error: string;
}

/** Fields of every flow event. */
export interface FlowEventBase extends EventBase {
  /** The processing job. */
  jobId: string;
  /** The upload the job belongs to; absent when it belongs to none. */
  uploadId?: string;
}

/** `flow_started`: a processing job began. */
export interface FlowStartedEvent extends FlowEventBase {
  type: "flow_started";
  /** The name of the flow the job runs. */
  flowName: string;
}

/** `flow_progress`: a node of a processing job made progress. */
export interface FlowProgressEvent extends FlowEventBase {
  type: "flow_progress";
  nodeId: string;
  /** The node's display name. */
  nodeName: string;
  /** The node's progress, from 0 to 1. */
  progress: number;
}

/** `flow_complete`: a processing job finished. */
export interface FlowCompleteEvent extends FlowEventBase {
  type: "flow_complete";
  /** The job's outputs: output name to URL. */
  outputs: Record<string, string>;
}

/** `flow_error`: a processing job failed. */
export interface FlowErrorEvent extends FlowEventBase {
  type: "flow_error";
  /** A message for the user. */
  error: string;
}

/** An event of a processing job: what a job's socket receives. */
export type FlowEvent = FlowStartedEvent | FlowProgressEvent | FlowCompleteEvent | FlowErrorEvent;

/** Any event: what an upload's socket receives (its own events, and those of its jobs). */
export type UploadistaEvent = UploadStartedEvent | UploadProgressEvent | UploadCompleteEvent | UploadErrorEvent | FlowEvent;

/**
 * The state of a subscription: "connecting", "open", "reconnecting" (waiting to retry), "offline"
 * (the browser is offline: waiting for it to be back), "refused" (4401/4403, or a stream refused with
 * 401/403: stopped for good),
 * "failed" (this client broke the protocol: stopped), "closed" (by close()).
 */
export type ConnectionState = "connecting" | "open" | "reconnecting" | "offline" | "refused" | "failed" | "closed";

/** What came with a change of state; which fields are set depends on the state and its cause. */
export interface StateDetail {
  /**
   * The close status of the connection that ended (docs/protocol.md); for a stream the server refused,
   * the close status of a WebSocket refused alike (401: 4401, 403: 4403, 429: 1013, ...).
   */
  code?: number;
  reason?: string;
  /** The HTTP status the server refused a stream (Server-Sent Events) with. */
  status?: number;
  /** "reconnecting": the attempt about to be made, counted since the last event or stable connection. */
  attempt?: number;
  /** "reconnecting": milliseconds until it is made. */
  delay?: number;
  /** What a token function threw, or the reason its promise rejected with. */
  error?: unknown;
}

/** A token, or a function (sync or async) called before every connection for a fresh one. */
export type TokenSource = string | (() => string | null | undefined | PromiseLike<string | null | undefined>);

export interface UploadistaEventsOptions {
  /** Base WebSocket URL including the prefix, e.g. "wss://api.example.com/uploadista". Default: this page's host with "/uploadista". */
  url?: string;
  /** First reconnection delay in ms (default 500). */
  minDelay?: number;
  /** Longest reconnection delay in ms (default 15000). */
  maxDelay?: number;
  /** A WebSocket implementation (default: the browser's). */
  WebSocket?: typeof WebSocket;
  /**
   * "auto" (the default): a WebSocket, and Server-Sent Events (EventSource, at the same host and
   * prefix over HTTP(S)) once a WebSocket could not be opened; "websocket" or "sse": only that.
   */
  transport?: Transport;
  /** An EventSource implementation (default: the browser's). */
  EventSource?: typeof EventSource;
  /**
   * A fetch implementation (default: the browser's), used only to ask the server why it refused a
   * stream (EventSource does not tell): the same URL once more, for its status and JSON body.
   */
  fetch?: typeof fetch;
}

/** What carries a subscription's events. */
export type Transport = "websocket" | "sse" | "auto";

export interface SubscriptionHandlers<TEvent> {
  /** Sent as ?token=. A function is called before every connection, so a token that expired is replaced. */
  token?: TokenSource;
  /** The last seq already seen: the subscription resumes after it. */
  since?: number;
  /** Each event, in seq order. */
  onEvent?(message: TEvent): void;
  /** Each change of state. */
  onState?(state: ConnectionState, detail: StateDetail): void;
}

/** Connects to the Uploadista.Events WebSocket (or Server-Sent Events) endpoints of one server. */
export class UploadistaEvents {
  constructor(options?: UploadistaEventsOptions);
  readonly url: string;
  readonly transport: Transport;
  readonly minDelay: number;
  readonly maxDelay: number;
  /** Watches an upload, and the jobs that belong to it. */
  watchUpload(uploadId: string, handlers?: SubscriptionHandlers<UploadistaEvent>): Subscription;
  /** Watches one processing job. */
  watchFlow(jobId: string, handlers?: SubscriptionHandlers<FlowEvent>): Subscription;
}

/** One watched upload or job; it reconnects and resumes on its own until closed or refused. */
export class Subscription {
  private constructor();
  readonly state: ConnectionState;
  /** The seq of the last event received (0 before any). */
  readonly lastSeq: number;
  /** The run of seqs lastSeq belongs to, once a pong has named it (never over Server-Sent Events). */
  readonly epoch: string | null;
  /** Whether it uses Server-Sent Events rather than a WebSocket. */
  readonly streaming: boolean;
  /** Stops watching: closes the socket and cancels any retry. */
  close(): void;
}

/**
 * One upload watched by an {@link UploadTracker} on its one multiplexed WebSocket ({prefix}/ws): the
 * members of a {@link Subscription}, with states that mean the same ("open" once subscribed).
 */
export class MultiplexedSubscription {
  private constructor();
  readonly state: ConnectionState;
  /** The seq of the last event received (0 before any). */
  readonly lastSeq: number;
  /** The run of seqs lastSeq belongs to, as the server's "subscribed" frame named it. */
  readonly epoch: string | null;
  /** Always false: it is carried by a WebSocket. */
  readonly streaming: false;
  /** Stops watching: unsubscribes, and cancels any retry. The socket closes after its last subscription. */
  close(): void;
}

/** Where a tracked upload is. */
export type UploadStatus = "waiting" | "uploading" | "uploaded" | "processing" | "complete" | "failed";

/** A processing node of a tracked upload's flow. */
export interface TrackedNode {
  name: string;
  /** From 0 to 1. */
  progress: number;
}

/** The processing flow of a tracked upload. */
export interface TrackedFlow {
  jobId: string;
  name: string;
  status: "processing" | "complete" | "failed";
  /** Node id to node, in the order they first reported. */
  nodes: Map<string, TrackedNode>;
  outputs: Record<string, string> | null;
  error: string | null;
}

/** The plain state object of one tracked upload, for the page to render. */
export interface TrackedUpload {
  uploadId: string;
  name: string;
  status: UploadStatus;
  /** From 0 to 1. */
  progress: number;
  bytesUploaded: number;
  totalBytes: number;
  url: string | null;
  error: string | null;
  /** The subscription's state (for a multiplexed one, "open" once subscribed). */
  connection: ConnectionState;
  /** Why the subscription stopped, when it was refused or failed. */
  refusal: StateDetail | null;
  flow: TrackedFlow | null;
  /** On the tracker's multiplexed socket, or (Server-Sent Events, or multiplex: false) a subscription of its own. */
  subscription: Subscription | MultiplexedSubscription;
}

export interface TrackOptions {
  /** As for {@link SubscriptionHandlers.token}. */
  token?: TokenSource;
  /** A name to show (default: the upload id). */
  name?: string;
}

export interface UploadTrackerOptions {
  /**
   * true (the default): every upload on one WebSocket ({prefix}/ws), each subscribed with its own
   * token, since and epoch, wherever the client uses WebSockets; false: a WebSocket per upload.
   * Over Server-Sent Events (transport "sse", or "auto" once a WebSocket could not be opened) each
   * upload has a stream of its own either way.
   */
  multiplex?: boolean;
}

/** Tracks many uploads at once, each with its processing flow, and calls back after every change. */
export class UploadTracker {
  constructor(client: UploadistaEvents, onChange?: (upload: TrackedUpload, message?: UploadistaEvent) => void, options?: UploadTrackerOptions);
  readonly uploads: Map<string, TrackedUpload>;
  /** Starts tracking an upload. Open it before sending the bytes; events retained meanwhile arrive anyway. */
  track(uploadId: string, options?: TrackOptions): TrackedUpload;
  /** Marks an upload failed for a reason the events cannot tell (for example the request failed). */
  fail(uploadId: string, error: string): void;
  /** Stops tracking an upload. */
  untrack(uploadId: string): void;
}
