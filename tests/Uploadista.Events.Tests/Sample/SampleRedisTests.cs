using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Uploadista.Events.Sample;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Sample;

/// <summary>Two sample instances started with --redis: a file uploaded to one is watched on the other.</summary>
public sealed class SampleRedisTests(RedisFixture redis) : IClassFixture<RedisFixture>, IDisposable
{
    private readonly string _storage = Directory.CreateTempSubdirectory("uploadista-sample-redis").FullName;

    public void Dispose() => Directory.Delete(_storage, recursive: true);

    [Fact]
    public async Task Upload_to_one_instance_is_watched_live_on_the_other()
    {
        var prefix = RedisFixture.UniquePrefix();
        await using var a = await StartAsync(prefix);
        await using var b = await StartAsync(prefix);
        using var http = new HttpClient { BaseAddress = new Uri(a.Urls.Single()) };

        using var created = await http.PostAsJsonAsync("/api/uploads", new { filename = "cross.bin", size = 100_000 });
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        var uploadId = body.GetProperty("uploadId").GetString();

        // The token from instance A opens the socket on instance B: they share the signing key.
        await using var socket = await TestSocket.ConnectAndJoinAsync(new UriBuilder(b.Urls.Single()) { Scheme = "ws", Path = $"/uploadista/ws/upload/{uploadId}", Query = $"token={body.GetProperty("token").GetString()}" }.Uri);
        using var put = await http.PutAsync($"/api/uploads/{uploadId}", new ByteArrayContent(new byte[100_000]));
        put.StatusCode.Should().Be(HttpStatusCode.OK);

        var types = new List<string?>();
        do
        {
            types.Add((await socket.ReceiveJsonAsync()).GetProperty("type").GetString());
        }
        while (types[^1] is not ("flow_complete" or "flow_error"));

        types.Should().StartWith(["upload_started"]).And.EndWith(["flow_complete"]).And.Contain(["upload_progress", "upload_complete", "flow_started", "flow_progress"]);
    }

    private static readonly string SharedKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    private async Task<WebApplication> StartAsync(string prefix)
    {
        var storage = Path.Combine(_storage, Guid.NewGuid().ToString("N"));
        var app = SampleApp.Create(["--urls", "http://127.0.0.1:0", "--redis", redis.Server.Configuration, $"--Uploadista:Events:Redis:ChannelPrefix={prefix}", $"--Uploadista:Events:Tokens:SigningKeys:0={SharedKey}", $"--Sample:StorageDirectory={storage}", "--Logging:LogLevel:Default=Warning"]);
        await app.StartAsync(TestContext.Current.CancellationToken);
        return app;
    }
}
