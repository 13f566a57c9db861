namespace Uploadista.Events.LoadTest;

/// <summary>What one run of one scenario on one system measured.</summary>
internal sealed record RunResult
{
    /// <summary>Deliveries over the time from the first publish until the last delivery.</summary>
    public double DeliveredPerSecond { get; init; }

    /// <summary>Deliveries expected (events on each upload × its sockets) minus received.</summary>
    public long Loss { get; init; }

    public double P50Millis { get; init; }

    public double P99Millis { get; init; }

    public double P999Millis { get; init; }

    /// <summary>CPU time of the server instances (both, or the local one) over deliveries.</summary>
    public double CpuMicrosPerDelivery => WatchingCpuMicros + PublishingCpuMicros;

    /// <summary>Instance A's share; a local instance's whole CPU, since it publishes too.</summary>
    public double WatchingCpuMicros { get; init; }

    /// <summary>Instance B's share; 0 for a local scenario, which has no B.</summary>
    public double PublishingCpuMicros { get; init; }

    public double RedisCpuMicrosPerDelivery { get; init; }

    /// <summary>Redis CPU time over events published: what each event costs Redis, however many sockets it reaches.</summary>
    public double RedisCpuMicrosPerPublished { get; init; }

    /// <summary>Events published; for the uploads workload, those that passed the progress throttle.</summary>
    public long Published { get; init; }

    /// <summary>Events published over the time publishing took (first publish to the last one completed).</summary>
    public double PublishedPerSecond { get; init; }

    /// <summary>The rate asked for, for paced scenarios; 0 otherwise.</summary>
    public double TargetRate { get; init; }

    /// <summary>Whether a paced scenario published at 99% of its target rate or more.</summary>
    public bool Held => TargetRate > 0 && PublishedPerSecond >= 0.99 * TargetRate;

    public long OutOfOrder { get; init; }

    public double BytesPerIdleSocket { get; init; }

    /// <summary>Uploads workload: events the workload handed to the publisher, before the throttle.</summary>
    public long PublishCalls { get; init; }

    /// <summary>Uploads workload: uploads whose every event was published.</summary>
    public int UploadsFinished { get; init; }

    /// <summary>Uploads workload: sockets that did not see started, progress up to 1.0, complete and flow_complete, in order.</summary>
    public long Incomplete { get; init; }

    /// <summary>Uploads workload: Redis <c>used_memory</c> after the run minus before, over uploads finished.</summary>
    public double RedisBytesPerUpload { get; init; }
}
