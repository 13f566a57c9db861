using System.Text.Json;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Multiplexing;

/// <summary>A client of the multiplexed socket <c>{prefix}/ws</c>.</summary>
internal sealed class MuxSocket(TestSocket socket) : IAsyncDisposable
{
    public TestSocket Socket => socket;

    public static async Task<MuxSocket> ConnectAsync(EventsServer server)
        => new(await TestSocket.ConnectAsync(server.WebSocketUri("/uploadista/ws")));

    public Task SubscribeAsync(string uploadId, string? token = null, long? since = null)
        => socket.SendAsync(JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["type"] = "subscribe",
            ["uploadId"] = uploadId,
            ["token"] = token,
            ["since"] = since,
        }.Where(p => p.Value is not null).ToDictionary()));

    public Task UnsubscribeAsync(string uploadId) => socket.SendAsync($$"""{"type":"unsubscribe","uploadId":"{{uploadId}}"}""");

    public Task<JsonElement> ReceiveAsync() => socket.ReceiveJsonAsync();

    /// <summary>Reads <paramref name="count"/> frames.</summary>
    public async Task<List<JsonElement>> ReceiveAsync(int count)
    {
        var frames = new List<JsonElement>(count);
        for (var i = 0; i < count; i++)
        {
            frames.Add(await socket.ReceiveJsonAsync());
        }

        return frames;
    }

    public ValueTask DisposeAsync() => socket.DisposeAsync();
}

internal static class FrameExtensions
{
    public static string Type(this JsonElement frame) => frame.GetProperty("type").GetString()!;

    public static string? Str(this JsonElement frame, string name) => frame.TryGetProperty(name, out var value) ? value.GetString() : null;
}
