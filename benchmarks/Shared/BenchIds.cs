using System.Globalization;

namespace Uploadista.Events.LoadTest;

/// <summary>
/// Upload and job ids of a load run, the same on the servers and in the clients. Each run of a
/// scenario has its own run id in them, on top of its own Redis prefix, so that events retained by one
/// run can never reach the sockets of another, even if a prefix were reused.
/// </summary>
internal static class BenchIds
{
    /// <summary>A short id for one run of one scenario on one system.</summary>
    public static string NewRun() => Guid.NewGuid().ToString("N")[..8];

    public static string Upload(string run, int upload) => string.Create(CultureInfo.InvariantCulture, $"u-{run}-{upload}");

    public static string Job(string run, int upload) => string.Create(CultureInfo.InvariantCulture, $"j-{run}-{upload}");

    /// <summary>The ids of uploads 0 .. <paramref name="uploads"/> - 1, built once per request rather than per event.</summary>
    public static string[] Uploads(string run, int uploads) => [.. Enumerable.Range(0, uploads).Select(i => Upload(run, i))];
}
