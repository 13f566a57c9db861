namespace Uploadista.Events.LoadTest;

/// <summary>
/// The flag both servers take to run as a single instance with no Redis at all: Uploadista.Events
/// with its in-memory default, SignalR with no backplane. The load test then connects the sockets to
/// that instance and has it publish too, as an application on one server would.
/// </summary>
internal static class ServerMode
{
    /// <summary>The configuration key the flag sets.</summary>
    public const string Key = "mode";

    public const string Local = "local";

    /// <summary>The flag on a server's command line: <c>--mode local</c>.</summary>
    public static readonly string[] LocalArguments = ["--" + Key, Local];
}
