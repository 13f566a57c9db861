using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace ConsumerCheck;

/// <summary>A browser's part against the quick-start app: a socket on an upload, then the upload's events.</summary>
internal static class SocketCheck
{
    private static readonly string[] Expected = ["upload_started", "upload_progress", "upload_complete", "flow_started"];

    public static async Task RunAsync(Uri baseUri)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var uploadId = "consumer-" + Guid.NewGuid().ToString("N");
        var socketUri = new UriBuilder(baseUri) { Scheme = "ws", Path = $"/uploadista/ws/upload/{uploadId}" }.Uri;
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(socketUri, deadline.Token);
        Check.That(socket.State == WebSocketState.Open, $"a WebSocket opened on {socketUri}");

        // The server answers a ping once the socket has joined the upload's channel, so an event
        // published after the answer cannot be missed.
        await socket.SendAsync(Encoding.UTF8.GetBytes("""{"type":"ping"}"""), WebSocketMessageType.Text, endOfMessage: true, deadline.Token);
        Check.That(Type(await ReceiveAsync(socket, deadline.Token)) == "pong", "it answered a ping: joined");

        using var http = new HttpClient { BaseAddress = baseUri };
        using var response = await http.PutAsync(new Uri($"/api/uploads/{uploadId}", UriKind.Relative), content: null, deadline.Token);
        Check.That(response.IsSuccessStatusCode, $"PUT /api/uploads/{uploadId} (the quick start's endpoint) answered {(int)response.StatusCode}");

        var frames = new List<JsonElement>();
        while (frames.Count < Expected.Length)
        {
            frames.Add(await ReceiveAsync(socket, deadline.Token));
        }

        Check.That(frames.Select(Type).SequenceEqual(Expected), $"the socket received {string.Join(", ", frames.Select(Type))}");
        Check.That(
            frames.Select(f => f.GetProperty("seq").GetInt64()).SequenceEqual([1L, 2L, 3L, 4L]) && frames.All(f => f.GetProperty("uploadId").GetString() == uploadId),
            "for this upload, with seq 1 to 4");
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, deadline.Token);
    }

    private static string? Type(JsonElement frame) => frame.TryGetProperty("type", out var type) ? type.GetString() : null;

    private static async Task<JsonElement> ReceiveAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        var length = 0;
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    throw new CheckFailedException($"the server closed the socket: {socket.CloseStatus} {socket.CloseStatusDescription}");
                }

                length += result.Count;
                if (result.EndOfMessage)
                {
                    var text = Encoding.UTF8.GetString(buffer, 0, length);
                    Console.WriteLine($"  received {text}");
                    return JsonDocument.Parse(text).RootElement.Clone();
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new CheckFailedException("no frame arrived within the deadline");
        }
    }
}
