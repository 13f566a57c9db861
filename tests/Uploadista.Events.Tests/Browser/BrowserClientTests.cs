using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Browser;

/// <summary>
/// The browser client's token functions and its offline pause, in real headless Chromium: through the
/// sample page against the real sample, and through a scripted socket where only the module is tested.
/// </summary>
public sealed class BrowserClientTests(BrowserFixture browser) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private readonly List<SampleServer> _samples = [];
    private readonly List<string> _pageErrors = [];
    private readonly List<string> _sockets = [];
    private readonly List<string> _subscribeTokens = [];
    private readonly TaskCompletionSource _releaseUpload = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IBrowserContext _context = null!;

    public async ValueTask InitializeAsync() => _context = await browser.Browser.NewContextAsync();

    public async ValueTask DisposeAsync()
    {
        _releaseUpload.TrySetResult();
        await _context.DisposeAsync();
        foreach (var sample in _samples)
        {
            await sample.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_page_whose_socket_drops_after_its_token_expired_reconnects_with_a_fresh_token()
    {
        var app = await StartSampleAsync("--Uploadista:Events:Tokens:Lifetime=00:00:03");
        var page = await OpenPageAsync(app);
        var renewals = 0;
        page.Request += (_, request) => { if (request.Url.EndsWith("/token", StringComparison.Ordinal)) { Interlocked.Increment(ref renewals); } };

        await page.Locator("#files").SetInputFilesAsync([File("expiring.bin", 300_000)]);
        var card = page.Locator(".upload");
        // The page's tracker watches its uploads on one socket, each subscribed by a message with its token.
        await Eventually.HoldsAsync(() => app.Services.GetRequiredService<ConnectionTracker>().Count == 1 && SubscribeTokens().Length == 1, "the page's socket is open and subscribed");
        var uploadId = await card.GetAttributeAsync("data-upload-id");
        var first = SubscribeTokens()[0];

        // The token it opened with expires; then the connection drops, and the page must reconnect.
        var tokens = (SubscriptionTokens)app.Services.GetRequiredService<ISubscriptionTokenIssuer>();
        await Eventually.HoldsAsync(() => tokens.Check(first, SubscriptionKind.Upload, uploadId!) == SubscriptionDecision.Unauthenticated, "the first token has expired");
        AbortEverySocket(app);
        await Eventually.HoldsAsync(() => Sockets().Length == 2 && SubscribeTokens().Length == 2 && app.Services.GetRequiredService<ConnectionTracker>().Count == 1, "the page reconnected and subscribed again");
        _releaseUpload.SetResult();

        await Assertions.Expect(card).ToHaveAttributeAsync("data-status", "complete", new() { Timeout = 30_000 });
        await Assertions.Expect(card.Locator(".percent")).ToHaveTextAsync("100%");
        SubscribeTokens()[1].Should().NotBe(first, "the resubscription asked the sample for a fresh token");
        Sockets().Should().OnlyContain(url => url.EndsWith("/uploadista/ws", StringComparison.Ordinal), "the page's uploads share the multiplexed socket");
        renewals.Should().Be(1);
        _pageErrors.Should().BeEmpty();
    }

    [Fact]
    public async Task While_the_browser_is_offline_the_client_waits_and_reconnects_as_soon_as_it_is_back_online()
    {
        var app = await StartSampleAsync();
        var page = await OpenPageAsync(app, fakeClock: true);
        await page.Locator("#files").SetInputFilesAsync([File("offline.bin", 300_000)]);
        var card = page.Locator(".upload");
        // Subscribed, not only accepted: a socket dropped before the page saw it open would count as
        // one that cannot be opened, and move the page to Server-Sent Events.
        await Eventually.HoldsAsync(async () => app.Services.GetRequiredService<ConnectionTracker>().Count == 1 && await page.EvaluateAsync<bool>("() => [...window.uploadista.tracker.uploads.values()].every((u) => u.connection === 'open')"), "the page's socket is open and subscribed");

        await _context.SetOfflineAsync(true);
        await Eventually.HoldsAsync(async () => !await page.EvaluateAsync<bool>("() => navigator.onLine"), "the page knows it is offline");
        AbortEverySocket(app);
        await Assertions.Expect(card.Locator(".message")).ToContainTextAsync("Offline");

        // A minute of the page's timers: a client burning its backoff would have tried many times.
        await page.Clock.RunForAsync(60_000);
        (await page.EvaluateAsync<int>("() => window.socketsCreated")).Should().Be(1, "no connection is tried while offline");
        await Assertions.Expect(card).ToHaveAttributeAsync("data-status", "waiting");

        // Back online, it reconnects at once, without waiting for a timer (the page's clock is stopped).
        await _context.SetOfflineAsync(false);
        await Eventually.HoldsAsync(async () => await page.EvaluateAsync<int>("() => window.socketsCreated") == 2 && app.Services.GetRequiredService<ConnectionTracker>().Count == 1, "the page reconnected");
        _releaseUpload.SetResult();
        await Assertions.Expect(card).ToHaveAttributeAsync("data-status", "complete", new() { Timeout = 30_000 });
        (await page.EvaluateAsync<int>("() => window.socketsCreated")).Should().Be(2, "one connection before going offline, one after");
        _pageErrors.Should().BeEmpty();
    }

    [Fact]
    public async Task A_token_function_sync_or_async_is_called_before_every_connection_and_a_failed_one_is_retried()
    {
        var app = await StartSampleAsync();
        var page = await OpenPageAsync(app);

        var result = await page.EvaluateAsync<string[][]>("""
            async () => {
              const { UploadistaEvents } = await import("/_content/Uploadista.Events/uploadista-events.js");
              const sockets = [];
              class ScriptedSocket {
                constructor(url) { this.url = url; sockets.push(this); setTimeout(() => { this.onopen?.(); this.isOpen = true; }, 0); }
                send() {}
                close() {}
              }
              const opened = async (count) => {
                const deadline = Date.now() + 10000;
                while (!sockets[count - 1]?.isOpen) {
                  if (Date.now() > deadline) throw new Error(`the client did not open socket ${count}`);
                  await new Promise((resolve) => setTimeout(resolve, 1));
                }
                return sockets[count - 1];
              };
              const client = new UploadistaEvents({ url: "ws://example.test/uploadista", WebSocket: ScriptedSocket, minDelay: 1, maxDelay: 2 });

              let syncCalls = 0;
              client.watchUpload("sync", { token: () => `s${++syncCalls}` });
              (await opened(1)).onclose({ code: 1006 });
              await opened(2);

              let asyncCalls = 0;
              const states = [];
              client.watchUpload("async", {
                token: async () => {
                  asyncCalls += 1;
                  if (asyncCalls === 1) throw new Error("token endpoint down");
                  return `a${asyncCalls}`;
                },
                onState: (state, detail) => states.push(`${state} ${detail.error?.message ?? detail.code ?? ""}`.trim()),
              });
              (await opened(3)).onclose({ code: 1006 });
              await opened(4);

              // Closed while its token is on its way: no socket is opened with it.
              let resolveToken;
              const pending = new Promise((resolve) => { resolveToken = resolve; });
              client.watchUpload("closed", { token: () => pending }).close();
              resolveToken("late");
              await pending;
              return [sockets.map((s) => s.url), states];
            }
            """);

        result[0].Should().Equal(
            "ws://example.test/uploadista/ws/upload/sync?token=s1",
            "ws://example.test/uploadista/ws/upload/sync?token=s2",
            "ws://example.test/uploadista/ws/upload/async?token=a2",
            "ws://example.test/uploadista/ws/upload/async?token=a3");
        result[1].Should().Equal("reconnecting token endpoint down", "open", "reconnecting 1006", "open");
        _pageErrors.Should().BeEmpty();
    }

    private async Task<WebApplication> StartSampleAsync(params string[] args)
    {
        var sample = await SampleServer.StartAsync(args);
        _samples.Add(sample);
        return sample.App;
    }

    /// <summary>
    /// Opens the sample page, counting the sockets it creates, and holding each upload's bytes until the
    /// test releases them, so that the socket is open and the upload unfinished for as long as needed.
    /// </summary>
    private async Task<IPage> OpenPageAsync(WebApplication app, bool fakeClock = false)
    {
        var page = await _context.NewPageAsync();
        page.PageError += (_, error) => { lock (_pageErrors) { _pageErrors.Add(error); } };
        page.WebSocket += (_, socket) =>
        {
            lock (_sockets)
            {
                _sockets.Add(socket.Url);
            }

            socket.FrameSent += (_, frame) =>
            {
                using var json = JsonDocument.Parse(frame.Text!);
                if (json.RootElement.GetProperty("type").GetString() == "subscribe")
                {
                    lock (_subscribeTokens)
                    {
                        _subscribeTokens.Add(json.RootElement.GetProperty("token").GetString()!);
                    }
                }
            };
        };
        await page.AddInitScriptAsync("""
            window.socketsCreated = 0;
            window.WebSocket = class extends WebSocket {
              constructor(...args) { super(...args); window.socketsCreated += 1; }
            };
            """);
        if (fakeClock)
        {
            await page.Clock.InstallAsync();
        }

        await page.RouteAsync("**/api/uploads/*", async route =>
        {
            if (route.Request.Method == "PUT")
            {
                await _releaseUpload.Task;
            }

            await route.ContinueAsync();
        });
        await page.GotoAsync(app.Urls.Single());
        return page;
    }

    private string[] Sockets()
    {
        lock (_sockets)
        {
            return [.. _sockets];
        }
    }

    private string[] SubscribeTokens()
    {
        lock (_subscribeTokens)
        {
            return [.. _subscribeTokens];
        }
    }

    private static void AbortEverySocket(WebApplication app)
    {
        foreach (var connection in app.Services.GetRequiredService<ConnectionTracker>().Snapshot())
        {
            connection.Abort();
        }
    }

    private static FilePayload File(string name, int size)
        => new() { Name = name, MimeType = "application/octet-stream", Buffer = RandomNumberGenerator.GetBytes(size) };
}
