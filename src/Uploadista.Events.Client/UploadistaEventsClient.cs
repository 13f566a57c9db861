using System.Text;

namespace Uploadista.Events.Client;

/// <summary>
/// Watches uploads and processing jobs of an Uploadista.Events server from .NET, over the same
/// WebSocket routes a browser uses, with the same guarantees: events in <c>seq</c> order, each once,
/// through reconnections.
/// </summary>
/// <example>
/// <code>
/// var client = new UploadistaEventsClient(new Uri("https://uploads.example.com"));
/// await foreach (var e in client.WatchUploadAsync(uploadId, new WatchOptions { Token = token, EndWhenFlowEnds = true }, ct))
/// {
///     Console.WriteLine(e);
/// }
/// </code>
/// </example>
public sealed class UploadistaEventsClient
{
    private readonly Uri _server;
    private readonly UploadistaEventsClientOptions _options;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="server">
    /// The server's base address: <c>http(s)://</c> (connected as <c>ws(s)://</c>) or <c>ws(s)://</c>,
    /// with the application's path base if it has one.
    /// </param>
    /// <param name="options">Where and how to connect; the defaults suit a server mapped with <c>MapUploadistaWebSockets()</c>.</param>
    /// <exception cref="ArgumentException"><paramref name="server"/> is not an absolute http, https, ws or wss URI, or an option is out of range.</exception>
    public UploadistaEventsClient(Uri server, UploadistaEventsClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        _options = options ?? new UploadistaEventsClientOptions();
        _server = WebSocketBase(server);
        if (_options.PathPrefix is null || (_options.PathPrefix.Length > 0 && (!_options.PathPrefix.StartsWith('/') || _options.PathPrefix.EndsWith('/'))))
        {
            throw new ArgumentException("PathPrefix must start with '/' and not end with one, as /uploadista does; or be empty, for a server mapped at the root.", nameof(options));
        }

        if (_options.ReconnectDelay <= TimeSpan.Zero || _options.MaxReconnectDelay < _options.ReconnectDelay)
        {
            throw new ArgumentException("ReconnectDelay must be positive, and MaxReconnectDelay no shorter.", nameof(options));
        }
    }

    /// <summary>
    /// Watches an upload: its events, and the flow events of its jobs, from its retained state (or from
    /// <see cref="WatchOptions.Since"/>) on. Enumerate the result with <c>await foreach</c>.
    /// </summary>
    /// <param name="uploadId">The upload's id: 1 to 128 characters of <c>A-Z a-z 0-9 . _ ~ -</c>.</param>
    /// <param name="options">The token, where to resume, and when to end; none by default.</param>
    /// <param name="cancellationToken">Ends the enumeration with <see cref="OperationCanceledException"/>.</param>
    /// <returns>The watch: an asynchronous sequence of events that also tells its connection's state.</returns>
    /// <exception cref="ArgumentException"><paramref name="uploadId"/> is not a valid id, or an option is out of range.</exception>
    public EventWatch WatchUploadAsync(string uploadId, WatchOptions? options = null, CancellationToken cancellationToken = default)
        => Watch(WatchTarget.Upload(uploadId), options, cancellationToken);

    /// <summary>
    /// Watches a processing job's flow events, from its retained state (or from
    /// <see cref="WatchOptions.Since"/>) on. Enumerate the result with <c>await foreach</c>.
    /// </summary>
    /// <param name="jobId">The job's id: 1 to 128 characters of <c>A-Z a-z 0-9 . _ ~ -</c>.</param>
    /// <param name="options">The token, where to resume, and when to end; none by default.</param>
    /// <param name="cancellationToken">Ends the enumeration with <see cref="OperationCanceledException"/>.</param>
    /// <returns>The watch: an asynchronous sequence of events that also tells its connection's state.</returns>
    /// <exception cref="ArgumentException"><paramref name="jobId"/> is not a valid id, or an option is out of range.</exception>
    public EventWatch WatchJobAsync(string jobId, WatchOptions? options = null, CancellationToken cancellationToken = default)
        => Watch(WatchTarget.Job(jobId), options, cancellationToken);

    private EventWatch Watch(WatchTarget target, WatchOptions? options, CancellationToken cancellationToken)
    {
        options ??= new WatchOptions();
        if (options.Since < 0)
        {
            throw new ArgumentException("Since must not be negative.", nameof(options));
        }

        if (options.Epoch is not null && !Channels.IsValidId(options.Epoch))
        {
            throw new ArgumentException("Epoch must be 1 to 128 characters of A-Z a-z 0-9 . _ ~ -, as EventWatch.Epoch gives it.", nameof(options));
        }

        return new EventWatch(target, options, new WatchConnector(this, target, options), new Backoff(_options.ReconnectDelay, _options.MaxReconnectDelay), cancellationToken);
    }

    /// <summary>The URI of one connection: the watch's route, with where to resume and the token.</summary>
    internal Uri UriFor(WatchTarget target, long since, string? epoch, string? token)
    {
        var uri = new StringBuilder(_server.AbsoluteUri.TrimEnd('/'))
            .Append(_options.PathPrefix).Append(target.Route).Append(Uri.EscapeDataString(target.Id));
        var separator = '?';
        if (since > 0)
        {
            uri.Append(separator).Append("since=").Append(since);
            separator = '&';
            if (epoch is not null)
            {
                uri.Append("&epoch=").Append(epoch);
            }
        }

        if (token is not null)
        {
            uri.Append(separator).Append("token=").Append(Uri.EscapeDataString(token));
        }

        return new Uri(uri.ToString());
    }

    internal Func<Uri, CancellationToken, Task<System.Net.WebSockets.WebSocket>> Connect => _options.Connect ?? DefaultConnection.ConnectAsync;

    private static Uri WebSocketBase(Uri server)
    {
        if (!server.IsAbsoluteUri)
        {
            throw new ArgumentException("The server's address must be absolute.", nameof(server));
        }

        var scheme = server.Scheme switch
        {
            "http" or "ws" => "ws",
            "https" or "wss" => "wss",
            _ => throw new ArgumentException($"The server's address must be http, https, ws or wss, not {server.Scheme}.", nameof(server)),
        };
        return new UriBuilder(server) { Scheme = scheme, Port = server.IsDefaultPort ? -1 : server.Port, Query = string.Empty, Fragment = string.Empty }.Uri;
    }
}
