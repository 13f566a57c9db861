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
    public async Task An_unhealthy_after_of_zero_stops_the_host()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddUploadistaEvents().AddRedis(o =>
        {
            o.Configuration = "localhost:1";
            o.UnhealthyAfter = TimeSpan.Zero;
        });
        await using var app = builder.Build();

        var start = () => app.StartAsync(TestContext.Current.CancellationToken);

        (await start.Should().ThrowAsync<OptionsValidationException>()).WithMessage("*UnhealthyAfter*greater than zero*");
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
    public async Task The_application_s_own_connection_is_used_for_everything_and_left_open()
    {
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(redis.Server.Configuration);
        var prefix = RedisFixture.UniquePrefix();
        var clientsBefore = await ConnectedClientsAsync();

        await using (var server = await EventsServer.StartAsync(services: s =>
        {
            // As an application that registers its own connection (Aspire's AddRedisClient does) would.
            s.AddSingleton<IConnectionMultiplexer>(multiplexer);
            s.AddUploadistaEvents()
                .AddRedis(provider => provider.GetRequiredService<IConnectionMultiplexer>())
                .AddRedis(o => o.ChannelPrefix = prefix);
        }))
        {
            await using var socket = await server.JoinUploadAsync("existing");
            await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "existing", Error = "e" });
            (await socket.ReceiveJsonAsync()).GetProperty("seq").GetInt64().Should().Be(1);
            (await multiplexer.GetDatabase().KeyExistsAsync($"{prefix}{{upload:existing}}:m")).Should().BeTrue();
            (await ConnectedClientsAsync()).Should().Be(clientsBefore, "no connection of its own was opened");
        }

        multiplexer.IsConnected.Should().BeTrue("the application owns the connection it passed in");
        (await multiplexer.GetSubscriber().PingAsync()).Should().BePositive();
        await multiplexer.DisposeAsync();
    }

    [Fact]
    public async Task One_connection_of_its_own_does_both_publishing_and_pub_sub()
    {
        var prefix = RedisFixture.UniquePrefix();
        var clientsBefore = await ConnectedClientsAsync();

        await using var server = await EventsServer.StartAsync(services: s => s.AddUploadistaEvents().AddRedis(o =>
        {
            o.Configuration = redis.Server.Configuration;
            o.ChannelPrefix = prefix;
        }));
        await using var socket = await server.JoinUploadAsync("own");
        await server.Publisher.PublishAsync(new UploadErrorEvent { UploadId = "own", Error = "e" });
        (await socket.ReceiveJsonAsync()).GetProperty("seq").GetInt64().Should().Be(1);

        // One multiplexer: its interactive connection and its subscription connection.
        (await ConnectedClientsAsync()).Should().Be(clientsBefore + 2);
    }

    private async Task<int> ConnectedClientsAsync()
    {
        var list = await redis.Server.CliAsync("CLIENT", "LIST");
        return list.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(line => !line.Contains("cmd=client", StringComparison.Ordinal));
    }
}
