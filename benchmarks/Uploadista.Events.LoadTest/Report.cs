using System.Globalization;
using System.Text;

namespace Uploadista.Events.LoadTest;

/// <summary>The line printed after each run, and the final table of medians and ratios.</summary>
internal static class Report
{
    /// <summary>A row of the final table: a figure for each system from its runs, and whether a ratio of the two means anything.</summary>
    private sealed record Row(string Name, Func<IReadOnlyList<RunResult>, double> Value, Func<double, string> Format, bool Ratio = true);

    public static string Describe(Scenario scenario, string system, RunResult r)
    {
        if (scenario.Kind == ScenarioKind.Idle)
        {
            // Idle memory is over the uploads watched: one per socket, or several subscriptions on one.
            return $"{r.BytesPerIdleSocket / 1024:N1} KB per idle {(system == Systems.UploadistaMultiplexed ? "subscription (its share of the socket included)" : "socket")}";
        }

        var line = new StringBuilder(
            $"{r.DeliveredPerSecond,10:N0} deliveries/s  loss {r.Loss,6:N0}  p50 {r.P50Millis,7:N2} ms  p99 {r.P99Millis,8:N2} ms  p99.9 {r.P999Millis,8:N2} ms  ");
        line.Append(scenario.Local
            ? $"CPU µs/delivery: server {r.CpuMicrosPerDelivery:N2} (one instance)"
            : $"CPU µs/delivery: servers {r.CpuMicrosPerDelivery:N2} (watching {r.WatchingCpuMicros:N2}, publishing {r.PublishingCpuMicros:N2}), Redis {r.RedisCpuMicrosPerDelivery:N2}; " +
              $"Redis µs/published event {r.RedisCpuMicrosPerPublished:N2}");
        if (scenario.Kind == ScenarioKind.Paced)
        {
            line.Append(CultureInfo.CurrentCulture, $"  published {r.PublishedPerSecond:N0}/s of {r.TargetRate:N0} ({(r.Held ? "held" : "NOT held")})");
        }

        if (scenario.Kind == ScenarioKind.Uploads)
        {
            line.Append(CultureInfo.CurrentCulture, $"  incomplete {r.Incomplete}  ")
                .Append(scenario.Local ? string.Empty : $"Redis memory {r.RedisBytesPerUpload:N0} B/upload  ")
                .Append(CultureInfo.CurrentCulture, $"{r.UploadsFinished:N0} uploads: {r.PublishCalls:N0} publish calls, {r.Published:N0} events past the throttle");
        }

        if (r.OutOfOrder > 0)
        {
            line.Append(CultureInfo.CurrentCulture, $"  out of order {r.OutOfOrder}");
        }

        return line.ToString();
    }

