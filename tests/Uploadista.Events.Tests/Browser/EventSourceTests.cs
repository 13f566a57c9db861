using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Playwright;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Browser;

/// <summary>
/// The browser client over Server-Sent Events, in real headless Chromium with its own EventSource:
/// forced with <c>transport: "sse"</c>, and as the fallback of a WebSocket that cannot be opened; and
/// its streams refused by the server, whose status EventSource hides from it.
/// </summary>
public sealed class EventSourceTests(BrowserFixture browser) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private static readonly string Key = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private readonly List<string> _pageErrors = [];
    private IBrowserContext _context = null!;
    private EventsServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _context = await browser.Browser.NewContextAsync();
        _server = await StartServerAsync();
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

    [Fact]
    public async Task A_stream_refused_with_401_or_403_is_reported_refused_and_never_retried()
    {
        await using var server = await StartServerAsync(services: s => s.AddUploadistaEvents().AddSubscriptionTokens(o => o.SigningKeys.Add(Key)));
        var tokens = server.Services.GetRequiredService<ISubscriptionTokenIssuer>();
        var page = await _context.NewPageAsync();
        page.PageError += (_, error) => { lock (_pageErrors) { _pageErrors.Add(error); } };
        var streams = 0;
        page.Request += (_, request) => { if (request.ResourceType == "eventsource") { Interlocked.Increment(ref streams); } };
        await page.Clock.InstallAsync(); // the page's timers run only when the test says: a minute of them below

        // The page is of another origin than the streams, as when the events come from an API's host.
        await page.GotoAsync(_server.BaseUri.ToString());
        await page.EvaluateAsync("""
            async ([host, tokens]) => {
              const { UploadistaEvents } = await import("/client/uploadista-events.js");
              const client = new UploadistaEvents({ url: `ws://${host}/uploadista`, transport: "sse" });
              window.states = {};
              for (const [uploadId, token] of Object.entries(tokens)) {
                window.states[uploadId] = [];
                client.watchUpload(uploadId, { token: token || undefined, onState: (state, detail) => window.states[uploadId].push({ state, ...detail }) });
              }
            }
            """, new object[] { server.BaseUri.Authority, new Dictionary<string, string> { ["no-token"] = string.Empty, ["wrong-token"] = tokens.CreateToken(SubscriptionKind.Upload, "another") } });

        await Eventually.HoldsAsync(async () => await page.EvaluateAsync<bool>("() => Object.values(window.states).every((states) => states.length > 0)"), "both streams were answered");
        foreach (var (uploadId, code, status) in new[] { ("no-token", 4401, 401), ("wrong-token", 4403, 403) })
        {
            var states = await page.EvaluateAsync<JsonElement>("(id) => window.states[id]", uploadId);
            states.GetArrayLength().Should().Be(1, $"{uploadId} was refused at once, not retried first");
            var refused = states[0];
            refused.GetProperty("state").GetString().Should().Be("refused");
            refused.GetProperty("code").GetInt32().Should().Be(code, "the HTTP status is reported as the WebSocket's refusal would be");
            refused.GetProperty("status").GetInt32().Should().Be(status);
            refused.GetProperty("reason").GetString().Should().NotBeNullOrEmpty("the server's message says why");
        }

        await page.Clock.RunForAsync(60_000);
        (await page.EvaluateAsync<int>("() => Object.values(window.states).flat().length")).Should().Be(2, "nothing changed in a minute");
        streams.Should().Be(2, "each refused stream was opened once, and never again");
        _pageErrors.Should().BeEmpty();
    }

    [Fact]
    public async Task An_event_source_refused_on_its_own_reconnection_with_an_expired_token_is_reopened_with_a_fresh_one()
    {
        // The server's clock (its tokens' too) moves only when the test says.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await StartServerAsync(services: s => s.AddSingleton<TimeProvider>(clock).AddUploadistaEvents().AddSubscriptionTokens(o => o.SigningKeys.Add(Key)));
        var issuer = server.Services.GetRequiredService<ISubscriptionTokenIssuer>();
        var expiring = issuer.CreateToken(SubscriptionKind.Upload, "expiring", TimeSpan.FromMinutes(5));
        var fresh = issuer.CreateToken(SubscriptionKind.Upload, "expiring", TimeSpan.FromHours(1));
        var page = await _context.NewPageAsync();
        page.PageError += (_, error) => { lock (_pageErrors) { _pageErrors.Add(error); } };
        var streams = new List<string>();
        page.Request += (_, request) => { if (request.ResourceType == "eventsource") { lock (streams) { streams.Add(request.Url); } } };
        await page.GotoAsync(server.BaseUri.ToString());
        await page.EvaluateAsync("""
            async ([expiring, fresh]) => {
              const { UploadistaEvents } = await import("/client/uploadista-events.js");
              window.received = [];
              window.states = [];
              const client = new UploadistaEvents({ url: `ws://${location.host}/uploadista`, transport: "sse", minDelay: 50, maxDelay: 200 });
              let calls = 0;
              window.subscription = client.watchUpload("expiring", {
                token: () => (++calls === 1 ? expiring : fresh),
                onEvent: (message) => window.received.push(message.seq),
                onState: (state) => window.states.push(state),
              });
            }
            """, new[] { expiring, fresh });
        await PublishAsync(server, "expiring", 1, 2);
        await Eventually.HoldsAsync(async () => (await ReceivedAsync(page)).Length == 2, "the stream opened with the first token");

        // EventSource reconnects by itself to the URL it started with: its token has expired by then.
        clock.Advance(TimeSpan.FromMinutes(5));
        var tracker = server.Services.GetRequiredService<ConnectionTracker>();
        foreach (var connection in tracker.Snapshot())
        {
            connection.Abort();
        }

        await PublishAsync(server, "expiring", 3, 4);
        await Eventually.HoldsAsync(async () => (await ReceivedAsync(page)).Length == 4, "the client reopened the stream with a fresh token", TimeSpan.FromSeconds(30));
        (await ReceivedAsync(page)).Should().Equal([1, 2, 3, 4], "it resumed with since: none lost, none twice");
        (await page.EvaluateAsync<string[]>("() => window.states")).Should().NotContain("refused", "a refusal of EventSource's own reconnection is not the server's last word");
        lock (streams)
        {
            streams.Should().HaveCount(3, "the first stream, EventSource's reconnection, and the client's own");
            streams[1].Should().Contain(Uri.EscapeDataString(expiring));
            streams[2].Should().Contain(Uri.EscapeDataString(fresh)).And.Contain("since=2");
        }

        _pageErrors.Should().BeEmpty();
    }

    [Fact]
    public async Task A_stream_refused_with_429_is_retried_with_backoff_until_it_is_admitted()
    {
        await using var server = await StartServerAsync(o => o.MaxConnectionsPerChannel = 1);
        var tracker = server.Services.GetRequiredService<ConnectionTracker>();
        var held = await EventStreamClient.ConnectAsync(server.UploadStreamUri("busy"));
        await Eventually.HoldsAsync(() => tracker.Count == 1, "another stream holds the upload's only place");
        var page = await OpenPageAsync("""{ transport: "sse", minDelay: 50, maxDelay: 200 }""", "busy", server);
        await Eventually.HoldsAsync(async () => await page.EvaluateAsync<int>("() => window.details.filter((d) => d.state === 'reconnecting' && d.code === 1013 && d.status === 429).length") >= 2, "the page was told to try again later, twice");

        await held.DisposeAsync();
        await Eventually.HoldsAsync(async () => await page.EvaluateAsync<string>("() => window.subscription.state") == "open", "the page's stream was admitted", TimeSpan.FromSeconds(30));
        await PublishAsync(server, "busy", 1, 3);
        await Eventually.HoldsAsync(async () => (await ReceivedAsync(page)).Length == 3, "the events came over the stream");
        (await page.EvaluateAsync<string[]>("() => window.states")).Should().NotContain(["refused", "failed"]);
        _pageErrors.Should().BeEmpty();
    }

    private static Task<EventsServer> StartServerAsync(Action<UploadistaEventsOptions>? configure = null, Action<IServiceCollection>? services = null)
        => EventsServer.StartAsync(configure, services, app =>
        {
            app.MapUploadistaWebSockets();
            app.MapGet("/", () => Results.Content("<!doctype html><title>sse</title>", "text/html"));
            BrowserPackage.MapClient(app);
        });

    private async Task<IPage> OpenPageAsync(string options, string uploadId, EventsServer? server = null)
    {
        var page = await _context.NewPageAsync();
        page.PageError += (_, error) => { lock (_pageErrors) { _pageErrors.Add(error); } };
        await page.GotoAsync((server ?? _server).BaseUri.ToString());
        await page.EvaluateAsync($$"""
            async () => {
              const { UploadistaEvents } = await import("/client/uploadista-events.js");
              window.received = [];
              window.states = [];
              window.details = [];
              const client = new UploadistaEvents(Object.assign({ url: `ws://${location.host}/uploadista` }, {{options}}));
              window.subscription = client.watchUpload("{{uploadId}}", {
                onEvent: (message) => window.received.push(message.seq),
                onState: (state, detail) => { window.states.push(state); window.details.push({ state, ...detail }); },
              });
            }
            """);
        return page;
    }

    private Task PublishAsync(string uploadId, int from, int to) => PublishAsync(_server, uploadId, from, to);

    private static async Task PublishAsync(EventsServer server, string uploadId, int from, int to)
    {
        for (var i = from; i <= to; i++)
        {
            await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = uploadId, Error = $"{i}" }, TestContext.Current.CancellationToken);
        }
    }

    private static Task<int[]> ReceivedAsync(IPage page) => page.EvaluateAsync<int[]>("() => window.received");
}
