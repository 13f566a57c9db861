using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Uploadista.Events.Tests.Infrastructure;

/// <summary>
/// Collects one instrument of a host's meter <c>Uploadista.Events</c>: only the measurements of that
/// host (its own <see cref="IMeterFactory"/>), whatever other tests run beside it.
/// </summary>
public static class Instruments
{
    public static MetricCollector<T> Collect<T>(IServiceProvider services, string instrument)
        where T : struct
        => new(services.GetRequiredService<IMeterFactory>(), "Uploadista.Events", instrument);

    /// <summary>The sum of what a counter recorded with <paramref name="tag"/> (or all of it when null).</summary>
    public static long Sum(this MetricCollector<long> collector, KeyValuePair<string, object?>? tag = null)
        => collector.GetMeasurementSnapshot().Where(m => tag is null || m.ContainsTags(tag.Value)).Sum(m => m.Value);

    /// <summary>
    /// Records every measurement from now on: the histograms of a host record a sample of the events
    /// (<see cref="UploadistaMetrics.HistogramSampling"/>), which a test counting them turns off.
    /// </summary>
    public static void SampleEveryEvent(IServiceProvider services) => services.GetRequiredService<UploadistaMetrics>().HistogramSampling = 1;

    /// <summary>The total an observable counter reports now, with <paramref name="tag"/> (or all of it when null).</summary>
    public static long Total(this MetricCollector<long> collector, KeyValuePair<string, object?>? tag = null)
    {
        collector.Clear();
        collector.RecordObservableInstruments();
        return collector.Sum(tag);
    }

    /// <summary>The value an up-down counter reported last for <paramref name="tag"/>, read now.</summary>
    public static int Observe(this MetricCollector<int> collector, KeyValuePair<string, object?>? tag = null)
    {
        collector.Clear();
        collector.RecordObservableInstruments();
        return collector.GetMeasurementSnapshot().Where(m => tag is null || m.ContainsTags(tag.Value)).Sum(m => m.Value);
    }

    public static KeyValuePair<string, object?> Tag(string name, object? value) => new(name, value);
}
