using Microsoft.Extensions.DependencyInjection;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Multiplexing;

/// <summary>
/// A multiplexed socket with 50 subscriptions costs less memory than 50 sockets (issue 16). Measured
/// in-process, so each figure holds the test's clients too (one client socket against fifty): the
/// comparison is what is asserted, and the figures go to measurements.txt and docs/benchmarks.md.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class MultiplexedMemoryTests
{
    private const int Uploads = 50;

    [Fact]
    public async Task Fifty_subscriptions_on_one_socket_cost_less_memory_than_fifty_sockets()
    {
        await using var server = await EventsServer.StartAsync();
        var tracker = server.Services.GetRequiredService<ConnectionTracker>();
        for (var i = 0; i < Uploads; i++)
        {
            await server.Publisher.PublishAsync(new UploadStartedEvent { UploadId = $"m{i}", Filename = "f.bin", Size = 1 }, TestContext.Current.CancellationToken);
        }

        // Warm up both paths once, so neither figure holds one-time costs (JIT, pools, statics).
        await using (var warm = await TestSocket.ConnectAsync(server.UploadSocketUri("m0")))
        {
            await warm.ReceiveJsonAsync();
        }

        await using (var warmMux = await MuxSocket.ConnectAsync(server))
        {
            await warmMux.SubscribeAsync("m0");
            await warmMux.ReceiveAsync(2);
        }

        await Eventually.HoldsAsync(() => tracker.Count == 0, "the warm-up sockets have ended");

        var before = Heap();
        var sockets = new List<TestSocket>();
        for (var i = 0; i < Uploads; i++)
        {
            var socket = await TestSocket.ConnectAsync(server.UploadSocketUri($"m{i}"));
            await socket.ReceiveJsonAsync();
            sockets.Add(socket);
        }

        var perSockets = Heap() - before;
        foreach (var socket in sockets)
        {
            await socket.DisposeAsync();
        }

        await Eventually.HoldsAsync(() => tracker.Count == 0, "the fifty sockets have ended");

        before = Heap();
        var mux = await MuxSocket.ConnectAsync(server);
        for (var i = 0; i < Uploads; i++)
        {
            await mux.SubscribeAsync($"m{i}");
        }

        await mux.ReceiveAsync(2 * Uploads);
        var perMux = Heap() - before;
        await mux.DisposeAsync();

        Measurements.Record($"memory, {Uploads} uploads watched: {Uploads} sockets {perSockets / 1024} KB, one multiplexed socket {perMux / 1024} KB (in-process: server and test clients)");
        perMux.Should().BeLessThan(perSockets, "one socket with fifty subscriptions must cost less than fifty sockets");
    }

    private static long Heap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
