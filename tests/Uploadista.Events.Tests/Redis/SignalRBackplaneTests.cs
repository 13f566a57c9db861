using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Redis;

/// <summary>
/// An application that already scales SignalR out with its Redis backplane, and adds Uploadista.Events
/// with Redis. The backplane asks for StackExchange.Redis 2.7.27 or newer, so restore gives it the 3.x
/// that Uploadista.Events.Redis needs: both must work on it, against one Redis, in one process.
/// </summary>
public sealed class SignalRBackplaneTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly string _prefix = RedisFixture.UniquePrefix();

    [Fact]
    public async Task SignalR_and_Uploadista_both_deliver_across_two_instances_of_an_app_that_uses_both()
    {
        typeof(IConnectionMultiplexer).Assembly.GetName().Version!.Major.Should().Be(3, "restore lifts SignalR's StackExchange.Redis to ours");
        await using var a = await StartAppAsync();
        await using var b = await StartAppAsync();

        // SignalR: a message sent to a hub on A reaches a client of B, through the backplane.
        await using var onB = await ConnectHubAsync(b);
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var handler = onB.On<string>("message", text => received.TrySetResult(text));
        await using var onA = await ConnectHubAsync(a);
        await onA.InvokeAsync(nameof(ChatHub.Broadcast), "hello from A", TestContext.Current.CancellationToken);
        (await received.Task.WaitAsync(TestSocket.DefaultTimeout, TestContext.Current.CancellationToken)).Should().Be("hello from A");

        // Uploadista: an event published on A reaches a socket on B, through its own channels.
        await using var socket = await b.JoinUploadAsync("signalr-neighbour");
        await a.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = "signalr-neighbour", Url = "https://example.com/done" });
        var frame = await socket.ReceiveJsonAsync();
        (frame.GetProperty("type").GetString(), frame.GetProperty("seq").GetInt64()).Should().Be(("upload_complete", 1));

        // And SignalR still delivers after Uploadista's traffic on the same Redis.
        received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await onA.InvokeAsync(nameof(ChatHub.Broadcast), "again", TestContext.Current.CancellationToken);
        (await received.Task.WaitAsync(TestSocket.DefaultTimeout, TestContext.Current.CancellationToken)).Should().Be("again");
    }

    /// <summary>The two libraries registered as their READMEs say, each with its own connection, plus
    /// the application-wide <c>UseWebSockets()</c> that SignalR applications often have.</summary>
    private Task<EventsServer> StartAppAsync()
        => EventsServer.StartAsync(
            services: services =>
            {
                services.AddSignalR().AddStackExchangeRedis(redis.Server.Configuration, options =>
                    options.Configuration.ChannelPrefix = RedisChannel.Literal(_prefix + "signalr"));
                services.AddUploadistaEvents().AddRedis(options =>
                {
                    options.Configuration = redis.Server.Configuration;
                    options.ChannelPrefix = _prefix;
                });
            },
            map: app =>
            {
                app.UseWebSockets();
                app.MapHub<ChatHub>("/chat");
                app.MapUploadistaWebSockets();
            });

    private static async Task<HubConnection> ConnectHubAsync(EventsServer server)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(server.BaseUri, "/chat"), HttpTransportType.WebSockets, options => options.SkipNegotiation = true)
            .Build();
        await connection.StartAsync(TestContext.Current.CancellationToken);

        // The server subscribes to the backplane while it connects a client, after the handshake the
        // client waits for; an answered invocation proves it is done, so no broadcast can be missed.
        (await connection.InvokeAsync<string>(nameof(ChatHub.Ping), TestContext.Current.CancellationToken)).Should().Be("pong");
        return connection;
    }

    public sealed class ChatHub : Hub
    {
        public Task Broadcast(string text) => Clients.All.SendAsync("message", text);

        [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822", Justification = "SignalR invokes instance methods only.")]
        public string Ping() => "pong";
    }
}
