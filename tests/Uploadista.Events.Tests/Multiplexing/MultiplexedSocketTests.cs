using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Multiplexing;

/// <summary>One socket, many uploads: <c>{prefix}/ws</c> on real Kestrel.</summary>
public sealed class MultiplexedSocketTests
{
    private static readonly string Key = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Events_of_several_uploads_arrive_tagged_with_their_channel_and_numbered_per_channel()
    {
        await using var server = await EventsServer.StartAsync();
        await using var mux = await MuxSocket.ConnectAsync(server);
        await mux.SubscribeAsync("a");
        await mux.SubscribeAsync("b");
        var acks = await mux.ReceiveAsync(2);
        acks.Select(f => (f.Type(), f.Str("channel"))).Should().BeEquivalentTo([("subscribed", "upload:a"), ("subscribed", "upload:b")]);

        for (var i = 1; i <= 3; i++)
        {
            await server.Publisher.PublishAsync(Progress("a", i), Ct);
            await server.Publisher.PublishAsync(Progress("b", i * 10), Ct);
        }

        var frames = await mux.ReceiveAsync(6);
        foreach (var (upload, factor) in new[] { ("a", 1), ("b", 10) })
        {
            var mine = frames.Where(f => f.Str("channel") == $"upload:{upload}").ToList();
            mine.Select(f => f.GetProperty("seq").GetInt64()).Should().Equal(1, 2, 3);
            mine.Select(f => f.GetProperty("bytesUploaded").GetInt64()).Should().Equal(factor, 2 * factor, 3 * factor);
            mine.Should().OnlyContain(f => f.Str("uploadId") == upload);
        }

        // The same JSON as on a socket of its own, plus the channel.
        // (Its retained state is the last progress: the earlier ones are superseded.)
        await using var own = await TestSocket.ConnectAsync(server.UploadSocketUri("a"));
        var ownFrame = await own.ReceiveTextAsync();
        var muxFrame = frames.Last(f => f.Str("channel") == "upload:a").GetRawText();
        muxFrame.Should().Be(ownFrame[..^1] + ""","channel":"upload:a"}""");
    }

