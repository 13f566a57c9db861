using System.Net.WebSockets;
using Uploadista.Events.Client;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Client;

/// <summary>
/// How the .NET client reconnects when connections end in ways the real server produces only by
/// accident (a network gone silent, a reset at once, a refusal after a close), on a scripted server.
/// </summary>
public sealed class ClientReconnectionTests
{
    [Fact]
    public async Task A_connection_its_keep_alive_gives_up_on_is_reconnected_not_the_end_of_the_watch()
    {
        await using var server = await ScriptedServer.StartAsync(async connection =>
        {
            await connection.SendEventAsync(connection.Number);
            await (connection.Number == 1 ? connection.HangAsync() : connection.HoldAsync());
        });
        var client = new UploadistaEventsClient(server.BaseUri, new()
        {
            ReconnectDelay = ClientTests.Fast.ReconnectDelay,
            MaxReconnectDelay = ClientTests.Fast.MaxReconnectDelay,
            // What the default connection does after 45 seconds, sooner: the server does not answer the
            // pings, and the socket is aborted (which ManagedWebSocket reports as a cancellation).
            Connect = async (uri, cancellationToken) =>
            {
                var socket = new ClientWebSocket();
                socket.Options.KeepAliveInterval = TimeSpan.FromMilliseconds(100);
                socket.Options.KeepAliveTimeout = TimeSpan.FromMilliseconds(300);
                await socket.ConnectAsync(uri, cancellationToken);
                return socket;
            },
        });

        await using var watch = new WatchCollector(client.WatchUploadAsync("half-open"));

        (await watch.WaitForAsync(e => e.Count == 2, "the second connection's event")).Select(e => e.Seq).Should().Equal(1, 2);
        server.Connections[1].Since.Should().Be(1);
    }

    [Fact]
    public async Task A_4401_after_a_connection_that_was_not_refused_gets_a_fresh_token_again()
    {
        // Refused, then accepted (and closed by a restart, before any event), then refused again: not
        // two refusals in a row, so the token factory is asked again rather than the watch ended.
        await using var server = await ScriptedServer.StartAsync(async connection =>
        {
            switch (connection.Number)
            {
                case 1 or 3:
                    await connection.CloseAsync(4401);
                    break;
                case 2:
                    await connection.CloseAsync(1001);
                    break;
                default:
                    await connection.SendEventAsync(1);
                    await connection.HoldAsync();
                    break;
            }
        });
        var client = new UploadistaEventsClient(server.BaseUri, ClientTests.Fast);
        var asked = 0;
        var options = new WatchOptions { TokenFactory = _ => ValueTask.FromResult($"token-{Interlocked.Increment(ref asked)}") };

        await using var watch = new WatchCollector(client.WatchUploadAsync("refreshed", options));

        await watch.WaitForAsync(e => e.Count == 1, "the event of the fourth connection");
        server.Connections.Select(c => c.Token).Should().Equal("token-1", "token-2", "token-3", "token-4");
    }

    [Fact]
    public async Task A_server_that_resets_every_connection_at_once_is_retried_with_backoff_not_in_a_tight_loop()
    {
        await using var server = await ScriptedServer.StartAsync(connection => connection.CloseAsync(4010));
        var client = new UploadistaEventsClient(server.BaseUri, new() { ReconnectDelay = TimeSpan.FromMilliseconds(100), MaxReconnectDelay = TimeSpan.FromSeconds(1) });

        await using var watch = new WatchCollector(client.WatchUploadAsync("resets"));

        await Eventually.HoldsAsync(() => server.Connections.Count >= 5, "five connections");
        var connections = server.Connections;
        // The delays are at least half of 100, 200, 400 and 800 ms; without them, milliseconds.
        connections[4].After(connections[0]).Should().BeGreaterThan(TimeSpan.FromMilliseconds(600));
        connections.Should().AllSatisfy(c => c.Since.Should().BeNull("a reset is followed without since"));
    }

    [Fact]
    public async Task An_epoch_given_without_since_is_not_sent_with_the_seq_of_another_connection()
    {
        // The first connection is dropped before its pong: the watch knows no epoch of its own. The
        // server takes a since of another epoch as 0, as the real one does.
        await using var server = await ScriptedServer.StartAsync(async connection =>
        {
            var from = connection.Epoch is not null && connection.Epoch != "current" ? 0 : connection.Since ?? 0;
            for (var seq = from + 1; seq <= 3; seq++)
            {
                await connection.SendEventAsync(seq);
            }

            if (connection.Number == 1)
            {
                await connection.CloseAsync(1001);
                return;
            }

            await connection.SendEventAsync(4);
            await connection.HoldAsync();
        });
        var client = new UploadistaEventsClient(server.BaseUri, ClientTests.Fast);

        await using var watch = new WatchCollector(client.WatchUploadAsync("stale", new WatchOptions { Epoch = "of-a-lost-run" }));

        await watch.WaitForAsync(e => e.Any(e => e.Seq == 4), "the second connection's new event");
        watch.Events.Select(e => e.Seq).Should().Equal(1, 2, 3, 4);
    }
}
