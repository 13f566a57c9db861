using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;
using Uploadista.Events;
using Uploadista.Events.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Switches Uploadista.Events to the Redis broadcaster.</summary>
public static class RedisUploadistaEventsBuilderExtensions
{
    /// <summary>
    /// Carries events through Redis, configured from the section <c>Uploadista:Events:Redis</c>
    /// (<c>Configuration</c>, <c>ChannelPrefix</c>, <c>MaxPendingPublications</c>).
    /// </summary>
    /// <param name="builder">The builder from <c>AddUploadistaEvents()</c>.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static IUploadistaEventsBuilder AddRedis(this IUploadistaEventsBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (!services.Any(d => d.ServiceType == typeof(RedisEventBroadcaster)))
        {
            // Bound when the host has configuration, as the core's options are (a bare service
            // collection may have none: options then come from code alone).
            var options = services.AddOptionsWithValidateOnStart<RedisEventsOptions, RedisEventsOptionsValidator>();
            if (services.Any(d => d.ServiceType == typeof(IConfiguration)))
            {
                options.BindConfiguration(RedisEventsOptions.SectionName);
            }

            services.AddSingleton<RedisEventBroadcaster>();
            services.Replace(ServiceDescriptor.Singleton<IEventBroadcaster>(provider => provider.GetRequiredService<RedisEventBroadcaster>()));
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, RedisEventsService>());
        }

        return builder;
    }

    /// <summary>Carries events through the Redis at <paramref name="configuration"/>, a StackExchange.Redis configuration string such as <c>localhost:6379</c>.</summary>
    /// <param name="builder">The builder from <c>AddUploadistaEvents()</c>.</param>
    /// <param name="configuration">The configuration string; one connection is opened from it.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static IUploadistaEventsBuilder AddRedis(this IUploadistaEventsBuilder builder, string configuration)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        return builder.AddRedis(options => options.Configuration = configuration);
    }

    /// <summary>Carries events through Redis, configured by <paramref name="configure"/> after the configuration section.</summary>
    /// <param name="builder">The builder from <c>AddUploadistaEvents()</c>.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static IUploadistaEventsBuilder AddRedis(this IUploadistaEventsBuilder builder, Action<RedisEventsOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        builder.AddRedis();
        builder.Services.Configure(configure);
        return builder;
    }

    /// <summary>
    /// Carries events through a Redis connection the application already has. It is not disposed by
    /// Uploadista.Events.
    /// </summary>
    /// <param name="builder">The builder from <c>AddUploadistaEvents()</c>.</param>
    /// <param name="multiplexer">The connection; it publishes, subscribes (on its own pub/sub connection) and reads retained state.</param>
    /// <returns>The same builder, for chaining. The other options come from the configuration section, or from <c>AddRedis(options => ...)</c>.</returns>
    public static IUploadistaEventsBuilder AddRedis(this IUploadistaEventsBuilder builder, IConnectionMultiplexer multiplexer)
    {
        ArgumentNullException.ThrowIfNull(multiplexer);
        return builder.AddRedis(_ => multiplexer);
    }

    /// <summary>
    /// Carries events through a Redis connection taken from the application's services when the
    /// broadcaster first connects, for example one registered by Aspire's <c>AddRedisClient</c>:
    /// <c>AddRedis(provider => provider.GetRequiredService&lt;IConnectionMultiplexer&gt;())</c>. It is not
    /// disposed by Uploadista.Events.
    /// </summary>
    /// <param name="builder">The builder from <c>AddUploadistaEvents()</c>.</param>
    /// <param name="multiplexerFactory">Gets the connection from the services.</param>
    /// <returns>The same builder, for chaining. The other options come from the configuration section, or from <c>AddRedis(options => ...)</c>.</returns>
    public static IUploadistaEventsBuilder AddRedis(this IUploadistaEventsBuilder builder, Func<IServiceProvider, IConnectionMultiplexer> multiplexerFactory)
    {
        ArgumentNullException.ThrowIfNull(multiplexerFactory);
        return builder.AddRedis(options => options.MultiplexerFactory = multiplexerFactory);
    }
}
