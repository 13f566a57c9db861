using System.Diagnostics;
using System.Globalization;

namespace Uploadista.Events.LoadTest;

/// <summary>
/// One run of one scenario on one system: two fresh server processes (A holds the sockets, B
/// publishes) on the given Redis, or with none (a local scenario) one that does both; the clients in
/// this process, the publishing, and the figures.
/// </summary>
internal sealed class ScenarioRun(Scenario scenario, string system, LoadOptions options, ChildProcess? redis)
{
    /// <summary>What the publishing phase did, the same for every kind of scenario.</summary>
    /// <param name="Expected">Deliveries due: events on each upload times the sockets on it.</param>
    /// <param name="Published">Events published (for the uploads workload, past the throttle).</param>
    /// <param name="Seconds">How long publishing took, first publish to the last one completed.</param>
    /// <param name="Calls">Uploads workload: events handed to the publisher, before the throttle.</param>
    /// <param name="Finished">Uploads workload: uploads whose every event was published.</param>
    private sealed record Publishing(long Expected, long Published, double Seconds, long Calls = 0, int Finished = 0);

    private readonly string _run = BenchIds.NewRun();
    private readonly RunStats _stats = new();
    private long[] _socketsOn = [];

    public async Task<RunResult> RunAsync()
    {
        // A fresh key prefix per run (and fresh upload ids, through _run): nothing retained by another
        // run is ever seen. The uploads workload keeps the library's default progress throttle.
        string[] flags = scenario.Kind == ScenarioKind.Uploads ? UploadistaServer.DefaultProgressInterval : [];
        string[] arguments = redis is null
            ? [.. ServerMode.LocalArguments, .. flags]
            : ["--redis", $"127.0.0.1:{redis.Port}", "--prefix", $"b{Guid.NewGuid():N}:", .. flags];
        var servers = await Task.WhenAll(Enumerable.Range(0, redis is null ? 1 : 2).Select(_ => ChildProcess.StartServerAsync(system, arguments, options.Traces)));
        await using var watched = servers[0];
        // A local instance publishes to its own sockets: there is no B.
        await using var publisherApart = servers.Length > 1 ? servers[1] : null;
        var publishing = publisherApart ?? watched;
        var clients = new List<BenchClient>();
        using var stop = new CancellationTokenSource();
        try
        {
            var baseline = scenario.Kind == ScenarioKind.Idle ? await ServerApi.CollectAsync(watched) : 0;
            await ConnectAsync(watched, clients, stop.Token);
            if (scenario.Kind == ScenarioKind.Idle)
            {
                var loaded = await ServerApi.CollectAsync(watched);
                return new RunResult { BytesPerIdleSocket = (double)(loaded - baseline) / scenario.Clients };
            }

            if (scenario.Kind is ScenarioKind.FlatOut or ScenarioKind.Paced)
            {
                await WarmUpAsync(publishing);
            }

            var memoryBefore = await RedisMemoryAsync();
            (long Watching, long Publishing, long Redis) Cpu() => (watched.CpuMicroseconds(), publisherApart?.CpuMicroseconds() ?? 0, redis?.CpuMicroseconds() ?? 0);
            var cpuBefore = Cpu();
            var started = Stopwatch.GetTimestamp();
            var published = scenario.Kind switch
            {
                ScenarioKind.FlatOut => await PublishFlatOutAsync(publishing, started),
                ScenarioKind.Paced => await PublishPacedAsync(publishing),
                _ => await RunUploadsAsync(publishing),
            };

            await WaitUntilAsync(() => _stats.Deliveries >= published.Expected, TimeSpan.FromSeconds(15));
            var elapsed = Stopwatch.GetElapsedTime(started);
            var cpuAfter = Cpu();
            var cpu = (Watching: cpuAfter.Watching - cpuBefore.Watching, Publishing: cpuAfter.Publishing - cpuBefore.Publishing, Redis: cpuAfter.Redis - cpuBefore.Redis);
            var memoryAfter = await RedisMemoryAsync();
            var delivered = Math.Max(1, _stats.Deliveries);
            return new RunResult
            {
                DeliveredPerSecond = _stats.Deliveries / elapsed.TotalSeconds,
                Loss = published.Expected - _stats.Deliveries,
                P50Millis = _stats.Latency.GetValueAtPercentile(50) / 1000.0,
                P99Millis = _stats.Latency.GetValueAtPercentile(99) / 1000.0,
                P999Millis = _stats.Latency.GetValueAtPercentile(99.9) / 1000.0,
                WatchingCpuMicros = (double)cpu.Watching / delivered,
                PublishingCpuMicros = (double)cpu.Publishing / delivered,
                RedisCpuMicrosPerDelivery = (double)cpu.Redis / delivered,
                RedisCpuMicrosPerPublished = (double)cpu.Redis / Math.Max(1, published.Published),
                Published = published.Published,
                PublishedPerSecond = published.Published / published.Seconds,
                TargetRate = scenario.Rate,
                OutOfOrder = _stats.OutOfOrder,
                PublishCalls = published.Calls,
                UploadsFinished = published.Finished,
                Incomplete = clients.SelectMany(c => c.Sinks).Count(s => s is UploadSink { Complete: false }),
                RedisBytesPerUpload = published.Finished == 0 ? 0 : (double)(memoryAfter - memoryBefore) / published.Finished,
            };
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    /// <summary>
    /// Opens every socket and waits until each is subscribed: one per watcher of an upload, or (a
    /// multiplexed system) one per page of watchers, each watcher a subscription with a sink of its own.
    /// </summary>
    private async Task ConnectAsync(ChildProcess watched, List<BenchClient> clients, CancellationToken stop)
    {
        var sockets = scenario.SocketUploads();
        _socketsOn = new long[scenario.Uploads];
        foreach (var upload in sockets)
        {
            _socketsOn[upload]++;
        }

        var pages = system == Systems.UploadistaMultiplexed
            ? UploadistaMultiplexedClient.Pages(sockets, options.MuxUploads)
            : [.. sockets.Select(upload => new[] { upload })];

        // Bounded, so that a server that stops answering fails the run instead of hanging it.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await Parallel.ForEachAsync(pages, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = timeout.Token }, async (page, cancellation) =>
        {
            var watchers = page.Select(upload => (UploadId: BenchIds.Upload(_run, upload), Sink: NewSink())).ToArray();
            var (uploadId, sink) = watchers[0];
            BenchClient client = system switch
            {
                Systems.SignalR => new SignalRClient(uploadId, sink),
                Systems.UploadistaSse => new UploadistaSseClient(uploadId, sink),
                Systems.UploadistaMultiplexed => new UploadistaMultiplexedClient(watchers),
                _ => new UploadistaClient(uploadId, sink),
            };
            lock (clients)
            {
                clients.Add(client); // before connecting, so that it is disposed whatever happens
            }

            await client.ConnectAsync(watched, cancellation);
            client.StartReading(stop);
        });
    }

    private IEventSink NewSink() => scenario.Kind == ScenarioKind.Uploads ? new UploadSink(_stats) : new TickSink(_stats, checkSeq: Systems.IsOurs(system));

    /// <summary>
    /// Five events per upload, published and delivered before anything is measured: the figures are
    /// those of running code, not of its first compilation, connections and scripts loading.
    /// </summary>
    private async Task WarmUpAsync(ChildProcess publishing)
    {
        var result = await ServerApi.PublishAsync(publishing, $"run={_run}&uploads={scenario.Uploads}&count={scenario.Uploads * 5}");
        var expected = Expected(result.PerUpload);
        await WaitUntilAsync(() => _stats.Deliveries >= expected, TimeSpan.FromSeconds(30));
        _stats.Reset();
    }

    /// <summary>
    /// Closed loop: batches of 10 events per upload, the next one published once the one before the last
    /// has arrived, so that both systems are kept busy without an unbounded backlog.
    /// </summary>
    private async Task<Publishing> PublishFlatOutAsync(ChildProcess publishing, long started)
    {
        var batch = scenario.Uploads * 10;
        long expected = 0, expectedBeforeLast = 0, published = 0;
        while (Stopwatch.GetElapsedTime(started).TotalSeconds < options.Seconds)
        {
            var result = await ServerApi.PublishAsync(publishing, $"run={_run}&uploads={scenario.Uploads}&count={batch}");
            expected += Expected(result.PerUpload);
            published += result.PerUpload.Sum();
            await WaitUntilAsync(() => _stats.Deliveries >= expectedBeforeLast, TimeSpan.FromSeconds(30));
            expectedBeforeLast = expected;
        }

        return new Publishing(expected, published, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    private async Task<Publishing> PublishPacedAsync(ChildProcess publishing)
    {
        var rate = scenario.Rate.ToString(CultureInfo.InvariantCulture);
        var seconds = options.Seconds.ToString(CultureInfo.InvariantCulture);
        var result = await ServerApi.PublishAsync(publishing, $"run={_run}&uploads={scenario.Uploads}&rate={rate}&seconds={seconds}");
        return new Publishing(Expected(result.PerUpload), result.PerUpload.Sum(), result.Seconds);
    }

    private async Task<Publishing> RunUploadsAsync(ChildProcess publishing)
    {
        var seconds = options.Seconds.ToString(CultureInfo.InvariantCulture);
        var uploadSeconds = scenario.UploadSeconds.ToString(CultureInfo.InvariantCulture);
        var result = await ServerApi.UploadsAsync(publishing, $"run={_run}&uploads={scenario.Uploads}&seconds={seconds}&uploadSeconds={uploadSeconds}");
        return new Publishing(Expected(result.Sent), result.Sent.Sum(), result.Seconds, result.Calls, result.Finished);
    }

    private async Task<long> RedisMemoryAsync() => redis is null ? 0 : await RedisProbe.UsedMemoryAsync(redis.Port);

    private long Expected(long[] perUpload) => perUpload.Select((count, upload) => count * _socketsOn[upload]).Sum();

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition() && deadline.Elapsed < timeout)
        {
            await Task.Delay(5);
        }
    }
}
