using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Uploadista.Events.Redis;

namespace Uploadista.Events.Benchmarks;

/// <summary>The Redis publish path, one publisher awaiting each event (so each is a batch of one): one atomic script call (seq, retained state, PUBLISH), on a local redis-server.</summary>
public class RedisPublishBenchmarks
{
    private Process? _redis;
    private RedisEventBroadcaster _broadcaster = null!;
    private EventPublication _publication;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        _redis = Process.Start(new ProcessStartInfo("redis-server", $"--port {port} --bind 127.0.0.1 --save \"\" --appendonly no") { RedirectStandardOutput = true })
            ?? throw new InvalidOperationException("redis-server is needed: apt-get install -y redis-server");
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                break;
            }
            catch (SocketException) when (attempt < 200)
            {
                await Task.Delay(20);
            }
        }

        _broadcaster = new RedisEventBroadcaster(
            Options.Create(new RedisEventsOptions { Configuration = $"127.0.0.1:{port}" }),
            Options.Create(new UploadistaEventsOptions()),
            NullLogger<RedisEventBroadcaster>.Instance);
        await _broadcaster.StartAsync();
        _publication = EventPublisher.Serialize(new UploadProgressEvent { UploadId = "bench", Progress = 0.5, BytesUploaded = 1, TotalBytes = 2 }, DateTimeOffset.UtcNow);
    }

    [Benchmark]
    public ValueTask<long> Publish() => _broadcaster.PublishAsync("upload:bench", _publication);

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _broadcaster.DisposeAsync();
        _redis?.Kill();
        _redis?.Dispose();
    }
}
