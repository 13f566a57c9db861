namespace Uploadista.Events.Client;

/// <summary>
/// The server refused a watch, and trying again as it is would not help: the credentials are missing,
/// expired or do not cover the upload (<see cref="CloseStatus"/> 4401 or 4403), or the server refused
/// what the client asked.
/// </summary>
public sealed class WatchRefusedException : Exception
{
    /// <summary>Initializes a new instance for a connection the server closed, or refused to open.</summary>
    /// <param name="closeStatus">The close status, or the one the protocol maps the HTTP refusal to.</param>
    /// <param name="reason">The reason the server gave, if any.</param>
    /// <param name="httpStatusCode">The HTTP status of a refused handshake; <see langword="null"/> for a close.</param>
    public WatchRefusedException(int closeStatus, string? reason, int? httpStatusCode = null)
        : base(Describe(closeStatus, reason, httpStatusCode))
    {
        CloseStatus = closeStatus;
        Reason = reason;
        HttpStatusCode = httpStatusCode;
    }

    /// <summary>
    /// Gets the close status: 4401 (no valid credentials: get a new token), 4403 (forbidden), 1003,
    /// 1007 or 1008 (the server refused what the client sent or asked), or 1009 (a frame from the server
    /// was larger than the client accepts, 1 MiB). A handshake the server refused with HTTP 401 or 403
    /// gives 4401 or 4403, any other 4xx 1008, as docs/protocol.md maps them.
    /// </summary>
    public int CloseStatus { get; }

    /// <summary>Gets the reason the server gave, if any.</summary>
    public string? Reason { get; }

    /// <summary>Gets the HTTP status of a refused handshake, or <see langword="null"/> when a socket was closed.</summary>
    public int? HttpStatusCode { get; }

    private static string Describe(int closeStatus, string? reason, int? httpStatusCode)
    {
        var what = closeStatus switch
        {
            4401 => "no valid credentials",
            4403 => "forbidden",
            // The server never closes with 1009 (the client sends only pings): the client's own limit did.
            1009 when httpStatusCode is null => $"a frame from the server was larger than the client accepts ({WatchSocket.MaxFrameBytes} bytes)",
            _ => "the server refused the request",
        };
        var how = httpStatusCode is { } status ? $"HTTP {status}" : $"close status {closeStatus}";
        return string.IsNullOrEmpty(reason) ? $"The watch was refused ({how}): {what}." : $"The watch was refused ({how}): {what}: {reason}";
    }
}
