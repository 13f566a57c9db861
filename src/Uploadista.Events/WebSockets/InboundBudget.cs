using System.Net.WebSockets;

namespace Uploadista.Events;

/// <summary>
/// What a client may send in one second: frames (control frames and empty continuations included) and
/// bytes. Every frame costs the server work whether or not it completes a message, so both are counted.
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

/// <summary>
/// Counts the frames and bytes a client sends by reading the frame headers (RFC 6455 section 5.2) in
/// what the captured transport receives, before the WebSocket parses it: the pings it answers itself
/// and the empty frames that never complete a message are counted too.
/// </summary>
internal sealed class InboundMeter(InboundBudget budget)
{
    private int _position;   // within the current frame's header
    private int _headerLength = 2;
    private int _extendedLength;
    private ulong _payloadLength;
    private ulong _payloadLeft;

    /// <summary>Counts <paramref name="received"/>; returns the close to send if it goes over the budget.</summary>
    public (WebSocketCloseStatus Status, string Reason)? Observe(ReadOnlySpan<byte> received)
    {
        var frames = 0;
        var rest = received;
        while (!rest.IsEmpty)
        {
            if (_payloadLeft > 0)
            {
                var skip = (int)Math.Min(_payloadLeft, (ulong)rest.Length);
                _payloadLeft -= (ulong)skip;
                rest = rest[skip..];
                continue;
            }

            ReadHeaderByte(rest[0]);
            rest = rest[1..];
            if (_position == _headerLength)
            {
                frames++;
                _payloadLeft = _payloadLength;
                _position = 0;
                _headerLength = 2;
                _payloadLength = 0;
            }
        }

        return budget.Spend(frames, received.Length);
    }

    private void ReadHeaderByte(byte value)
    {
        if (_position == 1)
        {
            var length = value & 0x7F;
            _extendedLength = length == 126 ? 2 : length == 127 ? 8 : 0;
            _payloadLength = _extendedLength == 0 ? (ulong)length : 0;
            _headerLength = 2 + _extendedLength + ((value & 0x80) != 0 ? 4 : 0);
        }
        else if (_position >= 2 && _position < 2 + _extendedLength)
        {
            _payloadLength = (_payloadLength << 8) | value;
        }

        _position++;
    }
}
