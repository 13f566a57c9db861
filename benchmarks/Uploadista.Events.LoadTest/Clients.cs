using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Uploadista.Events.LoadTest;

/// <summary>
/// A load client: one connection (a WebSocket, or a Server-Sent Events stream) on one upload, or on
/// several (a multiplexed socket), reading until told to stop and handing each event's JSON object to
/// the <see cref="IEventSink"/> of its upload.
/// </summary>
internal abstract class BenchClient : IAsyncDisposable
{
    /// <summary>One sink per upload the connection watches, where its events go.</summary>
    public abstract IReadOnlyList<IEventSink> Sinks { get; }

    /// <summary>Connects to <paramref name="server"/> and waits until the connection is subscribed (to each of its uploads).</summary>
    public abstract Task ConnectAsync(ChildProcess server, CancellationToken cancellationToken);

    public abstract void StartReading(CancellationToken stop);

    public abstract ValueTask DisposeAsync();
}

/// <summary>A client on one WebSocket: each message it receives goes to <see cref="OnMessage"/>.</summary>
internal abstract class WebSocketClient : BenchClient
{
    // Grows when a message does not fit: SignalR puts every queued invocation into one message, which
    // under a backlog goes well past 16 KB (with a full buffer, ReceiveAsync would return 0 bytes forever).
    private byte[] _buffer = new byte[16 * 1024];
    private Task? _reading;

    protected ClientWebSocket Socket { get; } = new();

    public override void StartReading(CancellationToken stop) => _reading = ReadAsync(stop);

    public override async ValueTask DisposeAsync()
    {
        Socket.Abort();
        if (_reading is not null)
        {
            await _reading.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        Socket.Dispose();
    }

    protected abstract void OnMessage(ReadOnlySpan<byte> message);

    protected async Task<ReadOnlyMemory<byte>> ReceiveMessageAsync(CancellationToken cancellationToken)
    {
        var length = 0;
        while (true)
        {
            if (length == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            var result = await Socket.ReceiveAsync(_buffer.AsMemory(length), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new WebSocketException($"The server closed the socket: {Socket.CloseStatus} {Socket.CloseStatusDescription}");
            }

            length += result.Count;
            if (result.EndOfMessage)
            {
                return _buffer.AsMemory(0, length);
            }
        }
    }

    protected Task SendAsync(string text, CancellationToken cancellationToken)
        => Socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, cancellationToken);

    private async Task ReadAsync(CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var message = await ReceiveMessageAsync(stop);
                OnMessage(message.Span);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
        }
    }
}

/// <summary>A client of Uploadista.Events: a plain WebSocket on /uploadista/ws/upload/{id}; each message is one event.</summary>
internal sealed class UploadistaClient(string uploadId, IEventSink sink) : WebSocketClient
{
    private readonly IEventSink _sink = sink;

    public override IReadOnlyList<IEventSink> Sinks { get; } = [sink];

    public override async Task ConnectAsync(ChildProcess server, CancellationToken cancellationToken)
    {
        await Socket.ConnectAsync(new Uri(server.WebSocketUri, $"/uploadista/ws/upload/{uploadId}"), cancellationToken);
        await SendAsync("""{"type":"ping"}""", cancellationToken);
        await ReceiveMessageAsync(cancellationToken); // the pong: joined
    }

    protected override void OnMessage(ReadOnlySpan<byte> message) => _sink.OnEvent(message);
}

/// <summary>
/// A client of the SignalR hub, speaking its JSON protocol on a raw WebSocket (no negotiate, as the
/// SignalR clients do with SkipNegotiation): handshake, join the upload's group, then read invocations.
/// </summary>
internal sealed class SignalRClient(string uploadId, IEventSink sink) : WebSocketClient
{
    private const char RecordSeparator = '\u001e';
    private Timer? _keepAlive;

    private readonly IEventSink _sink = sink;

    public override IReadOnlyList<IEventSink> Sinks { get; } = [sink];

    public override async Task ConnectAsync(ChildProcess server, CancellationToken cancellationToken)
    {
        await Socket.ConnectAsync(new Uri(server.WebSocketUri, "/events"), cancellationToken);
        await SendAsync("""{"protocol":"json","version":1}""" + RecordSeparator, cancellationToken);
        await ReceiveMessageAsync(cancellationToken); // {} : handshake done
        await SendAsync($$"""{"type":1,"invocationId":"1","target":"Join","arguments":["{{uploadId}}"]}""" + RecordSeparator, cancellationToken);
        while (!Encoding.UTF8.GetString((await ReceiveMessageAsync(cancellationToken)).Span).Contains("\"type\":3", StringComparison.Ordinal))
        {
        }

        // SignalR closes a client it has not heard from in 30 seconds; real clients ping every 15.
        _keepAlive = new Timer(_ => _ = SendAsync("""{"type":6}""" + RecordSeparator, CancellationToken.None), null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
    }

    protected override void OnMessage(ReadOnlySpan<byte> message)
    {
        // Several records may share one WebSocket message.
        foreach (var range in message.Split((byte)RecordSeparator))
        {
            var record = message[range];
            if (record.IsEmpty || record.IndexOf("\"target\":\"event\""u8) < 0)
            {
                continue;
            }

            // {"type":1,"target":"event","arguments":[{ the event }]}: hand over the argument object.
            var reader = new Utf8JsonReader(record);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.StartObject && reader.CurrentDepth == 2)
                {
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    _sink.OnEvent(record[start..(int)reader.BytesConsumed]);
                }
            }
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (_keepAlive is not null)
        {
            await _keepAlive.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}
