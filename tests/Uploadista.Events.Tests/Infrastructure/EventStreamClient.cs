using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Uploadista.Events.Tests.Infrastructure;

/// <summary>One message of a text/event-stream: an event (id, event, data), or a comment (<see cref="Comment"/> set).</summary>
public sealed record StreamMessage(string? Id, string? Event, string Data, string? Comment = null)
{
    public JsonElement Json => JsonDocument.Parse(Data).RootElement;
}

/// <summary>
/// A Server-Sent Events client that parses the stream as the WHATWG spec says, and shows comments too.
/// The data of every event it receives is checked against docs/schema (<see cref="FrameSchemaValidator"/>).
/// </summary>
public sealed class EventStreamClient : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private EventStreamClient(HttpClient http, HttpResponseMessage response, StreamReader reader)
    {
        (_http, _response, _reader) = (http, response, reader);
    }

    public HttpResponseMessage Response => _response;

    /// <summary>Opens the stream; the response may be a refusal (check <see cref="Response"/>).</summary>
    public static async Task<EventStreamClient> ConnectAsync(Uri uri, string? lastEventId = null, Version? version = null, string? origin = null)
    {
        var http = new HttpClient(new SocketsHttpHandler()) { Timeout = Timeout.InfiniteTimeSpan };
        var request = new HttpRequestMessage(HttpMethod.Get, uri)
        {
            Version = version ?? HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        var stream = await response.Content.ReadAsStreamAsync(TestContext.Current.CancellationToken);
        return new EventStreamClient(http, response, new StreamReader(stream, Encoding.UTF8));
    }

    /// <summary>The next message (comments included), or null when the stream ended.</summary>
    /// <summary>Opens a stream that must be refused, with <paramref name="status"/> and the JSON body naming <paramref name="error"/>.</summary>
    public static async Task AssertRefusedAsync(Uri uri, HttpStatusCode status, string error, string? origin = null)
    {
        await using var refused = await EventStreamClient.ConnectAsync(uri, origin: origin);
        refused.Response.StatusCode.Should().Be(status);
        var body = await refused.Response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        body.GetProperty("error").GetString().Should().Be(error);
        body.GetProperty("message").GetString().Should().NotBeNullOrEmpty();
        if (origin is not null)
        {
            // EventSource hides the status; the browser client asks with fetch, which reads it only with CORS.
            refused.Response.Headers.GetValues("Access-Control-Allow-Origin").Should().Equal([origin], "a page may read why its stream was refused, as a WebSocket's close status tells it");
        }
    }

    public async Task<StreamMessage?> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(timeout ?? TimeSpan.FromSeconds(15));
        string? id = null, type = null, comment = null;
        var data = new List<string>();
        while (await _reader.ReadLineAsync(deadline.Token) is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Count > 0 || comment is not null || id is not null)
                {
                    var message = new StreamMessage(id, type, string.Join('\n', data), comment);
                    if (data.Count > 0)
                    {
                        FrameSchemaValidator.StreamData(type, message.Data);
                    }

                    return message;
                }

                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var (field, value) = colon < 0 ? (line, string.Empty) : (line[..colon], line[(colon + 1)..]);
            value = value.StartsWith(' ') ? value[1..] : value;
            switch (field)
            {
                case "": comment = value; break;
                case "id": id = value; break;
                case "event": type = value; break;
                case "data": data.Add(value); break;
            }
        }

        return null;
    }

    /// <summary>The next event, skipping comments.</summary>
    public async Task<StreamMessage> ReceiveEventAsync(TimeSpan? timeout = null)
    {
        while (true)
        {
            var message = await ReceiveAsync(timeout) ?? throw new EndOfStreamException("The stream ended.");
            if (message.Comment is null)
            {
                return message;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        _http.Dispose();
        await Task.CompletedTask;
    }
}
