namespace Uploadista.Events;

/// <summary>An event serialized for publishing, before the broadcaster assigns its sequence number.</summary>
public readonly struct EventPublication
{
    /// <summary>Initializes a new instance of the <see cref="EventPublication"/> struct.</summary>
    /// <param name="payload">The event as a UTF-8 JSON object without a <c>seq</c> field, and without surrounding whitespace.</param>
    /// <param name="conflationKey">
    /// For progress events, a key naming what the progress is of (the upload, or one node of one job): a
    /// later event with the same key supersedes this one, which may then be dropped from retained state
    /// and from the queue of a connection that has fallen behind. <see langword="null"/> for events that
    /// are never superseded.
    /// </param>
    /// <exception cref="ArgumentException"><paramref name="payload"/> is not a non-empty JSON object.</exception>
    public EventPublication(ReadOnlyMemory<byte> payload, string? conflationKey)
    {
        var span = payload.Span;
        if (span.Length < 3 || span[0] != (byte)'{' || span[^1] != (byte)'}' || span[1] == (byte)'}')
        {
            throw new ArgumentException("The payload must be a non-empty JSON object without surrounding whitespace.", nameof(payload));
        }

        Payload = payload;
        ConflationKey = conflationKey;
    }

    /// <summary>Gets the event as a UTF-8 JSON object without a <c>seq</c> field.</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>Gets the key of what this progress event supersedes, or <see langword="null"/>.</summary>
    public string? ConflationKey { get; }
}
