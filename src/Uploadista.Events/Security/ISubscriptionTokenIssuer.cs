namespace Uploadista.Events;

/// <summary>
/// Issues signed subscription tokens, registered by <c>AddSubscriptionTokens()</c>: hand one to the
/// browser that created an upload (or started a job), which passes it as <c>?token=</c> on the socket.
/// A token is bound to one upload or one job and expires.
/// </summary>
public interface ISubscriptionTokenIssuer
{
    /// <summary>Creates a token for watching one upload or one job.</summary>
    /// <param name="kind">An upload, or a job.</param>
    /// <param name="id">The upload id or job id.</param>
    /// <param name="lifetime">How long the token is valid; <see cref="SubscriptionTokenOptions.Lifetime"/> when <see langword="null"/>.</param>
    /// <returns>The token: URL-safe, no escaping needed.</returns>
    /// <exception cref="ArgumentException"><paramref name="id"/> is not a valid id, or <paramref name="lifetime"/> is not positive.</exception>
    string CreateToken(SubscriptionKind kind, string id, TimeSpan? lifetime = null);
}

/// <summary>
/// Options of the signed subscription tokens, bound from <c>Uploadista:Events:Tokens</c> and validated
/// when the host starts.
/// </summary>
public sealed class SubscriptionTokenOptions
{
    /// <summary>The configuration section the options bind from: <c>Uploadista:Events:Tokens</c>.</summary>
    public const string SectionName = "Uploadista:Events:Tokens";

    /// <summary>
    /// Gets the HMAC-SHA256 keys, base64, at least 32 bytes each. The first signs new tokens; all of them
    /// verify. To rotate, put a new key first and remove the old one once the tokens it signed have
    /// expired. Every instance must have the same keys.
    /// </summary>
    public IList<string> SigningKeys { get; } = [];

    /// <summary>Gets or sets how long a token is valid. The default is one hour.</summary>
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromHours(1);
}
