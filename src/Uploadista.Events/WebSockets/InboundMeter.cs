using System.Net.WebSockets;

namespace Uploadista.Events;

/// <summary>
/// Counts the frames and bytes a client sends by reading the frame headers (RFC 6455 section 5.2) in
/// what the captured transport receives, before the WebSocket parses it: the pings it answers itself
/// and the empty frames that never complete a message are counted too. Frames may be split across reads.
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
        var payload = 0;
        var rest = received;
        while (!rest.IsEmpty)
        {
            if (_payloadLeft > 0)
            {
                var skip = (int)Math.Min(_payloadLeft, (ulong)rest.Length);
                _payloadLeft -= (ulong)skip;
                payload += skip;
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

        // Payload bytes only, as where the transport is not captured, so that one message of the
        // largest size allowed fits the smallest byte budget allowed.
        return budget.Spend(frames, payload);
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
