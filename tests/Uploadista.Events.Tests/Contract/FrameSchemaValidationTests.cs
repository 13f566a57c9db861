using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Uploadista.Events.Tests.Events;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Contract;

/// <summary>
/// The schemas take what the server sends and docs/protocol.md shows, and the validator the tests
/// use really refuses what the wire never carries: each rule the schemas rely on (required fields,
/// patterns, the date-time format, closed objects) is seen to reject a frame.
/// </summary>
public sealed class FrameSchemaValidationTests
{
    private const string Progress = """{"type":"upload_progress","uploadId":"abc123","progress":0.45,"bytesUploaded":2359296,"totalBytes":5242880,"timestamp":"2026-11-29T10:15:30.250Z","seq":12}""";

    [Theory]
    [MemberData(nameof(EventJsonTests.SeedEvents), MemberType = typeof(EventJsonTests))]
    public void Every_event_the_server_serializes_matches_its_schema_and_event_json(string type, UploadistaEvent uploadistaEvent, string seedJson)
    {
        _ = seedJson;
        var published = uploadistaEvent with { Seq = 1, Timestamp = new DateTimeOffset(2026, 11, 29, 10, 15, 30, 7, TimeSpan.FromHours(2)) };
        var frame = JsonSerializer.Serialize(published, EventJsonContext.Default.UploadistaEvent);

        FrameSchemaValidator.Violations($"{type}.json", frame).Should().BeEmpty();
        FrameSchemaValidator.Violations("event.json", frame).Should().BeEmpty();
        FrameSchemaValidator.Violations("event.json", With(frame, "channel", type.StartsWith("upload_", StringComparison.Ordinal) ? "upload:abc123" : "flow:job-789")).Should().BeEmpty();
    }

    /// <summary>The frames docs/protocol.md shows, each against its schema.</summary>
    [Theory]
    [InlineData("event.json", Progress)]
    [InlineData("pong.json", """{"type":"pong","timestamp":"2026-11-29T10:15:30.250Z","epoch":"1764410000.123456"}""")]
    [InlineData("pong.json", """{"type":"pong","timestamp":"2026-11-29T10:15:30.250Z"}""")]
    [InlineData("subscribed.json", """{"type":"subscribed","uploadId":"abc123","channel":"upload:abc123","since":12,"epoch":"1764410000.123456"}""")]
    [InlineData("subscribed.json", """{"type":"subscribed","jobId":"job-789","channel":"flow:job-789","since":0}""")]
    [InlineData("subscription_refused.json", """{"type":"subscription_refused","uploadId":"abc123","channel":"upload:abc123","code":4401,"reason":"Unauthenticated"}""")]
    [InlineData("subscription_refused.json", """{"type":"subscription_refused","uploadId":"a/b","code":1008,"reason":"Invalid subscribe"}""")]
    [InlineData("subscription_refused.json", """{"type":"subscription_refused","code":1008,"reason":"Invalid subscribe: a subscription names either uploadId or jobId"}""")]
    [InlineData("unsubscribed.json", """{"type":"unsubscribed","uploadId":"abc123","channel":"upload:abc123"}""")]
    [InlineData("subscription_ended.json", """{"type":"subscription_ended","uploadId":"abc123","channel":"upload:abc123","code":4010,"reason":"The channel started over"}""")]
    [InlineData("close.json", """{"code":4008,"reason":"Slow consumer; reconnect with since"}""")]
    [InlineData("close.json", """{"code":1011,"reason":"Catching up failed; reconnect with since"}""")]
    [InlineData("subscription_refused.json", """{"type":"subscription_refused","code":1008,"reason":"Invalid unsubscribe: a subscription names either uploadId or jobId"}""")]
    [InlineData("event.json", """{"type":"flow_progress","jobId":"job-789","uploadId":"abc123","nodeId":"resize","nodeName":"Resize","progress":0.5,"timestamp":"2026-11-29T10:15:31.600Z","seq":16,"channel":"upload:abc123"}""")]
    [InlineData("ping.json", """{"type":"ping"}""")]
    [InlineData("subscribe.json", """{"type":"subscribe","uploadId":"abc123","token":"t","since":12,"epoch":"1764410000.123456"}""")]
    [InlineData("subscribe.json", """{"type":"subscribe","jobId":"job-789"}""")]
    [InlineData("unsubscribe.json", """{"type":"unsubscribe","uploadId":"abc123"}""")]
    public void The_documented_frames_match(string schema, string frame)
        => FrameSchemaValidator.Violations(schema, frame).Should().BeEmpty();

