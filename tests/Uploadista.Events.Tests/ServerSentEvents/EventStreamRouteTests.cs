using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.ServerSentEvents;

/// <summary><see cref="UploadistaWebSocketHandler.HandleEventStreamAsync"/> on routes of the application's own, against real Kestrel.</summary>
public sealed class EventStreamRouteTests
{
    [Fact]
    public async Task The_stream_handler_mounts_on_routes_of_your_own_under_the_same_rules()
    {
        await using var server = await EventsServer.StartAsync(o => o.MaxConnectionsPerChannel = 1, map: app =>
        {
            app.MapGet("/custom/{uploadId}/stream", UploadistaWebSocketHandler.HandleEventStreamAsync);
            app.MapGet("/jobs/{jobId}/stream", UploadistaWebSocketHandler.HandleEventStreamAsync);
        });

        await using var upload = await EventStreamClient.ConnectAsync(new Uri(server.BaseUri, "/custom/u9/stream"));
        await using var job = await EventStreamClient.ConnectAsync(new Uri(server.BaseUri, "/jobs/j9/stream"));
        upload.Response.Content.Headers.ContentType!.MediaType.Should().Be("text/event-stream");
        await server.Publisher.PublishAsync(new FlowStartedEvent { JobId = "j9", UploadId = "u9", FlowName = "f" }, TestContext.Current.CancellationToken);

        (await upload.ReceiveEventAsync()).Event.Should().Be("flow_started", "the upload's stream gets the events of its jobs");
        (await job.ReceiveEventAsync()).Event.Should().Be("flow_started");

        // The same admission as the mapped routes: limits counted, refusals as HTTP statuses.
        await EventStreamClient.AssertRefusedAsync(new Uri(server.BaseUri, "/custom/u9/stream"), HttpStatusCode.TooManyRequests, "too_many_connections");
        await EventStreamClient.AssertRefusedAsync(new Uri(server.BaseUri, "/custom/a%20b/stream"), HttpStatusCode.BadRequest, "invalid_id");
    }

    [Fact]
    public async Task The_stream_handler_says_what_is_wrong_with_a_route_without_an_id_or_without_the_services()
    {
        await using var server = await EventsServer.StartAsync(map: app => app.MapGet("/no-id", UploadistaWebSocketHandler.HandleEventStreamAsync));

        var withoutId = () => UploadistaWebSocketHandler.HandleEventStreamAsync(new DefaultHttpContext { RequestServices = server.Services });
        await using var bare = new ServiceCollection().BuildServiceProvider();
        var withoutServices = () => UploadistaWebSocketHandler.HandleEventStreamAsync(new DefaultHttpContext { RequestServices = bare });

        await withoutId.Should().ThrowAsync<InvalidOperationException>().WithMessage("*{uploadId}*{jobId}*");
        await withoutServices.Should().ThrowAsync<InvalidOperationException>().WithMessage("*AddUploadistaEvents()*");
    }
}
