using System.Buffers;
using System.Net;

namespace Uploadista.Events.LoadTest;

/// <summary>
/// A client of Uploadista.Events over Server-Sent Events (<c>--sse</c>): <c>GET /uploadista/sse/upload/{id}</c>
/// over HTTP/1.1, the response read as it comes into a pooled buffer and split into lines by hand;
/// each event's <c>data:</c> line (the same JSON a WebSocket message carries) goes to the sink. It
/// shares the machine's cores with the server, so it does no more than that.
/// </summary>
/// <remarks>
/// The joined signal is the comment the stream opens with. The server writes it when it admits the
/// stream, just before it joins the channel (EventStreamHandler.StartAsync, then
/// EventStreamConnection.RunAsync): a stream can still be joining when it is seen, which a WebSocket's
/// pong rules out. Nothing is lost by it: a join catches up on the channel's retained events (every
/// one since seq 0, up to 1,000, and upload ids are fresh per run), and the stress scenarios wait for
/// the whole warm-up to be delivered before measuring, which every stream can only do once joined.
/// </remarks>
internal sealed class UploadistaSseClient(string uploadId, IEventSink sink) : BenchClient
{
    private const int BufferSize = 16 * 1024;

    // One handler for every stream: each takes a connection of its own (a response never ends). No
    // proxy, cookies or decompression; and a stream disposed unfinished closes its connection at
    // once rather than being drained in the background.
    private static readonly HttpClient Http = new(new SocketsHttpHandler
    {
        UseProxy = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
        MaxResponseDrainSize = 0,
        ConnectTimeout = TimeSpan.FromSeconds(30),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
        DefaultRequestVersion = HttpVersion.Version11,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    // Unparsed bytes are _buffer[_start.._end]: at most one incomplete line between reads.
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    private int _start;
    private int _end;
    private bool _opened;
    private bool _closeEvent;
    private bool _closed;
    private HttpResponseMessage? _response;
    private Stream? _stream;
    private Task? _reading;

    private readonly IEventSink _sink = sink;

    public override IReadOnlyList<IEventSink> Sinks { get; } = [sink];

    public override async Task ConnectAsync(ChildProcess server, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server.HttpUri, $"/uploadista/sse/upload/{uploadId}"));
        request.Headers.Accept.ParseAdd("text/event-stream");
        _response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        _response.EnsureSuccessStatusCode();
        _stream = await _response.Content.ReadAsStreamAsync(cancellationToken);
        while (!_opened)
        {
            if (!await ReadSomeAsync(cancellationToken))
            {
                throw new HttpRequestException("The server ended the event stream before it opened.");
            }
        }
    }

    public override void StartReading(CancellationToken stop) => _reading = ReadAsync(stop);

    public override async ValueTask DisposeAsync()
    {
        _response?.Dispose(); // aborts the connection, which ends a read under way
        if (_reading is not null)
        {
            await _reading.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }

    private async Task ReadAsync(CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested && !_closed && await ReadSomeAsync(stop))
            {
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Reads what has arrived and handles every complete line; false at the end of the stream.</summary>
    private async Task<bool> ReadSomeAsync(CancellationToken cancellationToken)
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_end == _buffer.Length)
        {
            MakeRoom();
        }

        var read = await _stream!.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        if (read == 0)
        {
            return false;
        }

        _end += read;
        HandleLines();
        return true;
    }

    /// <summary>Moves the incomplete line to the front, or (a line longer than the buffer) doubles the buffer.</summary>
    private void MakeRoom()
    {
        var pending = _end - _start;
        var target = _start > 0 ? _buffer : ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
        Buffer.BlockCopy(_buffer, _start, target, 0, pending);
        if (target != _buffer)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = target;
        }

        _start = 0;
        _end = pending;
    }

    private void HandleLines()
    {
        var unparsed = _buffer.AsSpan(_start, _end - _start);
        int lineFeed;
        while ((lineFeed = unparsed.IndexOf((byte)'\n')) >= 0)
        {
            var line = unparsed[..lineFeed];
            HandleLine(line.Length > 0 && line[^1] == '\r' ? line[..^1] : line);
            unparsed = unparsed[(lineFeed + 1)..];
            _start += lineFeed + 1;
        }
    }

    /// <summary>
    /// One line of the stream. Only <c>data:</c> lines matter (and <c>event:close</c>, the server's last
    /// word): the library writes each event's JSON on one <c>data:</c> line, so each is a whole event
    /// (protocol.md). <c>id:</c> lines are not needed, seq is in the JSON; a blank line ends the event.
    /// </summary>
    private void HandleLine(ReadOnlySpan<byte> line)
    {
        if (line.IsEmpty)
        {
            _closed |= _closeEvent;
            _closeEvent = false;
        }
        else if (line[0] == ':')
        {
            _opened = true;
        }
        else if (line.StartsWith("data:"u8))
        {
            if (!_closeEvent)
            {
                var data = line[5..];
                _sink.OnEvent(data.Length > 0 && data[0] == ' ' ? data[1..] : data);
            }
        }
        else if (line.StartsWith("event:"u8))
        {
            _closeEvent = line[6..].Trim((byte)' ').SequenceEqual("close"u8);
        }
    }
}
