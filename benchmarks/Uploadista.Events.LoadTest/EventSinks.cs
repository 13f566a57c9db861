using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using HdrHistogram;

namespace Uploadista.Events.LoadTest;

/// <summary>What the clients of one run observed, all sockets together.</summary>
internal sealed class RunStats
{
    private long _deliveries;
    private long _outOfOrder;

    /// <summary>Publish-to-receive latency in microseconds, up to a minute.</summary>
    public LongConcurrentHistogram Latency { get; } = new(1, 60_000_000, 3);

    public long Deliveries => Interlocked.Read(ref _deliveries);

    public long OutOfOrder => Interlocked.Read(ref _outOfOrder);

    public void Record(long latencyMicros)
    {
        Latency.RecordValue(Math.Clamp(latencyMicros, 1, Latency.HighestTrackableValue));
        Interlocked.Increment(ref _deliveries);
    }

    public void RecordOutOfOrder() => Interlocked.Increment(ref _outOfOrder);

    /// <summary>Forgets what the warm-up delivered.</summary>
    public void Reset()
    {
        Latency.Reset();
        Interlocked.Exchange(ref _deliveries, 0);
    }
}

/// <summary>What one socket does with each event it receives (the event's JSON object, whatever the transport).</summary>
internal interface IEventSink
{
    void OnEvent(ReadOnlySpan<byte> json);
}

/// <summary>
/// The socket scenarios: each event carries the Stopwatch ticks of its publish in its "error" field
/// (comparable across processes on one machine), so latency is exact to the microsecond.
/// </summary>
/// <param name="stats">Where every socket's deliveries and latencies add up.</param>
/// <param name="checkSeq">
/// Whether seq must go up by one from event to event: true for Uploadista.Events, whose seq is assigned
/// per channel (in Redis, or in memory on a local instance); SignalR's bench seq is counted before up
/// to 256 concurrent publishes, which may overtake.
/// </param>
internal sealed class TickSink(RunStats stats, bool checkSeq) : IEventSink
{
    private long _lastSeq;

    public void OnEvent(ReadOnlySpan<byte> json)
    {
        long publishedAt = 0, seq = 0;
        var reader = new Utf8JsonReader(json);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                publishedAt = long.Parse(reader.ValueSpan, CultureInfo.InvariantCulture);
            }
            else if (reader.ValueTextEquals("seq"u8))
            {
                reader.Read();
                seq = reader.GetInt64();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (publishedAt == 0)
        {
            return;
        }

        if (checkSeq && _lastSeq != 0 && seq != _lastSeq + 1)
        {
            stats.RecordOutOfOrder();
        }

        _lastSeq = seq;
        stats.Record((Stopwatch.GetTimestamp() - publishedAt) * 1_000_000 / Stopwatch.Frequency);
    }
}

/// <summary>
/// The uploads workload: follows one socket's upload from upload_started to flow_complete, and
/// measures latency from the event's own "timestamp".
/// </summary>
/// <remarks>
/// Why the timestamp: a progress event has no string field to carry Stopwatch ticks in, and what
/// matters is the time from when the event left the throttle, not from when the upload loop offered
/// it (a held progress waits up to 100 ms by design). Uploadista.Events stamps the time after its
/// throttle, just before serializing and publishing; the SignalR side does the same after its copy of
/// the throttle, in the same form (UTC, to the millisecond). Both are read the same way: the publish
/// happened somewhere in the stamped millisecond, so the midpoint (+0.5 ms) is taken. Latencies
/// below a few milliseconds are therefore only good to about ±0.5 ms, equally for both.
/// </remarks>
internal sealed class UploadSink(RunStats stats) : IEventSink
{
    private enum Phase
    {
        Waiting,
        Uploading,
        Uploaded,
        Processing,
        Done,
        Broken,
    }

    // Written by the socket's reader, read once the run is over.
    private volatile Phase _phase;
    private double _lastProgress = -1;
    private long _lastSeq;

    /// <summary>Whether the socket saw upload_started, progress up to 1.0, upload_complete, the flow and flow_complete, in that order.</summary>
    public bool Complete => _phase == Phase.Done;

    public void OnEvent(ReadOnlySpan<byte> json)
    {
        var type = ReadOnlySpan<byte>.Empty;
        double progress = 0;
        long seq = 0;
        DateTime timestamp = default;
        var reader = new Utf8JsonReader(json);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.ValueSpan;
            reader.Read();
            if (name.SequenceEqual("type"u8))
            {
                type = reader.ValueSpan;
            }
            else if (name.SequenceEqual("progress"u8))
            {
                progress = reader.GetDouble();
            }
            else if (name.SequenceEqual("timestamp"u8))
            {
                timestamp = reader.GetDateTimeOffset().UtcDateTime;
            }
            else if (name.SequenceEqual("seq"u8))
            {
                seq = reader.GetInt64();
            }
            else
            {
                reader.Skip();
            }
        }

        // Both systems count seq per upload from 1, and send an upload's events one at a time.
        if (seq != _lastSeq + 1)
        {
            stats.RecordOutOfOrder();
        }

        _lastSeq = seq;
        _phase = Next(type, progress);
        stats.Record((DateTime.UtcNow.Ticks - timestamp.Ticks) / TimeSpan.TicksPerMicrosecond - 500);
    }

    /// <summary>The phase after this event; any event out of its place breaks the socket for good.</summary>
    private Phase Next(ReadOnlySpan<byte> type, double progress)
    {
        switch (_phase)
        {
            case Phase.Waiting when type.SequenceEqual("upload_started"u8):
                return Phase.Uploading;
            case Phase.Uploading when type.SequenceEqual("upload_progress"u8) && progress >= _lastProgress:
                _lastProgress = progress;
                return Phase.Uploading;
            case Phase.Uploading when type.SequenceEqual("upload_complete"u8) && _lastProgress == 1.0:
                return Phase.Uploaded;
            case Phase.Uploaded when type.SequenceEqual("flow_started"u8):
            case Phase.Processing when type.SequenceEqual("flow_progress"u8):
                return Phase.Processing;
            case Phase.Processing when type.SequenceEqual("flow_complete"u8):
                return Phase.Done;
            default:
                return Phase.Broken;
        }
    }
}
