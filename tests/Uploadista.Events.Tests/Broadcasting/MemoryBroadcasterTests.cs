using Microsoft.Extensions.DependencyInjection;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Broadcasting;

/// <summary>The in-memory broadcaster's memory is bounded: by what was published, not by what was watched.</summary>
public sealed class MemoryBroadcasterTests
{
    [Fact]
    public async Task A_channel_that_never_had_an_event_is_forgotten_when_its_last_socket_leaves()
    {
        await using var server = await EventsServer.StartAsync();
        var broadcaster = (MemoryEventBroadcaster)server.Services.GetRequiredService<IEventBroadcaster>();
        await server.Publisher.PublishAsync(new UploadStartedEvent { UploadId = "published", Filename = "f", Size = 1 }, TestContext.Current.CancellationToken);

        for (var i = 0; i < 50; i++)
        {
            await using var socket = await server.JoinUploadAsync($"random-{Guid.NewGuid():N}");
        }

        await Eventually.HoldsAsync(() => broadcaster.ChannelCount == 1, "only the channel with an event is kept");
        (await broadcaster.GetRetainedAsync("upload:published", 0, TestContext.Current.CancellationToken)).Events.Should().HaveCount(1);
    }

    [Fact]
    public async Task Beyond_the_most_channels_the_one_idle_longest_is_evicted()
    {
        await using var server = await EventsServer.StartAsync(o => o.MaxRetainedChannels = 10);
        var broadcaster = (MemoryEventBroadcaster)server.Services.GetRequiredService<IEventBroadcaster>();
        await using var watcher = await server.JoinUploadAsync("u0");
        for (var i = 0; i < 10; i++)
        {
            await server.Publisher.PublishAsync(new UploadStartedEvent { UploadId = $"u{i}", Filename = "f", Size = 1 }, TestContext.Current.CancellationToken);
        }

        // u1 publishes again: it is no longer among the ones idle longest.
        await server.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = "u1", Url = "https://example.com/u1" }, TestContext.Current.CancellationToken);
        for (var i = 10; i < 16; i++)
        {
            await server.Publisher.PublishAsync(new UploadStartedEvent { UploadId = $"u{i}", Filename = "f", Size = 1 }, TestContext.Current.CancellationToken);
        }

        broadcaster.ChannelCount.Should().Be(10);
        var kept = new List<string>();
        for (var i = 0; i <= 15; i++)
        {
            if ((await broadcaster.GetRetainedAsync($"upload:u{i}", 0, TestContext.Current.CancellationToken)).Events.Count > 0)
            {
                kept.Add($"u{i}");
            }
        }

        kept.Should().Equal(["u0", "u1", "u8", "u9", "u10", "u11", "u12", "u13", "u14", "u15"], "u0 is watched, u1 published lately, and u2 to u7, idle longest, went first");
        server.Logs.GetSnapshot().Should().ContainSingle(r => r.Id.Name == "ChannelEvicted", "it is said once a minute");
    }
}