    public static string Table(
        Scenario[] scenarios,
        Dictionary<(string Scenario, string System), List<RunResult>> results,
        LoadOptions options,
        (double Pipelined, double Unpipelined)? ceiling)
    {
        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"Medians of {options.Rounds} round(s), {options.Seconds:N0} s each, systems alternating; ratio = Uploadista.Events / {Systems.Other(options)}.");
        var redisCeiling = ceiling is { } redis
            ? string.Create(CultureInfo.InvariantCulture, $" Raw Redis PUBLISH on it (redis-benchmark, 16 clients): {redis.Pipelined:N0}/s pipelined, {redis.Unpipelined:N0}/s unpipelined.")
            : string.Empty;
        report.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}.{redisCeiling}");
        if (ceiling is not null)
        {
            report.AppendLine("Redis CPU per published event: Redis CPU time over events published (uploads: events past the progress throttle, a flow event counted once).");
        }

        if (options.Mux)
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"{Systems.UploadistaMultiplexed}: each client socket is one /uploadista/ws subscribed to {options.MuxUploads} of the uploads watched (an upload page), where the other side opens a socket per upload watched; the deliveries due are the same. idle: memory per upload watched (a socket, or a subscription).");
        }

        if (scenarios.Any(s => s.Local))
        {
            report.AppendLine("local-*: one instance holds the sockets and publishes, no Redis (Uploadista.Events in memory, SignalR without a backplane); its server CPU is that one process's.");
        }

        report.AppendLine();
        report.AppendLine(CultureInfo.InvariantCulture, $"| Scenario | Metric | Uploadista.Events | {Systems.Other(options)} | Ratio |");
        report.AppendLine("|---|---|---:|---:|---:|");
        foreach (var scenario in scenarios)
        {
            var ours = results[(scenario.Name, Systems.Uploadista)];
            var theirs = results[(scenario.Name, Systems.Other(options))];
            foreach (var row in RowsOf(scenario, options))
            {
                var a = row.Value(ours);
                var b = row.Value(theirs);
                var ratio = !row.Ratio ? "–" : a == 0 && b == 0 ? "1.00×" : b <= 0 ? "–" : $"{a / b:N2}×";
                report.AppendLine(CultureInfo.InvariantCulture, $"| {scenario.Name} | {row.Name} | {row.Format(a)} | {row.Format(b)} | {ratio} |");
            }
        }

        return report.ToString();
    }

    private static List<Row> RowsOf(Scenario scenario, LoadOptions options)
    {
        if (scenario.Kind == ScenarioKind.Idle)
        {
            return [Median(options.Mux ? "memory per idle upload watched (KB)" : "memory per idle socket (KB)", r => r.BytesPerIdleSocket / 1024, "N1")];
        }

        var rows = new List<Row> { Median("delivered events/s", r => r.DeliveredPerSecond, "N0") };
        if (options.Rounds > 1)
        {
            // A system that slows down from round to round (a leak, Redis filling up) shows here.
            rows.Add(new("delivered events/s, last round / first", runs => runs[^1].DeliveredPerSecond / runs[0].DeliveredPerSecond, v => v.ToString("N2", CultureInfo.InvariantCulture), Ratio: false));
        }

        rows.Add(Median("loss (events)", r => r.Loss, "N0"));
        if (scenario.Kind == ScenarioKind.Uploads)
        {
            rows.Add(Median("incomplete sockets", r => r.Incomplete, "N0", ratio: false));
            rows.Add(Median("events per upload past the throttle", r => (double)r.Published / Math.Max(1, r.UploadsFinished), "N1"));
        }

        if (scenario.Kind == ScenarioKind.Paced)
        {
            rows.Add(Median($"published events/s (target {scenario.Rate:N0})", r => r.PublishedPerSecond, "N0"));
            rows.Add(new("target rate held (≥ 99%), rounds", runs => runs.Count(r => r.Held), v => $"{v:N0}/{options.Rounds}", Ratio: false));
        }

        rows.Add(Median("server CPU per delivery (µs)", r => r.CpuMicrosPerDelivery, "N2"));
        if (!scenario.Local)
        {
            rows.Add(Median("Redis CPU per delivery (µs)", r => r.RedisCpuMicrosPerDelivery, "N2"));
            rows.Add(Median("Redis CPU per published event (µs)", r => r.RedisCpuMicrosPerPublished, "N2"));
        }

        rows.Add(Median("latency p50 (ms)", r => r.P50Millis, "N2"));
        rows.Add(Median("latency p99 (ms)", r => r.P99Millis, "N2"));
        rows.Add(Median("latency p99.9 (ms)", r => r.P999Millis, "N2"));
        if (scenario.Kind == ScenarioKind.Uploads && !scenario.Local)
        {
            // No ratio: SignalR keeps nothing in Redis, its figure is noise around 0 (client buffers).
            rows.Add(Median("Redis memory per finished upload (bytes)", r => r.RedisBytesPerUpload, "N0", ratio: false));
        }

        return rows;
    }

    private static Row Median(string name, Func<RunResult, double> metric, string format, bool ratio = true)
        => new(name, runs => Median(runs.Select(metric)), v => v.ToString(format, CultureInfo.InvariantCulture), ratio);

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
