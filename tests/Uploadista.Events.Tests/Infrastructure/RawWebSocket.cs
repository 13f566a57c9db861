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
        Stream = tcp.GetStream();
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

    /// <summary>Gets the connection's stream, to write frames the client protocol would never send.</summary>
    public NetworkStream Stream { get; }

    /// <summary>Builds one masked client frame (RFC 6455 section 5.2) with <paramref name="opcode"/>, to write straight to the connection.</summary>
    public static byte[] ClientFrame(byte opcode, bool fin, ReadOnlySpan<byte> payload)
    {
        var extended = payload.Length > 125 ? 2 : 0;
        var frame = new byte[6 + extended + payload.Length];
        frame[0] = (byte)((fin ? 0x80 : 0) | opcode);
        if (extended == 0)
        {
            frame[1] = (byte)(0x80 | payload.Length);
        }
        else
        {
            frame[1] = 0x80 | 126;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), checked((ushort)payload.Length));
        }

        // A zero mask: the payload goes as it is.
        payload.CopyTo(frame.AsSpan(6 + extended));
        return frame;
    }

    /// <summary>Drops the connection with a TCP reset, as a client that vanished would.</summary>
    public void Reset()
    {
        _tcp.Client.LingerState = new LingerOption(true, 0);
        Socket.Abort();
        _tcp.Dispose();
    }

    public async Task SendTextAsync(string text)
        => await Socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, TestContext.Current.CancellationToken);

    /// <summary>Reads the next message: its text (checked against docs/schema), or null once the server has closed.</summary>
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
                var text = Encoding.UTF8.GetString(buffer, 0, length);
                FrameSchemaValidator.ServerFrame(text);
                return text;
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
