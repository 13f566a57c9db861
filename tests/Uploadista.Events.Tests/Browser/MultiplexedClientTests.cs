using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Browser;

/// <summary>
/// The browser client's UploadTracker on one multiplexed socket ({prefix}/ws), in real headless
/// Chromium against the library: every upload's events over that one socket, and a drop after which
/// each upload is subscribed again where it left off.
/// </summary>
public sealed class MultiplexedClientTests(BrowserFixture browser) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private IBrowserContext _context = null!;
    private EventsServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _context = await browser.Browser.NewContextAsync();
        _server = await EventsServer.StartAsync(map: app =>
        {
            app.MapUploadistaWebSockets();
            app.MapGet("/", () => Results.Content("<!doctype html><title>multiplexed</title>", "text/html"));
            BrowserPackage.MapClient(app);
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _context.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task A_tracker_watches_every_upload_over_one_socket()
    {
        string[] uploads = ["one-a", "one-b", "one-c"];
        var page = await OpenTrackerAsync(uploads);
        foreach (var uploadId in uploads)
        {
            await PublishUploadAsync(uploadId);
            await PublishFlowAsync(uploadId, "resize", "scan");
            await CompleteAsync(uploadId);
        }

        foreach (var uploadId in uploads)
        {
            await Eventually.HoldsAsync(async () => await page.StatusAsync(uploadId) == "complete", $"{uploadId} completed");
            (await page.ReceivedAsync(uploadId)).Should().Equal([1, 2, 3, 4, 5, 6], $"every event of {uploadId} arrived once, in order");
        }

        page.Sockets().Should().ContainSingle("the tracker's uploads share one socket").Which.Url.Should().EndWith("/uploadista/ws");
        page.Subscribes().Select(s => s.GetProperty("uploadId").GetString()).Should().BeEquivalentTo(uploads, "each upload was subscribed once");
        page.Subscribes().Should().OnlyContain(s => s.GetProperty("token").GetString()!.EndsWith("-1", StringComparison.Ordinal), "each upload's token function was called for its subscribe");
        page.PageErrors.Should().BeEmpty();
    }

    [Fact]
    public async Task After_the_server_drops_the_socket_every_upload_resumes_with_no_event_lost_or_twice()
    {
        string[] uploads = ["drop-a", "drop-b", "drop-c"];
        var page = await OpenTrackerAsync(uploads);
        foreach (var uploadId in uploads)
        {
            await PublishUploadAsync(uploadId);
        }

        foreach (var uploadId in uploads)
        {
            await Eventually.HoldsAsync(async () => (await page.ReceivedAsync(uploadId)).Length == 3, $"{uploadId} received its first events");
        }

        var connections = _server.Services.GetRequiredService<ConnectionTracker>();
        foreach (var connection in connections.Snapshot())
        {
            connection.Abort();
        }

        // Published while the page is (most likely) without a socket: retained, and owed on resume.
        foreach (var uploadId in uploads)
        {
            await PublishFlowAsync(uploadId, "resize");
        }

        await Eventually.HoldsAsync(() => page.Sockets().Length == 2 && connections.Count == 1, "the page opened one new socket", TimeSpan.FromSeconds(30));
        foreach (var uploadId in uploads)
        {
            await PublishFlowAsync(uploadId, "scan");
            await CompleteAsync(uploadId);
        }

        foreach (var uploadId in uploads)
        {
            await Eventually.HoldsAsync(async () => await page.StatusAsync(uploadId) == "complete", $"{uploadId} completed", TimeSpan.FromSeconds(30));
            (await page.ReceivedAsync(uploadId)).Should().Equal([1, 2, 3, 4, 5, 6], $"{uploadId} resumed right after its last event: none lost, none twice");
        }

        // Each upload was subscribed again with its own since and epoch, and a fresh token.
        var resubscribes = page.Subscribes().Where(s => s.TryGetProperty("since", out _)).ToList();
        resubscribes.Select(s => s.GetProperty("uploadId").GetString()).Should().BeEquivalentTo(uploads);
        resubscribes.Should().OnlyContain(s => s.GetProperty("since").GetInt32() == 3 && s.GetProperty("epoch").GetString()!.Length > 0);
        resubscribes.Should().OnlyContain(s => s.GetProperty("token").GetString()!.EndsWith("-2", StringComparison.Ordinal));
        page.Sockets().Should().HaveCount(2, "one socket before the drop and one after, for all the uploads");
        page.PageErrors.Should().BeEmpty();
    }

    [Fact]
    public async Task A_tracker_that_cannot_open_a_websocket_watches_each_upload_over_server_sent_events()
    {
        // A WebSocket that fails before it opens, as behind a proxy that breaks them.
        var page = await OpenTrackerAsync(
            ["sse-a", "sse-b"],
            """{ WebSocket: class { constructor() { window.socketsTried = (window.socketsTried ?? 0) + 1; setTimeout(() => this.onclose?.({ code: 1006, reason: "" }), 0); } close() {} } }""");
        foreach (var uploadId in new[] { "sse-a", "sse-b" })
        {
            await PublishUploadAsync(uploadId);
            await Eventually.HoldsAsync(async () => (await page.ReceivedAsync(uploadId)).Length == 3, $"{uploadId} received its events over a stream");
        }

        (await page.Page.EvaluateAsync<int>("() => window.socketsTried")).Should().Be(1, "one failed socket moves every upload to streams");
        (await page.Page.EvaluateAsync<bool>("() => [...window.tracker.uploads.values()].every((u) => u.subscription.streaming)")).Should().BeTrue();
        page.PageErrors.Should().BeEmpty();
    }

    private Task<TrackerPage> OpenTrackerAsync(string[] uploads, string options = "{}") => TrackerPage.OpenAsync(_context, _server.BaseUri, uploads, options);

    private Task PublishUploadAsync(string uploadId) => UploadStory.StartAsync(_server.Publisher, uploadId);

    private Task PublishFlowAsync(string uploadId, params string[] nodes) => UploadStory.ProgressAsync(_server.Publisher, uploadId, nodes);

    private Task CompleteAsync(string uploadId) => UploadStory.CompleteAsync(_server.Publisher, uploadId);
}
