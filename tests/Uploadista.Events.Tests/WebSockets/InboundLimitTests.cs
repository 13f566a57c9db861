using System.Net.WebSockets;
using System.Text;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.WebSockets;

/// <summary>
/// What a client sends is bounded in frames and bytes per second, control frames and fragments that
/// never complete a message included: a flood is closed with 1008 before it costs much.
/// </summary>
public sealed class InboundLimitTests
{
    private const byte Continuation = 0x0;
    private const byte Text = 0x1;
    private const byte Ping = 0x9;

    [Fact]
    public async Task A_flood_of_empty_continuation_frames_is_closed_with_1008()
    {
        await using var server = await EventsServer.StartAsync();
        await using var flooder = await RawWebSocket.ConnectAsync(server.UploadSocketUri("continuations"));
        await flooder.Stream.WriteAsync(RawWebSocket.ClientFrame(Text, fin: false, "{"u8), TestContext.Current.CancellationToken);

        var closed = await FloodUntilClosedAsync(flooder, RawWebSocket.ClientFrame(Continuation, fin: false, []));

        closed.Should().Be(WebSocketCloseStatus.PolicyViolation);
        await server.AssertStillServesAsync();
    }

    [Fact]
    public async Task A_flood_of_pings_is_closed_with_1008()
    {
        await using var server = await EventsServer.StartAsync();
        await using var flooder = await RawWebSocket.ConnectAsync(server.UploadSocketUri("pings"));

        var closed = await FloodUntilClosedAsync(flooder, RawWebSocket.ClientFrame(Ping, fin: true, "x"u8));

        closed.Should().Be(WebSocketCloseStatus.PolicyViolation);
        await server.AssertStillServesAsync();
    }

    [Fact]
    public async Task More_bytes_a_second_than_allowed_are_closed_with_1008()
    {
        await using var server = await EventsServer.StartAsync(o =>
        {
            o.MaxInboundMessageBytes = 4096;
            o.MaxInboundBytesPerSecond = 4096;
        });
        await using var client = await RawWebSocket.ConnectAsync(server.UploadSocketUri("bytes"));
        var big = RawWebSocket.ClientFrame(Text, fin: true, Encoding.UTF8.GetBytes($$"""{"type":"note","text":"{{new string('x', 3000)}}"}"""));

        // Two messages within the message limits, over the byte budget together.
        var closed = await FloodUntilClosedAsync(client, [.. big, .. big], once: true);

        closed.Should().Be(WebSocketCloseStatus.PolicyViolation);
    }

    [Fact]
    public async Task An_empty_text_message_is_closed_with_1007()
    {
        await using var server = await EventsServer.StartAsync();
        await using var socket = await server.JoinUploadAsync("empty");

        await socket.SendAsync([], WebSocketMessageType.Text);

        (await socket.ReceiveCloseAsync()).Should().Be(WebSocketCloseStatus.InvalidPayloadData);
    }

    [Fact]
    public async Task A_client_within_the_limits_is_not_closed()
    {
        await using var server = await EventsServer.StartAsync();
        await using var socket = await server.JoinUploadAsync("polite");

        // With the join's ping, ten in a second: the most the message limit allows. Sent at once,
        // each is answered.
        for (var i = 0; i < 9; i++)
        {
            await socket.SendAsync("""{"type":"ping"}""");
        }

        for (var i = 0; i < 9; i++)
        {
            (await socket.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("pong");
        }
    }

    /// <summary>Writes <paramref name="frame"/> over and over, 1,000 at a time, until the server closes (or once); returns its close status.</summary>
    private static async Task<WebSocketCloseStatus?> FloodUntilClosedAsync(RawWebSocket flooder, byte[] frame, bool once = false)
    {
        var copies = once ? 1 : 1000;
        var burst = new byte[frame.Length * copies];
        for (var i = 0; i < copies; i++)
        {
            frame.CopyTo(burst, i * frame.Length);
        }

        // The client reads while it writes, as a browser would: the server's close frame is read as it
        // arrives, before the reset that closing a connection with unread data causes.
        var received = new List<byte>();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(15));
        var reading = Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            try
            {
                int read;
                while ((read = await flooder.Stream.ReadAsync(buffer, deadline.Token)) > 0)
                {
                    received.AddRange(buffer.AsSpan(0, read));
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
                // Reset after the close, or never closed at all (then no close frame is found).
            }
        });

        var started = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            do
            {
                await flooder.Stream.WriteAsync(burst, TestContext.Current.CancellationToken);
            }
            while (!once && !reading.IsCompleted && started.Elapsed < TimeSpan.FromSeconds(10));
        }
        catch (IOException)
        {
            // The server dropped the connection after its close frame.
        }

        await reading;
        return CloseStatusIn(received);
    }

    /// <summary>Finds the server's close frame among the frames it sent.</summary>
    private static WebSocketCloseStatus? CloseStatusIn(List<byte> frames)
    {
        var position = 0;
        while (position + 2 <= frames.Count)
        {
            var opcode = frames[position] & 0x0F;
            var length = frames[position + 1] & 0x7F;
            var header = 2;
            if (length == 126)
            {
                length = (frames[position + 2] << 8) | frames[position + 3];
                header = 4;
            }

            if (opcode == 0x8 && length >= 2)
            {
                return (WebSocketCloseStatus)((frames[position + header] << 8) | frames[position + header + 1]);
            }

            position += header + length;
        }

        return null;
    }
}
