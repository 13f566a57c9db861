using System.Diagnostics;

namespace Uploadista.Events.LoadTest;

/// <summary>Runs every scenario on both systems, alternating round by round, and reports medians and ratios.</summary>
internal sealed class LoadRunner(LoadOptions options)
{
    public async Task<string> RunAsync()
    {
        var scenarios = Scenario.All(options);
        if (options.Only.Length > 0)
        {
            var unknown = options.Only.Except(scenarios.Select(s => s.Name)).ToArray();
            if (unknown.Length > 0)
            {
                throw new ArgumentException($"Unknown scenario(s) in --only: {string.Join(", ", unknown)}. Known: {string.Join(", ", scenarios.Select(s => s.Name))}.");
            }

            scenarios = [.. scenarios.Where(s => options.Only.Contains(s.Name))];
        }

        foreach (var scenario in scenarios)
        {
            Console.WriteLine($"  {scenario.Name}: {scenario.Description}");
        }

        var directory = Directory.CreateTempSubdirectory("uploadista-load");
        try
        {
            // Only the scenarios across two instances need Redis; a run of local ones goes without.
            await using var redis = scenarios.Any(s => !s.Local) ? await ChildProcess.StartRedisAsync(directory.FullName) : null;
            (double Pipelined, double Unpipelined)? ceiling = null;
            if (redis is not null)
            {
                ceiling = (await RedisProbe.PublishRateAsync(redis.Port, 16), await RedisProbe.PublishRateAsync(redis.Port, 1));
                Console.WriteLine($"Raw Redis PUBLISH (redis-benchmark, 16 clients, 110-byte messages): {ceiling.Value.Pipelined:N0}/s pipelined 16 deep, {ceiling.Value.Unpipelined:N0}/s unpipelined");
            }

            var results = new Dictionary<(string Scenario, string System), List<RunResult>>();
            foreach (var scenario in scenarios)
            {
                for (var round = 1; round <= options.Rounds; round++)
                {
                    var other = Systems.Other(options);
                    string[] order = round % 2 == 1 ? [Systems.Uploadista, other] : [other, Systems.Uploadista];
                    foreach (var system in order)
                    {
                        var started = Stopwatch.GetTimestamp();
                        var result = await new ScenarioRun(scenario, system, options, scenario.Local ? null : redis).RunAsync();
                        // The run's wall time, servers' start and sockets' connect included: where the time budget goes.
                        Console.WriteLine($"  {scenario.Name,-19} round {round} {system,-26} {Report.Describe(scenario, system, result)}  [{Stopwatch.GetElapsedTime(started).TotalSeconds:N0} s]");
                        (results.TryGetValue((scenario.Name, system), out var list) ? list : results[(scenario.Name, system)] = []).Add(result);
                    }
                }
            }

            return Report.Table(scenarios, results, options, ceiling);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
