using System.Globalization;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Uploadista.Events;

/// <summary>What a connection asks for, read from its route and query.</summary>
internal sealed record ConnectionRequest(SubscriptionKind Kind, string Id, long Since, string? SinceEpoch)
{
    public string Channel { get; } = Kind == SubscriptionKind.Upload ? Channels.ForUpload(Id) : Channels.ForFlow(Id);
}

/// <summary>
/// Decides whether a request becomes a connection, before anything is accepted or subscribed: a
/// malformed request is an HTTP error; origin, authorization and limits are a close status on a
/// socket that never receives an event (browsers cannot read the HTTP status of a refused handshake).
/// </summary>
internal sealed class ConnectionAdmission(
    ConnectionTracker tracker,
    IEnumerable<ISubscriptionAuthorizer> authorizers,
    IOptions<UploadistaEventsOptions> options,
    ILogger<ConnectionAdmission> logger,
    UploadistaMetrics? metrics = null)
{
    private readonly ISubscriptionAuthorizer[] _authorizers = [.. authorizers];
    private readonly HashSet<string> _allowedOrigins = new(options.Value.AllowedOrigins, StringComparer.OrdinalIgnoreCase);

    /// <summary>Reads and checks the request; every refusal is described, never thrown, and counted under its reason.</summary>
    /// <param name="context">The request.</param>
    /// <param name="eventStream">
    /// Whether it asks for Server-Sent Events rather than a WebSocket: then no upgrade is required, and
    /// a <c>Last-Event-ID</c> header (sent by <c>EventSource</c> when it reconnects) is the <c>since</c>.
    /// </param>
    public async ValueTask<Verdict> DecideAsync(HttpContext context, bool eventStream = false)
    {
        var verdict = await DecideCoreAsync(context, eventStream);
        if (verdict.Admission is null && verdict.RefusalReason is { } reason)
        {
            metrics?.Refused(reason, eventStream ? Tags.Transport.ServerSentEvents : Tags.Transport.WebSocket);
        }

        return verdict;
    }

    private async ValueTask<Verdict> DecideCoreAsync(HttpContext context, bool eventStream)
    {
        var (kind, id) = ReadRoute(context);
        if (!Channels.IsValidId(id))
        {
            return Verdict.Invalid(StatusCodes.Status400BadRequest, "invalid_id",
                $"The {(kind == SubscriptionKind.Upload ? "upload" : "job")} id must be 1 to {Channels.MaxIdLength} characters of A-Z a-z 0-9 . _ ~ -.");
        }

        if (!TryReadSince(context, out var since) || (eventStream && !EventStreamResume.TryReadLastEventId(context, ref since)))
        {
            return Verdict.Invalid(StatusCodes.Status400BadRequest, "invalid_since", "since (and Last-Event-ID) must be a non-negative integer.");
        }

        if (!TryReadEpoch(context, out var sinceEpoch))
        {
            return Verdict.Invalid(StatusCodes.Status400BadRequest, "invalid_epoch",
                $"epoch must be the one a pong named: 1 to {Channels.MaxIdLength} characters of A-Z a-z 0-9 . _ ~ -.");
        }

        if (!eventStream && !context.WebSockets.IsWebSocketRequest)
        {
            context.Response.Headers.Upgrade = "websocket";
            return Verdict.BadRequest(StatusCodes.Status426UpgradeRequired, "websocket_required",
                "This endpoint streams events over a WebSocket; connect with a WebSocket client.");
        }

        if (tracker.IsStopping)
        {
            return Verdict.BadRequest(StatusCodes.Status503ServiceUnavailable, "shutting_down", "The server is shutting down; connect again.") with { RefusalReason = Tags.Refusal.ShuttingDown };
        }

        var request = new ConnectionRequest(kind, id!, since, sinceEpoch);
        if (await AuthorizeAsync(context, request, context.RequestAborted) is { } refusal)
        {
            return Verdict.Refused(request, refusal.Status, refusal.Reason) with { RefusalReason = refusal.Tag };
        }

        return tracker.TryAdmit(request.Channel) is { } admission
            ? new Verdict(request, admission, null, null, 0, null, null)
            : Verdict.Refused(request, CloseStatuses.TryAgainLater, "Too many connections; try again later") with { RefusalReason = Tags.Refusal.Limit };
    }

    /// <summary>Whether the request's <c>Origin</c> (if any) is one of the allowed origins (if any are set).</summary>
    public bool IsOriginAllowed(HttpContext context)
        => _allowedOrigins.Count == 0 || context.Request.Headers.Origin is not { Count: > 0 } origin || _allowedOrigins.Contains(origin.ToString());

    /// <summary>The allowed origins, then every authorizer; the first refusal wins.</summary>
    private async ValueTask<(WebSocketCloseStatus Status, string Reason, string Tag)?> AuthorizeAsync(HttpContext context, ConnectionRequest request, CancellationToken aborted)
    {
        if (!IsOriginAllowed(context))
        {
            return (CloseStatuses.Forbidden, "Origin not allowed", Tags.Refusal.Origin);
        }

        return await AuthorizeAsync(new SubscriptionRequest(context, request.Kind, request.Id), aborted);
    }

    /// <summary>Every authorizer, on one subscription (of a socket of its own, or of a multiplexed socket); the first refusal wins.</summary>
    public async ValueTask<(WebSocketCloseStatus Status, string Reason, string Tag)?> AuthorizeAsync(SubscriptionRequest subscription, CancellationToken aborted)
    {
        foreach (var authorizer in _authorizers)
        {
            SubscriptionDecision decision;
            try
            {
                decision = await authorizer.AuthorizeAsync(subscription, aborted);
            }
            catch (Exception ex) when (!aborted.IsCancellationRequested)
            {
                Log.AuthorizerFailed(logger, authorizer.GetType().Name, ex);
                return (CloseStatuses.ServerError, "Authorization failed", Tags.Refusal.Error);
            }

            switch (decision)
            {
                case SubscriptionDecision.Unauthenticated:
                    return (CloseStatuses.Unauthenticated, "Unauthenticated: a valid token is required", Tags.Refusal.Unauthenticated);
                case SubscriptionDecision.Forbidden:
                    return (CloseStatuses.Forbidden, "Forbidden", Tags.Refusal.Forbidden);
            }
        }

        return null;
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
            "The Uploadista WebSocket (or Server-Sent Events) handler must be mapped on a route with an {uploadId} or a {jobId} parameter, " +
            "for example app.Map(\"/events/upload/{uploadId}\", UploadistaWebSocketHandler.HandleAsync).");
    }

    private static bool TryReadSince(HttpContext context, out long since)
    {
        since = 0;
        var values = context.Request.Query["since"];
        return values.Count switch
        {
            0 => true,
            1 => long.TryParse(values[0], NumberStyles.None, CultureInfo.InvariantCulture, out since),
            _ => false,
        };
    }

    private static bool TryReadEpoch(HttpContext context, out string? epoch)
    {
        var values = context.Request.Query["epoch"];
        epoch = values.Count == 1 ? values[0] : null;
        return values.Count == 0 || Channels.IsValidId(epoch);
    }

    /// <summary>
    /// The decision: admitted (with its place), refused with a close status, or a bad request (an HTTP
    /// status and a JSON error). <see cref="RefusalReason"/> says why, for the metric, when the request
    /// was refused rather than malformed (a request that is not a WebSocket is neither).
    /// </summary>
    internal readonly record struct Verdict(
        ConnectionRequest? Request,
        ConnectionTracker.Admission? Admission,
        WebSocketCloseStatus? CloseStatus,
        string? CloseReason,
        int HttpStatus,
        string? Error,
        string? Message)
    {
        public string? RefusalReason { get; init; }

        public static Verdict BadRequest(int status, string error, string message) => new(null, null, null, null, status, error, message);

        public static Verdict Invalid(int status, string error, string message) => BadRequest(status, error, message) with { RefusalReason = Tags.Refusal.InvalidRequest };

        public static Verdict Refused(ConnectionRequest request, WebSocketCloseStatus status, string reason) => new(request, null, status, reason, 0, null, null);
    }
}
