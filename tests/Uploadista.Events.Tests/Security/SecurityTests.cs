using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Security;

/// <summary>protocol.md sections 3, 5, 6 and 7: every bad input is refused, and the server goes on serving.</summary>
public sealed class SecurityTests
{
    private static readonly string Key = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private static readonly string OtherKey = Convert.ToBase64String(Enumerable.Range(100, 32).Select(i => (byte)i).ToArray());

    [Fact]
    public async Task A_valid_token_for_the_upload_is_let_in()
    {
        await using var server = await StartWithTokensAsync();
        var token = Tokens(server).CreateToken(SubscriptionKind.Upload, "u1");

        await using var socket = await server.JoinUploadAsync("u1", $"?token={token}");
        await server.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = "u1", Url = "https://example.com/u1" });

        (await socket.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("upload_complete");
    }

    public static TheoryData<string, int> BadTokens => new()
    {
        { "missing", 4401 },
        { "garbage", 4401 },
        { "tampered payload", 4401 },
        { "tampered signature", 4401 },
        { "signed with another key", 4401 },
        { "for another upload", 4403 },
        { "for a job with the same id", 4403 },
    };

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task A_bad_token_is_refused_with_its_close_status_and_never_gets_an_event(string what, int expected)
    {
        await using var server = await StartWithTokensAsync();
        var tokens = Tokens(server);
        await server.Publisher.PublishAsync(new UploadStartedEvent { UploadId = "u1", Filename = "secret.pdf", Size = 1 });
        var good = tokens.CreateToken(SubscriptionKind.Upload, "u1");
        var token = what switch
        {
            "missing" => null,
            "garbage" => "abc",
            "tampered payload" => Tamper(good, 0),
            "tampered signature" => Tamper(good, good.Length - 2),
            "signed with another key" => new SubscriptionTokens(Microsoft.Extensions.Options.Options.Create(Options(OtherKey)), TimeProvider.System).CreateToken(SubscriptionKind.Upload, "u1"),
            "for another upload" => tokens.CreateToken(SubscriptionKind.Upload, "u2"),
            _ => tokens.CreateToken(SubscriptionKind.Flow, "u1"),
        };

        await AssertRefusedAsync(server.UploadSocketUri("u1", token is null ? string.Empty : $"?token={Uri.EscapeDataString(token)}"), expected);
        await server.AssertStillServesWithTokenAsync();
    }

    [Fact]
    public async Task An_expired_token_is_refused_with_4401()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await StartWithTokensAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        var token = Tokens(server).CreateToken(SubscriptionKind.Flow, "job-1", TimeSpan.FromMinutes(5));
        await using (await server.JoinFlowAsync("job-1", $"?token={token}"))
        {
        }

        clock.Advance(TimeSpan.FromMinutes(5));

        await AssertRefusedAsync(server.FlowSocketUri("job-1", $"?token={token}"), 4401);
    }

    [Fact]
    public async Task Keys_rotate_old_tokens_still_verify_and_new_ones_are_signed_with_the_first_key()
    {
        await using var before = await StartWithTokensAsync();
        var oldToken = Tokens(before).CreateToken(SubscriptionKind.Upload, "r1");
        await using var after = await EventsServer.StartAsync(services: s => s.AddUploadistaEvents().AddSubscriptionTokens(o =>
        {
            o.SigningKeys.Add(OtherKey);
            o.SigningKeys.Add(Key);
        }));
        var newToken = Tokens(after).CreateToken(SubscriptionKind.Upload, "r1");

        await using (await after.JoinUploadAsync("r1", $"?token={oldToken}"))
        {
        }

        await using (await after.JoinUploadAsync("r1", $"?token={newToken}"))
        {
        }

        await AssertRefusedAsync(before.UploadSocketUri("r1", $"?token={newToken}"), 4401);
    }

    [Fact]
    public async Task A_custom_authorizer_sees_the_request_and_its_refusals_reach_the_client()
    {
        var seen = new List<(SubscriptionKind, string, string?)>();
        await using var server = await EventsServer.StartAsync(services: s => s.AddUploadistaEvents().AddSubscriptionAuthorizer((request, _) =>
        {
            lock (seen)
            {
                seen.Add((request.Kind, request.Id, request.HttpContext.Request.Headers["X-User"].ToString()));
            }

            var user = request.HttpContext.Request.Headers["X-User"].ToString();
            return ValueTask.FromResult(
                user.Length == 0 ? SubscriptionDecision.Unauthenticated
                : request.Id.StartsWith(user + "-", StringComparison.Ordinal) ? SubscriptionDecision.Allow
                : user == "crash" ? throw new InvalidOperationException("authorizer bug")
                : SubscriptionDecision.Forbidden);
        }));

        await using (await TestSocket.ConnectAndJoinAsync(server.UploadSocketUri("alice-1"), o => o.SetRequestHeader("X-User", "alice")))
        {
        }

        await AssertRefusedAsync(server.UploadSocketUri("alice-2"), 4401);
        await AssertRefusedAsync(server.FlowSocketUri("alice-3"), 4403, o => o.SetRequestHeader("X-User", "bob"));
        await AssertRefusedAsync(server.FlowSocketUri("x"), 1011, o => o.SetRequestHeader("X-User", "crash"));
        seen.Should().Contain((SubscriptionKind.Upload, "alice-1", "alice")).And.Contain((SubscriptionKind.Flow, "alice-3", "bob"));
        await using var ok = await TestSocket.ConnectAndJoinAsync(server.UploadSocketUri("carol-1"), o => o.SetRequestHeader("X-User", "carol"));
    }

    [Fact]
    public async Task A_disallowed_origin_is_refused_with_4403_and_never_gets_an_event()
    {
        await using var server = await EventsServer.StartAsync(o => o.AllowedOrigins.Add("https://app.example.com"));
        await server.Publisher.PublishAsync(new UploadStartedEvent { UploadId = "o1", Filename = "f", Size = 1 });

        await AssertRefusedAsync(server.UploadSocketUri("o1"), 4403, o => o.SetRequestHeader("Origin", "https://evil.example.com"));
        await AssertRefusedAsync(server.UploadSocketUri("o1"), 4403, o => o.SetRequestHeader("Origin", "null"));
        await using var allowed = await TestSocket.ConnectAsync(server.UploadSocketUri("o1"), o => o.SetRequestHeader("Origin", "https://APP.example.com"));
        (await allowed.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("upload_started");
        await server.AssertStillServesAsync();
    }

    [Fact]
    public async Task Too_many_connections_in_total_or_on_one_channel_are_told_to_try_again_later()
    {
        await using var server = await EventsServer.StartAsync(o => { o.MaxConnections = 4; o.MaxConnectionsPerChannel = 2; });
        var a1 = await server.JoinUploadAsync("busy");
        await using var a2 = await server.JoinUploadAsync("busy");
        await AssertRefusedAsync(server.UploadSocketUri("busy"), 1013);

        await using var b1 = await server.JoinUploadAsync("other");
        await using var b2 = await server.JoinFlowAsync("job");
        await AssertRefusedAsync(server.UploadSocketUri("third"), 1013);

        await a1.DisposeAsync();
        await Eventually.HoldsAsync(() => server.Services.GetRequiredService<ConnectionTracker>().Count == 3, "the closed connection's place is free");
        await server.AssertStillServesAsync();
    }

    public static TheoryData<string, int> BadFrames => new()
    {
        { "oversized", 1009 },
        { "binary", 1003 },
        { "invalid json", 1007 },
        { "flood", 1008 },
    };

    [Theory]
    [MemberData(nameof(BadFrames))]
    public async Task A_bad_inbound_frame_closes_only_that_connection(string what, int expected)
    {
        await using var server = await EventsServer.StartAsync(o => o.MaxInboundMessagesPerSecond = 10);
        await using var bystander = await server.JoinUploadAsync("frames");
        await using var socket = await server.JoinUploadAsync("frames");

        switch (what)
        {
            case "oversized":
                await socket.SendAsync($$"""{"type":"ping","pad":"{{new string('x', 5000)}}"}""");
                break;
            case "binary":
                await socket.SendAsync([1, 2, 3], WebSocketMessageType.Binary);
                break;
            case "invalid json":
                await socket.SendAsync("{not json");
                break;
            default:
                for (var i = 0; i < 30 && socket.Socket.State == WebSocketState.Open; i++)
                {
                    await socket.SendAsync("""{"type":"ping"}""");
                }

                break;
        }

        ((int?)await socket.ReceiveCloseAsync()).Should().Be(expected);
        await server.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = "frames", Url = "https://example.com/frames" });
        (await bystander.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("upload_complete");
        await server.AssertStillServesAsync();
    }

    [Fact]
    public async Task A_text_frame_that_is_not_utf8_drops_only_that_connection()
    {
        await using var server = await EventsServer.StartAsync();
        await using var bystander = await server.JoinUploadAsync("utf8");
        await using var socket = await server.JoinUploadAsync("utf8");

        await socket.SendAsync([(byte)'"', 0xC3, 0x28, (byte)'"'], WebSocketMessageType.Text);

        // The WebSocket layer itself refuses it: it sends 1007 and drops the connection at once, so the
        // close frame may or may not reach the client before the reset.
        var read = async () => await socket.ReceiveCloseAsync();
        try
        {
            ((int?)await read()).Should().Be(1007);
        }
        catch (WebSocketException)
        {
            ((int?)socket.Socket.CloseStatus ?? 1007).Should().Be(1007, "if a close frame arrived before the reset, it said 1007");
            socket.Socket.State.Should().NotBe(WebSocketState.Open);
        }

        await Eventually.HoldsAsync(() => server.Services.GetRequiredService<ConnectionTracker>().Count == 1, "the connection is gone");
        await server.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = "utf8", Url = "https://example.com/utf8" });
        (await bystander.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("upload_complete");
        await server.AssertStillServesAsync();
    }

    [Fact]
    public async Task A_half_open_peer_that_never_answers_pings_is_closed_within_the_timeout()
    {
        await using var server = await EventsServer.StartAsync(o =>
        {
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(200);
            o.KeepAliveTimeout = TimeSpan.FromMilliseconds(500);
        });
        var tracker = server.Services.GetRequiredService<ConnectionTracker>();
        await using var healthy = await server.JoinUploadAsync("alive");
        var healthyReads = healthy.ReceiveJsonAsync(TimeSpan.FromSeconds(30)); // a pending read answers pings

        // Completes the handshake, then never reads or answers anything again.
        await using var silent = await RawWebSocket.ConnectAsync(server.UploadSocketUri("alive"));
        await Eventually.HoldsAsync(() => tracker.Count == 2, "both are connected");

        await Eventually.HoldsAsync(() => tracker.Count == 1, "the silent peer was dropped", TimeSpan.FromSeconds(10));
        await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "alive", Error = "still here" });
        (await healthyReads).GetProperty("error").GetString().Should().Be("still here", "a peer that answers pings is kept");
    }

    [Fact]
    public async Task Normal_closes_and_shutdown_log_no_exceptions()
    {
        var server = await EventsServer.StartAsync();
        var leaving = await server.JoinUploadAsync("calm");
        var staying = await server.JoinUploadAsync("calm");
        var job = await server.JoinFlowAsync("calm-job");
        await leaving.DisposeAsync();
        await Eventually.HoldsAsync(() => server.Services.GetRequiredService<ConnectionTracker>().Count == 2, "the client's close completed");

        var closes = new[] { staying.ReceiveCloseAsync(), job.ReceiveCloseAsync() };
        await server.App.StopAsync(TestContext.Current.CancellationToken);

        (await Task.WhenAll(closes)).Should().AllBeEquivalentTo(WebSocketCloseStatus.EndpointUnavailable);
        var records = server.Logs.GetSnapshot();
        records.Where(r => r.Exception is not null || r.Level >= LogLevel.Warning).Select(r => $"{r.Level} {r.Message}").Should().BeEmpty();
        records.Should().Contain(r => r.Id.Name == "ClosingAll");
        await server.App.DisposeAsync();
    }

    private static SubscriptionTokenOptions Options(string key)
    {
        var options = new SubscriptionTokenOptions();
        options.SigningKeys.Add(key);
        return options;
    }

    private static Task<EventsServer> StartWithTokensAsync(Action<IServiceCollection>? services = null)
        => EventsServer.StartAsync(services: s =>
        {
            s.AddUploadistaEvents().AddSubscriptionTokens(o => o.SigningKeys.Add(Key));
            services?.Invoke(s);
        });

    private static ISubscriptionTokenIssuer Tokens(EventsServer server) => server.Services.GetRequiredService<ISubscriptionTokenIssuer>();

    private static string Tamper(string token, int at)
    {
        var chars = token.ToCharArray();
        chars[at] = chars[at] == 'A' ? 'B' : 'A';
        return new string(chars);
    }

    /// <summary>The socket is accepted, then closed with <paramref name="expected"/>, without a single frame before.</summary>
    private static async Task AssertRefusedAsync(Uri uri, int expected, Action<ClientWebSocketOptions>? options = null)
    {
        await using var socket = await TestSocket.ConnectAsync(uri, options);
        (await socket.ReceiveTextOrCloseAsync()).Should().BeNull("a refused socket receives no frame, only the close");
        ((int?)socket.Socket.CloseStatus).Should().Be(expected);
    }
}
