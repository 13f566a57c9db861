using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Uploadista.Events.Tests.Events;

/// <summary>The eight events serialize to exactly the seed page's JSON, plus seq and timestamp.</summary>
public sealed class EventJsonTests
{
    private static readonly DateTimeOffset PublishedAt = new(2026, 11, 29, 10, 15, 30, 250, TimeSpan.Zero);

    /// <summary>Each event as C# builds it, and the object the seed page shows for it.</summary>
    public static TheoryData<string, UploadistaEvent, string> SeedEvents => new()
    {
        {
            "upload_started",
            new UploadStartedEvent { UploadId = "abc123", Filename = "photo.jpg", Size = 5242880 },
            """{ "type": "upload_started", "uploadId": "abc123", "filename": "photo.jpg", "size": 5242880 }"""
        },
        {
            "upload_progress",
            new UploadProgressEvent { UploadId = "abc123", Progress = 0.45, BytesUploaded = 2359296, TotalBytes = 5242880 },
            """{ "type": "upload_progress", "uploadId": "abc123", "progress": 0.45, "bytesUploaded": 2359296, "totalBytes": 5242880 }"""
        },
        {
            "upload_complete",
            new UploadCompleteEvent { UploadId = "abc123", Url = "https://cdn.example.com/abc123/photo.jpg" },
            """{ "type": "upload_complete", "uploadId": "abc123", "url": "https://cdn.example.com/abc123/photo.jpg" }"""
        },
        {
            "upload_error",
            new UploadErrorEvent { UploadId = "abc123", Error = "Network connection lost" },
            """{ "type": "upload_error", "uploadId": "abc123", "error": "Network connection lost" }"""
        },
        {
            "flow_started",
            new FlowStartedEvent { JobId = "job-789", UploadId = "abc123", FlowName = "Image Processing" },
            """{ "type": "flow_started", "jobId": "job-789", "uploadId": "abc123", "flowName": "Image Processing" }"""
        },
        {
            "flow_progress",
            new FlowProgressEvent { JobId = "job-789", NodeId = "resize", NodeName = "Resize Image", Progress = 0.5 },
            """{ "type": "flow_progress", "jobId": "job-789", "nodeId": "resize", "nodeName": "Resize Image", "progress": 0.5 }"""
        },
        {
            "flow_complete",
            new FlowCompleteEvent
            {
                JobId = "job-789",
                UploadId = "abc123",
                Outputs = new Dictionary<string, string>
                {
                    ["thumbnail"] = "https://cdn.example.com/abc123/thumb.jpg",
                    ["fullsize"] = "https://cdn.example.com/abc123/full.jpg",
                },
            },
            """{ "type": "flow_complete", "jobId": "job-789", "uploadId": "abc123", "outputs": { "thumbnail": "https://cdn.example.com/abc123/thumb.jpg", "fullsize": "https://cdn.example.com/abc123/full.jpg" } }"""
        },
        {
            "flow_error",
            new FlowErrorEvent { JobId = "job-789", Error = "Image format not supported" },
            """{ "type": "flow_error", "jobId": "job-789", "error": "Image format not supported" }"""
        },
    };

    [Theory]
    [MemberData(nameof(SeedEvents))]
    public void Frame_is_the_seed_object_plus_seq_and_timestamp(string type, UploadistaEvent uploadistaEvent, string seedJson)
    {
        var frame = Frame(uploadistaEvent, seq: 7);

        var expected = JsonNode.Parse(seedJson)!.AsObject();
        expected["timestamp"] = "2026-11-29T10:15:30.250Z";
        expected["seq"] = 7;
        JsonNode.DeepEquals(JsonNode.Parse(frame), expected).Should().BeTrue($"{type} should serialize as {expected.ToJsonString()}, not {frame}");
        frame.Should().StartWith($$"""{"type":"{{type}}",""", "the type comes first, as on the seed page");
    }

    [Theory]
    [MemberData(nameof(SeedEvents))]
    public void Seed_json_round_trips_through_the_event_types(string type, UploadistaEvent uploadistaEvent, string seedJson)
    {
        var wire = JsonNode.Parse(seedJson)!.AsObject();
        wire["seq"] = 3; // seq before timestamp: clients may order fields as they like
        wire["timestamp"] = "2026-11-29T10:15:30.250Z";

        var parsed = JsonSerializer.Deserialize(wire.ToJsonString(), EventJsonContext.Default.UploadistaEvent)!;

        parsed.GetType().Should().Be(uploadistaEvent.GetType(), $"\"{type}\" names that type");
        parsed.Seq.Should().Be(3);
        parsed.Timestamp.Should().Be(PublishedAt);
        JsonNode.DeepEquals(JsonNode.Parse(Frame(parsed, seq: 3)), wire).Should().BeTrue();
    }

    [Fact]
    public void Exact_bytes_of_an_upload_progress_frame()
    {
        var frame = Frame(new UploadProgressEvent { UploadId = "abc123", Progress = 0.45, BytesUploaded = 2359296, TotalBytes = 5242880 }, seq: 12);

        frame.Should().Be("""{"type":"upload_progress","uploadId":"abc123","progress":0.45,"bytesUploaded":2359296,"totalBytes":5242880,"timestamp":"2026-11-29T10:15:30.250Z","seq":12}""");
    }

    [Fact]
    public void Flow_progress_carries_upload_id_when_known()
    {
        var frame = Frame(new FlowProgressEvent { JobId = "job-789", UploadId = "abc123", NodeId = "resize", NodeName = "Resize Image", Progress = 1 }, seq: 1);

        frame.Should().Be("""{"type":"flow_progress","jobId":"job-789","uploadId":"abc123","nodeId":"resize","nodeName":"Resize Image","progress":1,"timestamp":"2026-11-29T10:15:30.250Z","seq":1}""");
    }

    [Fact]
    public void Unknown_type_is_rejected_when_reading()
    {
        var read = () => JsonSerializer.Deserialize("""{"type":"upload_paused","uploadId":"a"}""", EventJsonContext.Default.UploadistaEvent);

        read.Should().Throw<JsonException>();
    }

    [Fact]
    public void Missing_required_field_is_rejected_when_reading()
    {
        var read = () => JsonSerializer.Deserialize("""{"type":"upload_complete","uploadId":"a"}""", EventJsonContext.Default.UploadistaEvent);

        read.Should().Throw<JsonException>().WithMessage("*url*");
    }

    [Theory]
    [InlineData("")]
    [InlineData("{}")]
    [InlineData("[1]")]
    [InlineData(" {\"a\":1}")]
    [InlineData("not json")]
    public void Publication_must_be_a_non_empty_json_object(string payload)
    {
        var create = () => new EventPublication(Encoding.UTF8.GetBytes(payload), null);

        create.Should().Throw<ArgumentException>().WithMessage("*non-empty JSON object*");
    }

    private static string Frame(UploadistaEvent uploadistaEvent, long seq)
        => Encoding.UTF8.GetString(ChannelEvent.Create(seq, "e1", EventPublisher.Serialize(uploadistaEvent, PublishedAt)).Frame.Span);
}