    [Theory]
    [InlineData("timestamp without milliseconds", "timestamp", "\"2026-11-29T10:15:30Z\"")]
    [InlineData("timestamp with an offset", "timestamp", "\"2026-11-29T10:15:30.250+00:00\"")]
    [InlineData("timestamp that is no date (only format says so)", "timestamp", "\"2026-13-45T10:15:30.250Z\"")]
    [InlineData("timestamp with non-ASCII digits", "timestamp", "\"٢٠٢٦-11-29T10:15:30.250Z\"")]
    [InlineData("seq missing", "seq", null)]
    [InlineData("seq 0", "seq", "0")]
    [InlineData("seq not an integer", "seq", "1.5")]
    [InlineData("seq as a string", "seq", "\"12\"")]
    [InlineData("timestamp missing", "timestamp", null)]
    [InlineData("uploadId with a slash", "uploadId", "\"a/b\"")]
    [InlineData("uploadId with a line break after it", "uploadId", "\"abc123\\n\"")]
    [InlineData("progress over 1", "progress", "1.5")]
    [InlineData("negative byte count", "bytesUploaded", "-1")]
    [InlineData("a field no event has", "note", "\"x\"")]
    [InlineData("a channel of no kind", "channel", "\"job:abc123\"")]
    [InlineData("an upload event on a job's channel", "channel", "\"flow:abc123\"")]
    [InlineData("an unknown type", "type", "\"upload_paused\"")]
    public void A_frame_the_wire_never_carries_is_rejected(string what, string field, string? json)
    {
        var frame = json is null ? Without(Progress, field) : With(Progress, field, JsonNode.Parse(json));

        FrameSchemaValidator.Violations("event.json", frame).Should().NotBeEmpty(what);
        var serverFrame = () => FrameSchemaValidator.ServerFrame(frame);
        serverFrame.Should().Throw<FrameSchemaException>(what);
    }

    [Theory]
    [InlineData("pong.json", """{"type":"pong"}""")]
    [InlineData("pong.json", """{"type":"pong","timestamp":"2026-11-29T10:15:30.250Z","seq":1}""")]
    [InlineData("subscribed.json", """{"type":"subscribed","uploadId":"abc123","jobId":"job-789","channel":"upload:abc123","since":0}""")]
    [InlineData("subscribed.json", """{"type":"subscribed","uploadId":"abc123","channel":"flow:abc123","since":0}""")]
    [InlineData("subscribed.json", """{"type":"subscribed","uploadId":"abc123","channel":"upload:abc123","since":-1}""")]
    [InlineData("subscription_refused.json", """{"type":"subscription_refused","uploadId":"abc123","code":4008,"reason":"x"}""")]
    [InlineData("subscription_ended.json", """{"type":"subscription_ended","uploadId":"abc123","channel":"upload:abc123","code":4401,"reason":"x"}""")]
    [InlineData("close.json", """{"code":1000}""")]
    [InlineData("subscribe.json", """{"type":"subscribe"}""")]
    public void A_control_frame_the_wire_never_carries_is_rejected(string schema, string frame)
        => FrameSchemaValidator.Violations(schema, frame).Should().NotBeEmpty();

    /// <summary>The schemas' id pattern is a second writing of <c>Channels.IsValidId</c>: the two take the same ids.</summary>
    [Fact]
    public void The_id_pattern_is_the_servers_id_rule()
    {
        var pattern = new Regex($"^{SchemaParts.IdCharacters}\\z", RegexOptions.CultureInvariant);
        var ids = Enumerable.Range(0, 0x250).Select(c => $"a{(char)c}")
            .Concat(["", "a", new string('a', Channels.MaxIdLength), new string('a', Channels.MaxIdLength + 1), "a\n", "é"]);
        foreach (var id in ids)
        {
            pattern.IsMatch(id).Should().Be(Channels.IsValidId(id), $"the id \"{id}\" is valid or not alike");
        }
    }

    private static string With(string frame, string field, JsonNode? value)
    {
        var node = JsonNode.Parse(frame)!.AsObject();
        node[field] = value;
        return node.ToJsonString();
    }

    private static string Without(string frame, string field)
    {
        var node = JsonNode.Parse(frame)!.AsObject();
        node.Remove(field);
        return node.ToJsonString();
    }
}
