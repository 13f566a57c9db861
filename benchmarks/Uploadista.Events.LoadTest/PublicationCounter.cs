using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Uploadista.Events.LoadTest;

/// <summary>
/// Counts, per channel, the events our publisher hands to the broadcaster: after the progress
/// throttle, so for an upload's channel it is exactly what each socket of that upload must receive.
/// The uploads workload needs it to count loss, since the throttle decides inside the library how many
/// progress events go out. (SignalR's side counts the same in its own sender.)
/// </summary>
internal sealed class PublicationCounter
{
    private readonly ConcurrentDictionary<string, StrongBox<long>> _byChannel = new(StringComparer.Ordinal);

    /// <summary>Events published so far to the channel of <paramref name="uploadId"/>.</summary>
    public long OfUpload(string uploadId)
        => _byChannel.TryGetValue(UploadChannelPrefix + uploadId, out var count) ? Interlocked.Read(ref count.Value) : 0;

    /// <summary>
    /// Puts a counting decorator around the broadcaster registered so far (call it after
    /// <c>AddRedis</c>, or after <c>AddUploadistaEvents</c> for the in-memory one), whatever way that
    /// one was registered.
    /// </summary>
    public static void Decorate(IServiceCollection services)
    {
        var inner = services.Last(d => d.ServiceType == typeof(IEventBroadcaster) && !d.IsKeyedService);
        services.Remove(inner);
        services.AddSingleton<PublicationCounter>();
        services.AddSingleton<IEventBroadcaster>(provider => new CountingBroadcaster(Create(inner, provider), provider.GetRequiredService<PublicationCounter>()));
    }

    // The channel names IEventBroadcaster documents: upload:{uploadId} and flow:{jobId}.
    private const string UploadChannelPrefix = "upload:";

    private void Count(string channel) => Interlocked.Increment(ref _byChannel.GetOrAdd(channel, static _ => new StrongBox<long>()).Value);

    private static IEventBroadcaster Create(ServiceDescriptor descriptor, IServiceProvider provider)
        => (IEventBroadcaster)(descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(provider)
            ?? ActivatorUtilities.CreateInstance(provider, descriptor.ImplementationType!));

    private sealed class CountingBroadcaster(IEventBroadcaster inner, PublicationCounter counter) : IEventBroadcaster
    {
        public ValueTask<long> PublishAsync(string channel, EventPublication publication, CancellationToken cancellationToken = default)
        {
            counter.Count(channel);
            return inner.PublishAsync(channel, publication, cancellationToken);
        }

        public ValueTask<IAsyncDisposable> SubscribeAsync(string channel, IChannelSubscriber subscriber, CancellationToken cancellationToken = default)
            => inner.SubscribeAsync(channel, subscriber, cancellationToken);

        public ValueTask<RetainedEvents> GetRetainedAsync(string channel, long afterSeq, CancellationToken cancellationToken = default)
            => inner.GetRetainedAsync(channel, afterSeq, cancellationToken);
    }
}
