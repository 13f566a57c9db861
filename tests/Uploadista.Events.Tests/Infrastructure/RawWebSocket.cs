using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;

namespace Uploadista.Events.Tests.Infrastructure;

/// <summary>
/// A WebSocket client on a plain TCP connection we control: a small receive buffer, so a client that
/// stops reading stalls the server quickly; or no reading and no answering at all, like a half-open peer.
/// </summary>
public sealed class RawWebSocket : IAsyncDisposable
{
    private readonly TcpClient _tcp;

    private RawWebSocket(TcpClient tcp, WebSocket socket)
    {
        _tcp = tcp;
        Socket = socket;
    }

    /// <summary>Gets the client protocol over the connection; read it only when the test wants to.</summary>
    public WebSocket Socket { get; }

    /// <summary>Completes the WebSocket handshake on a fresh TCP connection and reads nothing more.</summary>
    public static async Task<RawWebSocket> ConnectAsync(Uri uri, int receiveBufferSize = 4096)
    {
        var tcp = new TcpClient { ReceiveBufferSize = receiveBufferSize, NoDelay = true };
        await tcp.ConnectAsync(uri.Host, uri.Port, TestContext.Current.CancellationToken);
        var stream = tcp.GetStream();
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var request = $"GET {uri.PathAndQuery} HTTP/1.1\r\nHost: {uri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                      $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), TestContext.Current.CancellationToken);

        // Byte by byte, so not one byte of the first frame is taken with the headers.
        var headers = new StringBuilder();
        var one = new byte[1];
        while (!headers.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            (await stream.ReadAsync(one, TestContext.Current.CancellationToken)).Should().Be(1, "the server answers the handshake");
            headers.Append((char)one[0]);
        }

        headers.ToString().Should().StartWith("HTTP/1.1 101");
        var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        return new RawWebSocket(tcp, socket);
    }

    public async Task SendTextAsync(string text)
        => await Socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, TestContext.Current.CancellationToken);

    /// <summary>Reads the next message: its text, or null once the server has closed.</summary>
    public async Task<string?> ReceiveTextOrCloseAsync()
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TestSocket.DefaultTimeout);
        var buffer = new byte[64 * 1024];
        var length = 0;
        while (true)
        {
            var result = await Socket.ReceiveAsync(buffer.AsMemory(length), deadline.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            length += result.Count;
            if (result.EndOfMessage)
            {
                return Encoding.UTF8.GetString(buffer, 0, length);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        Socket.Dispose();
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
