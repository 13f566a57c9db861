using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebSockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Uploadista.Events;

/// <summary>
/// Serves <c>{prefix}/ws/upload/{uploadId}</c> and <c>{prefix}/ws/flow/{jobId}</c>: checks the request,
/// accepts the WebSocket, joins it to its channel, and runs it until either side closes.
/// </summary>
internal sealed class WebSocketConnectionHandler
{
    private readonly SubscriptionRegistry _registry;
    private readonly ConnectionTracker _tracker;
    private readonly UploadistaEventsOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<WebSocketConnectionHandler> _logger;
    private readonly ISubscriptionAuthorizer[] _authorizers;
    private readonly HashSet<string> _allowedOrigins;
    private readonly RequestDelegate _pipeline;

    public WebSocketConnectionHandler(
        SubscriptionRegistry registry,
        ConnectionTracker tracker,
        IEnumerable<ISubscriptionAuthorizer> authorizers,
        IOptions<UploadistaEventsOptions> options,
        TimeProvider time,
        ILoggerFactory loggerFactory)
    {
        _registry = registry;
        _tracker = tracker;
        _authorizers = [.. authorizers];
        _options = options.Value;
        _allowedOrigins = new HashSet<string>(_options.AllowedOrigins, StringComparer.OrdinalIgnoreCase);
        _time = time;
        _logger = loggerFactory.CreateLogger<WebSocketConnectionHandler>();

        // The WebSocket middleware runs in front of this handler only, so the application needs no
        // app.UseWebSockets(), and keep-alive pings follow our options.
        var webSockets = new WebSocketOptions
        {
            KeepAliveInterval = _options.KeepAliveInterval,
            KeepAliveTimeout = _options.KeepAliveTimeout,
        };
        _pipeline = new WebSocketMiddleware(HandleCoreAsync, Options.Create(webSockets), loggerFactory).Invoke;
    }

    public Task HandleAsync(HttpContext context)
    {
        TransportCapture.Install(context);
        return _pipeline(context);
    }

