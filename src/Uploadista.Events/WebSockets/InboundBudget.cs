using System.Net.WebSockets;

namespace Uploadista.Events;

/// <summary>
/// What a client may send in one second: frames (control frames and empty continuations included) and
/// payload bytes. Every frame costs the server work whether or not it completes a message, so both are
/// counted.
/// </summary>
internal sealed class InboundBudget(int maxFrames, int maxBytes, TimeProvider time)
{
    private long _windowStart = time.GetTimestamp();
    private int _frames;
    private long _bytes;

    /// <summary>Counts what was received; returns the close to send if it goes over the budget.</summary>
    public (WebSocketCloseStatus Status, string Reason)? Spend(int frames, int bytes)
    {
        if (time.GetElapsedTime(_windowStart) >= TimeSpan.FromSeconds(1))
        {
            _windowStart = time.GetTimestamp();
            _frames = 0;
            _bytes = 0;
        }

        _frames += frames;
        _bytes += bytes;
        if (_frames > maxFrames)
        {
            return (CloseStatuses.TooManyMessages, $"More than {maxFrames} frames a second");
        }

        return _bytes > maxBytes ? (CloseStatuses.TooManyMessages, $"More than {maxBytes} bytes a second") : null;
    }
}
