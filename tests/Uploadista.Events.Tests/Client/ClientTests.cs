using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Uploadista.Events.Client;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Client;

/// <summary>The .NET client against real Kestrel (and the sample under WebApplicationFactory).</summary>
public sealed class ClientTests
{
    internal static readonly UploadistaEventsClientOptions Fast = new() { ReconnectDelay = TimeSpan.FromMilliseconds(20), MaxReconnectDelay = TimeSpan.FromMilliseconds(200) };

    private static readonly string Key = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    [Fact]
    public async Task A_watch_yields_the_retained_then_the_live_events_typed_in_order_and_ends_with_the_flow()
    {
        await using var server = await EventsServer.StartAsync();
        await server.Publisher.PublishAsync(new UploadStartedEvent { UploadId = "w1", Filename = "a.bin", Size = 10 }, TestContext.Current.CancellationToken);
        await server.Publisher.PublishAsync(new UploadProgressEvent { UploadId = "w1", Progress = 0.5, BytesUploaded = 5, TotalBytes = 10 }, TestContext.Current.CancellationToken);

        var client = new UploadistaEventsClient(server.BaseUri, Fast);
        var received = new List<UploadistaEvent>();
        await foreach (var e in client.WatchUploadAsync("w1", new WatchOptions { EndWhenFlowEnds = true }, TestContext.Current.CancellationToken))
        {
            received.Add(e);
            if (received.Count == 2)
            {
                await server.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = "w1", Url = "https://example.com/w1" }, TestContext.Current.CancellationToken);
                await server.Publisher.PublishAsync(new FlowStartedEvent { JobId = "j1", UploadId = "w1", FlowName = "thumbnails" }, TestContext.Current.CancellationToken);
                await server.Publisher.PublishAsync(new FlowProgressEvent { JobId = "j1", NodeId = "n", NodeName = "Resize", Progress = 1 }, TestContext.Current.CancellationToken);
                await server.Publisher.PublishAsync(new FlowCompleteEvent { JobId = "j1", Outputs = new Dictionary<string, string> { ["small"] = "https://example.com/s" } }, TestContext.Current.CancellationToken);
                await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "w1", Error = "after the end" }, TestContext.Current.CancellationToken);
            }
        }

        received.Select(e => e.GetType()).Should().Equal(
            typeof(UploadStartedEvent), typeof(UploadProgressEvent), typeof(UploadCompleteEvent),
            typeof(FlowStartedEvent), typeof(FlowProgressEvent), typeof(FlowCompleteEvent));
        received.Select(e => e.Seq).Should().Equal(1, 2, 3, 4, 5, 6);
        received.OfType<FlowProgressEvent>().Single().UploadId.Should().Be("w1", "a flow event reaches its upload's watch, naming the upload");
        received.OfType<FlowCompleteEvent>().Single().Outputs["small"].Should().Be("https://example.com/s");
        received[0].Timestamp.Should().BeCloseTo(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task Since_resumes_after_it_and_a_since_of_another_epoch_receives_the_whole_run()
    {
        await using var server = await EventsServer.StartAsync();
        for (var i = 1; i <= 5; i++)
        {
            await server.Publisher.PublishAsync(new FlowErrorEvent { JobId = "j2", Error = $"{i}" }, TestContext.Current.CancellationToken);
        }

        var client = new UploadistaEventsClient(server.BaseUri, Fast);
        await using (var resumed = new WatchCollector(client.WatchJobAsync("j2", new WatchOptions { Since = 3 })))
        {
            (await resumed.WaitForAsync(e => e.Count == 2, "the two events after 3")).Select(e => e.Seq).Should().Equal(4, 5);
        }

        // A since that belongs to another run counts as 0: the client takes the run from its start.
        await using var stale = new WatchCollector(client.WatchJobAsync("j2", new WatchOptions { Since = 3, Epoch = "another-run" }));
        (await stale.WaitForAsync(e => e.Count == 5, "the whole run")).Select(e => e.Seq).Should().Equal(1, 2, 3, 4, 5);
        await Eventually.HoldsAsync(() => stale.Watch.Epoch is not null, "the pong named the run's epoch");
    }

    [Fact]
    public async Task A_refused_watch_ends_with_a_typed_exception_and_a_token_factory_gets_a_fresh_token_after_4401()
    {
        await using var server = await EventsServer.StartAsync(services: s => s.AddUploadistaEvents().AddSubscriptionTokens(o => o.SigningKeys.Add(Key)));
        var tokens = server.Services.GetRequiredService<ISubscriptionTokenIssuer>();
        var client = new UploadistaEventsClient(server.BaseUri, Fast);

        var missing = async () => await client.WatchUploadAsync("t1", cancellationToken: TestContext.Current.CancellationToken).GetAsyncEnumerator().MoveNextAsync();
        (await missing.Should().ThrowAsync<WatchRefusedException>()).Which.CloseStatus.Should().Be(4401);

        var otherUpload = new WatchOptions { Token = tokens.CreateToken(SubscriptionKind.Upload, "t2") };
        var forbidden = async () => await client.WatchUploadAsync("t1", otherUpload, TestContext.Current.CancellationToken).GetAsyncEnumerator().MoveNextAsync();
        (await forbidden.Should().ThrowAsync<WatchRefusedException>()).Which.CloseStatus.Should().Be(4403);

        // The first token has expired (a garbage one stands for it); the factory is asked again.
        var asked = 0;
        var refreshing = new WatchOptions
        {
            TokenFactory = _ => ValueTask.FromResult(++asked == 1 ? "expired" : tokens.CreateToken(SubscriptionKind.Upload, "t1")),
        };
        await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "t1", Error = "x" }, TestContext.Current.CancellationToken);
        await using var watch = new WatchCollector(client.WatchUploadAsync("t1", refreshing));
        (await watch.WaitForAsync(e => e.Count == 1, "the event")).Single().Should().BeOfType<UploadErrorEvent>();
        asked.Should().Be(2);

        // A factory that fails counts as a failed connection: the watch tries again, and goes on.
        var failing = 0;
        var flaky = new WatchOptions
        {
            TokenFactory = _ => ++failing == 1 ? throw new HttpRequestException("the token service is down") : ValueTask.FromResult(tokens.CreateToken(SubscriptionKind.Upload, "t1")),
        };
        await using (var afterFailure = new WatchCollector(client.WatchUploadAsync("t1", flaky)))
        {
            await afterFailure.WaitForAsync(e => e.Count == 1, "the event after the factory failed once");
        }

        // A factory whose tokens are refused twice in a row ends the watch.
        var alwaysBad = new WatchOptions { TokenFactory = _ => ValueTask.FromResult("expired") };
        var twice = async () => await client.WatchUploadAsync("t1", alwaysBad, TestContext.Current.CancellationToken).GetAsyncEnumerator().MoveNextAsync();
        (await twice.Should().ThrowAsync<WatchRefusedException>()).Which.CloseStatus.Should().Be(4401);
    }

    [Fact]
    public async Task A_refused_watch_ends_closed_without_saying_it_reconnects()
    {
        await using var server = await EventsServer.StartAsync(services: s => s.AddUploadistaEvents().AddSubscriptionTokens(o => o.SigningKeys.Add(Key)));
        var client = new UploadistaEventsClient(server.BaseUri, Fast);
        var watch = client.WatchUploadAsync("no-token", cancellationToken: TestContext.Current.CancellationToken);
        var states = new List<WatchState>();
        watch.StateChanged += (_, state) => states.Add(state);

        var refused = async () => await watch.GetAsyncEnumerator().MoveNextAsync();

        await refused.Should().ThrowAsync<WatchRefusedException>();
        states.Should().Equal([WatchState.Connecting, WatchState.Connected, WatchState.Closed], "the server accepts the socket, then closes it with 4401");
    }

    [Fact]
    public async Task A_server_mapped_at_the_root_is_watched_with_an_empty_path_prefix()
    {
        await using var server = await EventsServer.StartAsync(o => o.PathPrefix = string.Empty);
        await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "root", Error = "x" }, TestContext.Current.CancellationToken);
        var client = new UploadistaEventsClient(server.BaseUri, new() { PathPrefix = string.Empty, ReconnectDelay = Fast.ReconnectDelay });

        await using var watch = new WatchCollector(client.WatchUploadAsync("root"));

        (await watch.WaitForAsync(e => e.Count == 1, "the event")).Single().Should().BeOfType<UploadErrorEvent>();
    }

    [Fact]
    public async Task A_path_base_in_the_server_address_and_a_token_of_any_characters_reach_the_server_as_they_are()
    {
        const string token = "a+b/c=d&since=9 %2F é?#";
        await using var server = await EventsServer.StartAsync(
            services: s => s.AddUploadistaEvents().AddSubscriptionAuthorizer((request, _) =>
                ValueTask.FromResult(request.Token == token ? SubscriptionDecision.Allow : SubscriptionDecision.Unauthenticated)),
            map: app =>
            {
                app.UsePathBase("/my app");
                app.MapUploadistaWebSockets();
            });
        await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "based", Error = "x" }, TestContext.Current.CancellationToken);
        var client = new UploadistaEventsClient(new Uri(server.BaseUri, "my%20app/"), Fast);

        await using var watch = new WatchCollector(client.WatchUploadAsync("based", new WatchOptions { Token = token }));

        (await watch.WaitForAsync(e => e.Count == 1, "the event")).Single().Seq.Should().Be(1);
    }

    [Fact]
    public async Task An_event_larger_than_the_client_accepts_ends_the_watch_saying_so_not_that_the_server_refused()
    {
        await using var server = await EventsServer.StartAsync();
        await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "huge", Error = new string('x', 2 << 20) }, TestContext.Current.CancellationToken);
        var client = new UploadistaEventsClient(server.BaseUri, Fast);

        var reading = async () => await client.WatchUploadAsync("huge", cancellationToken: TestContext.Current.CancellationToken).GetAsyncEnumerator().MoveNextAsync();

        var refusal = (await reading.Should().ThrowAsync<WatchRefusedException>()).Which;
        refusal.CloseStatus.Should().Be(1009);
        refusal.Message.Should().Contain("larger than the client accepts").And.NotContain("server refused");
    }

    [Fact]
    public async Task A_token_factory_that_fails_is_tried_again_and_its_error_told_meanwhile()
    {
        await using var server = await EventsServer.StartAsync(services: s => s.AddUploadistaEvents().AddSubscriptionTokens(o => o.SigningKeys.Add(Key)));
        var tokens = server.Services.GetRequiredService<ISubscriptionTokenIssuer>();
        var client = new UploadistaEventsClient(server.BaseUri, Fast);
        var tokenService = new TaskCompletionSource();
        var options = new WatchOptions
        {
            TokenFactory = _ => tokenService.Task.IsCompleted
                ? ValueTask.FromResult(tokens.CreateToken(SubscriptionKind.Upload, "tf"))
                : throw new InvalidOperationException("the token service is down"),
        };

        var untouched = client.WatchUploadAsync("tf", options);
        await untouched.GetAsyncEnumerator().DisposeAsync();
        untouched.State.Should().Be(WatchState.NotStarted, "an enumerator disposed before its first MoveNextAsync never connected");

        await using var watch = new WatchCollector(client.WatchUploadAsync("tf", options));
        await Eventually.HoldsAsync(
            () => watch.Watch.State == WatchState.Reconnecting && watch.Watch.LastError is InvalidOperationException,
            "the watch tells why it cannot connect");
        tokenService.SetResult();
        await watch.WaitForStateAsync(WatchState.Connected);
        watch.Watch.LastError.Should().BeNull("it connected");
    }

    [Fact]
    public async Task Cancelling_ends_the_enumeration_and_closes_the_connection()
    {
        await using var server = await EventsServer.StartAsync();
        var client = new UploadistaEventsClient(server.BaseUri, Fast);
        using var cancellation = new CancellationTokenSource();
        var watch = client.WatchUploadAsync("idle", cancellationToken: cancellation.Token);
        var enumerating = Task.Run(async () =>
        {
            await foreach (var e in watch)
            {
            }
        });
        var tracker = server.Services.GetRequiredService<ConnectionTracker>();
        await Eventually.HoldsAsync(() => watch.State == WatchState.Connected && tracker.Count == 1, "the watch is connected");

        await cancellation.CancelAsync();

        (await enumerating.Invoking(t => t).Should().ThrowAsync<OperationCanceledException>())
            .Which.CancellationToken.Should().Be(cancellation.Token, "a catch (OperationCanceledException e) when (e.CancellationToken == token) sees its own");
        watch.State.Should().Be(WatchState.Closed);
        await Eventually.HoldsAsync(() => tracker.Count == 0, "the server saw the connection close");
        var again = () => watch.GetAsyncEnumerator();
        again.Should().Throw<InvalidOperationException>("a watch is enumerated once");
    }

    [Fact]
    public async Task Bad_arguments_are_refused_before_connecting()
    {
        var client = new UploadistaEventsClient(new Uri("http://127.0.0.1:1"));
        client.Invoking(c => c.WatchUploadAsync("a/b")).Should().Throw<ArgumentException>();
        client.Invoking(c => c.WatchJobAsync("ok", new WatchOptions { Since = -1 })).Should().Throw<ArgumentException>();
        client.Invoking(c => c.WatchJobAsync("ok", new WatchOptions { Since = 1, Epoch = "a b" })).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => new UploadistaEventsClient(new Uri("ftp://x"))).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => new UploadistaEventsClient(new Uri("http://x"), new() { PathPrefix = "uploadista" })).Should().Throw<ArgumentException>();
    }

    [Fact]
    public async Task The_sample_under_WebApplicationFactory_is_watched_through_its_TestServer_to_the_end_of_the_flow()
    {
        var storage = Directory.CreateTempSubdirectory("uploadista-client-test").FullName;
        try
        {
            await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(host => host
                .UseSetting("Sample:StorageDirectory", storage)
                .UseSetting("Logging:LogLevel:Default", "Warning"));
            using var http = factory.CreateClient();
            var data = RandomNumberGenerator.GetBytes(256 * 1024);
            using var created = await http.PostAsJsonAsync("/api/uploads", new { filename = "client.bin", size = data.Length }, TestContext.Current.CancellationToken);
            var body = await created.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
            var uploadId = body.GetProperty("uploadId").GetString()!;

            var client = new UploadistaEventsClient(factory.Server.BaseAddress, new()
            {
                Connect = (uri, cancellationToken) => factory.Server.CreateWebSocketClient().ConnectAsync(uri, cancellationToken),
            });
            var options = new WatchOptions { Token = body.GetProperty("token").GetString(), EndWhenFlowEnds = true };
            await using var watch = new WatchCollector(client.WatchUploadAsync(uploadId, options));
            await watch.WaitForStateAsync(WatchState.Connected);
            using var put = await http.PutAsync($"/api/uploads/{uploadId}", new ByteArrayContent(data), TestContext.Current.CancellationToken);

            await watch.Completion.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
            var events = watch.Events;
            events[0].Should().BeOfType<UploadStartedEvent>().Which.Size.Should().Be(data.Length);
            events.Should().ContainSingle(e => e is UploadCompleteEvent);
            events[^1].Should().BeOfType<FlowCompleteEvent>();
            events.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, events.Count).Select(i => (long)i));
        }
        finally
        {
            Directory.Delete(storage, recursive: true);
        }
    }
}
