using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Uploadista.Events.LoadTest;

/// <summary>A load scenario: clients over uploads on instance A, events published on instance B.</summary>
internal sealed record Scenario(string Name, string Description, int Clients, int Uploads, double Rate, bool Idle = false)
{
    public bool FlatOut => Rate == 0 && !Idle;
}

/// <summary>What one run of one scenario on one system measured.</summary>
internal sealed record RunResult(
    double DeliveredPerSecond,
    long Loss,
    double P50Millis,
    double P99Millis,
    double P999Millis,
    double CpuMicrosPerDelivery,
    double BytesPerIdleSocket,
    long OutOfOrder,
    double WatchingCpuMicros = 0,
    double PublishingCpuMicros = 0,
    double RedisCpuMicros = 0);

internal sealed record LoadOptions(bool Quick, int Rounds, double Seconds, int IdleSockets, string[] Only);

/// <summary>Runs every scenario on both systems, alternating round by round, and reports medians and ratios.</summary>
internal sealed class LoadRunner(LoadOptions options)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromMinutes(5) };

    public async Task<string> RunAsync()
    {
        var scenarios = new[]
        {
            new Scenario("flat-out", "1,000 clients over 100 uploads, published flat out (closed loop)", 1000, 100, 0),
            new Scenario("fixed-20k", "1,000 clients over 100 uploads at 20,000 events/s (200,000 deliveries/s)", 1000, 100, 20_000),
            new Scenario("fixed-2k", "200 clients over 200 uploads at 2,000 events/s", 200, 200, 2_000),
            new Scenario("idle", $"{options.IdleSockets:N0} idle sockets", options.IdleSockets, options.IdleSockets / 10, 0, Idle: true),
        };

        if (options.Only.Length > 0)
        {
            scenarios = [.. scenarios.Where(s => options.Only.Contains(s.Name))];
        }

        var directory = Directory.CreateTempSubdirectory("uploadista-load");
        try
        {
            await using var redis = await ChildProcess.StartRedisAsync(directory.FullName);
            var redisConfiguration = $"127.0.0.1:{redis.Port}";
            var ceiling = (Pipelined: await RedisPublishRateAsync(redis.Port, 16), Unpipelined: await RedisPublishRateAsync(redis.Port, 1));
            Console.WriteLine($"Raw Redis PUBLISH (redis-benchmark, 16 clients, 110-byte messages): {ceiling.Pipelined:N0}/s pipelined 16 deep, {ceiling.Unpipelined:N0}/s unpipelined");

            var results = new Dictionary<(string Scenario, string System), List<RunResult>>();
            foreach (var scenario in scenarios)
            {
                for (var round = 1; round <= options.Rounds; round++)
                {
                    string[] order = round % 2 == 1 ? [Systems.Uploadista, Systems.SignalR] : [Systems.SignalR, Systems.Uploadista];
                    foreach (var system in order)
                    {
                        var result = await RunOnceAsync(scenario, system, redisConfiguration, redis);
                        Console.WriteLine($"  {scenario.Name,-10} round {round} {system,-17} {Describe(scenario, result)}");
                        (results.TryGetValue((scenario.Name, system), out var list) ? list : results[(scenario.Name, system)] = []).Add(result);
                    }
                }
            }

            return Report(scenarios, results, ceiling);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private async Task<RunResult> RunOnceAsync(Scenario scenario, string system, string redis, ChildProcess redisProcess)
    {
        var prefix = $"b{Guid.NewGuid():N}:";
        var servers = await Task.WhenAll(ChildProcess.StartServerAsync(system, redis, prefix), ChildProcess.StartServerAsync(system, redis, prefix));
        await using var watched = servers[0];
        await using var publishing = servers[1];
        var clients = new List<BenchClient>();
        using var stop = new CancellationTokenSource();
        try
        {
            var baseline = scenario.Idle ? await CollectAsync(watched) : 0;
            var stats = new RunStats();
            await Parallel.ForEachAsync(Enumerable.Range(0, scenario.Clients), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, cancellation) =>
            {
                var uploadId = $"u-{i % scenario.Uploads}";
                BenchClient client = system == Systems.Uploadista ? new UploadistaClient(uploadId) : new SignalRClient(uploadId);
                await client.ConnectAsync(watched.WebSocketUri, cancellation);
                client.StartReading(stats, stop.Token);
                lock (clients)
                {
                    clients.Add(client);
                }
            });

            if (scenario.Idle)
            {
                var loaded = await CollectAsync(watched);
                return new RunResult(0, 0, 0, 0, 0, 0, (double)(loaded - baseline) / scenario.Clients, 0);
            }

            var clientsPerUpload = clients.GroupBy(c => c.UploadId).ToDictionary(g => int.Parse(g.Key.AsSpan(2), CultureInfo.InvariantCulture), g => g.LongCount());
            var cpuBefore = (Watching: watched.CpuMicroseconds(), Publishing: publishing.CpuMicroseconds(), Redis: redisProcess.CpuMicroseconds());
            var started = Stopwatch.GetTimestamp();
            long expected = 0;
            if (scenario.FlatOut)
            {
                // Closed loop: the next batch is published once the one before the last has arrived.
                var batch = scenario.Uploads * 10;
                long expectedBeforeLast = 0;
                while (Stopwatch.GetElapsedTime(started).TotalSeconds < options.Seconds)
                {
                    expected += Expected(await PublishAsync(publishing, $"uploads={scenario.Uploads}&count={batch}"), clientsPerUpload);
                    await WaitUntilAsync(() => stats.Deliveries >= expectedBeforeLast, TimeSpan.FromSeconds(30));
                    expectedBeforeLast = expected;
                }
            }
            else
            {
                var rate = scenario.Rate.ToString(CultureInfo.InvariantCulture);
                var seconds = options.Seconds.ToString(CultureInfo.InvariantCulture);
                expected = Expected(await PublishAsync(publishing, $"uploads={scenario.Uploads}&rate={rate}&seconds={seconds}"), clientsPerUpload);
            }

            await WaitUntilAsync(() => stats.Deliveries >= expected, TimeSpan.FromSeconds(15));
            var elapsed = Stopwatch.GetElapsedTime(started);
            var delivered = Math.Max(1, stats.Deliveries);
            var watchingCpu = (double)(watched.CpuMicroseconds() - cpuBefore.Watching) / delivered;
            var publishingCpu = (double)(publishing.CpuMicroseconds() - cpuBefore.Publishing) / delivered;
            var redisCpu = (double)(redisProcess.CpuMicroseconds() - cpuBefore.Redis) / delivered;
            return new RunResult(
                stats.Deliveries / elapsed.TotalSeconds,
                expected - stats.Deliveries,
                stats.Latency.GetValueAtPercentile(50) / 1000.0,
                stats.Latency.GetValueAtPercentile(99) / 1000.0,
                stats.Latency.GetValueAtPercentile(99.9) / 1000.0,
                watchingCpu + publishingCpu,
                0,
                stats.OutOfOrder,
                watchingCpu,
                publishingCpu,
                redisCpu);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    private static long Expected(long[] perUpload, Dictionary<int, long> clientsPerUpload)
        => perUpload.Select((count, upload) => count * clientsPerUpload.GetValueOrDefault(upload)).Sum();

    private static async Task<long[]> PublishAsync(ChildProcess server, string query)
    {
        using var response = await Http.PostAsync(new Uri(server.HttpUri, $"/bench/publish?{query}"), null);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<long[]>())!;
    }

    /// <summary>Resident memory after the server collected its garbage.</summary>
    private static async Task<long> CollectAsync(ChildProcess server)
    {
        using var response = await Http.PostAsync(new Uri(server.HttpUri, "/bench/gc"), null);
        response.EnsureSuccessStatusCode();
        return Tools.ResidentBytes(server.Id);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition() && deadline.Elapsed < timeout)
        {
            await Task.Delay(5);
        }
    }

    /// <summary>Raw PUBLISH requests per second from redis-benchmark: 16 clients, each pipelining <paramref name="pipeline"/> commands.</summary>
    private static async Task<double> RedisPublishRateAsync(int port, int pipeline)
    {
        var start = new ProcessStartInfo(Tools.Find("redis-benchmark")) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-p", port.ToString(CultureInfo.InvariantCulture), "-n", "200000", "-c", "16", "-P", pipeline.ToString(CultureInfo.InvariantCulture), "-q", "PUBLISH", "bench-ceiling", new string('x', 110) })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();

        // "... PUBLISH bench-ceiling xxx: 1075268.75 requests per second, p50=0.199 msec"
        var line = output.Split('\r', '\n').Last(l => l.Contains("requests per second", StringComparison.Ordinal));
        var words = line[..line.IndexOf(" requests per second", StringComparison.Ordinal)].Split(' ');
        return double.Parse(words[^1], CultureInfo.InvariantCulture);
    }

    private static string Describe(Scenario scenario, RunResult r) => scenario.Idle
        ? $"{r.BytesPerIdleSocket / 1024:N1} KB per idle socket"
        : $"{r.DeliveredPerSecond,10:N0} deliveries/s  loss {r.Loss,6:N0}  p50 {r.P50Millis,7:N2} ms  p99 {r.P99Millis,8:N2} ms  p99.9 {r.P999Millis,8:N2} ms  " +
          $"CPU µs/delivery: servers {r.CpuMicrosPerDelivery:N2} (watching {r.WatchingCpuMicros:N2}, publishing {r.PublishingCpuMicros:N2}), Redis {r.RedisCpuMicros:N2}" +
          (r.OutOfOrder > 0 ? $"  out of order {r.OutOfOrder}" : string.Empty);

    private string Report(Scenario[] scenarios, Dictionary<(string Scenario, string System), List<RunResult>> results, (double Pipelined, double Unpipelined) ceiling)
    {
        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"Medians of {options.Rounds} round(s), {options.Seconds:N0} s each, systems alternating; ratio = Uploadista.Events / SignalR.");
        report.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}. Raw Redis PUBLISH on it (redis-benchmark, 16 clients): {ceiling.Pipelined:N0}/s pipelined, {ceiling.Unpipelined:N0}/s unpipelined.");
        report.AppendLine();
        report.AppendLine("| Scenario | Metric | Uploadista.Events | SignalR | Ratio |");
        report.AppendLine("|---|---|---:|---:|---:|");
        foreach (var scenario in scenarios)
        {
            var ours = results[(scenario.Name, Systems.Uploadista)];
            var theirs = results[(scenario.Name, Systems.SignalR)];
            var metrics = scenario.Idle
                ? new (string, Func<RunResult, double>, string)[] { ("memory per idle socket (KB)", r => r.BytesPerIdleSocket / 1024, "N1") }
                :
                [
                    ("delivered events/s", r => r.DeliveredPerSecond, "N0"),
                    ("loss (events)", r => r.Loss, "N0"),
                    ("server CPU per delivery (µs)", r => r.CpuMicrosPerDelivery, "N2"),
                    ("Redis CPU per delivery (µs)", r => r.RedisCpuMicros, "N2"),
                    ("latency p50 (ms)", r => r.P50Millis, "N2"),
                    ("latency p99 (ms)", r => r.P99Millis, "N2"),
                    ("latency p99.9 (ms)", r => r.P999Millis, "N2"),
                ];
            foreach (var (name, metric, format) in metrics)
            {
                var a = Median(ours.Select(metric));
                var b = Median(theirs.Select(metric));
                var ratio = b == 0 ? (a == 0 ? "1.00×" : "–") : $"{a / b:N2}×";
                report.AppendLine(CultureInfo.InvariantCulture, $"| {scenario.Name} | {name} | {a.ToString(format, CultureInfo.InvariantCulture)} | {b.ToString(format, CultureInfo.InvariantCulture)} | {ratio} |");
            }
        }

        return report.ToString();
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
