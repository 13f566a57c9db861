using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Browser;

/// <summary>
/// The browser client over Server-Sent Events, in real headless Chromium with its own EventSource:
/// forced with <c>transport: "sse"</c>, and as the fallback of a WebSocket that cannot be opened.
/// </summary>
public sealed class EventSourceTests(BrowserFixture browser) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private readonly List<string> _pageErrors = [];
    private IBrowserContext _context = null!;
    private EventsServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _context = await browser.Browser.NewContextAsync();
        _server = await EventsServer.StartAsync(map: app =>
        {
            app.MapUploadistaWebSockets();
            app.MapGet("/", () => Results.Content("<!doctype html><title>sse</title>", "text/html"));
            BrowserPackage.MapClient(app);
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _context.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task An_event_source_resumes_after_the_server_drops_the_stream_with_no_event_lost_or_twice()
    {
        var page = await OpenPageAsync("""{ transport: "sse" }""", "dropped");
        var tracker = _server.Services.GetRequiredService<ConnectionTracker>();
        await PublishAsync("dropped", 1, 5);
        await Eventually.HoldsAsync(async () => (await ReceivedAsync(page)).Length == 5, "the page received the first events");

        foreach (var connection in tracker.Snapshot())
        {
            connection.Abort();
        }

        await Eventually.HoldsAsync(() => tracker.Count == 0, "the stream was dropped");
        await PublishAsync("dropped", 6, 10);
        await Eventually.HoldsAsync(async () => (await ReceivedAsync(page)).Length >= 10, "EventSource reconnected and resumed", TimeSpan.FromSeconds(30));
        await PublishAsync("dropped", 11, 11);
        await Eventually.HoldsAsync(async () => (await ReceivedAsync(page)).Length >= 11, "live events follow the resumed ones");

        (await ReceivedAsync(page)).Should().Equal(Enumerable.Range(1, 11), "Last-Event-ID resumed right after the last event: none lost, none twice");
        (await page.EvaluateAsync<bool>("() => window.subscription.streaming")).Should().BeTrue();
        _pageErrors.Should().BeEmpty();
    }

    [Fact]
    public async Task A_websocket_that_cannot_be_opened_falls_back_to_server_sent_events()
    {
        // A WebSocket that fails before it opens, as behind a proxy that breaks them.
        var page = await OpenPageAsync("""
            { transport: "auto", WebSocket: class { constructor() { window.socketsTried = (window.socketsTried ?? 0) + 1; setTimeout(() => this.onclose?.({ code: 1006, reason: "" }), 0); } close() {} } }
            """, "fallback");
        await PublishAsync("fallback", 1, 3);
        await Eventually.HoldsAsync(async () => (await ReceivedAsync(page)).Length == 3, "the events came over Server-Sent Events");
        (await page.EvaluateAsync<int>("() => window.socketsTried")).Should().Be(1);
        (await page.EvaluateAsync<bool>("() => window.subscription.streaming")).Should().BeTrue();
        (await page.EvaluateAsync<string[]>("() => window.states")).Should().Contain("open");
        _pageErrors.Should().BeEmpty();
    }

    private async Task<IPage> OpenPageAsync(string options, string uploadId)
    {
        var page = await _context.NewPageAsync();
        page.PageError += (_, error) => { lock (_pageErrors) { _pageErrors.Add(error); } };
        await page.GotoAsync(_server.BaseUri.ToString());
        await page.EvaluateAsync($$"""
            async () => {
              const { UploadistaEvents } = await import("/client/uploadista-events.js");
              window.received = [];
              window.states = [];
              const client = new UploadistaEvents(Object.assign({ url: `ws://${location.host}/uploadista` }, {{options}}));
              window.subscription = client.watchUpload("{{uploadId}}", {
                onEvent: (message) => window.received.push(message.seq),
                onState: (state) => window.states.push(state),
              });
            }
            """);
        return page;
    }

    private async Task PublishAsync(string uploadId, int from, int to)
    {
        for (var i = from; i <= to; i++)
        {
            await _server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = uploadId, Error = $"{i}" }, TestContext.Current.CancellationToken);
        }
    }

    private static Task<int[]> ReceivedAsync(IPage page) => page.EvaluateAsync<int[]>("() => window.received");
}
