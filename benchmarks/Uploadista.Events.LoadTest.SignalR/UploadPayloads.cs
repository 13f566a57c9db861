namespace Uploadista.Events.LoadTest.SignalR;

// The uploads workload's events as SignalR sends them: the same JSON fields, in the same order, as
// Uploadista.Events' events (SignalR's JSON protocol writes them in camelCase). The timestamp is a
// string in the library's own form (UTC, milliseconds), so that both carry the same bytes and clients
// read both the same way.

internal sealed record UploadStartedPayload(string Type, string UploadId, string Filename, long Size, string Timestamp, long Seq);

internal sealed record UploadProgressPayload(string Type, string UploadId, double Progress, long BytesUploaded, long TotalBytes, string Timestamp, long Seq);

internal sealed record UploadCompletePayload(string Type, string UploadId, string Url, string Timestamp, long Seq);

internal sealed record FlowStartedPayload(string Type, string JobId, string UploadId, string FlowName, string Timestamp, long Seq);

internal sealed record FlowProgressPayload(string Type, string JobId, string UploadId, string NodeId, string NodeName, double Progress, string Timestamp, long Seq);

internal sealed record FlowCompletePayload(string Type, string JobId, string UploadId, IReadOnlyDictionary<string, string> Outputs, string Timestamp, long Seq);
