using System.Text.Json;
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
    private readonly List<string> _pageErrors = [];
    private readonly List<IWebSocket> _sockets = [];
    private readonly List<JsonElement> _subscribes = [];
    private IBrowserContext _context = null!;
    private EventsServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _context = await browser.Browser.NewContextAsync();
        _server = await EventsServer.StartAsync(map: app =>
        {
            app.MapUploadistaWebSockets();
            app.MapGet("/", () => Results.Content("<!doctype html><title>multiplexed</title>", "text/html"));
            app.MapGet("/client/{file}", (string file) => file is "uploadista-events.js" or "upload-tracker.js" or "multiplexed-socket.js" or "reconnect.js"
                ? Results.File(Path.Combine(BrowserPackage.Directory, file), "text/javascript")
                : Results.NotFound());
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
            await Eventually.HoldsAsync(async () => await StatusAsync(page, uploadId) == "complete", $"{uploadId} completed");
            (await ReceivedAsync(page, uploadId)).Should().Equal([1, 2, 3, 4, 5, 6], $"every event of {uploadId} arrived once, in order");
        }

        Sockets().Should().ContainSingle("the tracker's uploads share one socket").Which.Url.Should().EndWith("/uploadista/ws");
        Subscribes().Select(s => s.GetProperty("uploadId").GetString()).Should().BeEquivalentTo(uploads, "each upload was subscribed once");
        Subscribes().Should().OnlyContain(s => s.GetProperty("token").GetString()!.EndsWith("-1", StringComparison.Ordinal), "each upload's token function was called for its subscribe");
        _pageErrors.Should().BeEmpty();
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
            await Eventually.HoldsAsync(async () => (await ReceivedAsync(page, uploadId)).Length == 3, $"{uploadId} received its first events");
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

        await Eventually.HoldsAsync(() => Sockets().Length == 2 && connections.Count == 1, "the page opened one new socket", TimeSpan.FromSeconds(30));
        foreach (var uploadId in uploads)
        {
            await PublishFlowAsync(uploadId, "scan");
            await CompleteAsync(uploadId);
        }

        foreach (var uploadId in uploads)
        {
            await Eventually.HoldsAsync(async () => await StatusAsync(page, uploadId) == "complete", $"{uploadId} completed", TimeSpan.FromSeconds(30));
            (await ReceivedAsync(page, uploadId)).Should().Equal([1, 2, 3, 4, 5, 6], $"{uploadId} resumed right after its last event: none lost, none twice");
        }

        // Each upload was subscribed again with its own since and epoch, and a fresh token.
        var resubscribes = Subscribes().Where(s => s.TryGetProperty("since", out _)).ToList();
        resubscribes.Select(s => s.GetProperty("uploadId").GetString()).Should().BeEquivalentTo(uploads);
        resubscribes.Should().OnlyContain(s => s.GetProperty("since").GetInt32() == 3 && s.GetProperty("epoch").GetString()!.Length > 0);
        resubscribes.Should().OnlyContain(s => s.GetProperty("token").GetString()!.EndsWith("-2", StringComparison.Ordinal));
        Sockets().Should().HaveCount(2, "one socket before the drop and one after, for all the uploads");
        _pageErrors.Should().BeEmpty();
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
            await Eventually.HoldsAsync(async () => (await ReceivedAsync(page, uploadId)).Length == 3, $"{uploadId} received its events over a stream");
        }

        (await page.EvaluateAsync<int>("() => window.socketsTried")).Should().Be(1, "one failed socket moves every upload to streams");
        (await page.EvaluateAsync<bool>("() => [...window.tracker.uploads.values()].every((u) => u.subscription.streaming)")).Should().BeTrue();
        _pageErrors.Should().BeEmpty();
    }

    /// <summary>
    /// Opens a page whose tracker watches the uploads, each with a token function that counts its
    /// calls (the server has tokens off and ignores them; the test reads them in the subscribe frames).
    /// </summary>
    private async Task<IPage> OpenTrackerAsync(string[] uploads, string options = "{}")
    {
        var page = await _context.NewPageAsync();
        page.PageError += (_, error) => { lock (_pageErrors) { _pageErrors.Add(error); } };
        page.WebSocket += (_, socket) =>
        {
            lock (_sockets)
            {
                _sockets.Add(socket);
            }

            socket.FrameSent += (_, frame) =>
            {
                using var json = JsonDocument.Parse(frame.Text!);
                if (json.RootElement.GetProperty("type").GetString() == "subscribe")
                {
                    lock (_subscribes)
                    {
                        _subscribes.Add(json.RootElement.Clone());
                    }
                }
            };
        };
        await page.GotoAsync(_server.BaseUri.ToString());
        await page.EvaluateAsync($$"""
            async (uploads) => {
              const { UploadistaEvents, UploadTracker } = await import("/client/uploadista-events.js");
              window.received = {};
              const client = new UploadistaEvents(Object.assign({ url: `ws://${location.host}/uploadista`, minDelay: 50, maxDelay: 200 }, {{options}}));
              window.tracker = new UploadTracker(client, (upload, message) => { if (message) window.received[upload.uploadId].push(message.seq); });
              for (const uploadId of uploads) {
                window.received[uploadId] = [];
                let calls = 0;
                window.tracker.track(uploadId, { token: () => `${uploadId}-${++calls}` });
              }
            }
            """, uploads);
        return page;
    }

    private async Task PublishUploadAsync(string uploadId)
    {
        var cancel = TestContext.Current.CancellationToken;
        await _server.Publisher.PublishAsync(new UploadStartedEvent { UploadId = uploadId, Filename = $"{uploadId}.bin", Size = 10 }, cancel);
        await _server.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = uploadId, Url = $"/files/{uploadId}" }, cancel);
        await _server.Publisher.PublishAsync(new FlowStartedEvent { JobId = $"job-{uploadId}", UploadId = uploadId, FlowName = "process" }, cancel);
    }

    // Each node's progress is retained (only progress of the same node supersedes it), so a resume owes it.
    private async Task PublishFlowAsync(string uploadId, params string[] nodes)
    {
        foreach (var node in nodes)
        {
            await _server.Publisher.PublishAsync(new FlowProgressEvent { JobId = $"job-{uploadId}", UploadId = uploadId, NodeId = node, NodeName = node, Progress = 0.5 }, TestContext.Current.CancellationToken);
        }
    }

    private async Task CompleteAsync(string uploadId)
        => await _server.Publisher.PublishAsync(new FlowCompleteEvent { JobId = $"job-{uploadId}", UploadId = uploadId, Outputs = new Dictionary<string, string>() }, TestContext.Current.CancellationToken);

    private static Task<int[]> ReceivedAsync(IPage page, string uploadId) => page.EvaluateAsync<int[]>("(id) => window.received[id]", uploadId);

    private static Task<string> StatusAsync(IPage page, string uploadId) => page.EvaluateAsync<string>("(id) => window.tracker.uploads.get(id).status", uploadId);

    private IWebSocket[] Sockets()
    {
        lock (_sockets)
        {
            return [.. _sockets];
        }
    }

    private JsonElement[] Subscribes()
    {
        lock (_subscribes)
        {
            return [.. _subscribes];
        }
    }
}
