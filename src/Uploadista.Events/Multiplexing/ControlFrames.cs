using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;

namespace Uploadista.Events;

/// <summary>
/// The frames a multiplexed socket receives besides events (docs/protocol.md, "One socket, many
/// uploads"). Each names its subscription the way the client named it (<c>uploadId</c> or
/// <c>jobId</c>) and by its channel, as events do.
/// </summary>
internal static class ControlFrames
{
    /// <summary><c>{"type":"subscribed",...,"since":N,"epoch":"E"}</c>: the subscription is live from <c>since</c> (0 when the client's was of another run).</summary>
    public static ChannelEvent Subscribed(SubscriptionKind kind, string id, long since, string? epoch) => Build("subscribed", kind, id, json =>
    {
        json.WriteNumber("since", since);
        if (epoch is not null)
        {
            json.WriteString("epoch", epoch);
        }
    });

    /// <summary><c>{"type":"subscription_refused",...,"code":4403,"reason":"..."}</c>: the subscription was not made; the socket stays open.</summary>
    public static ChannelEvent Refused(SubscriptionKind kind, string? id, WebSocketCloseStatus code, string reason)
        => Build("subscription_refused", kind, id, json => WriteCode(json, code, reason));

    /// <summary><c>{"type":"subscription_ended",...,"code":4010,"reason":"..."}</c>: the server ended the subscription; the socket stays open.</summary>
    public static ChannelEvent Ended(SubscriptionKind kind, string id, WebSocketCloseStatus code, string reason)
        => Build("subscription_ended", kind, id, json => WriteCode(json, code, reason));

    /// <summary><c>{"type":"unsubscribed",...}</c>: no event of the channel follows.</summary>
    public static ChannelEvent Unsubscribed(SubscriptionKind kind, string id) => Build("unsubscribed", kind, id, static _ => { });

    private static void WriteCode(Utf8JsonWriter json, WebSocketCloseStatus code, string reason)
    {
        json.WriteNumber("code", (int)code);
        json.WriteString("reason", reason);
    }

    private static ChannelEvent Build(string type, SubscriptionKind kind, string? id, Action<Utf8JsonWriter> rest)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("type", type);
            if (id is not null)
            {
                // An id that is not well formed (in a refusal) is echoed escaped, without a channel.
                json.WriteString(kind == SubscriptionKind.Upload ? "uploadId" : "jobId", id);
                if (Channels.IsValidId(id))
                {
                    json.WriteString("channel", ChannelTag.ChannelOf(kind, id));
                }
            }

            rest(json);
            json.WriteEndObject();
        }

        return ChannelEvent.Control(buffer.WrittenSpan.ToArray());
    }
}

/// <summary>
/// Makes a <see cref="ConnectionSubscription"/> one of several on a multiplexed socket: its events are
/// tagged with <see cref="Channel"/>, and the frames that answer or end it are built here.
/// </summary>
internal sealed class ChannelTag(SubscriptionKind kind, string id, Action onEnd)
{
    public string Channel { get; } = ChannelOf(kind, id);

    public static string ChannelOf(SubscriptionKind kind, string id) => kind == SubscriptionKind.Upload ? Channels.ForUpload(id) : Channels.ForFlow(id);

    public ChannelEvent Subscribed(string? epoch, long since) => ControlFrames.Subscribed(kind, id, since, epoch);

    public ChannelEvent Reset(string reason) => ControlFrames.Ended(kind, id, CloseStatuses.StateReset, reason);

    /// <summary>The subscription ended itself (called under its channel's lock: the callee must not block).</summary>
    public void End() => onEnd();
}
