using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
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
            services.AddOptions<RedisEventsOptions>()
                .Configure<IServiceProvider>((options, provider) =>
                    provider.GetService<IConfiguration>()?.GetSection(RedisEventsOptions.SectionName).Bind(options))
                .ValidateOnStart();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisEventsOptions>, RedisEventsOptionsValidator>());
            services.AddSingleton<RedisEventBroadcaster>();
            services.Replace(ServiceDescriptor.Singleton<IEventBroadcaster>(provider => provider.GetRequiredService<RedisEventBroadcaster>()));
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, RedisEventsService>());
        }

        return builder;
    }

    /// <summary>Carries events through the Redis at <paramref name="configuration"/>, a StackExchange.Redis configuration string such as <c>localhost:6379</c>.</summary>
    /// <param name="builder">The builder from <c>AddUploadistaEvents()</c>.</param>
    /// <param name="configuration">The configuration string; two connections are opened from it.</param>
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
    /// Carries events through Redis over two connections the application already has: one to publish and
    /// one to subscribe (a subscribing connection is blocked for other commands in RESP2). They are not
    /// disposed by Uploadista.Events.
    /// </summary>
    /// <param name="builder">The builder from <c>AddUploadistaEvents()</c>.</param>
    /// <param name="publisher">The connection that publishes and reads retained state.</param>
    /// <param name="subscriber">The connection that subscribes.</param>
    /// <param name="configure">Sets the other options.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static IUploadistaEventsBuilder AddRedis(
        this IUploadistaEventsBuilder builder,
        IConnectionMultiplexer publisher,
        IConnectionMultiplexer subscriber,
        Action<RedisEventsOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(publisher);
        ArgumentNullException.ThrowIfNull(subscriber);
        return builder.AddRedis(options =>
        {
            options.Publisher = publisher;
            options.Subscriber = subscriber;
            configure?.Invoke(options);
        });
    }
}
