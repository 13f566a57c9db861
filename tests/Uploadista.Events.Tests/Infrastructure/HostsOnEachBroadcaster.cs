namespace Uploadista.Events.Tests.Infrastructure;

/// <summary>
/// Tests that run on each broadcaster: a subclass per broadcaster starts the hosts, and the hosts a
/// test started are stopped after it.
/// </summary>
public abstract class HostsOnEachBroadcaster : IAsyncLifetime
{
    private readonly List<EventsServer> _hosts = [];

    /// <summary>Gets whether two hosts share events (Redis); with the in-memory broadcaster the "other instance" is the same one.</summary>
    protected abstract bool HostsShareEvents { get; }

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }
    }

    protected abstract Task<EventsServer> CreateHostAsync(Action<UploadistaEventsOptions>? configure);

    /// <summary>Starts a host, stopped after the test.</summary>
    protected async Task<EventsServer> HostAsync(Action<UploadistaEventsOptions>? configure = null)
    {
        var host = await CreateHostAsync(configure);
        _hosts.Add(host);
        return host;
    }

    /// <summary>Another instance beside <paramref name="host"/>, where hosts share events; else <paramref name="host"/> itself.</summary>
    protected async Task<EventsServer> PeerAsync(EventsServer host, Action<UploadistaEventsOptions>? configure = null)
        => HostsShareEvents ? await HostAsync(configure) : host;
}
