using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Uploadista.Events.Tests.Infrastructure;

/// <summary>A real Kestrel server on a loopback port with Uploadista.Events mapped.</summary>
public sealed class EventsServer : IAsyncDisposable
{
    private EventsServer(WebApplication app)
    {
        App = app;
        BaseUri = new Uri(app.Urls.Single());
    }

    public WebApplication App { get; }

    public Uri BaseUri { get; }

    public IServiceProvider Services => App.Services;

    public IUploadistaEventPublisher Publisher => Services.GetRequiredService<IUploadistaEventPublisher>();

    public FakeLogCollector Logs => Services.GetFakeLogCollector();

    public static async Task<EventsServer> StartAsync(
        Action<UploadistaEventsOptions>? configure = null,
        Action<IServiceCollection>? services = null,
        Action<WebApplication>? map = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Services.AddFakeLogging();
        // Tests see every progress event they publish, unless they test throttling and set an interval.
        builder.Services.AddUploadistaEvents(options =>
        {
            options.ProgressInterval = TimeSpan.Zero;
            configure?.Invoke(options);
        });
        services?.Invoke(builder.Services);

        var app = builder.Build();
        if (map is null)
        {
            app.MapUploadistaWebSockets();
        }
        else
        {
            map(app);
        }

        await app.StartAsync(TestContext.Current.CancellationToken);
        return new EventsServer(app);
    }

    /// <summary>Starts a server whose broadcaster is Redis (a server or a cluster), under a key prefix of the test's own.</summary>
    public static Task<EventsServer> StartOnRedisAsync(string configuration, string prefix, Action<UploadistaEventsOptions>? configure = null)
        => StartAsync(configure, services: s => s.AddUploadistaEvents().AddRedis(o =>
        {
            o.Configuration = configuration;
            o.ChannelPrefix = prefix;
        }));

    public Uri WebSocketUri(string path) => new UriBuilder(BaseUri) { Scheme = "ws", Path = path.Split('?')[0], Query = path.Contains('?') ? path.Split('?', 2)[1] : string.Empty }.Uri;

    public Uri UploadSocketUri(string uploadId, string query = "") => WebSocketUri($"/uploadista/ws/upload/{uploadId}{query}");

    public Uri UploadStreamUri(string uploadId, string query = "") => new(BaseUri, $"/uploadista/sse/upload/{uploadId}{query}");

    public Uri FlowStreamUri(string jobId, string query = "") => new(BaseUri, $"/uploadista/sse/flow/{jobId}{query}");

    public Uri FlowSocketUri(string jobId, string query = "") => WebSocketUri($"/uploadista/ws/flow/{jobId}{query}");

    /// <summary>Opens a socket and waits until it has joined its channel (a ping answered proves it).</summary>
    public Task<TestSocket> JoinUploadAsync(string uploadId, string query = "") => TestSocket.ConnectAndJoinAsync(UploadSocketUri(uploadId, query));

    public Task<TestSocket> JoinFlowAsync(string jobId, string query = "") => TestSocket.ConnectAndJoinAsync(FlowSocketUri(jobId, query));

    /// <summary>After a bad client, proves the server still serves a good one: it joins, and gets an event.</summary>
    public async Task AssertStillServesAsync()
    {
        var uploadId = "healthy-" + Guid.NewGuid().ToString("N");
        await using var socket = await JoinUploadAsync(uploadId);
        await Publisher.PublishAsync(new UploadCompleteEvent { UploadId = uploadId, Url = "https://example.com/ok" });
        (await socket.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("upload_complete", "the server still serves other clients");
    }

    /// <summary>Like <see cref="AssertStillServesAsync"/>, with a token, on a server that requires them.</summary>
    public async Task AssertStillServesWithTokenAsync()
    {
        var uploadId = "healthy-" + Guid.NewGuid().ToString("N");
        var token = Services.GetRequiredService<ISubscriptionTokenIssuer>().CreateToken(SubscriptionKind.Upload, uploadId);
        await using var socket = await JoinUploadAsync(uploadId, $"?token={token}");
        await Publisher.PublishAsync(new UploadCompleteEvent { UploadId = uploadId, Url = "https://example.com/ok" });
        (await socket.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("upload_complete", "the server still serves other clients");
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync(CancellationToken.None);
        await App.DisposeAsync();
    }
}
