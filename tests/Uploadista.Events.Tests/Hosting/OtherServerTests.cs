using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Hosting;

/// <summary>
/// The WebSocket path on the hosts it is used with besides Kestrel over HTTP/1.1: TestServer (how
/// ASP.NET Core apps are integration-tested), where the transport cannot be captured and frames go
/// through the socket's own SendAsync; and Kestrel over HTTP/2 (extended CONNECT, RFC 8441).
/// </summary>
public sealed class OtherServerTests
{
    [Fact]
    public async Task The_sample_under_WebApplicationFactory_streams_a_whole_upload()
    {
        var storage = Directory.CreateTempSubdirectory("uploadista-factory-test").FullName;
        try
        {
            await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(host => host
                .UseSetting("Sample:StorageDirectory", storage)
                .UseSetting("Logging:LogLevel:Default", "Warning"));
            using var http = factory.CreateClient();
            var data = RandomNumberGenerator.GetBytes(1024 * 1024 + 3);
            using var created = await http.PostAsJsonAsync("/api/uploads", new { filename = "factory.bin", size = data.Length }, TestContext.Current.CancellationToken);
            created.StatusCode.Should().Be(HttpStatusCode.Created);
            var body = await created.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);

            var client = factory.Server.CreateWebSocketClient();
            var uri = new Uri(factory.Server.BaseAddress, body.GetProperty("eventsUrl").GetString());
            using var socket = await client.ConnectAsync(new UriBuilder(uri) { Scheme = "ws" }.Uri, TestContext.Current.CancellationToken);
            await PingAsync(socket); // joined: the pong is held until the join is complete

            using var put = await http.PutAsync($"/api/uploads/{body.GetProperty("uploadId").GetString()}", new ByteArrayContent(data), TestContext.Current.CancellationToken);
            put.StatusCode.Should().Be(HttpStatusCode.OK);

            var frames = new List<JsonElement>();
            do
            {
                frames.Add(await ReceiveJsonAsync(socket));
            }
            while (frames[^1].GetProperty("type").GetString() is not ("flow_complete" or "flow_error" or "upload_error"));

            frames[0].GetProperty("type").GetString().Should().Be("upload_started");
            frames.Select(f => f.GetProperty("type").GetString()).Should().Contain(["upload_progress", "upload_complete", "flow_started"]);
            frames[^1].GetProperty("type").GetString().Should().Be("flow_complete");
            frames.Select(f => f.GetProperty("seq").GetInt64()).Should().Equal(Enumerable.Range(1, frames.Count).Select(i => (long)i));
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, TestContext.Current.CancellationToken);
        }
        finally
        {
            Directory.Delete(storage, recursive: true);
        }
    }

    [Fact]
    public async Task A_websocket_over_http2_gets_its_events_and_pongs()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Logging.ClearProviders();
        builder.Services.AddUploadistaEvents(o => o.ProgressInterval = TimeSpan.Zero);
        await using var app = builder.Build();
        app.MapUploadistaWebSockets();
        await app.StartAsync(TestContext.Current.CancellationToken);
        var publisher = app.Services.GetRequiredService<IUploadistaEventPublisher>();

        using var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        socket.Options.CollectHttpResponseDetails = true;
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());
        var uri = new UriBuilder(app.Urls.Single()) { Scheme = "ws", Path = "/uploadista/ws/upload/over-h2" }.Uri;
        await socket.ConnectAsync(uri, invoker, TestContext.Current.CancellationToken);
        socket.HttpStatusCode.Should().Be(HttpStatusCode.OK, "an HTTP/2 WebSocket is accepted with 200, not 101");
        await PingAsync(socket);

        for (var i = 1; i <= 50; i++)
        {
            await publisher.PublishAsync(new UploadErrorEvent { UploadId = "over-h2", Error = $"{i}" }, TestContext.Current.CancellationToken);
        }

        for (var i = 1; i <= 50; i++)
        {
            var frame = await ReceiveJsonAsync(socket);
            (frame.GetProperty("seq").GetInt64(), frame.GetProperty("error").GetString()).Should().Be((i, $"{i}"));
        }

        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, TestContext.Current.CancellationToken);
        socket.CloseStatus.Should().Be(WebSocketCloseStatus.NormalClosure);
    }

    [Fact]
    public async Task Over_http2_more_bytes_a_second_than_allowed_are_closed_with_1008()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Logging.ClearProviders();
        builder.Services.AddUploadistaEvents(o =>
        {
            o.MaxInboundMessageBytes = 4096;
            o.MaxInboundBytesPerSecond = 4096;
        });
        await using var app = builder.Build();
        app.MapUploadistaWebSockets();
        await app.StartAsync(TestContext.Current.CancellationToken);

        using var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());
        var uri = new UriBuilder(app.Urls.Single()) { Scheme = "ws", Path = "/uploadista/ws/upload/h2-bytes" }.Uri;
        await socket.ConnectAsync(uri, invoker, TestContext.Current.CancellationToken);

        // Two messages within the message limits, over the byte budget together: the transport of an
        // HTTP/2 stream is metered as well.
        var big = Encoding.UTF8.GetBytes($$"""{"type":"note","text":"{{new string('x', 3000)}}"}""");
        await socket.SendAsync(big, WebSocketMessageType.Text, true, TestContext.Current.CancellationToken);
        await socket.SendAsync(big, WebSocketMessageType.Text, true, TestContext.Current.CancellationToken);

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(10));
        var result = await socket.ReceiveAsync(new byte[1024], deadline.Token);
        result.MessageType.Should().Be(WebSocketMessageType.Close);
        result.CloseStatus.Should().Be(WebSocketCloseStatus.PolicyViolation);
    }

    private static async Task PingAsync(WebSocket socket)
    {
        await socket.SendAsync("""{"type":"ping"}"""u8.ToArray(), WebSocketMessageType.Text, true, TestContext.Current.CancellationToken);
        (await ReceiveJsonAsync(socket)).GetProperty("type").GetString().Should().Be("pong");
    }

    private static async Task<JsonElement> ReceiveJsonAsync(WebSocket socket)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(15));
        var buffer = new byte[64 * 1024];
        var length = 0;
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(length), deadline.Token);
            result.MessageType.Should().Be(WebSocketMessageType.Text, "the server sends events, not a close");
            length += result.Count;
            if (result.EndOfMessage)
            {
                var text = Encoding.UTF8.GetString(buffer, 0, length);
                FrameSchemaValidator.ServerFrame(text);
                return JsonDocument.Parse(text).RootElement.Clone();
            }
        }
    }
}
