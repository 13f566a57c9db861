using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Testcontainers.Redis;

namespace Uploadista.Events.Tests.Infrastructure;

/// <summary>
/// A real Redis for the tests, found in this order: the server named by <c>UPLOADISTA_TEST_REDIS</c>
/// (host:port); a <c>redis-server</c> started here on a free loopback port with a temporary folder; a
/// container through Testcontainers where Docker is reachable. With none of them the tests fail and
/// say what to install; they are never skipped.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private const string ExternalVariable = "UPLOADISTA_TEST_REDIS";

    private readonly string? _redisServerPath;
    private readonly string? _directory;
    private readonly RedisContainer? _container;
    private Process? _process;

    private RedisServer(string host, int port, string? redisServerPath = null, string? directory = null, RedisContainer? container = null)
    {
        Host = host;
        Port = port;
        _redisServerPath = redisServerPath;
        _directory = directory;
        _container = container;
    }

    public string Host { get; }

    public int Port { get; private set; }

    /// <summary>Gets the StackExchange.Redis configuration string of this server.</summary>
    public string Configuration => $"{Host}:{Port}";

    /// <summary>Gets a Redis for tests that only use it.</summary>
    public static Task<RedisServer> StartAsync()
        => Environment.GetEnvironmentVariable(ExternalVariable) is { Length: > 0 } external
            ? Task.FromResult(Parse(external))
            : StartOwnAsync();

    /// <summary>Gets a Redis of the test's own, that it may kill and restart.</summary>
    public static async Task<RedisServer> StartOwnAsync()
    {
        if (FindRedisServer() is { } path)
        {
            var server = new RedisServer("127.0.0.1", FreePort(), path, Directory.CreateTempSubdirectory("uploadista-redis").FullName);
            await server.StartProcessAsync();
            return server;
        }

        RedisContainer? container = null;
        try
        {
            var port = FreePort();
            container = new RedisBuilder("redis:7.4").WithPortBinding(port, 6379).Build();
            await container.StartAsync(TestContext.Current.CancellationToken);
            return new RedisServer("127.0.0.1", port, container: container);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            if (container is not null)
            {
                await container.DisposeAsync();
            }

            throw new InvalidOperationException(
                "The Redis tests need a Redis and none could be had: install redis-server (apt-get install -y redis-server; " +
                $"eng/test.sh does it), or set {ExternalVariable}=host:port, or make Docker reachable for Testcontainers. " +
                $"Starting a container failed: {ex.Message}",
                ex);
        }
    }

    /// <summary>Kills the server with SIGKILL: no shutdown, no persistence, every connection dropped.</summary>
    public async Task KillAsync()
    {
        if (_process is not null)
        {
            _process.Kill();
            await _process.WaitForExitAsync(TestContext.Current.CancellationToken);
            _process.Dispose();
            _process = null;
        }
        else if (_container is not null)
        {
            await _container.StopAsync(TestContext.Current.CancellationToken);
        }
        else
        {
            throw new InvalidOperationException($"The server named by {ExternalVariable} is not the tests' to kill.");
        }
    }

    /// <summary>Freezes the server (SIGSTOP): connections stay open, nothing is answered, until <see cref="ThawAsync"/>.</summary>
    public Task FreezeAsync() => SignalAsync("-STOP");

    /// <summary>Lets a frozen server run again (SIGCONT); it then answers what it was sent meanwhile.</summary>
    public Task ThawAsync() => SignalAsync("-CONT");

    /// <summary>Starts the server again on the same port, empty.</summary>
    public async Task RestartAsync()
    {
        if (_redisServerPath is not null)
        {
            await StartProcessAsync();
        }
        else if (_container is not null)
        {
            await _container.StartAsync(TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Runs a redis-cli command against this server and returns what it printed.</summary>
    public async Task<string> CliAsync(params string[] arguments)
    {
        if (_container is not null)
        {
            var result = await _container.ExecAsync(["redis-cli", .. arguments], TestContext.Current.CancellationToken);
            result.ExitCode.Should().Be(0, result.Stderr);
            return result.Stdout.Trim();
        }

        var start = new ProcessStartInfo(FindOnPath("redis-cli") ?? "redis-cli")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { "-h", Host, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture) }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        using var cli = Process.Start(start)!;
        var output = await cli.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await cli.WaitForExitAsync(TestContext.Current.CancellationToken);
        cli.ExitCode.Should().Be(0, await cli.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken));
        return output.Trim();
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync(CancellationToken.None);
        }

        _process?.Dispose();
        if (_container is not null)
        {
            await _container.DisposeAsync();
        }

        if (_directory is not null)
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private async Task SignalAsync(string signal)
    {
        var process = _process ?? throw new InvalidOperationException("Only a redis-server started by the tests can be frozen.");
        using var kill = Process.Start("kill", [signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync(TestContext.Current.CancellationToken);
        kill.ExitCode.Should().Be(0);
    }

    private static RedisServer Parse(string external)
    {
        var (host, port) = external.LastIndexOf(':') is var colon and > 0
            ? (external[..colon], int.Parse(external[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture))
            : (external, 6379);
        return new RedisServer(host, port);
    }

    private async Task StartProcessAsync()
    {
        var start = new ProcessStartInfo(_redisServerPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _directory,
        };
        foreach (var argument in new[]
        {
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1",
            "--dir", _directory!,
            "--save", string.Empty,
            "--appendonly", "no",
            "--daemonize", "no",
            "--loglevel", "warning",
        })
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var process = _process;
        await Eventually.HoldsAsync(
            async () => process.HasExited
                ? throw new InvalidOperationException($"redis-server did not start on port {Port} (exit code {process.ExitCode}).")
                : await PingsAsync(),
            $"redis-server answers on port {Port}",
            TimeSpan.FromSeconds(20));
    }

    private async Task<bool> PingsAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port, TestContext.Current.CancellationToken);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), TestContext.Current.CancellationToken);
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer, TestContext.Current.CancellationToken);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string? FindRedisServer() => FindOnPath("redis-server");

    internal static string? FindOnPath(string name)
        => (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/bin").Append("/usr/sbin")
            .Select(folder => Path.Combine(folder, name))
            .FirstOrDefault(File.Exists);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>One Redis shared by the tests of a class; each test keeps to channels and a prefix of its own.</summary>
public sealed class RedisFixture : IAsyncLifetime
{
    public RedisServer Server { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Server = await RedisServer.StartAsync();

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();

    /// <summary>A channel prefix no other test uses, so tests sharing the server never see each other's events.</summary>
    public static string UniquePrefix() => $"t{Guid.NewGuid():N}:";
}
