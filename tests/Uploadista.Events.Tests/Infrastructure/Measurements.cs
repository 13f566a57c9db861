namespace Uploadista.Events.Tests.Infrastructure;

/// <summary>
/// Figures a test measures (never asserts tightly on): written to the test's output and to
/// measurements.txt beside the test assembly, which eng/test.sh prints after the run.
/// </summary>
public static class Measurements
{
    private static readonly Lock Gate = new();

    public static void Record(string line)
    {
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        lock (Gate)
        {
            File.AppendAllText(Path.Combine(AppContext.BaseDirectory, "measurements.txt"), $"{DateTime.UtcNow:O} {line}{Environment.NewLine}");
        }
    }
}
