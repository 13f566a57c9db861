using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebSockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Uploadista.Events;

/// <summary>
/// Serves <c>{prefix}/ws/upload/{uploadId}</c> and <c>{prefix}/ws/flow/{jobId}</c>: admission first,
/// then the WebSocket is accepted and either closed with the refusal or run as a connection.
/// </summary>
internal sealed class WebSocketConnectionHandler
{
    // A refused socket is closed within this, whatever the close timeout, so refusals cannot pile up.
    private static readonly TimeSpan RefusalCloseTimeout = TimeSpan.FromSeconds(1);

    private readonly ConnectionAdmission _admission;
    private readonly ConnectionTracker _tracker;
    private readonly WebSocketConnection _connection;
    private readonly ILogger<WebSocketConnectionHandler> _logger;
    private readonly RequestDelegate _pipeline;
    private readonly RequestDelegate _multiplexedPipeline;
    private readonly MultiplexedConnection _multiplexed;

    public WebSocketConnectionHandler(
        ConnectionAdmission admission,
        ConnectionTracker tracker,
        SubscriptionRegistry registry,
        IOptions<UploadistaEventsOptions> options,
        TimeProvider time,
        ILoggerFactory loggerFactory,
        UploadistaMetrics metrics)
    {
        _admission = admission;
        _tracker = tracker;
        _logger = loggerFactory.CreateLogger<WebSocketConnectionHandler>();
        _connection = new WebSocketConnection(registry, options.Value, time, _logger, metrics);
        _multiplexed = new MultiplexedConnection(admission, tracker, registry, options.Value, time, _logger, metrics);
        _metrics = metrics;

        // The WebSocket middleware runs in front of this handler only, so the application needs no
        // app.UseWebSockets(), and keep-alive pings follow our options.
        var webSockets = new WebSocketOptions
        {
            KeepAliveInterval = options.Value.KeepAliveInterval,
            KeepAliveTimeout = options.Value.KeepAliveTimeout,
        };
        _pipeline = new WebSocketMiddleware(HandleCoreAsync, Options.Create(webSockets), loggerFactory).Invoke;
        _multiplexedPipeline = new WebSocketMiddleware(HandleMultiplexedCoreAsync, Options.Create(webSockets), loggerFactory).Invoke;
    }

    private readonly UploadistaMetrics _metrics;

    public Task HandleAsync(HttpContext context) => HandleAsync(context, _pipeline);

    /// <summary>Serves <c>{prefix}/ws</c>, the multiplexed socket.</summary>
    public Task HandleMultiplexedAsync(HttpContext context) => HandleAsync(context, _multiplexedPipeline);

    private static async Task HandleAsync(HttpContext context, RequestDelegate pipeline)
    {
        TransportCapture.Install(context);
        try
        {
            await pipeline(context);
        }
        catch (Exception ex) when (context.RequestAborted.IsCancellationRequested && ex is IOException or OperationCanceledException or WebSocketException)
        {
            // The client left during the handshake: nothing was taken that is not given back.
        }
    }

    private async Task HandleCoreAsync(HttpContext context)
    {
        var verdict = await _admission.DecideAsync(context);
        if (verdict.Request is not { } request)
        {
            await RefuseAsync(context, verdict.HttpStatus, verdict.Error!, verdict.Message!);
            return;
        }

        if (verdict.Admission is { } admission)
        {
            using (admission)
            {
                using var socket = await context.WebSockets.AcceptWebSocketAsync();

                // Where the transport could not be captured (TestServer, another server), the
                // connection writes through the socket itself.
                var transport = context.Features.Get<TransportCapture>()?.Stream;
                await _connection.RunAsync(socket, transport, request, admission, context.RequestAborted);
            }

            return;
        }

        await RefuseSocketAsync(context, request.Channel, verdict.CloseStatus!.Value, verdict.CloseReason!);
    }

    /// <summary>Upgrades and closes with the refusal at once, or answers with an HTTP status while too many are being refused.</summary>
    private async Task RefuseSocketAsync(HttpContext context, string channel, WebSocketCloseStatus status, string reason)
    {
        Log.Refused(_logger, channel, status, reason);
        using var refusal = _tracker.TryBeginRefusal();
        if (refusal is null)
        {
            // Too many refusals at once (a flood): the cheapest answer, an HTTP status.
            var (httpStatus, error) = HttpEquivalent(status);
            await RefuseAsync(context, httpStatus, error, reason);
            return;
        }

        using var refused = await context.WebSockets.AcceptWebSocketAsync();
        await CloseRefusedAsync(refused, status, reason, context.RequestAborted);
    }

    /// <summary>
    /// A multiplexed socket is admitted on its origin and the instance's limit only: its subscriptions
    /// are authorized one by one as they come, and refused with a frame, not a close.
    /// </summary>
    private async Task HandleMultiplexedCoreAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.Headers.Upgrade = "websocket";
            await RefuseAsync(context, StatusCodes.Status426UpgradeRequired, "websocket_required",
                "This endpoint streams events over a WebSocket; connect with a WebSocket client.");
            return;
        }

        if (_tracker.IsStopping)
        {
            _metrics.Refused(Tags.Refusal.ShuttingDown);
            await RefuseAsync(context, StatusCodes.Status503ServiceUnavailable, "shutting_down", "The server is shutting down; connect again.");
            return;
        }

        var (status, reason, tag) = _admission.IsOriginAllowed(context)
            ? (CloseStatuses.TryAgainLater, "Too many connections; try again later", Tags.Refusal.Limit)
            : (CloseStatuses.Forbidden, "Origin not allowed", Tags.Refusal.Origin);
        if (tag == Tags.Refusal.Limit && _tracker.TryAdmitMultiplexed() is { } admission)
        {
            using (admission)
            {
                using var socket = await context.WebSockets.AcceptWebSocketAsync();
                var transport = context.Features.Get<TransportCapture>()?.Stream;
                await _multiplexed.RunAsync(context, socket, transport, admission, context.RequestAborted);
            }

            return;
        }

        _metrics.Refused(tag);
        await RefuseSocketAsync(context, "(multiplexed)", status, reason);
    }

    /// <summary>Closes a refused socket: the close frame, then the client's answer or one second.</summary>
    private static async Task CloseRefusedAsync(WebSocket socket, WebSocketCloseStatus status, string reason, CancellationToken aborted)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        deadline.CancelAfter(RefusalCloseTimeout);
        try
        {
            await socket.CloseAsync(status, reason, deadline.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            socket.Abort();
        }
    }

    /// <summary>The HTTP status that says what a close status says, for a refusal answered without a socket.</summary>
    internal static (int Status, string Error) HttpEquivalent(WebSocketCloseStatus status) => status switch
    {
        CloseStatuses.Unauthenticated => (StatusCodes.Status401Unauthorized, "unauthenticated"),
        CloseStatuses.Forbidden => (StatusCodes.Status403Forbidden, "forbidden"),
        CloseStatuses.TryAgainLater => (StatusCodes.Status429TooManyRequests, "too_many_connections"),
        _ => (StatusCodes.Status500InternalServerError, "server_error"),
    };

    internal static Task RefuseAsync(HttpContext context, int status, string error, string message)
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
