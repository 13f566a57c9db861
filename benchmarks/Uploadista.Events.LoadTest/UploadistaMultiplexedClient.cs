using System.Text;

namespace Uploadista.Events.LoadTest;

/// <summary>
/// A client of Uploadista.Events' multiplexed socket (<c>--mux</c>): one WebSocket on
/// <c>/uploadista/ws</c> that subscribes by message to several uploads, as an upload page watching its
/// files does; each event frame goes to the sink of the channel its <c>"channel"</c> field names, so
/// seq order and latency are checked per upload exactly as on a per-upload socket.
/// </summary>
/// <remarks>
/// The joined signal is each upload's <c>subscribed</c> answer, which the server sends once the
/// subscription has joined its channel, before its first event (docs/protocol.md, "One socket, many
/// uploads"). Answers are not deliveries: only event frames reach a sink. A socket subscribes to at
/// most <see cref="MaxUploads"/> uploads, all at once: that is within both its subscribe allowance
/// (twice <c>MaxSubscriptionsPerConnection</c> a second) and <c>MaxInboundFramesPerSecond</c> (100),
/// and the server answers nothing else meanwhile.
/// </remarks>
internal sealed class UploadistaMultiplexedClient : WebSocketClient
{
    /// <summary>The library's default <c>MaxSubscriptionsPerConnection</c>, which the bench servers keep.</summary>
    public const int MaxUploads = 64;

    /// <summary>Uploads per socket unless <c>--mux-uploads</c> says otherwise: an upload page with a batch of files.</summary>
    public const int DefaultUploads = 10;

    private readonly string[] _uploadIds;
    private readonly byte[][] _channels;
    private readonly IEventSink[] _sinks;
    private string? _refusal;
    private int _subscribed;

    /// <param name="uploads">The uploads to watch, each once (a second subscribe of one would be refused), each with its sink.</param>
    public UploadistaMultiplexedClient(IReadOnlyList<(string UploadId, IEventSink Sink)> uploads)
    {
        ArgumentOutOfRangeException.ThrowIfZero(uploads.Count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(uploads.Count, MaxUploads);
        _uploadIds = [.. uploads.Select(u => u.UploadId)];
        _channels = [.. _uploadIds.Select(id => Encoding.UTF8.GetBytes($"upload:{id}"))];
        _sinks = [.. uploads.Select(u => u.Sink)];
    }

    public override IReadOnlyList<IEventSink> Sinks => _sinks;

    /// <summary>
    /// The uploads each multiplexed socket watches: the scenario's watchers (one entry per per-upload
    /// socket) in pages of <paramref name="perSocket"/>, so that deliveries due are the same on both
    /// sides. An upload watched twice (the uploads workload's second device) is watched from two pages:
    /// the first watcher of every upload goes into the first pages, the second into later ones.
    /// </summary>
    public static List<int[]> Pages(int[] socketUploads, int perSocket)
    {
        var watchers = new Dictionary<int, int>();
        var byOccurrence = new List<List<int>>();
        foreach (var upload in socketUploads)
        {
            var occurrence = watchers[upload] = watchers.GetValueOrDefault(upload) + 1;
            if (byOccurrence.Count < occurrence)
            {
                byOccurrence.Add([]);
            }

            byOccurrence[occurrence - 1].Add(upload);
        }

        return [.. byOccurrence.SelectMany(uploads => uploads.Chunk(perSocket))];
    }

    public override async Task ConnectAsync(ChildProcess server, CancellationToken cancellationToken)
    {
        await Socket.ConnectAsync(new Uri(server.WebSocketUri, "/uploadista/ws"), cancellationToken);
        foreach (var uploadId in _uploadIds)
        {
            await SendAsync($$"""{"type":"subscribe","uploadId":"{{uploadId}}"}""", cancellationToken);
        }

        // Events could only come before the last answer if something were published meanwhile; they
        // go to their sinks all the same.
        while (_subscribed < _uploadIds.Length)
        {
            OnMessage((await ReceiveMessageAsync(cancellationToken)).Span);
            if (_refusal is not null)
            {
                throw new InvalidOperationException($"A subscription was refused or ended: {_refusal}");
            }
        }
    }

    protected override void OnMessage(ReadOnlySpan<byte> message)
    {
        // Every frame starts with its type (the event's type discriminator, or the answer's first field).
        if (message.StartsWith("""{"type":"upload_"""u8) || message.StartsWith("""{"type":"flow_"""u8))
        {
            SinkOf(message)?.OnEvent(message);
        }
        else if (message.StartsWith("""{"type":"subscribed","""u8))
        {
            _subscribed++;
        }
        else if (message.StartsWith("""{"type":"subscription_"""u8))
        {
            // subscription_refused or subscription_ended: none is expected; while connecting it fails the
            // run, later the events that would have followed show as loss.
            _refusal ??= Encoding.UTF8.GetString(message);
        }

        // Else a pong or an unsubscribed answer: neither is sent for here.
    }

    /// <summary>
    /// The sink of the event's channel. <c>"channel"</c> is the frame's last field, after <c>seq</c>, and
    /// no string value can hold its name and quotes unescaped, so it is found from the end without
    /// parsing; a socket's few channels are compared in turn.
    /// </summary>
    private IEventSink? SinkOf(ReadOnlySpan<byte> message)
    {
        var name = "\"channel\":\""u8;
        var field = message.LastIndexOf(name);
        if (field < 0)
        {
            return null;
        }

        var value = message[(field + name.Length)..];
        var end = value.IndexOf((byte)'"');
        if (end < 0)
        {
            return null;
        }

        value = value[..end];
        for (var i = 0; i < _channels.Length; i++)
        {
            if (value.SequenceEqual(_channels[i]))
            {
                return _sinks[i];
            }
        }

        return null;
    }
}
