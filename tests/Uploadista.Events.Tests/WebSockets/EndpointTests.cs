using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.WebSockets;

/// <summary>Routes, refusals before the upgrade, custom mounting and shutdown.</summary>
public sealed class EndpointTests
{
    public static TheoryData<string> InvalidIdPaths => new()
    {
        "/uploadista/ws/upload/",
        "/uploadista/ws/upload",
        "/uploadista/ws/flow/",
        "/uploadista/ws/upload/a%20b",
        "/uploadista/ws/upload/a%2Fb",
        "/uploadista/ws/upload/a%2F..%2Fb",
        "/uploadista/ws/flow/job$1",
        "/uploadista/ws/upload/caf%C3%A9",
        "/uploadista/ws/upload/" + new string('a', 129),
    };

    [Theory]
    [MemberData(nameof(InvalidIdPaths))]
    public async Task Invalid_id_is_refused_with_400_before_any_upgrade(string path)
    {
        await using var server = await EventsServer.StartAsync();

        var plain = await Http(server).GetAsync(path, TestContext.Current.CancellationToken);
        plain.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await ErrorOf(plain)).Should().Be("invalid_id");

        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        var connect = () => socket.ConnectAsync(server.WebSocketUri(path), TestContext.Current.CancellationToken);
        await connect.Should().ThrowAsync<WebSocketException>();
        socket.HttpStatusCode.Should().Be(HttpStatusCode.BadRequest);
        await server.AssertStillServesAsync();
    }

    [Fact]
    public async Task Longest_valid_id_with_every_allowed_character_is_accepted()
    {
        await using var server = await EventsServer.StartAsync();
        var id = ("AZaz09._~-" + new string('x', 128))[..128];

        await using var socket = await server.JoinUploadAsync(id);
        await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = id, Error = "e" }, TestContext.Current.CancellationToken);

        (await socket.ReceiveJsonAsync()).GetProperty("uploadId").GetString().Should().Be(id);
    }

    [Theory]
    [InlineData("/uploadista/ws/upload/abc")]
    [InlineData("/uploadista/ws/flow/job-1")]
    public async Task Plain_http_gets_426_with_a_json_reason(string path)
    {
        await using var server = await EventsServer.StartAsync();

        using var response = await Http(server).GetAsync(path, TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.UpgradeRequired);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
        (await ErrorOf(response)).Should().Be("websocket_required");
        await server.AssertStillServesAsync();
    }

    [Theory]
    [InlineData("?since=-1")]
    [InlineData("?since=abc")]
    [InlineData("?since=1&since=2")]
    public async Task Bad_since_is_refused_with_400(string query)
    {
        await using var server = await EventsServer.StartAsync();

        using var response = await Http(server).GetAsync("/uploadista/ws/upload/abc" + query, TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await ErrorOf(response)).Should().Be("invalid_since");
    }

    [Fact]
    public async Task Prefix_is_configurable()
    {
        await using var server = await EventsServer.StartAsync(o => o.PathPrefix = "/events/v1");

        await using var socket = await TestSocket.ConnectAndJoinAsync(server.WebSocketUri("/events/v1/ws/upload/u1"));
        var old = await Http(server).GetAsync("/uploadista/ws/upload/u1", TestContext.Current.CancellationToken);

        old.StatusCode.Should().Be(HttpStatusCode.NotFound);
        socket.Socket.State.Should().Be(WebSocketState.Open);
    }

    [Fact]
    public async Task Prefix_given_when_mapping_wins_over_the_options()
    {
        await using var server = await EventsServer.StartAsync(map: app => app.MapUploadistaWebSockets("/live"));

        await using var upload = await TestSocket.ConnectAndJoinAsync(server.WebSocketUri("/live/ws/upload/u1"));
        await using var job = await TestSocket.ConnectAndJoinAsync(server.WebSocketUri("/live/ws/flow/j1"));
        var old = await Http(server).GetAsync("/uploadista/ws/upload/u1", TestContext.Current.CancellationToken);

        old.StatusCode.Should().Be(HttpStatusCode.NotFound);
        await server.Publisher.PublishAsync(new FlowStartedEvent { JobId = "j1", UploadId = "u1", FlowName = "f" }, TestContext.Current.CancellationToken);
        (await upload.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("flow_started");
        (await job.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("flow_started");
    }

    [Theory]
    [InlineData("live")]
    [InlineData("/live/")]
    [InlineData("/{tenant}")]
    public async Task Prefix_given_when_mapping_is_checked(string prefix)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddUploadistaEvents();
        await using var app = builder.Build();

        var map = () => app.MapUploadistaWebSockets(prefix);

        map.Should().Throw<ArgumentException>().WithParameterName(nameof(prefix)).WithMessage("*must start with '/'*");
    }

    [Fact]
    public async Task Handler_mounts_on_routes_of_your_own()
    {
        await using var server = await EventsServer.StartAsync(map: app =>
        {
            app.Map("/custom/{uploadId}/live", UploadistaWebSocketHandler.HandleAsync);
            app.Map("/jobs/{jobId}/live", UploadistaWebSocketHandler.HandleAsync);
        });

        await using var upload = await TestSocket.ConnectAndJoinAsync(server.WebSocketUri("/custom/u9/live"));
        await using var job = await TestSocket.ConnectAndJoinAsync(server.WebSocketUri("/jobs/j9/live"));
        await server.Publisher.PublishAsync(new FlowStartedEvent { JobId = "j9", UploadId = "u9", FlowName = "f" }, TestContext.Current.CancellationToken);

        (await upload.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("flow_started");
        (await job.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("flow_started");
    }

    [Fact]
    public async Task Handler_on_a_route_without_an_id_parameter_says_what_is_wrong()
    {
        await using var server = await EventsServer.StartAsync(map: app => app.Map("/no-id", UploadistaWebSocketHandler.HandleAsync));
        var context = new DefaultHttpContext { RequestServices = server.Services };

        var handle = () => UploadistaWebSocketHandler.HandleAsync(context);

        await handle.Should().ThrowAsync<InvalidOperationException>().WithMessage("*{uploadId}*{jobId}*");
    }

    [Fact]
    public async Task Endpoint_conventions_chain_on_what_mapping_returns()
    {
        await using var server = await EventsServer.StartAsync(
            services: s =>
            {
                s.AddAuthentication().AddBearerToken();
                s.AddAuthorization();
                s.AddCors(cors => cors.AddPolicy("site", p => p.WithOrigins("https://app.example.com")));
            },
            map: app => app.MapUploadistaWebSockets().RequireAuthorization().RequireCors("site"));

        using var plain = await Http(server).GetAsync("/uploadista/ws/upload/abc", TestContext.Current.CancellationToken);
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        var connect = () => socket.ConnectAsync(server.UploadSocketUri("abc"), TestContext.Current.CancellationToken);

        plain.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        await connect.Should().ThrowAsync<WebSocketException>();
        socket.HttpStatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Shutdown_closes_every_socket_with_1001()
    {
        var server = await EventsServer.StartAsync();
        var upload = await server.JoinUploadAsync("s1");
        var job = await server.JoinFlowAsync("s2");
        var closes = new[] { upload.ReceiveCloseAsync(), job.ReceiveCloseAsync() };

        var stop = server.App.StopAsync(TestContext.Current.CancellationToken);

        (await Task.WhenAll(closes)).Should().AllBeEquivalentTo(WebSocketCloseStatus.EndpointUnavailable);
        upload.Socket.CloseStatusDescription.Should().Be("Server shutting down");
        await stop;
        await server.App.DisposeAsync();
    }

    private static HttpClient Http(EventsServer server) => new() { BaseAddress = server.BaseUri };

    private static async Task<string?> ErrorOf(HttpResponseMessage response)
    {
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        body.GetProperty("message").GetString().Should().NotBeNullOrWhiteSpace();
        return body.GetProperty("error").GetString();
    }
}
