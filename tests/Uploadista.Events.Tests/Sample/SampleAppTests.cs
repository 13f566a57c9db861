using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Sample;

/// <summary>The sample upload service, driven through its real HTTP API and WebSockets.</summary>
public sealed class SampleAppTests : IAsyncLifetime
{
    private SampleServer _sample = null!;

    public async ValueTask InitializeAsync() => _sample = await SampleServer.StartAsync();

    public ValueTask DisposeAsync() => _sample.DisposeAsync();

    [Fact]
    public async Task Upload_and_processing_stream_the_whole_event_sequence()
    {
        var data = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        var (uploadId, token) = await _sample.CreateUploadAsync("holiday photo.jpg", data.Length);
        await using var socket = await TestSocket.ConnectAndJoinAsync(SocketUri($"/uploadista/ws/upload/{uploadId}", token));

        using var put = await _sample.Http.PutAsync($"/api/uploads/{uploadId}", new ByteArrayContent(data), TestContext.Current.CancellationToken);
        put.StatusCode.Should().Be(HttpStatusCode.OK);
        var sent = await put.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        var jobId = sent.GetProperty("jobId").GetString();

        var frames = new List<JsonElement>();
        do
        {
            frames.Add(await socket.ReceiveJsonAsync());
        }
        while (frames[^1].GetProperty("type").GetString() is not ("flow_complete" or "flow_error" or "upload_error"));

        frames.Select(f => f.GetProperty("seq").GetInt64()).Should().Equal(Enumerable.Range(1, frames.Count).Select(i => (long)i));
        var types = frames.Select(f => f.GetProperty("type").GetString()).ToList();
        types[0].Should().Be("upload_started");
        frames[0].GetProperty("filename").GetString().Should().Be("holiday photo.jpg");
        frames[0].GetProperty("size").GetInt64().Should().Be(data.Length);

        var uploadProgress = frames.Where(f => f.GetProperty("type").GetString() == "upload_progress").ToList();
        uploadProgress.Should().NotBeEmpty();
        uploadProgress.Select(f => f.GetProperty("bytesUploaded").GetInt64()).Should().BeInAscendingOrder();
        uploadProgress[^1].GetProperty("progress").GetDouble().Should().Be(1);
        uploadProgress[^1].GetProperty("bytesUploaded").GetInt64().Should().Be(data.Length);
        types.IndexOf("upload_complete").Should().Be(types.LastIndexOf("upload_progress") + 1);

        var complete = frames.Single(f => f.GetProperty("type").GetString() == "upload_complete");
        var fileUrl = complete.GetProperty("url").GetString()!;
        types[types.IndexOf("upload_complete") + 1].Should().Be("flow_started");
        frames.Single(f => f.GetProperty("type").GetString() == "flow_started").GetProperty("jobId").GetString().Should().Be(jobId);

        foreach (var node in new[] { "checksum", "compressed" })
        {
            var progress = frames.Where(f => f.GetProperty("type").GetString() == "flow_progress" && f.GetProperty("nodeId").GetString() == node)
                .Select(f => f.GetProperty("progress").GetDouble()).ToList();
            progress.Should().StartWith(0).And.EndWith(1).And.BeInAscendingOrder();
        }

        types[^1].Should().Be("flow_complete");
        var outputs = frames[^1].GetProperty("outputs");
        (await _sample.Http.GetByteArrayAsync(fileUrl, TestContext.Current.CancellationToken)).Should().Equal(data);
        (await _sample.Http.GetStringAsync(outputs.GetProperty("checksum").GetString(), TestContext.Current.CancellationToken))
            .Should().StartWith(Convert.ToHexStringLower(SHA256.HashData(data)));
        await using var gzip = new GZipStream(await _sample.Http.GetStreamAsync(outputs.GetProperty("compressed").GetString(), TestContext.Current.CancellationToken), CompressionMode.Decompress);
        using var unzipped = new MemoryStream();
        await gzip.CopyToAsync(unzipped, TestContext.Current.CancellationToken);
        unzipped.ToArray().Should().Equal(data);

        // A socket opened on the job afterwards still learns how it went: the retained events.
        await using var late = await TestSocket.ConnectAsync(SocketUri($"/uploadista/ws/flow/{jobId}", sent.GetProperty("jobToken").GetString()!));
        var replay = new List<string?>();
        for (var i = 0; i < 4; i++)
        {
            var frame = await late.ReceiveJsonAsync();
            replay.Add($"{frame.GetProperty("type").GetString()}:{(frame.TryGetProperty("nodeId", out var n) ? n.GetString() + "@" + frame.GetProperty("progress").GetDouble() : string.Empty)}");
        }

        replay.Should().Equal("flow_started:", "flow_progress:checksum@1", "flow_progress:compressed@1", "flow_complete:");
    }