    private async Task HandleCoreAsync(HttpContext context)
    {
        var (kind, id) = ReadRoute(context);
        if (!Channels.IsValidId(id))
        {
            await RefuseAsync(context, StatusCodes.Status400BadRequest, "invalid_id",
                $"The {(kind == SubscriptionKind.Upload ? "upload" : "job")} id must be 1 to {Channels.MaxIdLength} characters of A-Z a-z 0-9 . _ ~ -.");
            return;
        }

        if (!TryReadSince(context, out var since))
        {
            await RefuseAsync(context, StatusCodes.Status400BadRequest, "invalid_since", "since must be a non-negative integer.");
            return;
        }

        if (!TryReadEpoch(context, out var sinceEpoch))
        {
            await RefuseAsync(context, StatusCodes.Status400BadRequest, "invalid_epoch",
                $"epoch must be the one a pong named: 1 to {Channels.MaxIdLength} characters of A-Z a-z 0-9 . _ ~ -.");
            return;
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.Headers.Upgrade = "websocket";
            await RefuseAsync(context, StatusCodes.Status426UpgradeRequired, "websocket_required",
                "This endpoint streams events over a WebSocket; connect with a WebSocket client.");
            return;
        }

        if (_tracker.IsStopping)
        {
            await RefuseAsync(context, StatusCodes.Status503ServiceUnavailable, "shutting_down", "The server is shutting down; connect again.");
            return;
        }

        // Origin, authorization and limits are decided before the socket is accepted or subscribed to
        // anything. Browsers cannot read the HTTP status of a refused handshake, so a refusal is told
        // with a close status on a socket that never receives an event.
        var channel = kind == SubscriptionKind.Upload ? Channels.ForUpload(id!) : Channels.ForFlow(id!);
        var aborted = context.RequestAborted;
        var refusal = await CheckAsync(context, kind, id!, aborted);
        var admission = refusal is null ? _tracker.TryAdmit(channel) : null;
        if (refusal is null && admission is null)
        {
            refusal = (CloseStatuses.TryAgainLater, "Too many connections; try again later");
        }

        using (admission)
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var frames = context.Features.Get<TransportCapture>()?.Stream
                ?? throw new InvalidOperationException("The WebSocket handshake did not go through the transport capture.");
            if (refusal is { } refused)
            {
                Log.Refused(_logger, channel, refused.Status, refused.Reason);
                await CloseRefusedAsync(socket, refused.Status, refused.Reason, aborted);
                return;
            }

            await RunAsync(socket, frames, admission!, channel, since, sinceEpoch, aborted);
        }
    }

    /// <summary>The allowed origins, then every authorizer; the first refusal wins.</summary>
    private async ValueTask<(WebSocketCloseStatus Status, string Reason)?> CheckAsync(HttpContext context, SubscriptionKind kind, string id, CancellationToken aborted)
    {
        if (_allowedOrigins.Count > 0 && context.Request.Headers.Origin is { Count: > 0 } origin && !_allowedOrigins.Contains(origin.ToString()))
        {
            return (CloseStatuses.Forbidden, "Origin not allowed");
        }

        if (_authorizers.Length == 0)
        {
            return null;
        }

        var request = new SubscriptionRequest(context, kind, id);
        foreach (var authorizer in _authorizers)
        {
            SubscriptionDecision decision;
            try
            {
                decision = await authorizer.AuthorizeAsync(request, aborted);
            }
            catch (Exception ex) when (!aborted.IsCancellationRequested)
            {
                Log.AuthorizerFailed(_logger, authorizer.GetType().Name, ex);
                return (CloseStatuses.ServerError, "Authorization failed");
            }

            switch (decision)
            {
                case SubscriptionDecision.Unauthenticated:
                    return (CloseStatuses.Unauthenticated, "Unauthenticated: a valid token is required");
                case SubscriptionDecision.Forbidden:
                    return (CloseStatuses.Forbidden, "Forbidden");
            }
        }

        return null;
    }

    /// <summary>Closes a refused socket: the close frame, then the client's answer or <see cref="UploadistaEventsOptions.CloseTimeout"/>.</summary>
    private async Task CloseRefusedAsync(WebSocket socket, WebSocketCloseStatus status, string reason, CancellationToken aborted)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        deadline.CancelAfter(_options.CloseTimeout);
        try
        {
            await socket.CloseAsync(status, reason, deadline.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            socket.Abort();
        }
    }

    private async Task RunAsync(
        WebSocket socket, FrameStream frames, ConnectionTracker.Admission admission, string channel, long since, string? sinceEpoch, CancellationToken aborted)
    {
        Log.ConnectionOpened(_logger, channel, since);
        var emitter = new WebSocketEventEmitter(socket, frames, _options.SendQueueCapacity, since, sinceEpoch, _time);
        admission.Attach(emitter);
        var writer = WriteAsync(emitter, channel, aborted);
        IAsyncDisposable? membership = null;
        try
        {
            try
            {
                membership = await _registry.JoinAsync(channel, emitter, since, aborted);
            }
            catch (Exception ex) when (!aborted.IsCancellationRequested)
            {
                Log.JoinFailed(_logger, channel, ex);
                emitter.RequestClose(CloseStatuses.TryAgainLater, "Subscription failed; retry later");
            }

            var receiver = ReceiveAsync(socket, emitter, channel, aborted);
            await FinishAsync(socket, emitter, channel, writer, receiver);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            socket.Abort();
            await writer;
        }
        finally
        {
            if (membership is not null)
            {
                await membership.DisposeAsync();
            }

            Log.ConnectionEnded(_logger, channel);
        }
    }

    /// <summary>
    /// Once either loop ends or a close is requested (shutdown, slow consumer, a bad frame), the
    /// closing handshake gets <see cref="UploadistaEventsOptions.CloseTimeout"/>; after that the socket
    /// is aborted, so a client that stopped reading cannot keep its connection.
    /// </summary>
    private async Task FinishAsync(WebSocket socket, WebSocketEventEmitter emitter, string channel, Task writer, Task receiver)
    {
        if (await Task.WhenAny(writer, receiver, emitter.Closing) == receiver)
        {
            emitter.RequestClose(CloseStatuses.Normal, string.Empty);
        }

        if (emitter.CloseStatus == CloseStatuses.SlowConsumer)
        {
            Log.ClosedByServer(_logger, channel, CloseStatuses.SlowConsumer, "its send queue overflowed");
        }

        var both = Task.WhenAll(writer, receiver);
        try
        {
            await both.WaitAsync(_options.CloseTimeout, _time);
        }
        catch (TimeoutException)
        {
            Log.CloseTimedOut(_logger, channel, _options.CloseTimeout);
            socket.Abort();
            await both;
        }
    }

    /// <summary>Runs the emitter's writer loop; a socket that fails ends it quietly.</summary>
    private async Task WriteAsync(WebSocketEventEmitter emitter, string channel, CancellationToken aborted)
    {
        try
        {
            await emitter.RunAsync(aborted);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            Log.ConnectionLost(_logger, channel, ex.Message);
        }
    }

    /// <summary>
    /// Reads what the client sends: a ping gets a pong, other JSON is ignored, and anything else
    /// closes the connection (protocol.md section 3).
    /// </summary>
    private async Task ReceiveAsync(WebSocket socket, WebSocketEventEmitter emitter, string channel, CancellationToken aborted)
    {
        var windowStart = _time.GetTimestamp();
        var inWindow = 0;
        try
        {
            while (true)
            {
                // A zero-byte read waits for the next frame without holding a buffer, so an idle
                // connection keeps none; one is rented only while a message is read.
                var next = await socket.ReceiveAsync(Memory<byte>.Empty, aborted);
                if (next.MessageType == WebSocketMessageType.Close)
                {
                    emitter.RequestClose(socket.CloseStatus ?? CloseStatuses.Normal, string.Empty);
                    return;
                }

                if (_time.GetElapsedTime(windowStart) >= TimeSpan.FromSeconds(1))
                {
                    windowStart = _time.GetTimestamp();
                    inWindow = 0;
                }

                var violation = ++inWindow > _options.MaxInboundMessagesPerSecond
                    ? (CloseStatuses.TooManyMessages, $"More than {_options.MaxInboundMessagesPerSecond} messages a second")
                    : await ReadMessageAsync(socket, next.MessageType, emitter, aborted);
                if (violation is var (status, reason))
                {
                    if (status == CloseStatuses.Normal)
                    {
                        return; // the client closed in the middle of a message
                    }

                    CloseForViolation(emitter, channel, status, reason);
                    await DrainUntilCloseAsync(socket);
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            Log.ConnectionLost(_logger, channel, ex.Message);
        }
    }

    /// <summary>Reads one client message and acts on it: a ping gets a pong, other JSON is ignored.</summary>
    /// <returns>The close status and reason if the message breaks protocol.md section 3; null if it is fine.</returns>
    private async ValueTask<(WebSocketCloseStatus Status, string Reason)?> ReadMessageAsync(
        WebSocket socket, WebSocketMessageType type, WebSocketEventEmitter emitter, CancellationToken aborted)
    {
        if (type == WebSocketMessageType.Binary)
        {
            return (CloseStatuses.BinaryFrame, "Binary frames are not accepted");
        }

        var limit = _options.MaxInboundMessageBytes;
        var buffer = ArrayPool<byte>.Shared.Rent(limit + 1);
        try
        {
            var length = 0;
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(length, limit + 1 - length), aborted);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    emitter.RequestClose(socket.CloseStatus ?? CloseStatuses.Normal, string.Empty);
                    return (CloseStatuses.Normal, string.Empty);
                }

                length += result.Count;
                if (length > limit)
                {
                    return (CloseStatuses.TooLarge, $"Messages are limited to {limit} bytes");
                }

                if (result.EndOfMessage)
                {
                    break;
                }
            }

            if (!ClientMessage.TryRead(buffer.AsSpan(0, length), out var isPing))
            {
                return (CloseStatuses.InvalidJson, "Messages must be JSON");
            }

            if (isPing)
            {
                emitter.SendPong();
            }

            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// After the server asked to close, reads and ignores what the client still sends until its close
    /// frame (or <see cref="UploadistaEventsOptions.CloseTimeout"/>), so the closing handshake completes
    /// instead of the connection being reset with data unread.
    /// </summary>
    private async Task DrainUntilCloseAsync(WebSocket socket)
    {
        using var deadline = new CancellationTokenSource(_options.CloseTimeout, _time);
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            while ((await socket.ReceiveAsync(buffer.AsMemory(), deadline.Token)).MessageType != WebSocketMessageType.Close)
            {
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            // The client did not answer in time; the connection ends anyway.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void CloseForViolation(WebSocketEventEmitter emitter, string channel, WebSocketCloseStatus status, string reason)
    {
        Log.ClosedByServer(_logger, channel, status, reason);
        emitter.RequestClose(status, reason);
    }

    private static (SubscriptionKind Kind, string? Id) ReadRoute(HttpContext context)
    {
        // The kind comes from the route pattern, so an empty id (an optional parameter left out) is
        // still recognized and refused with 400.
        var pattern = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern;
        if (pattern?.GetParameter("uploadId") is not null)
        {
            return (SubscriptionKind.Upload, context.Request.RouteValues["uploadId"] as string);
        }

        if (pattern?.GetParameter("jobId") is not null)
        {
            return (SubscriptionKind.Flow, context.Request.RouteValues["jobId"] as string);
        }

        throw new InvalidOperationException(
            "The Uploadista WebSocket handler must be mapped on a route with an {uploadId} or a {jobId} parameter, " +
            "for example app.Map(\"/events/upload/{uploadId}\", UploadistaWebSocketHandler.HandleAsync).");
    }

    private static bool TryReadSince(HttpContext context, out long since)
    {
        since = 0;
        var values = context.Request.Query["since"];
        return values.Count switch
        {
            0 => true,
            1 => long.TryParse(values[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out since),
            _ => false,
        };
    }

    private static bool TryReadEpoch(HttpContext context, out string? epoch)
    {
        var values = context.Request.Query["epoch"];
        epoch = values.Count == 1 ? values[0] : null;
        return values.Count == 0 || Channels.IsValidId(epoch);
    }

    private static Task RefuseAsync(HttpContext context, int status, string error, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        var writer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(writer))
        {
            json.WriteStartObject();
            json.WriteString("error", error);
            json.WriteString("message", message);
            json.WriteEndObject();
        }

        return context.Response.Body.WriteAsync(writer.WrittenMemory).AsTask();
    }
}
