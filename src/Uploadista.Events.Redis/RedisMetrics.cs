using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Uploadista.Events.Redis;

/// <summary>
/// The Redis broadcaster's instruments, on the same meter as the library's (<c>Uploadista.Events</c>,
/// which the application's <see cref="IMeterFactory"/> hands out once per name): the outbox, its
/// drops, the broker's connection and the subscriptions restored. docs/operations.md lists them.
/// </summary>
internal sealed class RedisMetrics
{
    private readonly Meter _meter;
    private readonly Counter<long> _outboxDropped;
    private readonly Counter<long> _subscriptionsRestored;

    private RedisMetrics(Meter meter)
    {
        _meter = meter;
        _outboxDropped = meter.CreateCounter<long>(
            "uploadista.outbox.dropped", "{event}", "Events dropped from a full outbox (MaxPendingPublications) while Redis was unreachable, by reason.");
        _subscriptionsRestored = meter.CreateCounter<long>(
            "uploadista.broker.subscriptions.restored", "{subscription}", "Subscriptions Redis acknowledged again after the subscribing connection failed; their channels then catch up.");
    }

    /// <summary>Makes the instruments, or returns null without a meter factory (a broadcaster built by hand).</summary>
    public static RedisMetrics? Create(IMeterFactory? meterFactory)
        => meterFactory is null ? null : new RedisMetrics(meterFactory.Create("Uploadista.Events"));

    /// <summary>Adds the instruments read when collected: the outbox's depth and the broker's connection.</summary>
    public void Observe(Func<int> outboxEvents, Func<bool> connected)
    {
        _meter.CreateObservableUpDownCounter(
            "uploadista.outbox.events", outboxEvents, "{event}", "Events published on this instance and not yet in Redis: waiting for it, or in a batch on its way.");
        _meter.CreateObservableGauge(
            "uploadista.broker.connected", () => connected() ? 1 : 0, "1", "1 while a Redis server is connected, 0 while none is.");
    }

    /// <summary>Waiting events were dropped to make room: <paramref name="superseded"/> progress, or else the oldest events.</summary>
    public void OutboxDropped(int count, bool superseded)
    {
        if (count > 0 && _outboxDropped.Enabled)
        {
            _outboxDropped.Add(count, new TagList { { "uploadista.drop.reason", superseded ? "superseded" : "overflow" } });
        }
    }

    public void SubscriptionsRestored(int count)
    {
        if (count > 0 && _subscriptionsRestored.Enabled)
        {
            _subscriptionsRestored.Add(count);
        }
    }
}
