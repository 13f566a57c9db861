using Microsoft.Extensions.Options;

namespace Uploadista.Events.Redis;

/// <summary>Checks <see cref="RedisEventsOptions"/> when the host starts.</summary>
internal sealed class RedisEventsOptionsValidator : IValidateOptions<RedisEventsOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisEventsOptions options)
    {
        var result = new ValidateOptionsResultBuilder();
        if (options.MultiplexerFactory is null && options.ConfigurationOptions is null && string.IsNullOrWhiteSpace(options.Configuration))
        {
            result.AddError(
                "Redis is not configured: set Uploadista:Events:Redis:Configuration (for example \"localhost:6379\"), or call AddRedis(configuration), or give it a connection with AddRedis(multiplexer) or AddRedis(provider => ...)",
                nameof(options.Configuration));
        }

        if (string.IsNullOrEmpty(options.ChannelPrefix) || options.ChannelPrefix.AsSpan().IndexOfAny('{', '}') >= 0)
        {
            result.AddError($"must be non-empty and must not contain '{{' or '}}', which Redis Cluster reads as a hash tag (got '{options.ChannelPrefix}')", nameof(options.ChannelPrefix));
        }

        if (options.MaxPendingPublications < 0)
        {
            result.AddError($"must not be negative (got {options.MaxPendingPublications})", nameof(options.MaxPendingPublications));
        }

        if (options.UnhealthyAfter <= TimeSpan.Zero)
        {
            result.AddError($"must be greater than zero (got {options.UnhealthyAfter})", nameof(options.UnhealthyAfter));
        }

        return result.Build();
    }
}
