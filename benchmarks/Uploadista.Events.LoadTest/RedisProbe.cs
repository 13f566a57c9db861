using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Uploadista.Events.LoadTest;

/// <summary>What the load test asks the Redis it started: its raw PUBLISH ceiling, and its memory.</summary>
internal static class RedisProbe
{
    /// <summary>Raw PUBLISH requests per second from redis-benchmark: 16 clients, each pipelining <paramref name="pipeline"/> commands.</summary>
    public static async Task<double> PublishRateAsync(int port, int pipeline)
    {
        var start = new ProcessStartInfo(Tools.Find("redis-benchmark")) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-p", port.ToString(CultureInfo.InvariantCulture), "-n", "200000", "-c", "16", "-P", pipeline.ToString(CultureInfo.InvariantCulture), "-q", "PUBLISH", "bench-ceiling", new string('x', 110) })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();

        // "... PUBLISH bench-ceiling xxx: 1075268.75 requests per second, p50=0.199 msec"
        var line = output.Split('\r', '\n').Last(l => l.Contains("requests per second", StringComparison.Ordinal));
        var words = line[..line.IndexOf(" requests per second", StringComparison.Ordinal)].Split(' ');
        return double.Parse(words[^1], CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Redis's <c>used_memory</c> (bytes allocated, from <c>INFO memory</c>), over a raw socket: one inline
    /// command and its bulk-string reply, no client library needed in this process.
    /// </summary>
    public static async Task<long> UsedMemoryAsync(int port)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        await stream.WriteAsync("INFO memory\r\n"u8.ToArray());

        // The reply: $<length>\r\n<length bytes>\r\n
        using var received = new MemoryStream();
        var buffer = new byte[4096];
        int bodyStart = -1, length = 0;
        while (bodyStart < 0 || received.Length < bodyStart + length)
        {
            var read = await stream.ReadAsync(buffer);
            if (read == 0)
            {
                throw new IOException("Redis closed the connection before answering INFO.");
            }

            received.Write(buffer, 0, read);
            var header = received.GetBuffer().AsSpan(0, (int)received.Length);
            if (bodyStart < 0 && header.IndexOf((byte)'\n') is var newline and > 0)
            {
                length = int.Parse(header[1..(newline - 1)], CultureInfo.InvariantCulture);
                bodyStart = newline + 1;
            }
        }

        var info = Encoding.ASCII.GetString(received.GetBuffer(), bodyStart, length);
        var line = info.Split("\r\n").First(l => l.StartsWith("used_memory:", StringComparison.Ordinal));
        return long.Parse(line["used_memory:".Length..], CultureInfo.InvariantCulture);
    }
}
