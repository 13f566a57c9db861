namespace Uploadista.Events.Client;

/// <summary>Where an <see cref="EventWatch"/>'s connection stands.</summary>
public enum WatchState
{
    /// <summary>Not enumerated yet.</summary>
    NotStarted,

    /// <summary>Opening the watch's first connection.</summary>
    Connecting,

    /// <summary>Connected: events arrive as they are published.</summary>
    Connected,

    /// <summary>The connection was lost; waiting to connect again, then resuming where it left off.</summary>
    Reconnecting,

    /// <summary>The enumeration has ended: completed, cancelled, refused, or disposed.</summary>
    Closed,
}
