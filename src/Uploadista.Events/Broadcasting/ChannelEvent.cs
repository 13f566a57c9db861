using System.Buffers.Text;

namespace Uploadista.Events;

/// <summary>
/// An event on a channel, with its sequence number, framed once and shared by every connection that
/// receives it.
/// </summary>
public sealed class ChannelEvent
{
    private static ReadOnlySpan<byte> SeqProperty => ",\"seq\":"u8;

    private static ReadOnlySpan<byte> ChannelProperty => ",\"channel\":\""u8;

    // The publish time in the frame, read for the publish-to-write metric the first time it is asked
    // for (once per event, whatever the connections): 0 until then, -1 when the frame has none.
    private long _publishedAtTicks;

    // How the frame goes into Server-Sent Events (EventTypeReader packs it: where its "type" value lies,
    // and whether it has line breaks), found the first time an event-stream connection asks: once per
    // event, whatever the connections; 0 until then.
    private long _streamLayout;

    // The same event as multiplexed sockets receive it (the frame names its channel), made by the first
    // such socket and shared by all the others, so the tag costs one allocation per event, not per socket.
    private ChannelEvent? _tagged;

    /// <summary>Initializes a new instance of the <see cref="ChannelEvent"/> class.</summary>
    /// <param name="seq">The event's sequence number in its channel.</param>
    /// <param name="epoch">The channel's epoch (see <see cref="Epoch"/>).</param>
    /// <param name="frame">The complete UTF-8 JSON text frame, <c>seq</c> included.</param>
    /// <param name="conflationKey">The key of what the progress event supersedes, or <see langword="null"/>.</param>
    public ChannelEvent(long seq, string epoch, ReadOnlyMemory<byte> frame, string? conflationKey)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(seq);
        ArgumentException.ThrowIfNullOrEmpty(epoch);
        Seq = seq;
        Epoch = epoch;
        Frame = frame;
        ConflationKey = conflationKey;
    }

    /// <summary>Gets the event's sequence number in its channel.</summary>
    public long Seq { get; }

    /// <summary>
    /// Gets the channel's epoch: an id of the run of sequence numbers the event belongs to. A channel
    /// whose state was lost (it expired, or the broker lost its data) starts a new epoch at seq 1, and
    /// connections then accept seq numbers they have seen before. Never sent to clients.
    /// </summary>
    public string Epoch { get; }

    /// <summary>Gets the complete UTF-8 JSON text frame sent to clients.</summary>
    public ReadOnlyMemory<byte> Frame { get; }

    /// <summary>Gets the key of what this progress event supersedes, or <see langword="null"/>.</summary>
    public string? ConflationKey { get; }

    /// <summary>
    /// Gets the time the event was published, in UTC ticks, as its frame's <c>timestamp</c> says
    /// (millisecond precision); 0 when the frame has none.
    /// </summary>
    internal long PublishedAtTicks
    {
        get
        {
            // Racing readers compute the same value; a long is written whole.
            var ticks = Volatile.Read(ref _publishedAtTicks);
            if (ticks == 0)
            {
                ticks = PublishTimestamp.TryRead(Frame.Span, out var published) ? published : -1;
                Volatile.Write(ref _publishedAtTicks, ticks);
            }

            return Math.Max(ticks, 0);
        }
    }

    /// <summary>
    /// Gets the frame's <c>type</c> value (<c>upload_progress</c>), as a slice of <see cref="Frame"/>, for
    /// the <c>event:</c> line of Server-Sent Events; empty when the frame has none that can go on a line.
    /// </summary>
    internal ReadOnlyMemory<byte> EventType => EventTypeReader.TypeOf(Frame, StreamLayout);

    /// <summary>Gets whether the frame has line breaks (not one the library wrote), which each need a <c>data:</c> line of their own.</summary>
    internal bool FrameHasLineBreaks => EventTypeReader.HasLineBreaks(StreamLayout);

    private long StreamLayout
    {
        get
        {
            // Racing readers compute the same value; a long is written whole.
            var layout = Volatile.Read(ref _streamLayout);
            if (layout == 0)
            {
                layout = EventTypeReader.Read(Frame.Span);
                Volatile.Write(ref _streamLayout, layout);
            }

            return layout;
        }
    }

    /// <summary>Gets whether this is a frame of the multiplexed protocol (an answer to a subscribe), not an event.</summary>
    internal bool IsControl { get; private init; }

    /// <summary>
    /// A message of the multiplexed protocol (<c>subscribed</c>, <c>subscription_refused</c>...), queued
    /// in order with the events; it has no place in any channel.
    /// </summary>
    internal static ChannelEvent Control(byte[] frame) => new(long.MaxValue, "control", frame, null) { IsControl = true };

    /// <summary>
    /// This event as a multiplexed socket receives it: <c>"channel":"upload:abc"</c> after its
    /// <c>seq</c>, and a conflation key of that channel only (two uploads' progress must not supersede
    /// each other on one socket). Made once per event; an event is framed for one channel only.
    /// </summary>
    internal ChannelEvent ForChannel(string channel)
    {
        var tagged = Volatile.Read(ref _tagged);
        if (tagged is not null && tagged.Channel == channel)
        {
            return tagged;
        }

        var body = Frame.Span[..^1];
        var frame = new byte[body.Length + ChannelProperty.Length + channel.Length + 2];
        body.CopyTo(frame);
        ChannelProperty.CopyTo(frame.AsSpan(body.Length));

        // Channel names are made of id characters (A-Z a-z 0-9 . _ ~ - and the prefix's ':'), so
        // they need no escaping.
        System.Text.Encoding.ASCII.GetBytes(channel, frame.AsSpan(body.Length + ChannelProperty.Length));
        frame[^2] = (byte)'"';
        frame[^1] = (byte)'}';
        tagged = new ChannelEvent(Seq, Epoch, frame, ConflationKey is null ? null : string.Concat(channel, "|", ConflationKey))
        {
            Channel = channel,
            _publishedAtTicks = _publishedAtTicks,
        };

        // Racing sockets may each build one; the first stored is kept, and the others are equal.
        var stored = Interlocked.CompareExchange(ref _tagged, tagged, null);
        return stored is not null && stored.Channel == channel ? stored : tagged;
    }

    /// <summary>Gets the channel a tagged event names (see <see cref="ForChannel"/>), or null.</summary>
    private string? Channel { get; init; }

    /// <summary>Frames <paramref name="publication"/> with sequence number <paramref name="seq"/>.</summary>
    /// <param name="seq">The sequence number assigned to the event.</param>
    /// <param name="epoch">The channel's epoch.</param>
    /// <param name="publication">The serialized event.</param>
    /// <returns>The framed event.</returns>
    /// <exception cref="ArgumentException"><paramref name="publication"/> is empty (<see langword="default"/>).</exception>
    public static ChannelEvent Create(long seq, string epoch, EventPublication publication)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(seq);
        if (publication.Payload.IsEmpty)
        {
            throw new ArgumentException("The publication is empty.", nameof(publication));
        }

        // {...} becomes {...,"seq":N}: the one allocation per event and channel.
        var body = publication.Payload.Span[..^1];
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(seq, digits, out var digitCount);
        var frame = new byte[body.Length + SeqProperty.Length + digitCount + 1];
        body.CopyTo(frame);
        SeqProperty.CopyTo(frame.AsSpan(body.Length));
        digits[..digitCount].CopyTo(frame.AsSpan(body.Length + SeqProperty.Length));
        frame[^1] = (byte)'}';
        return new ChannelEvent(seq, epoch, frame, publication.ConflationKey);
    }
}
