using System.Text.Json.Nodes;
using static Uploadista.Events.Tests.Contract.SchemaParts;

namespace Uploadista.Events.Tests.Contract;

/// <summary>
/// The schemas of the frames that are not events: the pong, the multiplexed socket's answers, a
/// stream's last <c>close</c> event, and what a client sends. The server writes these with a
/// <c>Utf8JsonWriter</c> (<c>ClientMessage</c>, <c>ControlFrames</c>, <c>EventStreamFrameWriter</c>) and
/// reads them with a <c>Utf8JsonReader</c> (<c>SubscribeMessage</c>), with no type to export, so they are
/// written here, after docs/protocol.md; the tests that validate every frame they receive against
/// them are what keeps the two in step.
/// </summary>
internal static class FrameSchemas
{
    private const string UploadIdText = "The upload, as the subscribe named it.";
    private const string JobIdText = "The job, as the subscribe named it.";
    private const string ChannelText = "upload:{uploadId} or flow:{jobId}.";
    private const string ReasonText = "Why, for people.";

    public static IEnumerable<(string File, JsonObject Schema)> All()
    {
        yield return ("pong.json", Pong());
        yield return ("subscribed.json", Subscribed());
        yield return ("subscription_refused.json", SubscriptionRefused());
        yield return ("unsubscribed.json", Unsubscribed());
        yield return ("subscription_ended.json", SubscriptionEnded());
        yield return ("close.json", StreamClose());
        yield return ("ping.json", Ping());
        yield return ("subscribe.json", Subscribe());
        yield return ("unsubscribe.json", Unsubscribe());
    }

    private static JsonObject Pong() => Object(
        "Pong",
        "The answer to a ping. On a multiplexed socket it names no epoch: each subscription's is in its subscribed frame.",
        [
            ("type", Const("pong")),
            ("timestamp", Timestamp("When the server answered: RFC 3339 UTC with milliseconds.")),
            ("epoch", Epoch("The run of seq numbers the connection's events belong to, to resume with (since and epoch); left out while the channel has none.")),
        ],
        ["type", "timestamp"]);

    private static JsonObject Subscribed() => OneId(Object(
        "Subscribed",
        "A subscribe was made: the subscription's events follow.",
        [
            ("type", Const("subscribed")),
            ("uploadId", Id(UploadIdText)),
            ("jobId", Id(JobIdText)),
            ("channel", Channel(ChannelText, flow: true)),
            ("since", Integer("Where the subscription resumes: the client's since, or 0 when that was of another run or beyond the channel's last seq.", 0)),
            ("epoch", Epoch("The channel's run, to resume with later; left out while the channel has none.")),
        ],
        ["type", "channel", "since"]));

    private static JsonObject SubscriptionRefused()
    {
        var schema = Object(
            "SubscriptionRefused",
            "A subscribe was not made (or an unsubscribe that is not well formed was not taken: 1008); the socket stays open. A message that named no id, or an id that is not valid (echoed as it was sent), is refused without channel.",
            [
                ("type", Const("subscription_refused")),
                ("uploadId", Text("The upload id the subscribe named.")),
                ("jobId", Text("The job id the subscribe named.")),
                ("channel", Channel(ChannelText, flow: true)),
                ("code", Code(
                    "The close status a socket of its own would have been closed with: 4401 (no valid token), 4403 (forbidden), 1013 (too many sockets on the upload, or the broker could not subscribe), 1011 (the authorizer failed), 1008 (a subscribe the socket cannot take).",
                    1008, 1011, 1013, 4401, 4403)),
                ("reason", Text(ReasonText)),
            ],
            ["type", "code", "reason"]);
        schema["not"] = NotBothIds();
        return schema;
    }

    private static JsonObject Unsubscribed() => OneId(Object(
        "Unsubscribed",
        "An unsubscribe took effect: no event of the subscription follows.",
        [("type", Const("unsubscribed")), ("uploadId", Id(UploadIdText)), ("jobId", Id(JobIdText)), ("channel", Channel(ChannelText, flow: true))],
        ["type", "channel"]));

    private static JsonObject SubscriptionEnded() => OneId(Object(
        "SubscriptionEnded",
        "The channel started over beneath the subscription (what closes a socket of its own with 4010): subscribe again without since. The socket and its other subscriptions go on.",
        [
            ("type", Const("subscription_ended")),
            ("uploadId", Id(UploadIdText)),
            ("jobId", Id(JobIdText)),
            ("channel", Channel(ChannelText, flow: true)),
            ("code", Code("4010: the channel started over.", 4010)),
            ("reason", Text(ReasonText)),
        ],
        ["type", "channel", "code", "reason"]));

    private static JsonObject StreamClose() => Object(
        "EventStreamClose",
        "The data of a Server-Sent Events stream's last event, event:close: the close status a WebSocket would have received.",
        [
            ("code", Code("1001 (shutting down), 1011 (the server failed), 1013 (could not be subscribed, or could not catch up after a broker outage), 4008 (slow consumer), 4010 (the channel started over: reconnect without since).", 1001, 1011, 1013, 4008, 4010)),
            ("reason", Text(ReasonText)),
        ],
        ["code", "reason"]);

    private static JsonObject Ping() => Object(
        "Ping",
        "Asks for a pong. Any other JSON the server does not know is ignored.",
        [("type", Const("ping"))],
        ["type"]);

    private static JsonObject Subscribe() => OneId(withChannel: false, schema: Object(
        "Subscribe",
        "Multiplexed socket: subscribes to one upload (its events and its jobs') or one job. Answered by subscribed or subscription_refused.",
        [
            ("type", Const("subscribe")),
            ("uploadId", Id("The upload, as in {prefix}/ws/upload/{uploadId}.")),
            ("jobId", Id("The job, as in {prefix}/ws/flow/{jobId}.")),
            ("token", Text("Credentials for this subscription, as ?token= on a socket of its own.")),
            ("since", Integer("The last seq already seen: resume after it.", 0)),
            ("epoch", Epoch("The run since belongs to, as a subscribed frame named it.")),
        ],
        ["type"]));

    private static JsonObject Unsubscribe() => OneId(withChannel: false, schema: Object(
        "Unsubscribe",
        "Multiplexed socket: ends a subscription. Answered by unsubscribed, also when it was not subscribed.",
        [("type", Const("unsubscribe")), ("uploadId", Id(UploadIdText)), ("jobId", Id(JobIdText))],
        ["type"]));

    private static JsonObject NotBothIds() => new() { ["required"] = new JsonArray("uploadId", "jobId") };

    /// <summary>
    /// Exactly one of <c>uploadId</c> and <c>jobId</c>; where the frame has a <c>channel</c>
    /// (<paramref name="withChannel"/>), it is that id's (<c>upload:</c> for an upload, <c>flow:</c> for a job).
    /// </summary>
    private static JsonObject OneId(JsonObject schema, bool withChannel = true)
    {
        JsonObject Branch(string id, string prefix)
        {
            var branch = new JsonObject { ["required"] = new JsonArray(id) };
            if (withChannel)
            {
                branch["properties"] = new JsonObject { ["channel"] = new JsonObject { ["pattern"] = $"^{prefix}:" } };
            }

            return branch;
        }

        schema["oneOf"] = new JsonArray(Branch("uploadId", "upload"), Branch("jobId", "flow"));
        schema["not"] = NotBothIds();
        return schema;
    }
}
