using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Uploadista.Events;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Uploadista.Events.</summary>
public static class UploadistaEventsServiceCollectionExtensions
{
    /// <summary>
    /// Registers Uploadista.Events with the in-memory broadcaster: <see cref="IUploadistaEventPublisher"/>
    /// for publishing, the WebSocket endpoints' services, and the hosted service that closes sockets on
    /// shutdown. Options bind from the configuration section <c>Uploadista:Events</c> (when the host has
    /// configuration), then
    /// <paramref name="configure"/> runs, and they are validated when the host starts. Calling it again
    /// adds only the new <paramref name="configure"/>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets options in code, after configuration binding.</param>
    /// <returns>A builder for further configuration, such as <c>.AddRedis()</c>.</returns>
    public static IUploadistaEventsBuilder AddUploadistaEvents(this IServiceCollection services, Action<UploadistaEventsOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (!services.Any(d => d.ServiceType == typeof(WebSocketConnectionHandler)))
        {
            var options = services.AddOptionsWithValidateOnStart<UploadistaEventsOptions, UploadistaEventsOptionsValidator>();
            if (HasConfiguration(services))
            {
                options.BindConfiguration(UploadistaEventsOptions.SectionName);
            }


            services.TryAddSingleton(TimeProvider.System);

            // Instruments on the meter Uploadista.Events, from the application's IMeterFactory.
            services.AddMetrics();
            services.TryAddSingleton<UploadistaMetrics>();
            services.TryAddSingleton<UploadistaEventsHealthCheck>();
            services.TryAddSingleton<IEventBroadcaster, MemoryEventBroadcaster>();
            services.TryAddSingleton<IUploadistaEventPublisher, EventPublisher>();
            services.TryAddSingleton<SubscriptionRegistry>();
            services.TryAddSingleton<ConnectionTracker>();
            services.TryAddSingleton<ConnectionAdmission>();
            services.TryAddSingleton<WebSocketConnectionHandler>();
            services.TryAddSingleton<EventStreamHandler>();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, UploadistaEventsService>());
        }

        if (configure is not null)
        {
            services.Configure(configure);
        }

        return new UploadistaEventsBuilder(services);
    }

    /// <summary>
    /// Whether the host has configuration to bind options from. An application's host registers its
    /// <see cref="IConfiguration"/> before the application's own services; a bare service collection
    /// (a tool, a test) may have none, and then options come from code alone.
    /// </summary>
    internal static bool HasConfiguration(IServiceCollection services)
        => services.Any(d => d.ServiceType == typeof(IConfiguration));

    private sealed class UploadistaEventsBuilder(IServiceCollection services) : IUploadistaEventsBuilder
    {
        public IServiceCollection Services { get; } = services;
    }
}
