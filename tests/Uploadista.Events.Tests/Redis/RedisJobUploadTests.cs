using System.Globalization;
using System.Text.RegularExpressions;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Redis;

/// <summary>
/// Where the Redis broadcaster keeps which upload a job belongs to, and what following it costs
/// (protocol.md, "Flows and their upload"; operations.md, "Keys").
/// </summary>
public sealed class RedisJobUploadTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly string _prefix = RedisFixture.UniquePrefix();

    [Fact]
    public async Task The_association_is_a_key_of_its_own_that_lives_as_long_as_the_job_s_state()
    {
        await using var host = await EventsServer.StartOnRedisAsync(redis.Server.Configuration, _prefix);

        await host.Publisher.PublishAsync(new FlowStartedEvent { JobId = "job-key", UploadId = "upload-key", FlowName = "f" }, TestContext.Current.CancellationToken);

        var key = $"{_prefix}{{flow:job-key}}:upload";
        (await redis.Server.CliAsync("GET", key)).Should().Be("upload-key");
        (await redis.Server.CliAsync("TYPE", key)).Should().Be("string");
        var ttl = long.Parse(await redis.Server.CliAsync("PTTL", key), CultureInfo.InvariantCulture);
        ttl.Should().BeInRange(1, (long)(TimeSpan.FromHours(1).TotalMilliseconds * 1.01), "it expires with the retention period, as the job's state does");
    }

    [Fact]
    public async Task Following_a_job_s_upload_costs_one_read_per_instance_and_job_not_one_per_event()
    {
        const int Events = 50;
        await using var server = await RedisServer.StartOwnAsync();

        // No tie-breaker: the client would read its key with GET when it (re)configures.
        await using var a = await EventsServer.StartOnRedisAsync(server.Configuration + ",tiebreaker=", _prefix);
        await using var b = await EventsServer.StartOnRedisAsync(server.Configuration + ",tiebreaker=", _prefix);
        await using var upload = await b.JoinUploadAsync("cost-upload");
        var before = await CallsAsync(server);

        await a.Publisher.PublishAsync(new FlowStartedEvent { JobId = "cost-job", UploadId = "cost-upload", FlowName = "f" }, TestContext.Current.CancellationToken);
        for (var i = 1; i <= Events; i++)
        {
            // On the other instance, without UploadId: one read, then its cache answers.
            await b.Publisher.PublishAsync(new FlowProgressEvent { JobId = "cost-job", NodeId = "b", NodeName = "B", Progress = i / (double)Events }, TestContext.Current.CancellationToken);

            // A producer that names the upload on every event: written once.
            await a.Publisher.PublishAsync(new FlowProgressEvent { JobId = "cost-job", UploadId = "cost-upload", NodeId = "a", NodeName = "A", Progress = i / (double)Events }, TestContext.Current.CancellationToken);

            // A job with no upload: one read, and the answer "none" is remembered too.
            await b.Publisher.PublishAsync(new FlowProgressEvent { JobId = "cost-alone", NodeId = "b", NodeName = "B", Progress = i / (double)Events }, TestContext.Current.CancellationToken);
        }

        // Events of a job that the other instance does not know yet, published at the same moment: one read.
        await a.Publisher.PublishAsync(new FlowStartedEvent { JobId = "cost-burst", UploadId = "cost-upload", FlowName = "f" }, TestContext.Current.CancellationToken);
        await Task.WhenAll(Enumerable.Range(1, 20).Select(i => b.Publisher.PublishAsync(
            new FlowProgressEvent { JobId = "cost-burst", NodeId = $"n{i}", NodeName = "N", Progress = 1 }, TestContext.Current.CancellationToken).AsTask()));

        var after = await CallsAsync(server);
        (after.Set - before.Set).Should().Be(2, "each association is written once, before the first event it routes");
        (after.Get - before.Get).Should().Be(3, "each instance reads a job's association once, not per event");
        var frames = 0;
        while (frames < 1 + 2 * Events + 1 + 20)
        {
            (await upload.ReceiveJsonAsync()).GetProperty("uploadId").GetString().Should().Be("cost-upload");
            frames++;
        }
    }

    /// <summary>How many reads (GET) and writes (SET, SETEX, PSETEX) of strings the server ran, scripts' included.</summary>
    private static async Task<(long Get, long Set)> CallsAsync(RedisServer server)
    {
        var stats = await server.CliAsync("INFO", "commandstats");
        return (Calls(stats, "get"), Calls(stats, "set") + Calls(stats, "setex") + Calls(stats, "psetex"));

        static long Calls(string stats, string command)
            => Regex.Match(stats, $"^cmdstat_{command}:calls=(\\d+)", RegexOptions.Multiline) is { Success: true } match
                ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)
                : 0;
    }
}

/// <summary>The association on a real local Redis Cluster, where the job's and the upload's channels live on different masters.</summary>
public sealed class RedisClusterJobUploadTests(RedisClusterFixture fixture) : IClassFixture<RedisClusterFixture>
{
    private readonly string _prefix = RedisFixture.UniquePrefix();

    [Fact]
    public async Task The_association_lives_in_the_job_s_slot_apart_from_the_upload_s()
    {
        var cluster = fixture.Cluster;
        const string Upload = "slot-upload";
        var uploadMaster = await cluster.MasterOfAsync($"{_prefix}{{upload:{Upload}}}");
        string job;
        var n = 0;
        do
        {
            job = $"slot-job-{n++}";
        }
        while (await cluster.MasterOfAsync($"{_prefix}{{flow:{job}}}") == uploadMaster);

        await using var a = await EventsServer.StartOnRedisAsync(cluster.Configuration, _prefix);
        await using var b = await EventsServer.StartOnRedisAsync(cluster.Configuration, _prefix);
        await using var socket = await b.JoinUploadAsync(Upload);
        await a.Publisher.PublishAsync(new FlowStartedEvent { JobId = job, UploadId = Upload, FlowName = "f" }, TestContext.Current.CancellationToken);
        await b.Publisher.PublishAsync(new FlowProgressEvent { JobId = job, NodeId = "n", NodeName = "N", Progress = 1 }, TestContext.Current.CancellationToken);

        var key = $"{_prefix}{{flow:{job}}}:upload";
        var slot = await RedisCluster.CliAsync(cluster.Ports[0], ["CLUSTER", "KEYSLOT", key]);
        slot.Should().Be(await RedisCluster.CliAsync(cluster.Ports[0], ["CLUSTER", "KEYSLOT", $"{_prefix}{{flow:{job}}}:m"]), "the key shares the job's hash tag");
        var jobMaster = await cluster.MasterOfAsync(key);
        jobMaster.Should().NotBe(uploadMaster);
        (await RedisCluster.CliAsync(jobMaster, ["GET", key])).Should().Be(Upload);
        (await socket.ReceiveJsonAsync()).GetProperty("type").GetString().Should().Be("flow_started");
        var routed = await socket.ReceiveJsonAsync();
        (routed.GetProperty("type").GetString(), routed.GetProperty("uploadId").GetString()).Should().Be(("flow_progress", Upload));
    }
}
