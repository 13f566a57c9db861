using System.Collections.Frozen;
using System.Text.Json;

namespace Uploadista.Events.Client;

/// <summary>What one frame (or the end of a connection) told the watch.</summary>
internal readonly record struct Frame(FrameKind Kind, UploadistaEvent? Event = null, string? Epoch = null, int CloseStatus = 0, string? Reason = null)
{
    /// <summary>The close status of a connection dropped without a close frame, as browsers report it.</summary>
    public const int Dropped = 1006;

    // The eight event types, as the events' own JSON metadata names them.
    private static readonly FrozenSet<string> EventTypes = UploadistaEventJson.TypeInfo.PolymorphismOptions!.DerivedTypes
        .Select(derived => (string)derived.TypeDiscriminator!)
        .ToFrozenSet(StringComparer.Ordinal);

    public static Frame Closed(int status, string? reason) => new(FrameKind.Closed, CloseStatus: status, Reason: reason);

    /// <summary>
    /// Reads a text frame: an event, a pong (with the epoch it names), or something this client does not
    /// know, which it ignores, as a newer server may send frames an older client does not know.
    /// </summary>
    /// <exception cref="JsonException">The frame is not JSON, or an event of a known type does not read as one.</exception>
    public static Frame Parse(ReadOnlySpan<byte> json)
    {
        var (type, epoch) = ReadTypeAndEpoch(json);
        if (type == "pong")
        {
            return new Frame(FrameKind.Pong, Epoch: epoch);
        }

        return type is not null && EventTypes.Contains(type)
            ? new Frame(FrameKind.Event, JsonSerializer.Deserialize(json, UploadistaEventJson.TypeInfo))
            : new Frame(FrameKind.Ignored);
    }

    private static (string? Type, string? Epoch) ReadTypeAndEpoch(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return (null, null);
        }

        string? type = null, epoch = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.ValueTextEquals("type"u8) ? 1 : reader.ValueTextEquals("epoch"u8) ? 2 : 0;
            reader.Read();
            if (name != 0 && reader.TokenType == JsonTokenType.String)
            {
                if (name == 1)
                {
                    type = reader.GetString();
                }
                else
                {
                    epoch = reader.GetString();
                }
            }
            else
            {
                reader.Skip();
            }
        }

        return (type, epoch);
    }
}

/// <summary>The kinds of <see cref="Frame"/>.</summary>
internal enum FrameKind
{
    Event,
    Pong,
    Ignored,
    Closed,
}
