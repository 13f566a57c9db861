using BenchmarkDotNet.Attributes;

namespace Uploadista.Events.Benchmarks;

/// <summary>Serializing an event once, and framing it with its seq for a channel.</summary>
public class SerializeBenchmarks
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private readonly UploadProgressEvent _progress = new() { UploadId = "abc123", Progress = 0.45, BytesUploaded = 2359296, TotalBytes = 5242880 };
    private EventPublication _publication;

    [GlobalSetup]
    public void Setup() => _publication = EventPublisher.Serialize(_progress, Now);

    [Benchmark]
    public EventPublication Serialize() => EventPublisher.Serialize(_progress, Now);

    [Benchmark]
    public ChannelEvent Frame() => ChannelEvent.Create(42, "epoch", _publication);
}
