using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Uploadista.Events.LoadTest;

/// <summary>
/// OpenTelemetry as an operator runs it, minus the network: every instrument of the meter
/// <c>Uploadista.Events</c> aggregated and collected every second and, with <c>traces</c>, every span
/// of its activity source recorded (always sampled: the most it can cost), handed to exporters that
/// drop them.
/// </summary>
internal static class BenchTelemetry
{
    private const string Name = "Uploadista.Events";

    public static void Add(IServiceCollection services, bool traces)
    {
        var telemetry = services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(Name)
            .AddReader(new PeriodicExportingMetricReader(new Dropping<Metric>(), exportIntervalMilliseconds: 1000)));
        if (traces)
        {
            telemetry.WithTracing(tracing => tracing
                .AddSource(Name)
                .SetSampler(new AlwaysOnSampler())
                .AddProcessor(new BatchActivityExportProcessor(new Dropping<Activity>())));
        }
    }

    private sealed class Dropping<T> : BaseExporter<T>
        where T : class
    {
        public override ExportResult Export(in Batch<T> batch)
        {
            foreach (var _ in batch)
            {
            }

            return ExportResult.Success;
        }
    }
}
