using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Uploadista.Events.Tests.Infrastructure;

/// <summary>
/// A real <see cref="ClientWebSocket"/> with helpers to read frames under a deadline. Every text frame
/// it receives is checked against docs/schema (<see cref="FrameSchemaValidator"/>).
/// </summary>
public sealed class TestSocket : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    private readonly byte[] _buffer = new byte[64 * 1024];

    private TestSocket(ClientWebSocket socket) => Socket = socket;

    public ClientWebSocket Socket { get; }

    public static async Task<TestSocket> ConnectAsync(Uri uri, Action<ClientWebSocketOptions>? options = null)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        options?.Invoke(socket.Options);
        using var deadline = Deadline(DefaultTimeout);
        await socket.ConnectAsync(uri, deadline.Token);
        return new TestSocket(socket);
    }

    public static async Task<TestSocket> ConnectAndJoinAsync(Uri uri, Action<ClientWebSocketOptions>? options = null)
    {
        var socket = await ConnectAsync(uri, options);
        await socket.SendAsync("""{"type":"ping"}""");
        var pong = await socket.ReceiveJsonAsync();
        pong.GetProperty("type").GetString().Should().Be("pong");
        return socket;
    }

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text);

    public async Task SendAsync(byte[] data, WebSocketMessageType type)
    {
        using var deadline = Deadline(DefaultTimeout);
        await Socket.SendAsync(data, type, endOfMessage: true, deadline.Token);
    }

    /// <summary>Reads the next message: its text, or null when the server closed the socket.</summary>
    public async Task<string?> ReceiveTextOrCloseAsync(TimeSpan? timeout = null)
    {
        using var deadline = Deadline(timeout ?? DefaultTimeout);
        var length = 0;
        while (true)
        {
            var result = await Socket.ReceiveAsync(_buffer.AsMemory(length), deadline.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                if (Socket.State == WebSocketState.CloseReceived)
                {
                    await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, deadline.Token);
                }

                return null;
            }

            length += result.Count;
            if (result.EndOfMessage)
            {
                var text = Encoding.UTF8.GetString(_buffer, 0, length);
                FrameSchemaValidator.ServerFrame(text);
                return text;
            }
        }
    }

    public async Task<string> ReceiveTextAsync(TimeSpan? timeout = null)
    {
        var text = await ReceiveTextOrCloseAsync(timeout);
        text.Should().NotBeNull($"the server closed the socket ({Socket.CloseStatus} {Socket.CloseStatusDescription}) instead of sending a frame");
        return text!;
    }

    public async Task<JsonElement> ReceiveJsonAsync(TimeSpan? timeout = null)
        => JsonDocument.Parse(await ReceiveTextAsync(timeout)).RootElement.Clone();

    /// <summary>Reads until the server closes, and returns the close status it sent.</summary>
    public async Task<WebSocketCloseStatus?> ReceiveCloseAsync(TimeSpan? timeout = null)
    {
        while (await ReceiveTextOrCloseAsync(timeout) is not null)
        {
        }

        return Socket.CloseStatus;
    }

    public async ValueTask DisposeAsync()
    {
        if (Socket.State == WebSocketState.Open)
        {
            try
            {
                using var deadline = Deadline(TimeSpan.FromSeconds(5));
                await Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, deadline.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
                // The server may be gone already.
            }
        }

        Socket.Dispose();
    }

    private static CancellationTokenSource Deadline(TimeSpan timeout)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(timeout);
        return deadline;
    }
}
