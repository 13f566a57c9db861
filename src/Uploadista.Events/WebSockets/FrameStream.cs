using System.Buffers;
using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Uploadista.Events;

/// <summary>
/// A WebSocket's transport, shared by the <see cref="System.Net.WebSockets.WebSocket"/> (which reads,
/// answers pings and closes) and the connection's writer (which writes ready-made text frames, many
/// at once). Writes are serialized, and each caller writes whole frames, so frames never interleave.
/// </summary>
internal sealed class FrameStream(Stream transport) : Stream
{
    private readonly SemaphoreSlim _writing = new(1, 1);
    private const byte CloseOpcode = 0x88; // FIN and opcode 8

    private InboundMeter? _meter;
    private bool _closeWritten;
    private Action<WebSocketCloseStatus, string>? _onViolation;

    /// <summary>
    /// Counts what the client sends against <paramref name="meter"/>'s budget from now on. Over it, the
    /// close frame is written at once and reading fails, so a flood stops costing work even when it is
    /// made of frames the WebSocket would answer or skip without returning.
    /// </summary>
    public void Meter(InboundMeter meter, Action<WebSocketCloseStatus, string> onViolation)
    {
        _meter = meter;
        _onViolation = onViolation;
    }

    public override bool CanRead => transport.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => transport.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _writing.WaitAsync(cancellationToken);
        try
        {
            // Nothing may follow a close frame (RFC 6455 section 5.5.1). Every write starts at a frame,
            // so a close frame is recognized by its first byte, whoever writes it.
            if (_closeWritten)
            {
                throw new IOException("The connection's close frame has been sent.");
            }

            _closeWritten = !buffer.IsEmpty && buffer.Span[0] == CloseOpcode;
            await transport.WriteAsync(buffer, cancellationToken);
        }
        finally
        {
            _writing.Release();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await transport.ReadAsync(buffer, cancellationToken);
        if (_meter?.Observe(buffer.Span[..read]) is var (status, reason))
        {
            // The writer stops first, so that no event follows the close frame; the close frame is
            // written before the read fails, which ends the connection.
            _meter = null;
            _onViolation!(status, reason);
            try
            {
                await WriteAsync(CloseFrame(status, reason), cancellationToken);
            }
            catch (IOException)
            {
                // A close frame went out already (the server was closing anyway).
            }

            await DiscardAsync();
            throw new IOException($"The client went over its inbound budget: {reason}");
        }

        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>
    /// Reads and drops what the client still sends, for at most a second: closing a connection with
    /// data unread resets it, and a reset can destroy the close frame before the client reads it.
    /// </summary>
    private async Task DiscardAsync()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var scratch = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (await transport.ReadAsync(scratch, deadline.Token) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Time is up, or the connection is gone.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>A server's close frame: FIN and opcode 8, unmasked, the status then the reason (short, ASCII).</summary>
    private static byte[] CloseFrame(WebSocketCloseStatus status, string reason)
    {
        var frame = new byte[4 + reason.Length];
        frame[0] = CloseOpcode;
        frame[1] = (byte)(2 + reason.Length);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)status);
        Encoding.ASCII.GetBytes(reason, frame.AsSpan(4));
        return frame;
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => transport.FlushAsync(cancellationToken);

    public override void Flush() => transport.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            transport.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>
/// Wraps the request's upgrade features so that the WebSocket handshake hands out a
/// <see cref="FrameStream"/>, and keeps it for the connection's writer.
/// </summary>
internal sealed class TransportCapture : IHttpUpgradeFeature, IHttpExtendedConnectFeature
{
    private readonly IHttpUpgradeFeature? _upgrade;
    private readonly IHttpExtendedConnectFeature? _connect;

    private TransportCapture(IHttpUpgradeFeature? upgrade, IHttpExtendedConnectFeature? connect)
    {
        _upgrade = upgrade;
        _connect = connect;
    }

    /// <summary>Gets the transport, once the handshake has happened.</summary>
    public FrameStream? Stream { get; private set; }

    public bool IsUpgradableRequest => _upgrade?.IsUpgradableRequest ?? false;

    public bool IsExtendedConnect => _connect?.IsExtendedConnect ?? false;

    public string? Protocol => _connect?.Protocol;

    /// <summary>Installs the capture on <paramref name="context"/>, before the WebSocket middleware looks for the features.</summary>
    public static TransportCapture Install(HttpContext context)
    {
        var capture = new TransportCapture(context.Features.Get<IHttpUpgradeFeature>(), context.Features.Get<IHttpExtendedConnectFeature>());
        if (capture._upgrade is not null)
        {
            context.Features.Set<IHttpUpgradeFeature>(capture);
        }

        if (capture._connect is not null)
        {
            context.Features.Set<IHttpExtendedConnectFeature>(capture);
        }

        // An application-wide UseWebSockets() may have installed a handshake holding the original
        // features; ours, next in line, installs one that goes through the capture. A server without
        // those features (TestServer) keeps its own WebSocket feature, and nothing is captured.
        if (capture.IsUpgradableRequest || capture.IsExtendedConnect)
        {
            context.Features.Set<IHttpWebSocketFeature>(null);
        }

        context.Features.Set(capture);
        return capture;
    }

    public async Task<Stream> UpgradeAsync() => Stream = new FrameStream(await _upgrade!.UpgradeAsync());

    public async ValueTask<Stream> AcceptAsync() => Stream = new FrameStream(await _connect!.AcceptAsync());
}
