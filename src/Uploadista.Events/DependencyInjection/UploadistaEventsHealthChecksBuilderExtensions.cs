using Microsoft.Extensions.Diagnostics.HealthChecks;
using Uploadista.Events;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the health check of Uploadista.Events.</summary>
public static class UploadistaEventsHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a health check of Uploadista.Events (<c>services.AddUploadistaEvents()</c> must be called
    /// too). The in-memory broadcaster is always healthy. The Redis one is degraded while Redis is
    /// unreachable, while events wait in its outbox for Redis, or while subscriptions are being restored
    /// and channels catch up; it is <paramref name="failureStatus"/> once Redis has been unreachable
    /// longer than its <c>UnhealthyAfter</c> option. A broadcaster of your own reports its broker's
    /// health by implementing <see cref="IHealthCheck"/>. The result's data holds the numbers (open
    /// connections, channels catching up, events in the outbox, how long the broker has been unreachable).
    /// </summary>
    /// <param name="builder">The builder from <c>services.AddHealthChecks()</c>.</param>
    /// <param name="name">The name of the check.</param>
    /// <param name="failureStatus">The status reported when the broker has been unreachable too long; <see cref="HealthStatus.Unhealthy"/> when null.</param>
    /// <param name="tags">Tags to filter checks by, such as <c>ready</c>.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static IHealthChecksBuilder AddUploadistaEvents(
        this IHealthChecksBuilder builder,
        string name = "uploadista-events",
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        return builder.Add(new HealthCheckRegistration(
            name,
            provider => provider.GetService<UploadistaEventsHealthCheck>()
                ?? throw new InvalidOperationException("Uploadista.Events is not registered: call services.AddUploadistaEvents() as well."),
            failureStatus,
            tags));
    }
}
