// The consumer test's checker (eng/consumer-test.sh), run outside the repository:
//   packages <folder> <version> <quick-start.cs>   checks the packed .nupkg and .snupkg files
//   receive <base-url>                            opens a socket on the quick-start app, has its
//                                                 endpoint publish, and checks the events arrive
// It prints what it checked, and exits 1 with the reason on the first thing that is wrong.
using ConsumerCheck;

try
{
    switch (args)
    {
        case ["packages", var folder, var version, var quickStart]:
            PackageChecks.Run(folder, version, await File.ReadAllTextAsync(quickStart));
            break;
        case ["receive", var baseUrl]:
            await SocketCheck.RunAsync(new Uri(baseUrl));
            break;
        default:
            throw new CheckFailedException("usage: packages <folder> <version> <quick-start.cs> | receive <base-url>");
    }

    return 0;
}
catch (CheckFailedException failure)
{
    await Console.Error.WriteLineAsync($"FAILED: {failure.Message}");
    return 1;
}
catch (Exception unexpected) when (unexpected is not OutOfMemoryException)
{
    // A refused connection, a malformed package: a failure too, with the whole story.
    await Console.Error.WriteLineAsync($"FAILED: {unexpected}");
    return 1;
}

namespace ConsumerCheck
{
    internal sealed class CheckFailedException(string message) : Exception(message);

    internal static class Check
    {
        public static void That(bool condition, string what)
        {
            if (!condition)
            {
                throw new CheckFailedException(what);
            }

            Console.WriteLine($"  ok: {what}");
        }
    }
}
