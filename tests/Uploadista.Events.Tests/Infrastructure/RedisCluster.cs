using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Uploadista.Events.Tests.Infrastructure;

/// <summary>
/// A real local Redis Cluster: six <c>redis-server</c> processes on free loopback ports (three masters,
/// three replicas), created with <c>redis-cli --cluster create</c> and torn down afterwards.
/// </summary>
public sealed class RedisCluster : IAsyncDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);

    private readonly string _directory = Directory.CreateTempSubdirectory("uploadista-cluster").FullName;
    private readonly Dictionary<int, Process> _nodes = [];

    private RedisCluster()
    {
    }

    /// <summary>Gets the ports of the six nodes.</summary>
    public IReadOnlyList<int> Ports => [.. _nodes.Keys];

    /// <summary>Gets the StackExchange.Redis configuration string naming every node.</summary>
    public string Configuration => string.Join(",", Ports.Select(p => $"127.0.0.1:{p}"));

    public static async Task<RedisCluster> StartAsync()
    {
        var redisServer = RedisServer.FindOnPath("redis-server") ?? throw new InvalidOperationException(
            "The Redis Cluster tests need redis-server and redis-cli: apt-get install -y redis-server (eng/test.sh does it).");
        var cluster = new RedisCluster();
        try
        {
            foreach (var port in FreePorts(6))
            {
                cluster.StartNode(redisServer, port);
            }

            foreach (var port in cluster.Ports)
            {
                await Eventually.HoldsAsync(() => Pings(port), $"node {port} answers", Startup);
            }

            await CliAsync(cluster.Ports[0], ["--cluster", "create", .. cluster.Ports.Select(p => $"127.0.0.1:{p}"), "--cluster-replicas", "1", "--cluster-yes"]);
            foreach (var port in cluster.Ports)
            {
                await Eventually.HoldsAsync(async () => (await CliAsync(port, ["CLUSTER", "INFO"])).Contains("cluster_state:ok", StringComparison.Ordinal), $"node {port} sees the cluster ok", Startup);
            }

            // Every replica has finished its first sync, so a failover can happen.
            await Eventually.HoldsAsync(async () => (await cluster.MastersAsync()).Count == 3 && await cluster.ReplicasInSyncAsync(), "the replicas are in sync", Startup);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Gets the port of the master that serves <paramref name="key"/>.</summary>
    public async Task<int> MasterOfAsync(string key)
    {
        var slot = int.Parse(await CliAsync(Ports[0], ["CLUSTER", "KEYSLOT", key]), CultureInfo.InvariantCulture);
        return (await MastersAsync()).Single(m => m.Slots.Any(range => slot >= range.From && slot <= range.To)).Port;
    }

    /// <summary>Kills a node with SIGKILL.</summary>
    public async Task KillAsync(int port)
    {
        var process = _nodes[port];
        process.Kill();
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
    }

    /// <summary>Reads the masters and their slot ranges, as the first live node sees them.</summary>
    public async Task<List<(int Port, List<(int From, int To)> Slots)>> MastersAsync()
    {
        var live = _nodes.First(n => !n.Value.HasExited).Key;
        var masters = new List<(int, List<(int, int)>)>();
        foreach (var line in (await CliAsync(live, ["CLUSTER", "NODES"])).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split(' ');
            if (!fields[2].Contains("master", StringComparison.Ordinal) || fields[2].Contains("fail", StringComparison.Ordinal))
            {
                continue;
            }

            var port = int.Parse(fields[1].Split('@')[0].Split(':')[1], CultureInfo.InvariantCulture);
            var slots = fields.Skip(8).Where(f => !f.StartsWith('[')).Select(range =>
            {
                var bounds = range.Split('-');
                return (int.Parse(bounds[0], CultureInfo.InvariantCulture), int.Parse(bounds[^1], CultureInfo.InvariantCulture));
            }).ToList();
            if (slots.Count > 0)
            {
                masters.Add((port, slots));
            }
        }

        return masters;
    }

    public static async Task<string> CliAsync(int port, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(RedisServer.FindOnPath("redis-cli") ?? "redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture) }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        using var cli = Process.Start(start)!;
        var output = await cli.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await cli.WaitForExitAsync(TestContext.Current.CancellationToken);
        return output.Trim();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _nodes.Values)
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync(CancellationToken.None);
            }

            process.Dispose();
        }

        Directory.Delete(_directory, recursive: true);
    }

    private void StartNode(string redisServer, int port)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_directory, port.ToString(CultureInfo.InvariantCulture))).FullName;
        var start = new ProcessStartInfo(redisServer) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = folder };
        foreach (var argument in new[]
        {
            "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", folder,
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000",
            // While a failed master's slots wait for a replica, the other masters keep serving theirs
            // (with the default, yes, Redis refuses every command with CLUSTERDOWN meanwhile).
            "--cluster-require-full-coverage", "no",
            "--save", string.Empty, "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
        })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _nodes[port] = process;
    }

    private async Task<bool> ReplicasInSyncAsync()
    {
        foreach (var port in Ports)
        {
            var replication = await CliAsync(port, ["INFO", "replication"]);
            if (replication.Contains("role:slave", StringComparison.Ordinal) && !replication.Contains("master_link_status:up", StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private static bool Pings(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static List<int> FreePorts(int count)
    {
        // Cluster nodes also listen on port + 10000 for the cluster bus; both must be free.
        var ports = new List<int>();
        var held = new List<TcpListener>();
        try
        {
            while (ports.Count < count)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                held.Add(listener);
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                if (port + 10000 <= 65535 && IsFree(port + 10000))
                {
                    ports.Add(port);
                }
            }

            return ports;
        }
        finally
        {
            held.ForEach(l => l.Stop());
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

/// <summary>One Redis Cluster shared by the tests of a class.</summary>
public sealed class RedisClusterFixture : IAsyncLifetime
{
    public RedisCluster Cluster { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Cluster = await RedisCluster.StartAsync();

    public async ValueTask DisposeAsync() => await Cluster.DisposeAsync();
}
