using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Browser;

/// <summary>
/// The browser client's UploadTracker, in real headless Chromium, against the real answers of a
/// multiplexed socket that end one subscription and not the others: <c>subscription_refused</c>
/// (the server's token checks) and <c>subscription_ended</c> with 4010 (a channel that starts over
/// beneath the page, when Redis loses its data).
/// </summary>
public sealed class MultiplexedRefusalAndResetTests(BrowserFixture browser) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private static readonly string Key = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private IBrowserContext _context = null!;

    public async ValueTask InitializeAsync() => _context = await browser.Browser.NewContextAsync();

    public async ValueTask DisposeAsync() => await _context.DisposeAsync();

    [Fact]
    public async Task A_refused_upload_is_reported_refused_and_the_others_go_on_over_the_same_socket()
    {
        await using var server = await StartAsync(s => s.AddUploadistaEvents().AddSubscriptionTokens(o => o.SigningKeys.Add(Key)));
        var issuer = server.Services.GetRequiredService<ISubscriptionTokenIssuer>();
        var tokens = new Dictionary<string, string>
        {
            ["allowed-a"] = issuer.CreateToken(SubscriptionKind.Upload, "allowed-a"),
            ["allowed-b"] = issuer.CreateToken(SubscriptionKind.Upload, "allowed-b"),
            ["forbidden"] = issuer.CreateToken(SubscriptionKind.Upload, "allowed-a"), // another upload's token: 4403
            ["unauthenticated"] = "not-a-token", // 4401
        };
        var page = await TrackerPage.OpenAsync(_context, server.BaseUri, [.. tokens.Keys], tokens: tokens);
        await Eventually.HoldsAsync(
            async () => await page.ConnectionAsync("forbidden") == "refused" && await page.ConnectionAsync("unauthenticated") == "refused"
                && await page.ConnectionAsync("allowed-a") == "open" && await page.ConnectionAsync("allowed-b") == "open",
            "two uploads were refused and two subscribed");

        foreach (var (uploadId, code) in new[] { ("forbidden", 4403), ("unauthenticated", 4401) })
        {
            (await page.RefusalAsync(uploadId))!.Value.GetProperty("code").GetInt32().Should().Be(code);
            (await page.StatusAsync(uploadId)).Should().Be("failed");
        }

        // Every upload's events are published, the refused ones' too: only the others receive theirs.
        foreach (var uploadId in tokens.Keys)
        {
            await UploadStory.StartAsync(server.Publisher, uploadId);
            await UploadStory.ProgressAsync(server.Publisher, uploadId, "resize", "scan");
            await UploadStory.CompleteAsync(server.Publisher, uploadId);
        }

        foreach (var uploadId in new[] { "allowed-a", "allowed-b" })
        {
            await Eventually.HoldsAsync(async () => await page.StatusAsync(uploadId) == "complete", $"{uploadId} completed");
            (await page.ReceivedAsync(uploadId)).Should().Equal([1, 2, 3, 4, 5, 6], $"every event of {uploadId} arrived once, in order");
            page.SubscribesOf(uploadId).Should().ContainSingle();
        }

        foreach (var uploadId in new[] { "forbidden", "unauthenticated" })
        {
            (await page.ReceivedAsync(uploadId)).Should().BeEmpty();
            (await page.ConnectionsAsync(uploadId)).Should().Equal(["connecting", "refused"], "a refused upload is not retried");
            page.SubscribesOf(uploadId).Should().ContainSingle();
        }

        page.Sockets().Should().ContainSingle("the refusals left the socket open for the others");
        page.PageErrors.Should().BeEmpty();
    }

    [Fact]
    public async Task An_upload_whose_channel_starts_over_is_subscribed_again_without_since_and_ends_with_the_new_run()
    {
        await using var redis = await RedisServer.StartOwnAsync();
        var prefix = RedisFixture.UniquePrefix();
        void WithRedis(IServiceCollection services) => services.AddUploadistaEvents().AddRedis(o =>
        {
            o.Configuration = redis.Configuration + ",connectTimeout=2000";
            o.ChannelPrefix = prefix;
        });

        await using var watcher = await StartAsync(WithRedis); // serves the page, and its socket
        await using var publisher = await EventsServer.StartAsync(services: WithRedis);
        string[] uploads = ["restarted", "steady-a", "steady-b"];
        var page = await TrackerPage.OpenAsync(_context, watcher.BaseUri, uploads);
        foreach (var uploadId in uploads)
        {
            await UploadStory.StartAsync(publisher.Publisher, uploadId);
            await Eventually.HoldsAsync(async () => (await page.ReceivedAsync(uploadId)).Length == 3, $"{uploadId} received its first events");
        }

        // Redis loses the data without dropping a connection, and an instance that never saw the
        // channel publishes on it first: a new run starts at 1 beneath the page's subscription.
        await redis.CliAsync("FLUSHALL");
        await using var newcomer = await EventsServer.StartAsync(services: WithRedis);
        await UploadStory.ProgressAsync(newcomer.Publisher, "restarted", "scan");
        await Eventually.HoldsAsync(async () => (await page.ReceivedAsync("restarted")).Length == 4, "the page subscribed again and received the new run", TimeSpan.FromSeconds(30));
        await UploadStory.CompleteAsync(newcomer.Publisher, "restarted");

        // The other channels go on with their runs: the publisher still knows them.
        foreach (var uploadId in uploads[1..])
        {
            await UploadStory.ProgressAsync(publisher.Publisher, uploadId, "resize", "scan");
            await UploadStory.CompleteAsync(publisher.Publisher, uploadId);
        }

        foreach (var uploadId in uploads)
        {
            await Eventually.HoldsAsync(async () => await page.StatusAsync(uploadId) == "complete", $"{uploadId} completed", TimeSpan.FromSeconds(30));
        }

        (await page.ReceivedAsync("restarted")).Should().Equal([1, 2, 3, 1, 2], "the lost run, then the whole new one");
        var subscribes = page.SubscribesOf("restarted");
        subscribes.Should().HaveCount(2);
        subscribes[1].TryGetProperty("since", out _).Should().BeFalse("the seq it had belongs to the lost run");
        subscribes[1].TryGetProperty("epoch", out _).Should().BeFalse();
        (await page.ConnectionsAsync("restarted")).Should().ContainInConsecutiveOrder("open", "reconnecting", "open");
        (await page.RefusalAsync("restarted")).Should().BeNull();

        foreach (var uploadId in uploads[1..])
        {
            (await page.ReceivedAsync(uploadId)).Should().Equal([1, 2, 3, 4, 5, 6], $"{uploadId} was not disturbed");
            page.SubscribesOf(uploadId).Should().ContainSingle();
            (await page.ConnectionsAsync(uploadId)).Should().NotContain("reconnecting");
        }

        page.Sockets().Should().ContainSingle("only the subscription ended, not the socket");
        page.PageErrors.Should().BeEmpty();
    }

    private static Task<EventsServer> StartAsync(Action<IServiceCollection> services)
        => EventsServer.StartAsync(services: services, map: app =>
        {
            app.MapUploadistaWebSockets();
            app.MapGet("/", () => Results.Content("<!doctype html><title>tracker</title>", "text/html"));
            BrowserPackage.MapClient(app);
        });
}
