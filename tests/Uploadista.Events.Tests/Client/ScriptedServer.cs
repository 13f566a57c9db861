using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Client;

/// <summary>
/// Real Kestrel serving the per-upload route as a test scripts each connection: for what the real
/// server does only by accident (a half-open connection, a 4010 at once, a close right after a
/// refusal), so that the client meets it on demand.
/// </summary>
internal sealed class ScriptedServer : IAsyncDisposable
{
    private readonly List<ScriptedConnection> _connections = [];
    private readonly CancellationTokenSource _stopping = new();
    private EventsServer _host = null!;

    private ScriptedServer()
    {
    }

    public Uri BaseUri => _host.BaseUri;

    /// <summary>The connections so far, in the order they came.</summary>
    public IReadOnlyList<ScriptedConnection> Connections
    {
        get
        {
            lock (_connections)
            {
                return [.. _connections];
            }
        }
    }

    /// <summary>Starts a server that runs <paramref name="script"/> on each accepted connection.</summary>
    public static async Task<ScriptedServer> StartAsync(Func<ScriptedConnection, Task> script)
    {
        var server = new ScriptedServer();
        server._host = await EventsServer.StartAsync(map: app =>
        {
            app.UseWebSockets();
            app.Map("/uploadista/ws/upload/{uploadId}", (HttpContext context) => server.RunAsync(context, script));
        });
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _host.DisposeAsync();
        _stopping.Dispose();
    }

    private async Task RunAsync(HttpContext context, Func<ScriptedConnection, Task> script)
    {
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        ScriptedConnection connection;
        lock (_connections)
        {
            connection = new ScriptedConnection(_connections.Count + 1, context.Request.Query, socket, ended.Token);
            _connections.Add(connection);
        }

        try
        {
            await script(connection);
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException)
        {
            // The client went away, or the server is stopping: the script is over.
        }
    }
}

/// <summary>One connection to a <see cref="ScriptedServer"/>, and what its script can do with it.</summary>
internal sealed class ScriptedConnection(int number, IQueryCollection query, WebSocket socket, CancellationToken ended)
{
    /// <summary>1 for the first connection, 2 for the next, and so on.</summary>
    public int Number { get; } = number;

    /// <summary>When it was accepted, on <see cref="Stopwatch"/>'s clock.</summary>
    public long AcceptedAt { get; } = Stopwatch.GetTimestamp();

    public long? Since => long.TryParse(query["since"], out var since) ? since : null;

    public string? Epoch => query["epoch"];

    public string? Token => query["token"];

    /// <summary>Sends an <c>upload_error</c> event with <paramref name="seq"/>, its error naming the seq too.</summary>
    public Task SendEventAsync(long seq)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes<UploadistaEvent>(
            new UploadErrorEvent { UploadId = "scripted", Error = $"{seq}", Seq = seq, Timestamp = DateTimeOffset.UtcNow },
            UploadistaEventJson.TypeInfo);
        return socket.SendAsync(json, WebSocketMessageType.Text, endOfMessage: true, ended);
    }

    public Task SendTextAsync(string text) => socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, ended);

    /// <summary>Closes with <paramref name="status"/>, then waits for the client's answer.</summary>
    public async Task CloseAsync(int status)
    {
        await socket.CloseOutputAsync((WebSocketCloseStatus)status, "scripted", ended);
        await HoldAsync();
    }

    /// <summary>Reads (and so answers WebSocket pings) until the client closes, or the server stops.</summary>
    public async Task HoldAsync()
    {
        var buffer = new byte[4096];
        while (!(await socket.ReceiveAsync(buffer.AsMemory(), ended)).MessageType.Equals(WebSocketMessageType.Close))
        {
        }
    }

    /// <summary>Neither reads nor sends again: to the client, the network went silent (half-open).</summary>
    public Task HangAsync() => Task.Delay(Timeout.Infinite, ended);

    /// <summary>How long after <paramref name="earlier"/> this connection came.</summary>
    public TimeSpan After(ScriptedConnection earlier) => Stopwatch.GetElapsedTime(earlier.AcceptedAt, AcceptedAt);
}
