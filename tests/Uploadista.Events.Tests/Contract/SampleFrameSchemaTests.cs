using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Contract;

/// <summary>
/// Every frame the sample application sends for real uploads, over every transport (a socket of the
/// upload's own, the multiplexed socket, Server-Sent Events), matches docs/schema.
/// </summary>
public sealed class SampleFrameSchemaTests : IAsyncLifetime
{
    private static readonly string[] LastTypes = ["flow_complete", "flow_error", "upload_error"];

    private SampleServer _sample = null!;

    public async ValueTask InitializeAsync() => _sample = await SampleServer.StartAsync();

    public ValueTask DisposeAsync() => _sample.DisposeAsync();

    [Fact]
    public async Task Every_frame_of_an_upload_and_its_processing_matches_the_schemas()
    {
        var data = RandomNumberGenerator.GetBytes(1024 * 1024 + 5);
        var (uploadId, token) = await _sample.CreateUploadAsync("schema photo.jpg", data.Length);
        var (failedId, failedToken) = await _sample.CreateUploadAsync("short.bin", 1000);

        await using var own = await TestSocket.ConnectAsync(_sample.Address("ws", $"/uploadista/ws/upload/{uploadId}", token));
        await own.SendAsync("""{"type":"ping"}""");
        var frames = new List<string> { await own.ReceiveTextAsync() };

        await using var multiplexed = await TestSocket.ConnectAsync(_sample.Address("ws", "/uploadista/ws", null));
        foreach (var (id, idToken) in new[] { (uploadId, token), (failedId, failedToken) })
        {
            await multiplexed.SendAsync(JsonSerializer.Serialize(new { type = "subscribe", uploadId = id, token = idToken }));
            frames.Add(await multiplexed.ReceiveTextAsync());
        }

        await multiplexed.SendAsync("""{"type":"subscribe","uploadId":"not/valid"}""");
        await multiplexed.SendAsync("""{"type":"ping"}""");
        frames.Add(await multiplexed.ReceiveTextAsync());
        frames.Add(await multiplexed.ReceiveTextAsync());

        await using var stream = await EventStreamClient.ConnectAsync(_sample.Address("http", $"/uploadista/sse/upload/{uploadId}", token));
        stream.Response.StatusCode.Should().Be(HttpStatusCode.OK);

        using (var put = await _sample.Http.PutAsync($"/api/uploads/{uploadId}", new ByteArrayContent(data), TestContext.Current.CancellationToken))
        {
            put.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        using (var shortPut = await _sample.Http.PutAsync($"/api/uploads/{failedId}", new ByteArrayContent(new byte[10]), TestContext.Current.CancellationToken))
        {
            shortPut.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        }

        frames.AddRange(await ReceiveUntilLastAsync(own, 1));
        frames.AddRange(await ReceiveUntilLastAsync(multiplexed, 2));
        while ((await stream.ReceiveEventAsync()) is var message && !LastTypes.Contains(message.Event))
        {
            frames.Add(message.Data);
        }

        await multiplexed.SendAsync(JsonSerializer.Serialize(new { type = "unsubscribe", uploadId }));
        frames.Add(await multiplexed.ReceiveTextAsync());

        // The test clients have checked each frame as it came; this says so, and which kinds were seen.
        frames.Should().AllSatisfy(frame => FrameSchemaValidator.ServerFrame(frame));
        var types = frames.Select(f => JsonDocument.Parse(f).RootElement.GetProperty("type").GetString()).ToHashSet();
        types.Should().Contain(["pong", "subscribed", "subscription_refused", "unsubscribed", "upload_started", "upload_progress", "upload_complete", "upload_error", "flow_started", "flow_progress"]);
    }

    /// <summary>Reads until <paramref name="count"/> subscriptions have had their last event, and returns every frame read.</summary>
    private static async Task<List<string>> ReceiveUntilLastAsync(TestSocket socket, int count)
    {
        var frames = new List<string>();
        while (count > 0)
        {
            frames.Add(await socket.ReceiveTextAsync());
            if (LastTypes.Contains(JsonDocument.Parse(frames[^1]).RootElement.GetProperty("type").GetString()))
            {
                count--;
            }
        }

        return frames;
    }
}
