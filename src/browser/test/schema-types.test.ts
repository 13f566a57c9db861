// Compiled (never run) by `npm run typecheck`: the event types written by hand in
// uploadista-events.d.ts agree with the ones generated from docs/schema (test/schema-types.mjs),
// so the client's types, the schemas and (through them) the server's C# types describe one wire.
// Each pair must be assignable both ways and have the same fields: a field missing, extra, of
// another type, or optional on one side only fails the check.
import type * as Client from "uploadista-events";
import type * as Wire from "./generated/schema-types.js";

/** true when A and B are assignable to each other and name the same fields. */
type Agree<A, B> = [A] extends [B]
  ? [B] extends [A]
    ? [keyof A] extends [keyof B]
      ? [keyof B] extends [keyof A]
        ? true
        : false
      : false
    : false
  : false;

/**
 * A frame as an upload's or a job's own socket sends it: `channel` is added by the multiplexed socket
 * only, and the client's event types leave it out.
 */
type OwnSocket<T> = T extends unknown ? Omit<T, "channel"> : never;

/** Fails to compile, naming the pair, unless the two agree. */
declare function agree<Name extends string, Result extends true>(name: Name, result?: Result): void;

agree<"upload_started", Agree<OwnSocket<Wire.UploadStartedEvent>, Client.UploadStartedEvent>>("upload_started");
agree<"upload_progress", Agree<OwnSocket<Wire.UploadProgressEvent>, Client.UploadProgressEvent>>("upload_progress");
agree<"upload_complete", Agree<OwnSocket<Wire.UploadCompleteEvent>, Client.UploadCompleteEvent>>("upload_complete");
agree<"upload_error", Agree<OwnSocket<Wire.UploadErrorEvent>, Client.UploadErrorEvent>>("upload_error");
agree<"flow_started", Agree<OwnSocket<Wire.FlowStartedEvent>, Client.FlowStartedEvent>>("flow_started");
agree<"flow_progress", Agree<OwnSocket<Wire.FlowProgressEvent>, Client.FlowProgressEvent>>("flow_progress");
agree<"flow_complete", Agree<OwnSocket<Wire.FlowCompleteEvent>, Client.FlowCompleteEvent>>("flow_complete");
agree<"flow_error", Agree<OwnSocket<Wire.FlowErrorEvent>, Client.FlowErrorEvent>>("flow_error");

// The unions: every event (what an upload's socket receives), and the flow events (a job's socket).
agree<"UploadistaEvent", Agree<OwnSocket<Wire.UploadistaEvent>, Client.UploadistaEvent>>("UploadistaEvent");
agree<"FlowEvent", Agree<OwnSocket<Extract<Wire.UploadistaEvent, { type: `flow_${string}` }>>, Client.FlowEvent>>("FlowEvent");
agree<"type", Agree<Wire.UploadistaEvent["type"], Client.UploadistaEvent["type"]>>("type");
