using System.Text.Json.Serialization;

namespace Uploadista.Events;

/// <summary>
/// An upload or flow event, as it is sent to WebSocket clients.
/// </summary>
/// <remarks>
/// The hierarchy is closed: the eight concrete event types are the wire contract.
/// <see cref="Timestamp"/> and <see cref="Seq"/> are assigned when the event is published; values a
/// producer sets on them are ignored.
/// </remarks>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(UploadStartedEvent), "upload_started")]
[JsonDerivedType(typeof(UploadProgressEvent), "upload_progress")]
[JsonDerivedType(typeof(UploadCompleteEvent), "upload_complete")]
[JsonDerivedType(typeof(UploadErrorEvent), "upload_error")]
[JsonDerivedType(typeof(FlowStartedEvent), "flow_started")]
[JsonDerivedType(typeof(FlowProgressEvent), "flow_progress")]
[JsonDerivedType(typeof(FlowCompleteEvent), "flow_complete")]
[JsonDerivedType(typeof(FlowErrorEvent), "flow_error")]
public abstract record UploadistaEvent
{
    private protected UploadistaEvent()
    {
    }

    /// <summary>Gets the UTC time at which the event was published.</summary>
    [JsonPropertyOrder(100)]
    [JsonConverter(typeof(UtcTimestampConverter))]
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>
    /// Gets the event's position in its channel: 1 for the channel's first event, and exactly one more
    /// for each later event. Assigned by the broadcaster; 0 until then.
    /// </summary>
    [JsonPropertyOrder(101)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Seq { get; init; }
}

/// <summary>An event of one upload, delivered to that upload's sockets.</summary>
public abstract record UploadEvent : UploadistaEvent
{
    private protected UploadEvent()
    {
    }

    /// <summary>Gets the id of the upload.</summary>
    [JsonPropertyOrder(2)]
    public required string UploadId { get; init; }
}

/// <summary>
/// An event of one processing job, delivered to the job's sockets and to the sockets of the upload the
/// job belongs to: the one <see cref="UploadId"/> names, or else the one an earlier event of the job named.
/// </summary>
public abstract record FlowEvent : UploadistaEvent
{
    private protected FlowEvent()
    {
    }

    /// <summary>Gets the id of the processing job.</summary>
    [JsonPropertyOrder(1)]
    public required string JobId { get; init; }

    /// <summary>
    /// Gets the id of the upload the job belongs to, or <see langword="null"/>. Set it on the job's first
    /// event (<see cref="FlowStartedEvent"/>): the job's later events that leave it unset still reach the
    /// upload's sockets, carrying its id, for as long as the job's state is retained
    /// (the server's <c>RetentionPeriod</c> after its last event; docs/protocol.md,
    /// "Flows and their upload").
    /// </summary>
    [JsonPropertyOrder(2)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? UploadId { get; init; }
}

/// <summary><c>upload_started</c>: the server began receiving an upload.</summary>
public sealed record UploadStartedEvent : UploadEvent
{
    /// <summary>Gets the file name the client gave.</summary>
    [JsonPropertyOrder(10)]
    public required string Filename { get; init; }

    /// <summary>Gets the size of the upload in bytes.</summary>
    [JsonPropertyOrder(11)]
    public required long Size { get; init; }
}

/// <summary><c>upload_progress</c>: more of the upload has arrived.</summary>
public sealed record UploadProgressEvent : UploadEvent
{
    /// <summary>Gets the fraction received, from 0 to 1.</summary>
    [JsonPropertyOrder(10)]
    public required double Progress { get; init; }

    /// <summary>Gets the number of bytes received so far.</summary>
    [JsonPropertyOrder(11)]
    public required long BytesUploaded { get; init; }

    /// <summary>Gets the size of the upload in bytes.</summary>
    [JsonPropertyOrder(12)]
    public required long TotalBytes { get; init; }
}

/// <summary><c>upload_complete</c>: the upload was received and stored.</summary>
public sealed record UploadCompleteEvent : UploadEvent
{
    /// <summary>Gets the URL at which the uploaded file can be fetched.</summary>
    [JsonPropertyOrder(10)]
    public required string Url { get; init; }
}

/// <summary><c>upload_error</c>: the upload failed.</summary>
public sealed record UploadErrorEvent : UploadEvent
{
    /// <summary>Gets a message for the user: no stack traces, no internal paths.</summary>
    [JsonPropertyOrder(10)]
    public required string Error { get; init; }
}

/// <summary><c>flow_started</c>: a processing job began.</summary>
public sealed record FlowStartedEvent : FlowEvent
{
    /// <summary>Gets the name of the flow the job runs.</summary>
    [JsonPropertyOrder(10)]
    public required string FlowName { get; init; }
}

/// <summary><c>flow_progress</c>: a node of a processing job made progress.</summary>
public sealed record FlowProgressEvent : FlowEvent
{
    /// <summary>Gets the id of the node.</summary>
    [JsonPropertyOrder(10)]
    public required string NodeId { get; init; }

    /// <summary>Gets the display name of the node.</summary>
    [JsonPropertyOrder(11)]
    public required string NodeName { get; init; }

    /// <summary>Gets the node's progress, from 0 to 1.</summary>
    [JsonPropertyOrder(12)]
    public required double Progress { get; init; }
}

/// <summary><c>flow_complete</c>: a processing job finished.</summary>
public sealed record FlowCompleteEvent : FlowEvent
{
    /// <summary>Gets the job's outputs: output name to URL.</summary>
    [JsonPropertyOrder(10)]
    public required IReadOnlyDictionary<string, string> Outputs { get; init; }
}

/// <summary><c>flow_error</c>: a processing job failed.</summary>
public sealed record FlowErrorEvent : FlowEvent
{
    /// <summary>Gets a message for the user: no stack traces, no internal paths.</summary>
    [JsonPropertyOrder(10)]
    public required string Error { get; init; }
}
