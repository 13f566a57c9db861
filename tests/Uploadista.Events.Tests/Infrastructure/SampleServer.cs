using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Uploadista.Events.Sample;

namespace Uploadista.Events.Tests.Infrastructure;

/// <summary>The sample application on a loopback port, with a storage folder of its own, driven through its HTTP API.</summary>
public sealed class SampleServer : IAsyncDisposable
{
    private readonly string _storage;

    private SampleServer(WebApplication app, string storage)
    {
        App = app;
        _storage = storage;
        Http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };
    }

    public WebApplication App { get; }

    public HttpClient Http { get; }

    /// <summary>Starts the sample with its command line, plus <paramref name="args"/>.</summary>
    public static async Task<SampleServer> StartAsync(params string[] args)
    {
        var storage = Directory.CreateTempSubdirectory("uploadista-sample").FullName;
        var app = SampleApp.Create(["--urls", "http://127.0.0.1:0", $"--Sample:StorageDirectory={storage}", "--Logging:LogLevel:Default=Warning", .. args]);
        await app.StartAsync(TestContext.Current.CancellationToken);
        return new SampleServer(app, storage);
    }

    /// <summary>Creates an upload through <c>POST /api/uploads</c>, checking the answer's shape.</summary>
    public async Task<(string UploadId, string Token)> CreateUploadAsync(string filename, long size)
    {
        using var response = await Http.PostAsJsonAsync("/api/uploads", new { filename, size }, TestContext.Current.CancellationToken);
        response.StatusCode.Should().Be(HttpStatusCode.Created);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        var uploadId = body.GetProperty("uploadId").GetString()!;
        var token = body.GetProperty("token").GetString()!;
        response.Headers.Location!.ToString().Should().Be($"/api/uploads/{uploadId}");
        body.GetProperty("eventsUrl").GetString().Should().Be($"/uploadista/ws/upload/{uploadId}?token={token}");
        return (uploadId, token);
    }

    /// <summary>An address on the sample: <paramref name="scheme"/> <c>ws</c> for sockets, <c>http</c> for streams.</summary>
    public Uri Address(string scheme, string path, string? token)
        => new UriBuilder(Http.BaseAddress!) { Scheme = scheme, Path = path, Query = token is null ? string.Empty : $"token={Uri.EscapeDataString(token)}" }.Uri;

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync(CancellationToken.None);
        await App.DisposeAsync();
        Directory.Delete(_storage, recursive: true);
    }
}
