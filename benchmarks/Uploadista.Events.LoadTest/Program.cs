using System.Diagnostics;
using Uploadista.Events.LoadTest;

// The end-to-end load test. One command (see docs/benchmarks.md):
//   dotnet run -c Release --project benchmarks/Uploadista.Events.LoadTest -- [--quick] [--rounds N] [--seconds S]
//     [--idle N] [--uploads N] [--telemetry | --telemetry-traces | --sse | --mux [--mux-uploads N]]
//     [--only flat-out,flat-out-1to1,fixed-20k,fixed-2k,uploads,idle,local-flat-out,local-flat-out-1to1,local-fixed-20k,local-uploads]
// Defaults: 3 rounds of 10 s and 5,000 idle sockets; --quick: 1 round of 4 s and 2,000 idle sockets.
// --uploads N sizes the uploads workloads, whose uploads start over the --seconds; by default 200 start
// per second (2,000 in full mode, 800 in quick), which this 2-core machine sustains (see Scenarios.cs).
// The local-* scenarios run one instance per system that holds the sockets and publishes, with no
// Redis: Uploadista.Events' in-memory default against a SignalR hub without a backplane. A run of
// only those starts no Redis.
// --telemetry compares ours with ours observed (OpenTelemetry collecting its meter; with
// --telemetry-traces also recording every span of its activity source) instead of with SignalR: what
// the instruments cost.
// --sse compares ours with ours read over Server-Sent Events (the same server; each client a GET of
// /uploadista/sse/upload/{id}) instead of with SignalR: what the other transport costs.
// --mux compares ours with ours on multiplexed sockets (the same server; each client socket on
// /uploadista/ws subscribes to --mux-uploads of the scenario's watched uploads, 10 by default, at most
// 64) instead of with SignalR: what one socket for many uploads costs per delivery. The deliveries due
// are the same; for idle, memory is per watched upload (a socket, or a subscription).
// "server ..." runs this program as our server instance; the test starts it itself.
if (args.Length > 0 && args[0] == "server")
{
    UploadistaServer.Run(args[1..]);
    return 0;
}

var quick = args.Contains("--quick");
var seconds = Option("--seconds", quick ? 4 : 10);
var options = new LoadOptions(
    quick,
    Rounds: Option("--rounds", quick ? 1 : 3),
    Seconds: seconds,
    IdleSockets: Option("--idle", quick ? 2000 : 5000),
    Uploads: Option("--uploads", Scenario.UploadsPerSecond * seconds),
    Only: Array.IndexOf(args, "--only") is var only and >= 0 && only + 1 < args.Length ? args[only + 1].Split(',') : [],
    Telemetry: args.Contains("--telemetry") || args.Contains("--telemetry-traces"),
    Traces: args.Contains("--telemetry-traces"),
    Sse: args.Contains("--sse"),
    Mux: args.Contains("--mux"),
    MuxUploads: Option("--mux-uploads", UploadistaMultiplexedClient.DefaultUploads));
if (new[] { options.Sse, options.Telemetry, options.Mux }.Count(picked => picked) > 1)
{
    Console.Error.WriteLine("--sse, --mux and --telemetry each pick what ours is compared with: give one of them.");
    return 2;
}

if (options.MuxUploads is < 1 or > UploadistaMultiplexedClient.MaxUploads)
{
    Console.Error.WriteLine($"--mux-uploads takes 1 to {UploadistaMultiplexedClient.MaxUploads} (MaxSubscriptionsPerConnection).");
    return 2;
}

var elapsed = Stopwatch.StartNew();
Console.WriteLine($"Uploadista.Events load test against {Systems.Other(options)}, on Redis and on one instance ({(quick ? "quick" : "full")}: {options.Rounds} round(s) of {options.Seconds} s)");
string report;
try
{
    report = await new LoadRunner(options).RunAsync();
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

Console.WriteLine();
Console.WriteLine(report);
var results = Path.Combine(FindRepositoryRoot(), "artifacts", "bench");
Directory.CreateDirectory(results);
var file = Path.Combine(results, $"load-{DateTime.UtcNow:yyyyMMdd-HHmmss}.md");
await File.WriteAllTextAsync(file, report);
Console.WriteLine($"Written to {file} in {elapsed.Elapsed.TotalSeconds:N0} s.");
return 0;

int Option(string name, int fallback)
    => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var value) ? value : fallback;

static string FindRepositoryRoot()
{
    var directory = new DirectoryInfo(AppContext.BaseDirectory);
    while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Uploadista.Events.sln")))
    {
        directory = directory.Parent;
    }

    return directory?.FullName ?? Directory.GetCurrentDirectory();
}
