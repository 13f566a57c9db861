using System.Net.WebSockets;

namespace Uploadista.Events;

/// <summary>
/// What a client may send in one second: frames (control frames and empty continuations included) and
/// payload bytes. Every frame costs the server work whether or not it completes a message, so both are
/// counted.
/// </summary>
internal sealed class InboundBudget(int maxFrames, int maxBytes, TimeProvider time)
{
    private readonly SecondWindow _frames = new(time);
    private readonly SecondWindow _bytes = new(time);

    /// <summary>Counts what was received; returns the close to send if it goes over the budget.</summary>
    public (WebSocketCloseStatus Status, string Reason)? Spend(int frames, int bytes)
    {
        if (_frames.Add(frames) > maxFrames)
        {
            return (CloseStatuses.TooManyMessages, $"More than {maxFrames} frames a second");
        }

        return _bytes.Add(bytes) > maxBytes ? (CloseStatuses.TooManyMessages, $"More than {maxBytes} bytes a second") : null;
    }
}
