namespace Uploadista.Events;

/// <summary>An event serialized for publishing, before the broadcaster assigns its sequence number.</summary>
/// <param name="Payload">The event as a UTF-8 JSON object without a <c>seq</c> field.</param>
/// <param name="ConflationKey">
/// For progress events, a key naming what the progress is of (the upload, or one node of one job): a
/// later event with the same key supersedes this one, which may then be dropped from retained state
/// and from the queue of a connection that has fallen behind. <see langword="null"/> for events that
/// are never superseded.
/// </param>
public readonly record struct EventPublication(ReadOnlyMemory<byte> Payload, string? ConflationKey);
