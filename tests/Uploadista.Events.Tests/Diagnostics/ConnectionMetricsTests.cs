using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Uploadista.Events.Tests.Infrastructure;
using static Uploadista.Events.Tests.Infrastructure.Instruments;

namespace Uploadista.Events.Tests.Diagnostics;

/// <summary>The connection instruments of the meter Uploadista.Events, read with real sockets on real Kestrel.</summary>
public sealed class ConnectionMetricsTests
{
    private static readonly string Key = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    [Fact]
    public async Task Opening_and_closing_sockets_moves_the_connection_counter_by_kind()
    {
        await using var server = await EventsServer.StartAsync();
        using var active = Collect<int>(server.Services, "uploadista.connection.active");
        using var duration = Collect<double>(server.Services, "uploadista.connection.duration");
        var upload = Tag("uploadista.channel.kind", "upload");
        var flow = Tag("uploadista.channel.kind", "flow");

        var first = await server.JoinUploadAsync("counted");
        await using var second = await server.JoinUploadAsync("counted");
        await using var job = await server.JoinFlowAsync("counted-job");
        (active.Observe(upload), active.Observe(flow)).Should().Be((2, 1));

        await first.DisposeAsync();
        await Eventually.HoldsAsync(() => active.Observe(upload) == 1, "the closed socket is no longer counted");
        active.Observe(flow).Should().Be(1);
        await Eventually.HoldsAsync(() => duration.GetMeasurementSnapshot().Count == 1, "the closed connection's duration was recorded");
        duration.LastMeasurement!.MatchesTags(upload, Tag("uploadista.transport", "websocket")).Should().BeTrue();
        duration.LastMeasurement.Value.Should().BeInRange(0, 60);
    }

    [Fact]
    public async Task A_refused_socket_is_counted_under_its_reason()
    {
        await using var server = await EventsServer.StartAsync(
            o =>
            {
                o.AllowedOrigins.Add("https://app.example.com");
                o.MaxConnectionsPerChannel = 1;
            },
            s => s.AddUploadistaEvents().AddSubscriptionTokens(o => o.SigningKeys.Add(Key)));
        using var refused = Collect<long>(server.Services, "uploadista.connection.refused");
        var tokens = server.Services.GetRequiredService<ISubscriptionTokenIssuer>();

        (await CloseStatusAsync(server.UploadSocketUri("r1"))).Should().Be((WebSocketCloseStatus)4401);
        (await CloseStatusAsync(server.UploadSocketUri("r1", $"?token={tokens.CreateToken(SubscriptionKind.Upload, "other")}"))).Should().Be((WebSocketCloseStatus)4403);
        (await CloseStatusAsync(server.UploadSocketUri("r1", $"?token={tokens.CreateToken(SubscriptionKind.Upload, "r1")}"), "https://evil.example.com")).Should().Be((WebSocketCloseStatus)4403);
        await using var holder = await server.JoinUploadAsync("r1", $"?token={tokens.CreateToken(SubscriptionKind.Upload, "r1")}");
        (await CloseStatusAsync(server.UploadSocketUri("r1", $"?token={tokens.CreateToken(SubscriptionKind.Upload, "r1")}"))).Should().Be((WebSocketCloseStatus)1013);

        refused.Sum(Tag("uploadista.refusal.reason", "unauthenticated")).Should().Be(1);
        refused.Sum(Tag("uploadista.refusal.reason", "forbidden")).Should().Be(1);
        refused.Sum(Tag("uploadista.refusal.reason", "origin")).Should().Be(1);
        refused.Sum(Tag("uploadista.refusal.reason", "limit")).Should().Be(1);
        refused.Sum().Should().Be(4, "the admitted socket is not counted");
    }

    [Fact]
    public async Task A_slow_consumer_s_close_is_counted_and_so_is_the_progress_its_queue_dropped()
    {
        await using var server = await EventsServer.StartAsync(o => { o.SendQueueCapacity = 16; o.CloseTimeout = TimeSpan.FromSeconds(1); });
        using var closes = Collect<long>(server.Services, "uploadista.connection.server_closes");
        using var superseded = Collect<long>(server.Services, "uploadista.progress.superseded");
        await using var stalled = await RawWebSocket.ConnectAsync(server.FlowSocketUri("stalled"));
        await stalled.SendTextAsync("""{"type":"ping"}""");
        (await stalled.ReceiveTextOrCloseAsync()).Should().Contain("pong");

        // Progress first: the stalled queue drops what newer progress supersedes, and stays open.
        var longName = new string('n', 4096);
        for (var i = 1; i <= 2000; i++)
        {
            await server.Publisher.PublishAsync(new FlowProgressEvent { JobId = "stalled", NodeId = "n", NodeName = longName, Progress = i / 2001.0 });
        }

        superseded.Sum(Tag("uploadista.drop.site", "send_queue")).Should().BePositive();
        closes.Sum().Should().Be(0);

        // Then events nothing supersedes: the queue overflows and the connection is closed with 4008.
        for (var i = 1; i <= 3000 && closes.Sum() == 0; i++)
        {
            await server.Publisher.PublishAsync(new FlowErrorEvent { JobId = "stalled", Error = $"{i} {longName}" });
        }

        await Eventually.HoldsAsync(() => closes.Sum(Tag("uploadista.close.reason", "slow_consumer")) == 1, "the slow consumer's close was counted");
        closes.Sum().Should().Be(1);
    }

    [Fact]
    public async Task A_client_over_its_inbound_limits_is_counted_as_closed_by_the_server()
    {
        await using var server = await EventsServer.StartAsync();
        using var closes = Collect<long>(server.Services, "uploadista.connection.server_closes");
        await using var socket = await server.JoinUploadAsync("binary");

        await socket.SendAsync([1, 2, 3], WebSocketMessageType.Binary);

        (await socket.ReceiveCloseAsync()).Should().Be(WebSocketCloseStatus.InvalidMessageType);
        await Eventually.HoldsAsync(() => closes.Sum(Tag("uploadista.close.reason", "inbound_limit")) == 1, "the close was counted");
    }

    private static async Task<WebSocketCloseStatus?> CloseStatusAsync(Uri uri, string? origin = null)
    {
        await using var socket = await TestSocket.ConnectAsync(uri, o =>
        {
            if (origin is not null)
            {
                o.SetRequestHeader("Origin", origin);
            }
        });
        return await socket.ReceiveCloseAsync();
    }
}
