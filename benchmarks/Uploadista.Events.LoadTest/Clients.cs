using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using HdrHistogram;

namespace Uploadista.Events.LoadTest;

/// <summary>What the clients of one run observed.</summary>
internal sealed class RunStats
{
    private long _deliveries;
    private long _outOfOrder;

    /// <summary>Publish-to-receive latency in microseconds, up to a minute.</summary>
    public LongConcurrentHistogram Latency { get; } = new(1, 60_000_000, 3);

    public long Deliveries => Interlocked.Read(ref _deliveries);

    public long OutOfOrder => Interlocked.Read(ref _outOfOrder);

    public void Record(long publishedAt)
    {
        var micros = (Stopwatch.GetTimestamp() - publishedAt) * 1_000_000 / Stopwatch.Frequency;
        Latency.RecordValue(Math.Clamp(micros, 1, Latency.HighestTrackableValue));
        Interlocked.Increment(ref _deliveries);
    }

    public void RecordOutOfOrder() => Interlocked.Increment(ref _outOfOrder);
}

/// <summary>A load client: one WebSocket on one upload, reading until told to stop.</summary>
internal abstract class BenchClient : IAsyncDisposable
{
    // Grows when a message does not fit: SignalR puts every queued invocation into one message, which
    // under a backlog goes well past 16 KB (with a full buffer, ReceiveAsync would return 0 bytes forever).
    private byte[] _buffer = new byte[16 * 1024];
    private Task? _reading;

    protected BenchClient(string uploadId) => UploadId = uploadId;

    public string UploadId { get; }

    protected ClientWebSocket Socket { get; } = new();

    /// <summary>Connects and waits until the socket is subscribed.</summary>
    public abstract Task ConnectAsync(Uri server, CancellationToken cancellationToken);

    public void StartReading(RunStats stats, CancellationToken stop) => _reading = ReadAsync(stats, stop);

    public virtual async ValueTask DisposeAsync()
    {
        Socket.Abort();
        if (_reading is not null)
        {
            await _reading.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        Socket.Dispose();
    }

    protected abstract void OnMessage(ReadOnlySpan<byte> message, RunStats stats);

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

    private async Task ReadAsync(RunStats stats, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var message = await ReceiveMessageAsync(stop);
                OnMessage(message.Span, stats);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Reads the publish time out of the "error" field of an event object.</summary>
    protected static bool TryReadEvent(ref Utf8JsonReader reader, out long publishedAt, out long seq)
    {
        publishedAt = 0;
        seq = 0;
        var depth = reader.CurrentDepth;
        while (reader.Read() && reader.CurrentDepth > depth)
        {
            if (reader.TokenType != JsonTokenType.PropertyName)
            {
                continue;
            }

            if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                publishedAt = long.Parse(reader.ValueSpan, System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (reader.ValueTextEquals("seq"u8))
            {
                reader.Read();
                seq = reader.GetInt64();
            }
        }

        return publishedAt != 0;
    }
}

/// <summary>A client of Uploadista.Events: a plain WebSocket on /uploadista/ws/upload/{id}.</summary>
internal sealed class UploadistaClient(string uploadId) : BenchClient(uploadId)
{
    private long _lastSeq;

    public override async Task ConnectAsync(Uri server, CancellationToken cancellationToken)
    {
        await Socket.ConnectAsync(new Uri(server, $"/uploadista/ws/upload/{UploadId}"), cancellationToken);
        await SendAsync("""{"type":"ping"}""", cancellationToken);
        await ReceiveMessageAsync(cancellationToken); // the pong: joined
    }

    protected override void OnMessage(ReadOnlySpan<byte> message, RunStats stats)
    {
        var reader = new Utf8JsonReader(message);
        reader.Read();
        if (TryReadEvent(ref reader, out var publishedAt, out var seq))
        {
            if (seq != _lastSeq + 1 && _lastSeq != 0)
            {
                stats.RecordOutOfOrder();
            }

            _lastSeq = seq;
            stats.Record(publishedAt);
        }
    }
}

/// <summary>
/// A client of the SignalR hub, speaking its JSON protocol on a raw WebSocket (no negotiate, as the
/// SignalR clients do with SkipNegotiation): handshake, join the upload's group, then read invocations.
/// </summary>
internal sealed class SignalRClient(string uploadId) : BenchClient(uploadId)
{
    private const char RecordSeparator = '\u001e';
    private Timer? _keepAlive;

    public override async Task ConnectAsync(Uri server, CancellationToken cancellationToken)
    {
        await Socket.ConnectAsync(new Uri(server, "/events"), cancellationToken);
        await SendAsync("""{"protocol":"json","version":1}""" + RecordSeparator, cancellationToken);
        await ReceiveMessageAsync(cancellationToken); // {} : handshake done
        await SendAsync($$"""{"type":1,"invocationId":"1","target":"Join","arguments":["{{UploadId}}"]}""" + RecordSeparator, cancellationToken);
        while (!Encoding.UTF8.GetString((await ReceiveMessageAsync(cancellationToken)).Span).Contains("\"type\":3", StringComparison.Ordinal))
        {
        }

        // SignalR closes a client it has not heard from in 30 seconds; real clients ping every 15.
        _keepAlive = new Timer(_ => _ = SendAsync("""{"type":6}""" + RecordSeparator, CancellationToken.None), null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
    }

    protected override void OnMessage(ReadOnlySpan<byte> message, RunStats stats)
    {
        // Several records may share one WebSocket message.
        foreach (var range in message.Split((byte)RecordSeparator))
        {
            var record = message[range];
            if (record.IsEmpty || record.IndexOf("\"target\":\"event\""u8) < 0)
            {
                continue;
            }

            var reader = new Utf8JsonReader(record);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.StartObject && reader.CurrentDepth == 2 && TryReadEvent(ref reader, out var publishedAt, out _))
                {
                    stats.Record(publishedAt);
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
