using System.Buffers.Text;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Redis;

/// <summary>
/// A rolling deploy: an instance of the first release (format 1) and one of this release (format 2)
/// share a Redis. Each ignores, and logs, what the other publishes; neither fails on the other's keys;
/// seq stays unique across both.
/// </summary>
public sealed class RedisFormatCompatibilityTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly string _prefix = RedisFixture.UniquePrefix();

    [Fact]
    public async Task An_instance_of_the_first_release_and_one_of_this_release_ignore_each_other_s_messages_and_share_seq()
    {
        await using var current = await EventsServer.StartAsync(services: s => s.AddUploadistaEvents().AddRedis(o =>
        {
            o.Configuration = redis.Server.Configuration;
            o.ChannelPrefix = _prefix;
        }));
        await using var first = await FirstReleaseInstance.StartAsync(redis.Server.Configuration, _prefix);
        await using var socket = await current.JoinUploadAsync("mixed");

        // The first release publishes: its messages never reach this release's sockets.
        (await first.PublishAsync("upload:mixed", """{"type":"upload_started","uploadId":"mixed","filename":"f","size":9}""", null)).Should().Be(1);
        (await first.PublishAsync("upload:mixed", """{"type":"upload_progress","uploadId":"mixed","progress":0.5,"bytesUploaded":4,"totalBytes":9}""", "upload_progress")).Should().Be(2);
        await current.Publisher.PublishAsync(new UploadProgressEvent { UploadId = "mixed", Progress = 0.75, BytesUploaded = 7, TotalBytes = 9 });
        (await first.PublishAsync("upload:mixed", """{"type":"upload_progress","uploadId":"mixed","progress":0.9,"bytesUploaded":8,"totalBytes":9}""", "upload_progress")).Should().Be(4);
        await current.Publisher.PublishAsync(new UploadCompleteEvent { UploadId = "mixed", Url = "https://example.com/mixed" });

        var frames = new[] { await socket.ReceiveJsonAsync(), await socket.ReceiveJsonAsync() };
        frames.Select(f => (f.GetProperty("seq").GetInt64(), f.GetProperty("type").GetString()))
            .Should().Equal((3L, "upload_progress"), (5L, "upload_complete"));
        await socket.SendAsync("""{"type":"ping"}""");
        (await socket.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("pong", "nothing of the first release's reached the socket");
        current.Logs.GetSnapshot().Should().Contain(r => r.Id.Name == "Format1Dropped");
        current.Logs.GetSnapshot().Should().NotContain(r => r.Id.Name == "InvalidMessage" || r.Id.Name == "PublishRefused");

        // The first release drops this release's messages: none of them reads as format 1.
        first.Received.Should().HaveCount(5, "both releases publish on the same pub/sub channel");
        first.Received.Where(FirstReleaseInstance.CanRead).Should().HaveCount(3, "it reads its own three messages and none of the others");

        // A late joiner on this release gets this release's retained events; the first release's
        // retained state (a sorted set, and k: fields in the shared meta hash) is left alone.
        await using var late = await TestSocket.ConnectAsync(current.UploadSocketUri("mixed"));
        var retained = new[] { await late.ReceiveJsonAsync(), await late.ReceiveJsonAsync() };
        retained.Select(f => f.GetProperty("seq").GetInt64()).Should().Equal(3, 5);
        (await redis.Server.CliAsync("ZCARD", $"{_prefix}{{upload:mixed}}:r")).Should().Be("2", "its started and its latest progress");
    }

    /// <summary>
    /// What an instance of the first release did, as it shipped: one script per event (format 1,
    /// <c>seq:epoch:keyLength:key{json}</c>, retained in a sorted set), and a subscriber that drops
    /// what does not parse as format 1.
    /// </summary>
    private sealed class FirstReleaseInstance : IAsyncDisposable
    {
        private const string Script = """
            local seq = redis.call('HINCRBY', KEYS[1], 's', 1)
            local epoch = redis.call('HGET', KEYS[1], 'e')
            if not epoch then
              local now = redis.call('TIME')
              epoch = now[1] .. '.' .. now[2]
              redis.call('HSET', KEYS[1], 'e', epoch)
            end
            local key = ARGV[3]
            local message = seq .. ':' .. epoch .. ':' .. string.len(key) .. ':' .. key .. string.sub(ARGV[2], 1, -2) .. ',"seq":' .. seq .. '}'
            if key ~= '' then
              local field = 'k:' .. key
              local previous = redis.call('HGET', KEYS[1], field)
              if previous then
                redis.call('ZREMRANGEBYSCORE', KEYS[2], previous, previous)
              end
              redis.call('HSET', KEYS[1], field, seq)
            end
            redis.call('ZADD', KEYS[2], seq, message)
            redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - 1000)
            redis.call('PEXPIRE', KEYS[1], 3600000)
            redis.call('PEXPIRE', KEYS[2], 3600000)
            redis.call(ARGV[4], ARGV[1], message)
            return seq
            """;

        private readonly ConnectionMultiplexer _connection;
        private readonly string _prefix;
        private readonly List<byte[]> _received = [];

        private FirstReleaseInstance(ConnectionMultiplexer connection, string prefix)
        {
            _connection = connection;
            _prefix = prefix;
        }

        public IReadOnlyList<byte[]> Received
        {
            get
            {
                lock (_received)
                {
                    return [.. _received];
                }
            }
        }

        public static async Task<FirstReleaseInstance> StartAsync(string configuration, string prefix)
        {
            var instance = new FirstReleaseInstance(await ConnectionMultiplexer.ConnectAsync(configuration), prefix);
            var queue = await instance._connection.GetSubscriber().SubscribeAsync(RedisChannel.Literal($"{prefix}{{upload:mixed}}"));
            queue.OnMessage(message =>
            {
                lock (instance._received)
                {
                    instance._received.Add((byte[])message.Message!);
                }
            });
            return instance;
        }

        /// <summary>Whether the first release's parser accepts <paramref name="message"/>.</summary>
        public static bool CanRead(byte[] message)
        {
            ReadOnlySpan<byte> rest = message;
            if (!TryReadNumber(ref rest, out var seq) || seq <= 0)
            {
                return false;
            }

            var epochEnd = rest.IndexOf((byte)':');
            if (epochEnd <= 0)
            {
                return false;
            }

            rest = rest[(epochEnd + 1)..];
            if (!TryReadNumber(ref rest, out var keyLength) || keyLength < 0 || keyLength > rest.Length)
            {
                return false;
            }

            var frame = rest[(int)keyLength..];
            return frame.Length >= 2 && frame[0] == (byte)'{' && frame[^1] == (byte)'}';
        }

        public async Task<long> PublishAsync(string channel, string json, string? conflationKey)
        {
            var name = $"{_prefix}{{{channel}}}";
            return (long)await _connection.GetDatabase().ScriptEvaluateAsync(
                Script,
                [name + ":m", name + ":r"],
                [name, Encoding.UTF8.GetBytes(json), conflationKey ?? string.Empty, "PUBLISH"]);
        }

        public async ValueTask DisposeAsync() => await _connection.DisposeAsync();

        private static bool TryReadNumber(ref ReadOnlySpan<byte> rest, out long value)
        {
            var end = rest.IndexOf((byte)':');
            if (end <= 0 || !Utf8Parser.TryParse(rest[..end], out value, out var consumed) || consumed != end)
            {
                value = 0;
                return false;
            }

            rest = rest[(end + 1)..];
            return true;
        }
    }
}
