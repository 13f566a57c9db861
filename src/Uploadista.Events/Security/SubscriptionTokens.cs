using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Uploadista.Events;

/// <summary>
/// Signed subscription tokens: <c>base64url(payload).base64url(HMAC-SHA256(key, payload))</c>, where the
/// payload is <c>u:{uploadId}:{expiry}</c> or <c>f:{jobId}:{expiry}</c> (expiry in Unix seconds). Issues
/// them, and as an authorizer refuses sockets without a valid one for their upload or job.
/// </summary>
internal sealed class SubscriptionTokens : ISubscriptionTokenIssuer, ISubscriptionAuthorizer
{
    private const int MaxTokenLength = 512;

    private readonly byte[][] _keys;
    private readonly TimeSpan _lifetime;
    private readonly TimeProvider _time;

    public SubscriptionTokens(IOptions<SubscriptionTokenOptions> options, TimeProvider time)
    {
        _keys = [.. options.Value.SigningKeys.Select(Convert.FromBase64String)];
        _lifetime = options.Value.Lifetime;
        _time = time;
    }

    public string CreateToken(SubscriptionKind kind, string id, TimeSpan? lifetime = null)
    {
        if (!Channels.IsValidId(id))
        {
            throw new ArgumentException($"The id must be 1 to {Channels.MaxIdLength} characters of A-Z a-z 0-9 . _ ~ - (got '{id}').", nameof(id));
        }

        var validFor = lifetime ?? _lifetime;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(validFor, TimeSpan.Zero, nameof(lifetime));
        var expires = (_time.GetUtcNow() + validFor).ToUnixTimeSeconds();
        var payload = Encoding.ASCII.GetBytes($"{Prefix(kind)}:{id}:{expires.ToString(CultureInfo.InvariantCulture)}");
        return $"{Base64Url.EncodeToString(payload)}.{Base64Url.EncodeToString(HMACSHA256.HashData(_keys[0], payload))}";
    }

    public ValueTask<SubscriptionDecision> AuthorizeAsync(SubscriptionRequest request, CancellationToken cancellationToken)
        => ValueTask.FromResult(Check(request.Token, request.Kind, request.Id));

    /// <summary>Unauthenticated without a genuine, unexpired token; forbidden with one for another upload or job.</summary>
    internal SubscriptionDecision Check(string? token, SubscriptionKind kind, string id)
    {
        if (token is not { Length: > 0 and <= MaxTokenLength } || token.Split('.') is not [var encodedPayload, var encodedSignature])
        {
            return SubscriptionDecision.Unauthenticated;
        }

        byte[] payload;
        byte[] signature;
        try
        {
            payload = Base64Url.DecodeFromChars(encodedPayload);
            signature = Base64Url.DecodeFromChars(encodedSignature);
        }
        catch (FormatException)
        {
            return SubscriptionDecision.Unauthenticated;
        }

        if (!_keys.Any(key => CryptographicOperations.FixedTimeEquals(HMACSHA256.HashData(key, payload), signature)))
        {
            return SubscriptionDecision.Unauthenticated;
        }

        // Genuine: the payload is ours, so its shape is known.
        var text = Encoding.ASCII.GetString(payload);
        var expiresAt = long.Parse(text.AsSpan(text.LastIndexOf(':') + 1), CultureInfo.InvariantCulture);
        if (_time.GetUtcNow().ToUnixTimeSeconds() >= expiresAt)
        {
            return SubscriptionDecision.Unauthenticated;
        }

        return text.AsSpan(0, text.LastIndexOf(':')).SequenceEqual($"{Prefix(kind)}:{id}")
            ? SubscriptionDecision.Allow
            : SubscriptionDecision.Forbidden;
    }

    private static char Prefix(SubscriptionKind kind) => kind == SubscriptionKind.Upload ? 'u' : 'f';
}

/// <summary>Checks <see cref="SubscriptionTokenOptions"/> when the host starts.</summary>
internal sealed class SubscriptionTokenOptionsValidator : IValidateOptions<SubscriptionTokenOptions>
{
    public ValidateOptionsResult Validate(string? name, SubscriptionTokenOptions options)
    {
        var result = new ValidateOptionsResultBuilder();
        if (options.SigningKeys.Count == 0)
        {
            result.AddError("at least one key is required: set Uploadista:Events:Tokens:SigningKeys:0 to 32 or more random bytes in base64 (for example the output of 'openssl rand -base64 32')", nameof(options.SigningKeys));
        }

        for (var i = 0; i < options.SigningKeys.Count; i++)
        {
            var key = options.SigningKeys[i];
            var bytes = new byte[key.Length];
            if (!Convert.TryFromBase64String(key, bytes, out var length) || length < 32)
            {
                result.AddError($"key {i} must be base64 of at least 32 bytes", nameof(options.SigningKeys));
            }
        }

        if (options.Lifetime <= TimeSpan.Zero)
        {
            result.AddError($"must be greater than zero (got {options.Lifetime})", nameof(options.Lifetime));
        }

        return result.Build();
    }
}
