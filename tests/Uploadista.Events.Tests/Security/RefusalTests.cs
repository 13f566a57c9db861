using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Security;

/// <summary>
/// A refused socket (4401, 4403, 1013) costs little and briefly: it is closed within a second even if
/// the client never answers, and refusals in progress have a budget of their own, beyond which the
/// refusal is an HTTP status without an upgrade.
/// </summary>
public sealed class RefusalTests
{
    private static readonly string Key = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    [Fact]
    public async Task A_refused_socket_that_never_answers_is_dropped_within_a_second()
    {
        await using var server = await StartWithTokensAsync(o => o.CloseTimeout = TimeSpan.FromSeconds(30));
        using var tcp = await HandshakeAsync(server.UploadSocketUri("u1"));
        var status = await ReadStatusLineAsync(tcp);
        status.Should().Be(101);

        var dropped = Stopwatch.StartNew();
        var received = await ReadUntilEndAsync(tcp, TimeSpan.FromSeconds(10));

        dropped.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(3), "a refusal is not held for the close timeout");
        received.Should().NotBeEmpty();
        (received[0] & 0x0F).Should().Be(0x8, "the close frame came first");
        ((received[2] << 8) | received[3]).Should().Be(4401);
    }

    [Fact]
    public async Task Refusals_in_progress_count_against_a_small_budget_of_their_own()
    {
        // MaxConnections 50: at most 10 refusals at once.
        await using var server = await StartWithTokensAsync(o =>
        {
            o.MaxConnections = 50;
            o.CloseTimeout = TimeSpan.FromSeconds(30);
        });
        var tracker = server.Services.GetRequiredService<ConnectionTracker>();
        // 300 clients that never answer a close, all at once.
        var statuses = await Task.WhenAll(Enumerable.Range(0, 300).Select(async i =>
        {
            using var tcp = await HandshakeAsync(server.UploadSocketUri($"u{i}"));
            var status = await ReadStatusLineAsync(tcp);
            if (status == 101)
            {
                await ReadUntilEndAsync(tcp, TimeSpan.FromSeconds(10));
            }

            return status;
        }));
        tracker.MostRefusing.Should().BeLessThanOrEqualTo(10, "refusals beyond the budget are not upgraded");
        statuses.Should().OnlyContain(s => s == 101 || s == 401);
        statuses.Should().Contain(401, "beyond the budget the refusal is an HTTP status");
        await Eventually.HoldsAsync(() => tracker.RefusingCount == 0 && tracker.Count == 0, "every refusal is over");
        await server.AssertStillServesWithTokenAsync();
    }

    private static Task<EventsServer> StartWithTokensAsync(Action<UploadistaEventsOptions> configure)
        => EventsServer.StartAsync(configure, s => s.AddUploadistaEvents().AddSubscriptionTokens(o => o.SigningKeys.Add(Key)));

    /// <summary>Sends a WebSocket handshake on a fresh connection, then neither reads nor answers anything.</summary>
    private static async Task<TcpClient> HandshakeAsync(Uri uri)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(uri.Host, uri.Port, TestContext.Current.CancellationToken);
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var request = $"GET {uri.PathAndQuery} HTTP/1.1\r\nHost: {uri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                      $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await tcp.GetStream().WriteAsync(Encoding.ASCII.GetBytes(request), TestContext.Current.CancellationToken);
        return tcp;
    }

    /// <summary>Reads the response head byte by byte and returns its status code.</summary>
    private static async Task<int> ReadStatusLineAsync(TcpClient tcp)
    {
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            (await tcp.GetStream().ReadAsync(one, TestContext.Current.CancellationToken)).Should().Be(1, "the server answers the handshake");
            head.Append((char)one[0]);
        }

        return int.Parse(head.ToString().Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Reads what the server sends until it ends the connection (or <paramref name="timeout"/>).</summary>
    private static async Task<List<byte>> ReadUntilEndAsync(TcpClient tcp, TimeSpan timeout)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(timeout);
        var received = new List<byte>();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await tcp.GetStream().ReadAsync(buffer, deadline.Token)) > 0)
            {
                received.AddRange(buffer.AsSpan(0, read));
            }
        }
        catch (IOException)
        {
            // Reset by the server: ended all the same.
        }

        return received;
    }
}
