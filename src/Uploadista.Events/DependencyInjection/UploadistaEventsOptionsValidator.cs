using Microsoft.Extensions.Options;

namespace Uploadista.Events;

/// <summary>Checks <see cref="UploadistaEventsOptions"/> when the host starts, naming every bad value.</summary>
internal sealed class UploadistaEventsOptionsValidator : IValidateOptions<UploadistaEventsOptions>
{
    public ValidateOptionsResult Validate(string? name, UploadistaEventsOptions options)
    {
        var result = new ValidateOptionsResultBuilder();
        if (PathPrefixProblem(options.PathPrefix) is { } problem)
        {
            result.AddError(problem, nameof(options.PathPrefix));
        }

        CheckRange(result, options.SendQueueCapacity, 1, 1_000_000, nameof(options.SendQueueCapacity));
        CheckRange(result, options.MaxInboundMessageBytes, 64, 1024 * 1024, nameof(options.MaxInboundMessageBytes));
        CheckRange(result, options.MaxRetainedEventsPerChannel, 1, 1_000_000, nameof(options.MaxRetainedEventsPerChannel));
        CheckRange(result, options.MaxRetainedChannels, 1, int.MaxValue, nameof(options.MaxRetainedChannels));
        CheckRange(result, options.MaxConnections, 1, int.MaxValue, nameof(options.MaxConnections));
        CheckRange(result, options.MaxConnectionsPerChannel, 1, int.MaxValue, nameof(options.MaxConnectionsPerChannel));
        CheckRange(result, options.MaxInboundMessagesPerSecond, 1, 100_000, nameof(options.MaxInboundMessagesPerSecond));
        CheckRange(result, options.MaxInboundFramesPerSecond, options.MaxInboundMessagesPerSecond, 1_000_000, nameof(options.MaxInboundFramesPerSecond));
        CheckRange(result, options.MaxInboundBytesPerSecond, options.MaxInboundMessageBytes, int.MaxValue, nameof(options.MaxInboundBytesPerSecond));

        // A page subscribing to all its uploads at once sends that many frames in a second.
        CheckRange(result, options.MaxSubscriptionsPerConnection, 1, options.MaxInboundFramesPerSecond, nameof(options.MaxSubscriptionsPerConnection));
        foreach (var origin in options.AllowedOrigins)
        {
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.PathAndQuery != "/" || origin.EndsWith('/'))
            {
                result.AddError($"must be origins such as 'https://app.example.com' (scheme, host and port only; got '{origin}')", nameof(options.AllowedOrigins));
            }
        }

        if (options.KeepAliveTimeout <= TimeSpan.Zero && options.KeepAliveTimeout != Timeout.InfiniteTimeSpan)
        {
            result.AddError($"must be greater than zero (got {options.KeepAliveTimeout})", nameof(options.KeepAliveTimeout));
        }
        if (options.ProgressInterval < TimeSpan.Zero)
        {
            result.AddError($"must not be negative (got {options.ProgressInterval}); zero turns throttling off", nameof(options.ProgressInterval));
        }

        CheckPositive(result, options.KeepAliveInterval, nameof(options.KeepAliveInterval));
        CheckPositive(result, options.CloseTimeout, nameof(options.CloseTimeout));
        CheckPositive(result, options.RetentionPeriod, nameof(options.RetentionPeriod));
        return result.Build();
    }

    /// <summary>What is wrong with a path prefix, or <see langword="null"/> when it is usable.</summary>
    internal static string? PathPrefixProblem(string? prefix)
        => prefix is null || (prefix.Length > 0 && (prefix[0] != '/' || prefix[^1] == '/' || prefix.Contains('{', StringComparison.Ordinal)))
            ? $"must start with '/', must not end with '/' and must not contain route parameters (got '{prefix}'); use '' for the root"
            : null;

    private static void CheckRange(ValidateOptionsResultBuilder result, int value, int min, int max, string property)
    {
        if (value < min || value > max)
        {
            result.AddError($"must be between {min} and {max} (got {value})", property);
        }
    }

    private static void CheckPositive(ValidateOptionsResultBuilder result, TimeSpan value, string property)
    {
        if (value <= TimeSpan.Zero)
        {
            result.AddError($"must be greater than zero (got {value})", property);
        }
    }
}
