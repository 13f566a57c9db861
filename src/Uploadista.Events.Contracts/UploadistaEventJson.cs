using System.Text.Json.Serialization.Metadata;

namespace Uploadista.Events;

/// <summary>The JSON of <see cref="UploadistaEvent"/> as it is on the wire, source generated.</summary>
/// <remarks>
/// Serializing with <see cref="TypeInfo"/> writes the frame the server sends; deserializing reads one,
/// choosing the event type by its <c>type</c> property:
/// <code>var e = JsonSerializer.Deserialize(frame, UploadistaEventJson.TypeInfo);</code>
/// Frames that are not events (<c>pong</c>, and the multiplexed socket's answers) have a
/// <c>type</c> of their own and are not read by it.
/// </remarks>
public static class UploadistaEventJson
{
    /// <summary>Gets the serialization metadata of <see cref="UploadistaEvent"/> and its eight event types.</summary>
    public static JsonTypeInfo<UploadistaEvent> TypeInfo => EventJsonContext.Default.UploadistaEvent;
}
