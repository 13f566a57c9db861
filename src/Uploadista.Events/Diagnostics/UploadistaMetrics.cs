using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net.WebSockets;

namespace Uploadista.Events;

/// <summary>
/// The library's instruments, on the meter <c>Uploadista.Events</c> made by the application's
/// <see cref="IMeterFactory"/> (docs/operations.md lists them; the Redis broadcaster adds its own to
/// the same meter). Each method checks its instrument's <c>Enabled</c> before it computes anything,
/// so with no listener a call costs a field read; tag values are constant strings in a
/// <see cref="TagList"/> on the stack, never an upload or job id. What happens once per event is
/// cheap even with a listener: the event counters are kept here and observed at collection, and the
/// per-event histograms record a uniform sample (<see cref="HistogramSampling"/>), because a
/// measurement handed to OpenTelemetry costs more than the rest of an in-memory delivery's
/// bookkeeping (docs/benchmarks.md).
/// </summary>
internal sealed class UploadistaMetrics
{
    /// <summary>The name of the meter and of the activity source.</summary>
    public const string MeterName = "Uploadista.Events";

    // Seconds: from a tenth of a millisecond (an in-memory publish, a frame written at once) to ten
    // seconds (a broker outage, a client that stopped reading).
    private static readonly double[] ShortDurations = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    // Seconds: a connection lasts from a second (a refusal, a page left at once) to hours.
    private static readonly double[] ConnectionDurations = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800];

    private readonly TimeProvider _time;
    private readonly Histogram<double> _connectionDuration;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _serverCloses;
    private readonly ObservableCounter<long> _published;
    private readonly ObservableCounter<long> _delivered;
    private readonly long[] _publishedByType = new long[Tags.EventTypes.Length];
    private long _deliveredCount;
    private readonly Histogram<double> _queueDuration;
    private readonly Histogram<double> _publishToWrite;
    private readonly Counter<long> _superseded;
    private readonly Histogram<double> _publishDuration;
    private readonly Counter<long> _catchUpReads;
    private int _catchingUp;

    // The publish duration's sample, counted per thread (queue waits are sampled by the event's seq).
    [ThreadStatic]
    private static uint t_publishSamples;

    public UploadistaMetrics(IMeterFactory meterFactory, TimeProvider time, ConnectionTracker tracker)
    {
        _time = time;
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableUpDownCounter(
            "uploadista.connection.active", tracker.CountByKind, "{connection}", "WebSocket connections open on this instance, by kind (upload, flow, multiplexed).");
        _connectionDuration = meter.CreateHistogram(
            "uploadista.connection.duration", "s", "How long WebSocket connections lasted, from the accepted handshake to their end.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ConnectionDurations });
        _refused = meter.CreateCounter<long>(
            "uploadista.connection.refused", "{connection}", "WebSocket connections refused before they were subscribed, by reason.");
        _serverCloses = meter.CreateCounter<long>(
            "uploadista.connection.server_closes", "{connection}", "WebSocket connections the server closed, by reason (slow_consumer is 4008).");
        _published = meter.CreateObservableCounter(
            "uploadista.event.published", ObservePublished, "{event}", "Events the application published on this instance, by type.");
        _delivered = meter.CreateObservableCounter(
            "uploadista.event.delivered", () => Volatile.Read(ref _deliveredCount), "{event}", "Event frames written to WebSocket connections on this instance.");
        _queueDuration = meter.CreateHistogram(
            "uploadista.event.queue.duration", "s", "How long each event waited in its connection's send queue (monotonic, this instance).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ShortDurations });
        _publishToWrite = meter.CreateHistogram(
            "uploadista.event.publish_to_write.duration", "s", "From a live event's publish timestamp to the write of its frame (wall clock: across instances it includes their clock skew).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ShortDurations });
        _superseded = meter.CreateCounter<long>(
            "uploadista.progress.superseded", "{event}", "Progress events dropped because newer progress of the same upload or node superseded them, by where.");
        _publishDuration = meter.CreateHistogram(
            "uploadista.publish.duration", "s", "How long handing one event to the broadcaster took, per channel, by broadcaster and outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ShortDurations });
        _catchUpReads = meter.CreateCounter<long>(
            "uploadista.catch_up.reads", "{read}", "Reads of a channel's retained events, for a socket that joins or for the sockets of a channel whose subscription was restored.");
        meter.CreateObservableUpDownCounter(
            "uploadista.catch_up.active", () => Volatile.Read(ref _catchingUp), "{channel}", "Channels whose sockets are held while their retained events are read again after a broker outage.");
    }

    /// <summary>
    /// Gets or sets how many events one histogram measurement stands for: 1 in 16 of the events'
    /// queue waits, publish-to-write latencies and publish durations is recorded (the counters are
    /// exact). Tests set 1.
    /// </summary>
    internal uint HistogramSampling { get; set; } = 16;

    /// <summary>Gets the number of channels catching up after their subscription was restored.</summary>
    public int CatchingUp => Volatile.Read(ref _catchingUp);

    /// <summary>Gets a timestamp to measure a connection's duration from.</summary>
    public long ConnectionStarted() => _time.GetTimestamp();

    /// <summary>
    /// A connection ended; <paramref name="serverClose"/> is the close the server asked for, if it did;
    /// <paramref name="transport"/> is one of <see cref="Tags.Transport"/>.
    /// </summary>
    public void ConnectionEnded(SubscriptionKind kind, long started, WebSocketCloseStatus? serverClose, string transport = Tags.Transport.WebSocket)
        => ConnectionEnded(Tags.Kind(kind), started, serverClose, transport);

    /// <summary>A connection of <paramref name="kind"/> (one of <see cref="Tags.Upload"/>, <see cref="Tags.Flow"/>, <see cref="Tags.Multiplexed"/>) ended.</summary>
    public void ConnectionEnded(string kind, long started, WebSocketCloseStatus? serverClose, string transport = Tags.Transport.WebSocket)
    {
        if (_connectionDuration.Enabled)
        {
            _connectionDuration.Record(
                _time.GetElapsedTime(started).TotalSeconds, new TagList { { Tags.ChannelKind, kind }, { Tags.TransportName, transport } });
        }

        if (serverClose is { } status)
        {
            ServerClosed(status, transport);
        }
    }

    /// <summary>The server closed a connection with <paramref name="status"/> (for Server-Sent Events, its last event named it).</summary>
    public void ServerClosed(WebSocketCloseStatus status, string transport = Tags.Transport.WebSocket)
    {
        if (_serverCloses.Enabled)
        {
            _serverCloses.Add(1, new TagList { { Tags.CloseReason, Tags.CloseReasonOf(status) }, { Tags.TransportName, transport } });
        }
    }

    /// <summary>A connection was refused; <paramref name="reason"/> is one of <see cref="Tags.Refusal"/>.</summary>
    public void Refused(string reason, string transport = Tags.Transport.WebSocket)
    {
        if (_refused.Enabled)
        {
            _refused.Add(1, new TagList { { Tags.RefusalReason, reason }, { Tags.TransportName, transport } });
        }
    }

    public void Published(UploadistaEvent uploadistaEvent)
    {
        if (_published.Enabled)
        {
            Interlocked.Increment(ref _publishedByType[Tags.TypeIndexOf(uploadistaEvent)]);
        }
    }

    /// <summary>Gets a timestamp to measure a publish from, or 0 when nobody listens.</summary>
    public long PublishStarting() => _publishDuration.Enabled && Sampled(ref t_publishSamples) ? _time.GetTimestamp() : 0;

    public void PublishEnded(long started, string broadcaster, string outcome)
    {
        if (started != 0 && _publishDuration.Enabled)
        {
            _publishDuration.Record(
                _time.GetElapsedTime(started).TotalSeconds,
                new TagList { { Tags.Broadcaster, broadcaster }, { Tags.PublishOutcome, outcome } });
        }
    }

    /// <summary>Gets the time an event enters a connection's queue, or 0 when nobody listens or it is not in the sample.</summary>
    /// <remarks>
    /// Sampled by the event's seq, not by a counter: a fan-out queues one event for every connection
    /// of its channel in turn, and a counter would sample the same few connections every time.
    /// </remarks>
    public long QueueTimestamp(ChannelEvent channelEvent)
        => (_queueDuration.Enabled || _publishToWrite.Enabled) && channelEvent.Seq % HistogramSampling == 0 ? _time.GetTimestamp() : 0;

    /// <summary>
    /// An event left its connection's queue for the writer, which writes it now: how long it waited
    /// there, and for a live event (not one a join or a restore read from the retained state, whose
    /// age is no delay) how long since it was published.
    /// </summary>
    public void LeftQueue(ChannelEvent channelEvent, long queuedAt, bool catchUp)
    {
        if (queuedAt != 0 && _queueDuration.Enabled)
        {
            _queueDuration.Record(_time.GetElapsedTime(queuedAt).TotalSeconds);
        }

        if (queuedAt != 0 && !catchUp && _publishToWrite.Enabled && channelEvent.PublishedAtTicks is var published and > 0)
        {
            // A clock behind the publisher's would make it negative: recorded as 0.
            _publishToWrite.Record(Math.Max(0, _time.GetUtcNow().UtcTicks - published) / (double)TimeSpan.TicksPerSecond);
        }
    }

    /// <summary>A connection's writer wrote <paramref name="written"/>.</summary>
    public void Written(ReadOnlySpan<ChannelEvent?> written)
    {
        if (written.IsEmpty || !_delivered.Enabled)
        {
            return;
        }

        // Events only: the answers of a multiplexed socket (subscribed, unsubscribed...) are no delivery.
        var count = 0;
        foreach (var channelEvent in written)
        {
            count += channelEvent!.IsControl ? 0 : 1;
        }

        Interlocked.Add(ref _deliveredCount, count);
    }

    /// <summary>Progress was dropped, superseded by newer progress; <paramref name="site"/> is one of <see cref="Tags.Site"/>.</summary>
    public void Superseded(string site, int count = 1)
    {
        if (count > 0 && _superseded.Enabled)
        {
            _superseded.Add(count, new TagList { { Tags.DropSite, site } });
        }
    }

    /// <summary>A channel's retained events were read: for a joining socket (<paramref name="restore"/> false), or to restore a channel.</summary>
    public void CatchUpRead(bool restore, bool succeeded)
    {
        if (_catchUpReads.Enabled)
        {
            _catchUpReads.Add(1, new TagList
            {
                { Tags.CatchUpReason, restore ? "restore" : "join" },
                { Tags.Outcome, succeeded ? "success" : "failure" },
            });
        }
    }

    /// <summary>Whether this measurement is in the sample: one in <see cref="HistogramSampling"/>, counted per thread and site (no shared state).</summary>
    private bool Sampled(ref uint counter) => ++counter % HistogramSampling == 0;

    private IEnumerable<Measurement<long>> ObservePublished()
    {
        for (var i = 0; i < _publishedByType.Length; i++)
        {
            if (Volatile.Read(ref _publishedByType[i]) is var count and > 0)
            {
                yield return new Measurement<long>(count, new KeyValuePair<string, object?>(Tags.EventType, Tags.EventTypes[i]));
            }
        }
    }

    /// <summary>A channel started (<paramref name="delta"/> 1) or finished (-1) catching up after its subscription was restored.</summary>
    public void CatchingUpChanged(int delta) => Interlocked.Add(ref _catchingUp, delta);
}
