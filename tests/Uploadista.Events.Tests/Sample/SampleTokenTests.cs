using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Sample;

/// <summary>The sample's tokens: fresh ones for an upload's creator, and a mode without any.</summary>
public sealed class SampleTokenTests : IAsyncLifetime
{
    private readonly List<SampleServer> _samples = [];

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var sample in _samples)
        {
            await sample.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_creator_gets_a_fresh_token_that_opens_the_socket_after_the_first_one_expired()
    {
        var http = await StartAsync("--Uploadista:Events:Tokens:Lifetime=00:00:02");
        var created = await CreateAsync(http, "renew.txt", 3);
        var uploadId = created.GetProperty("uploadId").GetString()!;
        var first = created.GetProperty("token").GetString()!;
        created.GetProperty("tokenUrl").GetString().Should().Be($"/api/uploads/{uploadId}/token");

        // Wait until the first token has expired, then see it refused, as a socket reconnecting later would.
        var tokens = (SubscriptionTokens)_samples[^1].App.Services.GetRequiredService<ISubscriptionTokenIssuer>();
        await Eventually.HoldsAsync(() => tokens.Check(first, SubscriptionKind.Upload, uploadId) == SubscriptionDecision.Unauthenticated, "the first token has expired");
        await using (var stale = await TestSocket.ConnectAsync(SocketUri(http, uploadId, first)))
        {
            (await stale.ReceiveCloseAsync()).Should().Be((WebSocketCloseStatus)4401);
        }

        using var renewed = await http.PostAsJsonAsync(created.GetProperty("tokenUrl").GetString(), new { ownerKey = created.GetProperty("ownerKey").GetString() }, TestContext.Current.CancellationToken);

        renewed.StatusCode.Should().Be(HttpStatusCode.OK);
        var fresh = (await renewed.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken)).GetProperty("token").GetString()!;
        fresh.Should().NotBe(first);
        await using var reopened = await TestSocket.ConnectAndJoinAsync(SocketUri(http, uploadId, fresh));
        (await http.PutAsync($"/api/uploads/{uploadId}", new ByteArrayContent([1, 2, 3]), TestContext.Current.CancellationToken)).EnsureSuccessStatusCode();
        (await reopened.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("upload_started");
    }

    [Fact]
    public async Task Only_the_creator_gets_fresh_tokens()
    {
        var http = await StartAsync();
        var mine = await CreateAsync(http, "mine.txt", 3);
        var theirs = await CreateAsync(http, "theirs.txt", 3);
        var url = mine.GetProperty("tokenUrl").GetString();

        foreach (var (body, expected) in new (object?, HttpStatusCode)[]
        {
            (new { ownerKey = theirs.GetProperty("ownerKey").GetString() }, HttpStatusCode.Forbidden),
            (new { ownerKey = "" }, HttpStatusCode.Forbidden),
            (new { }, HttpStatusCode.Forbidden),
        })
        {
            using var response = await http.PostAsJsonAsync(url, body, TestContext.Current.CancellationToken);
            response.StatusCode.Should().Be(expected, $"the body was {JsonSerializer.Serialize(body)}");
        }

        using var unknown = await http.PostAsJsonAsync("/api/uploads/no-such-upload/token", new { ownerKey = mine.GetProperty("ownerKey").GetString() }, TestContext.Current.CancellationToken);
        unknown.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task With_tokens_off_a_plain_socket_with_no_token_watches_a_whole_upload()
    {
        var http = await StartAsync("--Sample:RequireTokens=false");
        var created = await CreateAsync(http, "open.bin", 100_000);
        var uploadId = created.GetProperty("uploadId").GetString()!;
        created.GetProperty("token").ValueKind.Should().Be(JsonValueKind.Null);
        created.GetProperty("eventsUrl").GetString().Should().Be($"/uploadista/ws/upload/{uploadId}");

        // As a page that knows nothing of tokens opens it: new WebSocket(`.../uploadista/ws/upload/${uploadId}`).
        await using var socket = await TestSocket.ConnectAndJoinAsync(SocketUri(http, uploadId, token: null));
        using var put = await http.PutAsync($"/api/uploads/{uploadId}", new ByteArrayContent(new byte[100_000]), TestContext.Current.CancellationToken);
        put.StatusCode.Should().Be(HttpStatusCode.OK);

        var types = new List<string?>();
        do
        {
            types.Add((await socket.ReceiveJsonAsync()).GetProperty("type").GetString());
        }
        while (types[^1] is not ("flow_complete" or "flow_error" or "upload_error"));

        types.Should().StartWith(["upload_started"]).And.EndWith(["flow_complete"]).And.Contain(["upload_progress", "upload_complete", "flow_started", "flow_progress"]);
    }

    private async Task<HttpClient> StartAsync(params string[] args)
    {
        var sample = await SampleServer.StartAsync(args);
        _samples.Add(sample);
        return sample.Http;
    }

    private static async Task<JsonElement> CreateAsync(HttpClient http, string filename, long size)
    {
        using var response = await http.PostAsJsonAsync("/api/uploads", new { filename, size }, TestContext.Current.CancellationToken);
        response.StatusCode.Should().Be(HttpStatusCode.Created);
        return await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
    }

    private static Uri SocketUri(HttpClient http, string uploadId, string? token)
        => new UriBuilder(http.BaseAddress!) { Scheme = "ws", Path = $"/uploadista/ws/upload/{uploadId}", Query = token is null ? string.Empty : $"token={token}" }.Uri;
}
