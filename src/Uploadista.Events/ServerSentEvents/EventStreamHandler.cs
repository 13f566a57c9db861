using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Uploadista.Events;

/// <summary>
/// Serves <c>{prefix}/sse/upload/{uploadId}</c> and <c>{prefix}/sse/flow/{jobId}</c>: the same admission
/// as the WebSocket routes (origins, authorizers, limits, counted by the same tracker), but every
/// refusal is an HTTP status with the JSON body, since the stream has not started; then the stream.
/// </summary>
internal sealed class EventStreamHandler
{
    private static readonly byte[] Opening = [.. EventStreamFrameWriter.Heartbeat];

    private readonly ConnectionAdmission _admission;
    private readonly EventStreamConnection _connection;
    private readonly ILogger<EventStreamHandler> _logger;

    public EventStreamHandler(
        ConnectionAdmission admission,
        SubscriptionRegistry registry,
        IOptions<UploadistaEventsOptions> options,
        TimeProvider time,
        ILogger<EventStreamHandler> logger,
        UploadistaMetrics metrics)
    {
        _admission = admission;
        _logger = logger;
        _connection = new EventStreamConnection(registry, options.Value, time, logger, metrics);
    }

    public async Task HandleAsync(HttpContext context)
    {
        try
        {
            await HandleCoreAsync(context);
        }
        catch (Exception ex) when (context.RequestAborted.IsCancellationRequested && ex is IOException or OperationCanceledException)
        {
            // The client left before the stream started: nothing was taken that is not given back.
        }
    }

    private async Task HandleCoreAsync(HttpContext context)
    {
        var verdict = await _admission.DecideAsync(context, eventStream: true);
        if (verdict.Request is not { } request)
        {
            LetOriginRead(context.Request, context.Response);
            await WebSocketConnectionHandler.RefuseAsync(context, verdict.HttpStatus, verdict.Error!, verdict.Message!);
            return;
        }

        if (verdict.Admission is not { } admission)
        {
            var (status, reason) = (verdict.CloseStatus!.Value, verdict.CloseReason!);
            Log.EventStreamRefused(_logger, request.Channel, status, reason);
            var (httpStatus, error) = WebSocketConnectionHandler.HttpEquivalent(status);
            LetOriginRead(context.Request, context.Response);
            await WebSocketConnectionHandler.RefuseAsync(context, httpStatus, error, reason);
            return;
        }

        using (admission)
        {
            await StartAsync(context);
            await _connection.RunAsync(context, request, admission);
        }
    }

    /// <summary>Sends the headers and a first comment now, so the client (and any proxy) sees the stream open before the first event.</summary>
    private static async Task StartAsync(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";

        // nginx buffers responses unless told otherwise, which would hold events back.
        response.Headers["X-Accel-Buffering"] = "no";

        // A cross-origin EventSource reads the stream only with CORS. The origin was already checked
        // against AllowedOrigins (as for a WebSocket); no credentials are allowed (tokens go in the query).
        LetOriginRead(context.Request, response);

        // Every write goes out at once: no response buffering, and no compression that would hold
        // events back until a block is full.
        if (context.Features.Get<IHttpsCompressionFeature>() is { } compression)
        {
            compression.Mode = HttpsCompressionMode.DoNotCompress;
        }

        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await response.BodyWriter.WriteAsync(Opening, context.RequestAborted);
    }

    /// <summary>
    /// Names the request's origin in <c>Access-Control-Allow-Origin</c> (unless the application's CORS
    /// already did), so that a page of another origin can read the response: the stream of an allowed
    /// origin, and any refusal. <c>EventSource</c> hides a refusal's status, so the browser client asks
    /// for it again with <c>fetch</c>, which reads it only with CORS; a refused WebSocket tells its
    /// close status to any origin alike, so the status and JSON body of a refusal reveal nothing more.
    /// </summary>
    private static void LetOriginRead(HttpRequest request, HttpResponse response)
    {
        if (request.Headers.Origin is { Count: 1 } origin && !response.Headers.ContainsKey(HeaderNames.AccessControlAllowOrigin))
        {
            response.Headers.AccessControlAllowOrigin = origin;
            response.Headers.Vary = HeaderNames.Origin;
        }
    }
}
