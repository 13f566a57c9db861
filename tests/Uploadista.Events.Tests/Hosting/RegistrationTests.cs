using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Hosting;

/// <summary>AddUploadistaEvents, options binding and validation, and MapUploadistaWebSockets' checks.</summary>
public sealed class RegistrationTests
{
    private static readonly string Key = Convert.ToBase64String(new byte[32]);

    [Fact]
    public async Task Mapping_without_registering_says_what_to_call()
    {
        var builder = WebApplication.CreateSlimBuilder();
        await using var app = builder.Build();

        var map = () => app.MapUploadistaWebSockets();

        map.Should().Throw<InvalidOperationException>().WithMessage("*AddUploadistaEvents()*");
    }

    [Fact]
    public void Registering_twice_registers_once()
    {
        var services = new ServiceCollection();

        services.AddUploadistaEvents();
        var count = services.Count;
        services.AddUploadistaEvents(o => o.SendQueueCapacity = 10).Services.Should().BeSameAs(services);

        services.Count.Should().Be(count + 1, "the second call adds only its configure callback");
        services.Count(d => d.ServiceType == typeof(IHostedService)).Should().Be(1);
    }

    [Fact]
    public void Options_bind_from_configuration_then_code_wins()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Uploadista:Events:PathPrefix"] = "/live",
            ["Uploadista:Events:SendQueueCapacity"] = "64",
            ["Uploadista:Events:RetentionPeriod"] = "00:10:00",
        }).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration);

        services.AddUploadistaEvents(o => o.SendQueueCapacity = 32);
        var options = services.BuildServiceProvider().GetRequiredService<IOptions<UploadistaEventsOptions>>().Value;

        options.PathPrefix.Should().Be("/live");
        options.RetentionPeriod.Should().Be(TimeSpan.FromMinutes(10));
        options.SendQueueCapacity.Should().Be(32);
    }

    [Fact]
    public void Options_bound_from_configuration_follow_its_reloads()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Uploadista:Events:SendQueueCapacity"] = "64",
            ["Uploadista:Events:Tokens:Lifetime"] = "00:05:00",
            ["Uploadista:Events:Tokens:SigningKeys:0"] = Key,
        }).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration);
        services.AddUploadistaEvents().AddSubscriptionTokens();
        using var provider = services.BuildServiceProvider();
        var monitor = provider.GetRequiredService<IOptionsMonitor<UploadistaEventsOptions>>();
        monitor.CurrentValue.SendQueueCapacity.Should().Be(64);

        configuration["Uploadista:Events:SendQueueCapacity"] = "128";
        configuration.Reload();

        monitor.CurrentValue.SendQueueCapacity.Should().Be(128, "options bind through BindConfiguration, which watches for reloads");
        provider.GetRequiredService<IOptions<SubscriptionTokenOptions>>().Value.Lifetime.Should().Be(TimeSpan.FromMinutes(5));
    }

    [Fact]
    public void A_host_without_configuration_takes_options_from_code()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddUploadistaEvents(o => o.SendQueueCapacity = 5).AddSubscriptionTokens(o =>
        {
            o.Lifetime = TimeSpan.FromMinutes(5);
            o.SigningKeys.Add(Key);
        });
        using var provider = services.BuildServiceProvider();

        provider.GetRequiredService<IOptions<UploadistaEventsOptions>>().Value.SendQueueCapacity.Should().Be(5);
        provider.GetRequiredService<IOptions<SubscriptionTokenOptions>>().Value.Lifetime.Should().Be(TimeSpan.FromMinutes(5));
    }

    [Fact]
    public async Task Invalid_options_stop_the_host_from_starting_and_name_each_problem()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddUploadistaEvents(o =>
        {
            o.PathPrefix = "uploadista/";
            o.SendQueueCapacity = 0;
            o.CloseTimeout = TimeSpan.Zero;
        });
        await using var app = builder.Build();

        var start = () => app.StartAsync(TestContext.Current.CancellationToken);

        var thrown = await start.Should().ThrowAsync<OptionsValidationException>();
        thrown.Which.Failures.Should().HaveCount(3);
        thrown.WithMessage("*PathPrefix*").WithMessage("*SendQueueCapacity*").WithMessage("*CloseTimeout*");
    }

    [Fact]
    public async Task Publishing_never_throws_when_delivery_fails_and_logs_it()
    {
        await using var server = await EventsServer.StartAsync(services: s => s.AddSingleton<IEventBroadcaster, FailingBroadcaster>());

        var publish = async () => await server.Publisher.PublishAsync(
            new FlowStartedEvent { JobId = "j", UploadId = "u", FlowName = "f" }, TestContext.Current.CancellationToken);

        await publish.Should().NotThrowAsync();
        var failures = server.Logs.GetSnapshot().Where(r => r.Id.Name == "PublishFailed").ToList();
        failures.Select(r => r.StructuredState!.Single(p => p.Key == "Channel").Value).Should().Equal("flow:j", "upload:u");
        failures.Should().AllSatisfy(r => r.Level.Should().Be(LogLevel.Warning));
    }

    [Theory]
    [InlineData("bad id")]
    [InlineData("")]
    [InlineData("a/b")]
    public async Task Publishing_an_event_no_socket_could_subscribe_to_is_an_argument_error(string uploadId)
    {
        await using var server = await EventsServer.StartAsync();

        var publish = async () => await server.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = uploadId, Url = "u" }, TestContext.Current.CancellationToken);

        await publish.Should().ThrowAsync<ArgumentException>().WithMessage("*UploadId must be 1 to 128 characters*");
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public async Task Progress_outside_zero_to_one_is_an_argument_error(double progress)
    {
        await using var server = await EventsServer.StartAsync();

        var publish = async () => await server.Publisher.PublishAsync(
            new FlowProgressEvent { JobId = "j", NodeId = "n", NodeName = "N", Progress = progress }, TestContext.Current.CancellationToken);

        await publish.Should().ThrowAsync<ArgumentOutOfRangeException>().WithMessage("*Progress must be between 0 and 1*");
    }

    /// <summary>A broker that is down: every call fails.</summary>
    private sealed class FailingBroadcaster : IEventBroadcaster
    {
        public ValueTask<long> PublishAsync(string channel, EventPublication publication, CancellationToken cancellationToken = default)
            => ValueTask.FromException<long>(new InvalidOperationException("broker down"));

        public ValueTask<IAsyncDisposable> SubscribeAsync(string channel, IChannelSubscriber subscriber, CancellationToken cancellationToken = default)
            => ValueTask.FromException<IAsyncDisposable>(new InvalidOperationException("broker down"));

        public ValueTask<RetainedEvents> GetRetainedAsync(string channel, long afterSeq, CancellationToken cancellationToken = default)
            => ValueTask.FromException<RetainedEvents>(new InvalidOperationException("broker down"));
    }
}
