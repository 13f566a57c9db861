using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Browser;

/// <summary>The sample page and the browser client, in real headless Chromium against the real sample.</summary>
public sealed class SamplePageTests(BrowserFixture browser, RedisFixture redis) : IClassFixture<BrowserFixture>, IClassFixture<RedisFixture>, IAsyncLifetime
{
    private static readonly string SharedKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private readonly List<SampleServer> _samples = [];
    private readonly List<string> _pageErrors = [];
    private IBrowserContext _context = null!;

    public async ValueTask InitializeAsync() => _context = await browser.Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1100, Height = 900 } });

    public async ValueTask DisposeAsync()
    {
        await _context.DisposeAsync();
        foreach (var sample in _samples)
        {
            await sample.DisposeAsync();
        }
    }

    [Fact]
    public async Task Two_files_uploaded_through_the_page_both_reach_100_percent_and_both_toasts_show()
    {
        var app = await StartSampleAsync();
        var page = await OpenAsync(app.Urls.Single());
        var sockets = new List<string>();
        page.WebSocket += (_, socket) => { lock (sockets) { sockets.Add(socket.Url); } };

        await page.Locator("#files").SetInputFilesAsync([File("photo.jpg", 2_000_000), File("notes.txt", 300_000)]);

        await Assertions.Expect(page.Locator(".toast.success")).ToHaveCountAsync(2, new() { Timeout = 30_000 });
        foreach (var name in new[] { "photo.jpg", "notes.txt" })
        {
            var card = page.Locator(".upload", new() { HasText = name });
            await Assertions.Expect(card).ToHaveAttributeAsync("data-status", "complete");
            await Assertions.Expect(card.Locator(".percent")).ToHaveTextAsync("100%");
            await Assertions.Expect(card.Locator(".node .value")).ToHaveTextAsync(["100%", "100%"]);
            await Assertions.Expect(card.Locator(".outputs a")).ToHaveTextAsync(["checksum", "compressed"]);
        }

        await Assertions.Expect(page.Locator(".toast.success").First).ToContainTextAsync("Processing complete");
        lock (sockets)
        {
            sockets.Should().ContainSingle("the page watches all its files over one socket").Which.Should().EndWith("/uploadista/ws");
        }

        var screenshot = Path.Combine(BrowserFixture.ArtifactsDirectory(), "finished-page.png");
        await page.ScreenshotAsync(new() { Path = screenshot, FullPage = true, Animations = ScreenshotAnimations.Disabled });
        Measurements.Record($"Screenshot of the finished sample page: {screenshot}");
        _pageErrors.Should().BeEmpty();
    }

    [Fact]
    public async Task A_socket_dropped_by_the_server_mid_upload_reconnects_with_since_and_ends_in_the_true_state()
    {
        var app = await StartSampleAsync("--Sample:ReceiveBytesPerSecond=4000000");
        var page = await OpenAsync(app.Urls.Single());
        var sockets = new List<string>();
        var resumedFrom = new List<long>();
        page.WebSocket += (_, socket) =>
        {
            lock (sockets)
            {
                sockets.Add(socket.Url);
            }

            // The page's tracker subscribes by message; a resubscription names the seq it resumes after.
            socket.FrameSent += (_, frame) =>
            {
                using var json = JsonDocument.Parse(frame.Text!);
                if (json.RootElement.TryGetProperty("since", out var since))
                {
                    lock (resumedFrom)
                    {
                        resumedFrom.Add(since.GetInt64());
                    }
                }
            };
        };

        await page.Locator("#files").SetInputFilesAsync([File("slow.bin", 8_000_000)]);
        await page.WaitForFunctionAsync("() => parseInt(document.querySelector('.upload .percent')?.textContent ?? '0') >= 10", null, new() { Timeout = 30_000 });
        foreach (var emitter in app.Services.GetRequiredService<ConnectionTracker>().Snapshot())
        {
            emitter.Abort();
        }

        var card = page.Locator(".upload");
        await Assertions.Expect(card).ToHaveAttributeAsync("data-status", "complete", new() { Timeout = 30_000 });
        await Assertions.Expect(card.Locator(".percent")).ToHaveTextAsync("100%");
        await Assertions.Expect(page.Locator(".toast.success")).ToHaveCountAsync(1);
        lock (sockets)
        {
            sockets.Should().HaveCountGreaterThanOrEqualTo(2, "the page opened a new socket after the drop");
        }

        lock (resumedFrom)
        {
            resumedFrom.Should().NotBeEmpty("the upload was subscribed again on the new socket, with since").And.OnlyContain(since => since > 0);
        }

        _pageErrors.Should().BeEmpty();
    }

    [Fact]
    public async Task A_refused_socket_shows_an_error_and_never_retries()
    {
        var app = await StartSampleAsync();
        var page = await _context.NewPageAsync();
        page.PageError += (_, error) => { lock (_pageErrors) { _pageErrors.Add(error); } };
        await page.Clock.InstallAsync();
        var sockets = 0;
        page.WebSocket += (_, _) => Interlocked.Increment(ref sockets);

        // The create response carries a tampered token.
        await page.RouteAsync("**/api/uploads", async route =>
        {
            var response = await route.FetchAsync();
            var body = JsonNode.Parse(await response.TextAsync())!;
            body["token"] = "x" + body["token"]!.GetValue<string>()[1..];
            await route.FulfillAsync(new() { Response = response, Body = body.ToJsonString() });
        });
        await page.GotoAsync(app.Urls.Single());
        await page.Locator("#files").SetInputFilesAsync([File("secret.pdf", 1000)]);

        var card = page.Locator(".upload");
        await Assertions.Expect(card).ToHaveAttributeAsync("data-status", "failed", new() { Timeout = 30_000 });
        await Assertions.Expect(card.Locator(".message")).ToContainTextAsync("Not allowed to watch this upload");

        // Two minutes of the page's timers: any retry would have fired by now.
        await page.Clock.RunForAsync(120_000);
        sockets.Should().Be(1, "a refused client stops retrying");
        await Assertions.Expect(card.Locator(".percent")).ToHaveTextAsync("0%");
        _pageErrors.Should().BeEmpty();
    }

    [Fact]
    public async Task The_client_resumes_with_since_and_the_epoch_a_pong_named_and_starts_over_after_4010()
    {
        var app = await StartSampleAsync();
        var page = await OpenAsync(app.Urls.Single());

        // The module itself, driven through a scripted socket: which URLs it opens, what it sends.
        var opened = await page.EvaluateAsync<string[]>("""
            async () => {
              const { UploadistaEvents } = await import("/_content/Uploadista.Events/uploadista-events.js");
              const sockets = [];
              class ScriptedSocket {
                constructor(url) { this.url = url; this.sent = []; sockets.push(this); setTimeout(() => { this.onopen?.(); this.isOpen = true; }, 0); }
                send(text) { this.sent.push(JSON.parse(text)); }
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
              client.watchUpload("u1", {});
              let socket = await opened(1);
              for (const seq of [1, 2, 3]) socket.onmessage({ data: JSON.stringify({ type: "upload_progress", uploadId: "u1", seq }) });
              if (socket.sent.length !== 1 || socket.sent[0].type !== "ping") throw new Error("the client did not ask for the epoch once");
              socket.onmessage({ data: JSON.stringify({ type: "pong", timestamp: "2026-11-29T10:00:00.000Z", epoch: "1764410000.123456" }) });
              socket.onclose({ code: 1006 });
              socket = await opened(2);
              socket.onclose({ code: 4010, reason: "The channel started over" });
              await opened(3);
              return sockets.map((s) => s.url);
            }
            """);

        opened.Should().Equal(
            "ws://example.test/uploadista/ws/upload/u1",
            "ws://example.test/uploadista/ws/upload/u1?since=3&epoch=1764410000.123456",
            "ws://example.test/uploadista/ws/upload/u1");
        _pageErrors.Should().BeEmpty();
    }

    [Fact]
    public async Task A_page_served_by_one_instance_watches_an_upload_sent_to_another_through_redis()
    {
        var prefix = RedisFixture.UniquePrefix();
        var a = await StartSampleAsync("--redis", redis.Server.Configuration, $"--Uploadista:Events:Redis:ChannelPrefix={prefix}");
        var b = await StartSampleAsync("--redis", redis.Server.Configuration, $"--Uploadista:Events:Redis:ChannelPrefix={prefix}");
        var page = await OpenAsync($"{a.Urls.Single()}/?upload={b.Urls.Single()}");
        var sockets = new List<string>();
        var puts = new List<string>();
        page.WebSocket += (_, socket) => { lock (sockets) { sockets.Add(socket.Url); } };
        page.Request += (_, request) => { if (request.Method == "PUT") { lock (puts) { puts.Add(request.Url); } } };

        await page.Locator("#files").SetInputFilesAsync([File("elsewhere.bin", 500_000)]);

        await Assertions.Expect(page.Locator(".toast.success")).ToHaveCountAsync(1, new() { Timeout = 30_000 });
        await Assertions.Expect(page.Locator(".upload .percent")).ToHaveTextAsync("100%");
        sockets.Should().ContainSingle().Which.Should().StartWith(a.Urls.Single().Replace("http", "ws", StringComparison.Ordinal));
        puts.Should().ContainSingle().Which.Should().StartWith(b.Urls.Single());
        _pageErrors.Should().BeEmpty();
    }

    private async Task<WebApplication> StartSampleAsync(params string[] args)
    {
        var sample = await SampleServer.StartAsync([$"--Uploadista:Events:Tokens:SigningKeys:0={SharedKey}", .. args]);
        _samples.Add(sample);
        return sample.App;
    }

    private async Task<IPage> OpenAsync(string url)
    {
        var page = await _context.NewPageAsync();
        page.PageError += (_, error) => { lock (_pageErrors) { _pageErrors.Add(error); } };
        await page.GotoAsync(url);
        return page;
    }

    private static FilePayload File(string name, int size)
        => new() { Name = name, MimeType = "application/octet-stream", Buffer = RandomNumberGenerator.GetBytes(size) };
}
