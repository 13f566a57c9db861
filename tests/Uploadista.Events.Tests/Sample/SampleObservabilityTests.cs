using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Sample;

/// <summary>The sample as an operator sees it: Prometheus scrapes /metrics, a load balancer probes /healthz.</summary>
public sealed class SampleObservabilityTests : IAsyncLifetime
{
    private SampleServer _sample = null!;

    public async ValueTask InitializeAsync()
    {
        _sample = await SampleServer.StartAsync();
        // The histograms record 1 event in 16; this upload's dozen events must show in them.
        Instruments.SampleEveryEvent(_sample.App.Services);
    }

    public ValueTask DisposeAsync() => _sample.DisposeAsync();

    [Fact]
    public async Task Metrics_serves_the_instruments_in_the_prometheus_text_format()
    {
        // Whole uploads, each watched by a socket that stays open. Per-event histograms sample one event
        // in 16 per thread, so the few events of one upload may all go unsampled: uploads go on until
        // both histograms recorded one (bounded, so that a histogram never recorded still fails).
        var sockets = new List<TestSocket>();
        string[] lines = [];
        try
        {
            for (var round = 0; round < 50 && !(lines.Any(IsPublishToWrite) && lines.Any(IsMemoryPublishDuration)); round++)
            {
                sockets.Add(await WatchOneUploadAsync());
                using var response = await _sample.Http.GetAsync("/metrics", TestContext.Current.CancellationToken);
                response.StatusCode.Should().Be(HttpStatusCode.OK);
                response.Content.Headers.ContentType!.MediaType.Should().Be("text/plain", "the Prometheus text exposition format");
                lines = (await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).Split('\n');
            }
        }
        finally
        {
            foreach (var socket in sockets)
            {
                await socket.DisposeAsync();
            }
        }

        lines.Should().Contain("# TYPE uploadista_connection_active gauge");
        // Only the series, not their values: OpenTelemetry reads the meter Uploadista.Events of every
        // host in this process (the other tests' too), and their up-down counters overwrite each other.
        lines.Should().Contain(l => l.StartsWith("uploadista_connection_active{", StringComparison.Ordinal) && l.Contains("uploadista_channel_kind=\"upload\"", StringComparison.Ordinal));
        lines.Should().Contain(l => l.StartsWith("uploadista_event_published_total{", StringComparison.Ordinal) && l.Contains("uploadista_event_type=\"upload_started\"", StringComparison.Ordinal));
        lines.Should().Contain(l => l.StartsWith("uploadista_event_delivered_total", StringComparison.Ordinal));
        lines.Should().Contain(l => IsPublishToWrite(l));
        lines.Should().Contain(l => IsMemoryPublishDuration(l));
        lines.Should().Contain(l => l.StartsWith("uploadista_catch_up_reads_total{", StringComparison.Ordinal));
    }

    private static bool IsMemoryPublishDuration(string line)
        => line.StartsWith("uploadista_publish_duration_seconds_count{", StringComparison.Ordinal) && line.Contains("uploadista_broadcaster=\"memory\"", StringComparison.Ordinal);

    private static bool IsPublishToWrite(string line) => line.StartsWith("uploadista_event_publish_to_write_duration_seconds_bucket{", StringComparison.Ordinal);

    /// <summary>Creates an upload, watches it with its token, sends its bytes, and reads until its flow ends; the socket stays open.</summary>
    private async Task<TestSocket> WatchOneUploadAsync()
    {
        using var created = await _sample.Http.PostAsJsonAsync("/api/uploads", new { filename = "metrics.bin", size = 100_000 }, TestContext.Current.CancellationToken);
        var body = await created.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        var uploadId = body.GetProperty("uploadId").GetString();
        var socket = await TestSocket.ConnectAndJoinAsync(new UriBuilder(_sample.Http.BaseAddress!) { Scheme = "ws", Path = $"/uploadista/ws/upload/{uploadId}", Query = $"token={body.GetProperty("token").GetString()}" }.Uri);
        using var put = await _sample.Http.PutAsync($"/api/uploads/{uploadId}", new ByteArrayContent(new byte[100_000]), TestContext.Current.CancellationToken);
        while ((await socket.ReceiveJsonAsync()).GetProperty("type").GetString() is not ("flow_complete" or "flow_error"))
        {
        }

        return socket;
    }

    [Fact]
    public async Task Healthz_says_healthy_with_the_numbers()
    {
        using var response = await _sample.Http.GetAsync("/healthz", TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var report = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        report.GetProperty("status").GetString().Should().Be("Healthy");
        var check = report.GetProperty("checks").GetProperty("uploadista-events");
        check.GetProperty("data").GetProperty("broadcaster").GetString().Should().Be("memory");
        check.GetProperty("data").GetProperty("connections").GetInt32().Should().Be(0);
    }
}