    [Fact]
    public async Task A_body_shorter_than_declared_ends_in_upload_error()
    {
        var (uploadId, token) = await _sample.CreateUploadAsync("short.bin", 1000);
        await using var socket = await TestSocket.ConnectAndJoinAsync(SocketUri($"/uploadista/ws/upload/{uploadId}", token));

        using var put = await _sample.Http.PutAsync($"/api/uploads/{uploadId}", new ByteArrayContent(new byte[10]), TestContext.Current.CancellationToken);

        put.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await socket.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("upload_started");
        var error = await socket.ReceiveJsonAsync();
        error.GetProperty("type").GetString().Should().Be("upload_error");
        error.GetProperty("error").GetString().Should().Be("The request body is 10 bytes but the upload was declared as 1000 bytes.");
    }

    [Fact]
    public async Task Sending_an_upload_twice_is_a_conflict()
    {
        var (uploadId, _) = await _sample.CreateUploadAsync("twice.txt", 3);
        (await _sample.Http.PutAsync($"/api/uploads/{uploadId}", new ByteArrayContent([1, 2, 3]), TestContext.Current.CancellationToken)).StatusCode.Should().Be(HttpStatusCode.OK);

        var again = await _sample.Http.PutAsync($"/api/uploads/{uploadId}", new ByteArrayContent([1, 2, 3]), TestContext.Current.CancellationToken);

        again.StatusCode.Should().Be(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Only_the_creators_token_opens_an_uploads_socket()
    {
        var (uploadId, _) = await _sample.CreateUploadAsync("private.txt", 3);
        var (_, otherToken) = await _sample.CreateUploadAsync("other.txt", 3);

        foreach (var (token, expected) in new[] { (string.Empty, 4401), (otherToken, 4403) })
        {
            await using var socket = await TestSocket.ConnectAsync(SocketUri($"/uploadista/ws/upload/{uploadId}", token));
            (await socket.ReceiveCloseAsync()).Should().Be((System.Net.WebSockets.WebSocketCloseStatus)expected);
        }
    }

    [Theory]
    [InlineData("""{"size":10}""")]
    [InlineData("""{"filename":"a.txt","size":-1}""")]
    [InlineData("""{"filename":"a.txt"}""")]
    public async Task Creating_an_upload_with_bad_input_is_a_400(string body)
    {
        using var response = await _sample.Http.PostAsync("/api/uploads", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task The_page_and_its_script_are_served_and_the_browser_client_comes_from_the_library()
    {
        var page = await _sample.Http.GetStringAsync("/", TestContext.Current.CancellationToken);
        var script = await _sample.Http.GetStringAsync("/app.js", TestContext.Current.CancellationToken);
        using var client = await _sample.Http.GetAsync("/_content/Uploadista.Events/uploadista-events.js", TestContext.Current.CancellationToken);

        page.Should().Contain("app.js");
        script.Should().Contain("\"/_content/Uploadista.Events/uploadista-events.js\"");
        client.StatusCode.Should().Be(HttpStatusCode.OK);
        client.Content.Headers.ContentType!.MediaType.Should().Be("text/javascript");

        // The one copy in src/browser, the file the npm package ships, served as the library's static web asset.
        (await client.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).ReplaceLineEndings()
            .Should().Be((await File.ReadAllTextAsync(BrowserPackage.File("uploadista-events.js"), TestContext.Current.CancellationToken)).ReplaceLineEndings());
    }

    private Uri SocketUri(string path, string token) => _sample.Address("ws", path, token.Length > 0 ? token : null);
}
