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
            await transport.WriteAsync(buffer, cancellationToken);
        }
        finally
        {
            _writing.Release();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        _writing.Wait();
        try
        {
            transport.Write(buffer, offset, count);
        }
        finally
        {
            _writing.Release();
        }
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => transport.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => transport.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => transport.Read(buffer, offset, count);

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
        // features; ours, next in line, installs one that goes through the capture.
        context.Features.Set<IHttpWebSocketFeature>(null);
        context.Features.Set(capture);
        return capture;
    }

    public async Task<Stream> UpgradeAsync() => Stream = new FrameStream(await _upgrade!.UpgradeAsync());

    public async ValueTask<Stream> AcceptAsync() => Stream = new FrameStream(await _connect!.AcceptAsync());
}