    [Fact]
    public async Task Each_subscription_resumes_from_its_own_since()
    {
        await using var server = await EventsServer.StartAsync();
        for (var i = 1; i <= 3; i++)
        {
            await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "a", Error = $"a{i}" }, Ct);
            await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "b", Error = $"b{i}" }, Ct);
        }

        await using var mux = await MuxSocket.ConnectAsync(server);
        await mux.SubscribeAsync("a", since: 2);
        var ackA = await mux.ReceiveAsync();
        ackA.Type().Should().Be("subscribed");
        ackA.GetProperty("since").GetInt64().Should().Be(2);
        ackA.Str("epoch").Should().NotBeNullOrEmpty("the subscription's epoch is in its answer, for resuming");
        (await mux.ReceiveAsync()).Str("error").Should().Be("a3");

        await mux.SubscribeAsync("b", since: 0);
        (await mux.ReceiveAsync()).Type().Should().Be("subscribed");
        (await mux.ReceiveAsync(3)).Select(f => f.Str("error")).Should().Equal("b1", "b2", "b3");

        await mux.Socket.SendAsync("""{"type":"ping"}""");
        var pong = await mux.ReceiveAsync();
        pong.Type().Should().Be("pong");
        pong.TryGetProperty("epoch", out _).Should().BeFalse("a multiplexed pong names no epoch: each subscription has its own");
    }

    [Fact]
    public async Task A_refused_subscription_is_answered_with_a_frame_and_the_socket_stays_open()
    {
        await using var server = await EventsServer.StartAsync(services: s => s.AddUploadistaEvents().AddSubscriptionTokens(o => o.SigningKeys.Add(Key)));
        var tokens = server.Services.GetRequiredService<ISubscriptionTokenIssuer>();
        await using var mux = await MuxSocket.ConnectAsync(server);

        await mux.SubscribeAsync("u1", token: "not-a-token");
        var refused = await mux.ReceiveAsync();
        refused.Type().Should().Be("subscription_refused");
        refused.Str("uploadId").Should().Be("u1");
        refused.Str("channel").Should().Be("upload:u1");
        refused.GetProperty("code").GetInt32().Should().Be(4401);

        await mux.SubscribeAsync("u1", token: tokens.CreateToken(SubscriptionKind.Upload, "u2"));
        (await mux.ReceiveAsync()).GetProperty("code").GetInt32().Should().Be(4403, "the token is for another upload");

        await mux.SubscribeAsync("u2", token: tokens.CreateToken(SubscriptionKind.Upload, "u2"));
        (await mux.ReceiveAsync()).Type().Should().Be("subscribed");
        await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "u1", Error = "never" }, Ct);
        await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "u2", Error = "seen" }, Ct);
        var frame = await mux.ReceiveAsync();
        frame.Str("error").Should().Be("seen", "the refused subscription gets nothing");
        mux.Socket.Socket.State.Should().Be(WebSocketState.Open);
    }

    [Fact]
    public async Task Unsubscribe_stops_the_channel_s_events()
    {
        await using var server = await EventsServer.StartAsync();
        var registry = server.Services.GetRequiredService<SubscriptionRegistry>();
        await using var mux = await MuxSocket.ConnectAsync(server);
        await mux.SubscribeAsync("a");
        await mux.SubscribeAsync("b");
        await mux.ReceiveAsync(2);

        await mux.UnsubscribeAsync("a");
        var answer = await mux.ReceiveAsync();
        answer.Type().Should().Be("unsubscribed");
        answer.Str("channel").Should().Be("upload:a");
        registry.ChannelCount.Should().Be(1, "the socket left the upload's channel before answering");

        await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "a", Error = "after" }, Ct);
        await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "b", Error = "marker" }, Ct);
        (await mux.ReceiveAsync()).Str("error").Should().Be("marker");

        // Subscribing again is allowed, and resumes like any subscription.
        await mux.SubscribeAsync("a", since: 0);
        (await mux.ReceiveAsync()).Type().Should().Be("subscribed");
        (await mux.ReceiveAsync()).Str("error").Should().Be("after");
    }

    [Fact]
    public async Task Fifty_subscribes_at_once_are_not_closed_by_the_message_rate_limit()
    {
        await using var server = await EventsServer.StartAsync();
        await using var mux = await MuxSocket.ConnectAsync(server);
        for (var i = 0; i < 50; i++)
        {
            await mux.SubscribeAsync($"up-{i}");
        }

        var acks = await mux.ReceiveAsync(50);
        acks.Should().OnlyContain(f => f.Type() == "subscribed");
        acks.Select(f => f.Str("channel")).Should().OnlyHaveUniqueItems();
        await mux.Socket.SendAsync("""{"type":"ping"}""");
        (await mux.ReceiveAsync()).Type().Should().Be("pong");
    }

    [Fact]
    public async Task Fifty_late_joins_with_retained_events_do_not_overflow_the_live_queue()
    {
        await using var server = await EventsServer.StartAsync(o => o.SendQueueCapacity = 16);
        for (var i = 0; i < 50; i++)
        {
            for (var e = 1; e <= 10; e++)
            {
                await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = $"late-{i}", Error = $"{e}" }, Ct);
            }
        }

        await using var mux = await MuxSocket.ConnectAsync(server);
        for (var i = 0; i < 50; i++)
        {
            await mux.SubscribeAsync($"late-{i}");
        }

        var frames = await mux.ReceiveAsync(50 * 11);
        frames.Count(f => f.Type() == "subscribed").Should().Be(50);
        foreach (var group in frames.Where(f => f.Type() == "upload_error").GroupBy(f => f.Str("channel")))
        {
            group.Select(f => f.GetProperty("seq").GetInt64()).Should().Equal(Enumerable.Range(1, 10).Select(n => (long)n));
        }

        mux.Socket.Socket.State.Should().Be(WebSocketState.Open, "retained events do not count against the live queue (4008)");
    }

    [Fact]
    public async Task Subscriptions_beyond_the_limit_are_refused_and_a_freed_place_can_be_taken()
    {
        // Six subscribe and unsubscribe messages: within the allowance of twice the limit a second.
        await using var server = await EventsServer.StartAsync(o => o.MaxSubscriptionsPerConnection = 3);
        await using var mux = await MuxSocket.ConnectAsync(server);
        await mux.SubscribeAsync("a");
        await mux.SubscribeAsync("b");
        await mux.SubscribeAsync("c");
        await mux.ReceiveAsync(3);

        await mux.SubscribeAsync("d");
        var refused = await mux.ReceiveAsync();
        refused.Type().Should().Be("subscription_refused");
        refused.Str("uploadId").Should().Be("d");
        refused.GetProperty("code").GetInt32().Should().Be(1008);

        await mux.UnsubscribeAsync("b");
        (await mux.ReceiveAsync()).Type().Should().Be("unsubscribed");
        await mux.SubscribeAsync("d");
        (await mux.ReceiveAsync()).Type().Should().Be("subscribed");
    }

    [Fact]
    public async Task An_invalid_subscribe_is_refused_with_a_frame()
    {
        await using var server = await EventsServer.StartAsync();
        await using var mux = await MuxSocket.ConnectAsync(server);
        await mux.Socket.SendAsync("""{"type":"subscribe","uploadId":"bad/id"}""");
        var refused = await mux.ReceiveAsync();
        refused.Type().Should().Be("subscription_refused");
        refused.Str("uploadId").Should().Be("bad/id");
        refused.TryGetProperty("channel", out _).Should().BeFalse();
        refused.GetProperty("code").GetInt32().Should().Be(1008);

        await mux.Socket.SendAsync("""{"type":"subscribe","jobId":"j1","since":-1}""");
        (await mux.ReceiveAsync()).Str("reason").Should().Contain("since");

        await mux.Socket.SendAsync("""{"type":"subscribe","jobId":"j1"}""");
        var subscribed = await mux.ReceiveAsync();
        (subscribed.Type(), subscribed.Str("jobId"), subscribed.Str("channel")).Should().Be(("subscribed", "j1", "flow:j1"));
        await mux.Socket.SendAsync("""{"type":"subscribe","jobId":"j1"}""");
        (await mux.ReceiveAsync()).Str("reason").Should().Contain("Already subscribed");

        // An unsubscribe that is not well formed is refused alike (docs/protocol.md).
        await mux.Socket.SendAsync("""{"type":"unsubscribe"}""");
        var unsubscribeRefused = await mux.ReceiveAsync();
        (unsubscribeRefused.Type(), unsubscribeRefused.GetProperty("code").GetInt32()).Should().Be(("subscription_refused", 1008));
    }

    [Fact]
    public void A_tagged_frame_is_made_once_per_event_and_keeps_conflation_per_channel()
    {
        var publication = new EventPublication("""{"type":"upload_progress","uploadId":"a"}"""u8.ToArray(), "upload_progress");
        var channelEvent = ChannelEvent.Create(7, "e1", publication);
        var tagged = channelEvent.ForChannel("upload:a");
        channelEvent.ForChannel("upload:a").Should().BeSameAs(tagged, "every multiplexed socket shares the tagged frame");
        System.Text.Encoding.UTF8.GetString(tagged.Frame.Span).Should().Be("""{"type":"upload_progress","uploadId":"a","seq":7,"channel":"upload:a"}""");
        tagged.ConflationKey.Should().Be("upload:a|upload_progress");
        (tagged.Seq, tagged.Epoch).Should().Be((7L, "e1"));
    }

    private static UploadProgressEvent Progress(string uploadId, long bytes)
        => new() { UploadId = uploadId, Progress = 0.5, BytesUploaded = bytes, TotalBytes = 1000 };
}
