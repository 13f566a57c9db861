using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Uploadista.Events.Redis;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Redis;

/// <summary>The AddRedis overloads and their validation.</summary>
public sealed class RedisRegistrationTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task Redis_without_a_configuration_stops_the_host_and_says_what_to_set()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddUploadistaEvents().AddRedis(o => o.ChannelPrefix = "{bad}");
        await using var app = builder.Build();

        var start = () => app.StartAsync(TestContext.Current.CancellationToken);

        var thrown = await start.Should().ThrowAsync<OptionsValidationException>();
        thrown.WithMessage("*Uploadista:Events:Redis:Configuration*").WithMessage("*ChannelPrefix*hash tag*");
    }

    [Fact]
    public async Task Redis_replaces_the_in_memory_broadcaster()
    {
        var services = new ServiceCollection().AddLogging();

        services.AddUploadistaEvents().AddRedis("localhost:1").AddRedis();

        await using var provider = services.BuildServiceProvider();
        provider.GetRequiredService<IEventBroadcaster>().Should().BeOfType<RedisEventBroadcaster>();
        services.Count(d => d.ServiceType == typeof(RedisEventBroadcaster)).Should().Be(1);
        provider.GetRequiredService<IOptions<RedisEventsOptions>>().Value.Configuration.Should().Be("localhost:1");
    }

    [Fact]
    public async Task Existing_connections_are_used_and_left_open()
    {
        var publisher = await ConnectionMultiplexer.ConnectAsync(redis.Server.Configuration);
        var subscriber = await ConnectionMultiplexer.ConnectAsync(redis.Server.Configuration);
        var prefix = RedisFixture.UniquePrefix();

        await using (var server = await EventsServer.StartAsync(services: s => s.AddUploadistaEvents().AddRedis(publisher, subscriber, o => o.ChannelPrefix = prefix)))
        {
            await using var socket = await server.JoinUploadAsync("existing");
            await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "existing", Error = "e" });
            (await socket.ReceiveJsonAsync()).GetProperty("seq").GetInt64().Should().Be(1);
            (await publisher.GetDatabase().KeyExistsAsync($"{prefix}{{upload:existing}}:r")).Should().BeTrue();
        }

        publisher.IsConnected.Should().BeTrue("the application owns the connections it passed in");
        (await subscriber.GetSubscriber().PingAsync()).Should().BePositive();
        await publisher.DisposeAsync();
        await subscriber.DisposeAsync();
    }
}
