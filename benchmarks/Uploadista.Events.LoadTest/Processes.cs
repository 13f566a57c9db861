using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Uploadista.Events.LoadTest;

/// <summary>A child process the load test starts and stops: Redis, or a server instance.</summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ChildProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public int Id => _process.Id;

    public Uri HttpUri => new($"http://127.0.0.1:{Port}");

    public Uri WebSocketUri => new($"ws://127.0.0.1:{Port}");

    public static async Task<ChildProcess> StartRedisAsync(string directory)
    {
        var port = FreePort();
        var child = Start(Tools.Find("redis-server"), port, show: false, ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory, "--loglevel", "warning"]);
        await child.WaitForPortAsync();
        return child;
    }

    /// <summary>Starts a server: ours (this program in server mode) or the SignalR one.</summary>
    /// <param name="system">Which: <see cref="Systems.Uploadista"/> (observed, or read over SSE or multiplexed sockets, or neither) or <see cref="Systems.SignalR"/>.</param>
    /// <param name="arguments">
    /// The server's arguments but its address: the Redis to use and a fresh prefix, or
    /// <see cref="ServerMode.LocalArguments"/>; then flags such as <see cref="UploadistaServer.DefaultProgressInterval"/>.
    /// </param>
    /// <param name="traces">Whether an observed server records its spans too (<see cref="BenchTelemetry"/>).</param>
    public static async Task<ChildProcess> StartServerAsync(string system, string[] arguments, bool traces = false)
    {
        var port = FreePort();
        string[] common = ["--urls", $"http://127.0.0.1:{port}", .. arguments];
        var child = system switch
        {
            Systems.Uploadista or Systems.UploadistaSse or Systems.UploadistaMultiplexed => Start("dotnet", port, show: true, [typeof(ChildProcess).Assembly.Location, "server", .. common]),
            Systems.UploadistaObserved => Start("dotnet", port, show: true, [typeof(ChildProcess).Assembly.Location, "server", .. common, .. UploadistaServer.Telemetry(traces)]),
            _ => Start("dotnet", port, show: true, [Tools.SignalRServer(), .. common]),
        };
        await child.WaitForPortAsync();
        return child;
    }

    /// <summary>CPU time used so far (user + system), in microseconds, from /proc.</summary>
    public long CpuMicroseconds()
    {
        var fields = File.ReadAllText($"/proc/{Id}/stat");
        var afterName = fields[(fields.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(afterName[11], CultureInfo.InvariantCulture) + long.Parse(afterName[12], CultureInfo.InvariantCulture);
        return ticks * 1_000_000 / ClockTicksPerSecond;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private const long ClockTicksPerSecond = 100; // getconf CLK_TCK on Linux

    private static ChildProcess Start(string file, int port, bool show, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        // Servers log warnings and worse only; show them, they explain odd figures.
        process.OutputDataReceived += (_, e) => Show(show, port, e.Data);
        process.ErrorDataReceived += (_, e) => Show(show, port, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ChildProcess(process, port);
    }

    private static void Show(bool show, int port, string? line)
    {
        if (show && line is { Length: > 0 })
        {
            Console.Error.WriteLine($"  [{port}] {line}");
        }
    }

    private async Task WaitForPortAsync()
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(30) && !_process.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

internal static class Systems
{
    public const string Uploadista = "Uploadista.Events";
    public const string SignalR = "SignalR";

    /// <summary>Ours with OpenTelemetry listening to its meter and its activity source (<c>--telemetry</c>).</summary>
    public const string UploadistaObserved = "Uploadista.Events+OTel";

    /// <summary>Ours, the same server, its clients reading Server-Sent Events instead of WebSockets (<c>--sse</c>).</summary>
    public const string UploadistaSse = "Uploadista.Events over SSE";

    /// <summary>
    /// Ours, the same server, each client socket on <c>/uploadista/ws</c> subscribed to several uploads
    /// instead of one socket per upload (<c>--mux</c>).
    /// </summary>
    public const string UploadistaMultiplexed = "Uploadista.Events multiplexed";

    /// <summary>What ours is compared with: SignalR, itself observed, itself over SSE, or itself on multiplexed sockets.</summary>
    public static string Other(LoadOptions options)
        => options.Sse ? UploadistaSse : options.Mux ? UploadistaMultiplexed : options.Telemetry ? UploadistaObserved : SignalR;

    /// <summary>Whether <paramref name="system"/> is Uploadista.Events (observed, over SSE, multiplexed or none of these).</summary>
    public static bool IsOurs(string system) => system != SignalR;
}

internal static class Tools
{
    public static string Find(string name)
        => (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Append("/usr/bin").Append("/usr/sbin")
            .Select(folder => Path.Combine(folder, name)).FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException($"{name} is needed: apt-get install -y redis-server.");

    /// <summary>The SignalR server, built beside this program (same configuration).</summary>
    public static string SignalRServer()
    {
        var configuration = typeof(Tools).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "Configuration").Value;
        var path = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "Uploadista.Events.LoadTest.SignalR", "bin", configuration!, "net10.0", "Uploadista.Events.LoadTest.SignalR.dll"));
        return File.Exists(path) ? path : throw new InvalidOperationException($"The SignalR server was not built at {path}.");
    }

    /// <summary>Resident memory of a process, in bytes, from /proc.</summary>
    public static long ResidentBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}
