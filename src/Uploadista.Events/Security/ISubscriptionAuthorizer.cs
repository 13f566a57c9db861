using Microsoft.AspNetCore.Http;

namespace Uploadista.Events;

/// <summary>
/// Decides whether a socket may watch an upload or a job. Register one with
/// <c>AddUploadistaEvents().AddSubscriptionAuthorizer&lt;T&gt;()</c>; with several, every one must allow.
/// It runs before the socket is subscribed to anything, so a refused socket never receives an event.
/// </summary>
public interface ISubscriptionAuthorizer
{
    /// <summary>Decides on one subscription request.</summary>
    /// <param name="request">What the socket asks to watch, and its HTTP request.</param>
    /// <param name="cancellationToken">Canceled when the client goes away.</param>
    /// <returns>
    /// <see cref="SubscriptionDecision.Allow"/>, or the refusal the client is told of: close status 4401
    /// for <see cref="SubscriptionDecision.Unauthenticated"/>, 4403 for <see cref="SubscriptionDecision.Forbidden"/>.
    /// </returns>
    ValueTask<SubscriptionDecision> AuthorizeAsync(SubscriptionRequest request, CancellationToken cancellationToken);
}

/// <summary>What a socket asks to watch.</summary>
public enum SubscriptionKind
{
    /// <summary>An upload, and the jobs that belong to it: <c>{prefix}/ws/upload/{uploadId}</c>.</summary>
    Upload,

    /// <summary>One job: <c>{prefix}/ws/flow/{jobId}</c>.</summary>
    Flow,
}

/// <summary>The verdict of an <see cref="ISubscriptionAuthorizer"/>.</summary>
public enum SubscriptionDecision
{
    /// <summary>The socket may watch.</summary>
    Allow,

    /// <summary>No valid credentials (missing, expired or tampered): the socket is closed with 4401.</summary>
    Unauthenticated,

    /// <summary>Valid credentials, but not for this upload or job: the socket is closed with 4403.</summary>
    Forbidden,
}

/// <summary>A socket's request to watch one upload or one job, as an authorizer sees it.</summary>
public sealed class SubscriptionRequest
{
    /// <summary>Initializes a new instance of the <see cref="SubscriptionRequest"/> class, as the library does for each socket; public so that authorizers can be unit-tested.</summary>
    /// <param name="httpContext">The upgrade request.</param>
    /// <param name="kind">Whether an upload or a job is asked for.</param>
    /// <param name="id">The upload id or job id.</param>
    /// <exception cref="ArgumentNullException"><paramref name="httpContext"/> or <paramref name="id"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="id"/> is not 1 to 128 characters of <c>A-Z a-z 0-9 . _ ~ -</c>.</exception>
    public SubscriptionRequest(HttpContext httpContext, SubscriptionKind kind, string id)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        ArgumentNullException.ThrowIfNull(id);
        if (!Channels.IsValidId(id))
        {
            throw new ArgumentException($"An id is 1 to {Channels.MaxIdLength} characters of A-Z a-z 0-9 . _ ~ - (got '{id}').", nameof(id));
        }

        if (!Enum.IsDefined(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Upload or Flow.");
        }

        HttpContext = httpContext;
        Kind = kind;
        Id = id;
    }

    /// <summary>
    /// Initializes a new instance of the <see cref="SubscriptionRequest"/> class for a subscription
    /// that carries its own token, as a <c>subscribe</c> message on a multiplexed socket does.
    /// </summary>
    /// <param name="httpContext">The upgrade request of the socket.</param>
    /// <param name="kind">Whether an upload or a job is asked for.</param>
    /// <param name="id">The upload id or job id.</param>
    /// <param name="token">The subscription's token, or <see langword="null"/> if it has none; <see cref="Token"/> returns it instead of the query's.</param>
    /// <exception cref="ArgumentNullException"><paramref name="httpContext"/> or <paramref name="id"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="id"/> is not 1 to 128 characters of <c>A-Z a-z 0-9 . _ ~ -</c>.</exception>
    public SubscriptionRequest(HttpContext httpContext, SubscriptionKind kind, string id, string? token)
        : this(httpContext, kind, id)
    {
        _ownToken = true;
        _token = token;
    }

    /// <summary>Gets the upgrade request: its user, headers, cookies and query.</summary>
    public HttpContext HttpContext { get; }

    /// <summary>Gets whether an upload or a job is asked for.</summary>
    public SubscriptionKind Kind { get; }

    /// <summary>Gets the upload id or job id, already checked to be well formed.</summary>
    public string Id { get; }

    /// <summary>
    /// Gets the subscription's token, or <see langword="null"/>: the <c>token</c> query parameter of a
    /// socket of its own (browsers cannot set headers on a WebSocket, so credentials for one come in the
    /// URL), or the <c>token</c> of a <c>subscribe</c> message on a multiplexed socket (never the query's
    /// there: each subscription brings its own).
    /// </summary>
    public string? Token => _ownToken ? _token : HttpContext.Request.Query["token"] is { Count: 1 } token ? token[0] : null;

    private readonly bool _ownToken;
    private readonly string? _token;
}
