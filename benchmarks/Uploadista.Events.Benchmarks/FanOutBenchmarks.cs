using System.Net.WebSockets;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Uploadista.Events.Benchmarks;

/// <summary>
/// One event published to a channel with 1, 100 or 1,000 local subscribers, through the in-memory
/// broadcaster, the subscription registry and each connection's queue and writer, to sockets that
/// discard what they are sent. Allocations per operation should not grow with the subscribers.
/// </summary>
public class FanOutBenchmarks
{
    private readonly List<IAsyncDisposable> _memberships = [];
    private readonly CancellationTokenSource _stop = new();
    private MemoryEventBroadcaster _broadcaster = null!;
    private EventPublisher _publisher = null!;
    private CountingStream _sink = null!;
    private EventPublication _publication;
    private long _sent;

    [Params(1, 100, 1000)]
    public int Subscribers { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var options = Options.Create(new UploadistaEventsOptions { SendQueueCapacity = 1024 });
        _broadcaster = new MemoryEventBroadcaster(options, TimeProvider.System, NullLogger<MemoryEventBroadcaster>.Instance);
        var registry = new SubscriptionRegistry(_broadcaster, options, NullLogger<SubscriptionRegistry>.Instance);
        _sink = new CountingStream();
        for (var i = 0; i < Subscribers; i++)
        {
            var frames = new FrameStream(_sink);
            var socket = WebSocket.CreateFromStream(frames, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = Timeout.InfiniteTimeSpan });
            var queue = new SendQueue(1024);
            var subscription = new ConnectionSubscription(queue, since: 0, sinceEpoch: null);
            _ = new ConnectionWriter(queue, new TransportFrameWriter(socket, frames), () => subscription.Epoch, TimeProvider.System).RunAsync(_stop.Token);
            _memberships.Add(await registry.JoinAsync("upload:bench", subscription, CancellationToken.None));
        }

        _publisher = new EventPublisher(_broadcaster, TimeProvider.System, options, NullLogger<EventPublisher>.Instance);
        _publication = EventPublisher.Serialize(new UploadProgressEvent { UploadId = "bench", Progress = 0.5, BytesUploaded = 1, TotalBytes = 2 }, DateTimeOffset.UtcNow);
    }

    [Benchmark]
    public async Task PublishToAll()
    {
        await _broadcaster.PublishAsync("upload:bench", _publication);
        _sent += Subscribers;
        await _sink.WaitForAsync(_sent);
    }

    /// <summary>The whole publish path an application calls: validation, serialization, then the same as <see cref="PublishToAll"/>.</summary>
    [Benchmark]
    public async Task PublishThroughThePublisher()
    {
        await _publisher.PublishAsync(new UploadErrorEvent { UploadId = "bench", Error = "disk full" });
        _sent += Subscribers;
        await _sink.WaitForAsync(_sent);
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _stop.CancelAsync();
        foreach (var membership in _memberships)
        {
            await membership.DisposeAsync();
        }

        _publisher.Dispose();
        _broadcaster.Dispose();
    }

    /// <summary>A socket's stream that keeps nothing, and counts the WebSocket frames written to it.</summary>
    private sealed class CountingStream : Stream
    {
        private long _frames;
        private long _waitingFor = long.MaxValue;
        private TaskCompletionSource? _reached;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public Task WaitForAsync(long writes)
        {
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _reached, reached);
            Volatile.Write(ref _waitingFor, writes);
            if (Interlocked.Read(ref _frames) >= writes)
            {
                reached.TrySetResult();
            }

            return reached.Task;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            // Small unmasked frames: a two-byte header, or four with a 16-bit length.
            var frames = 0;
            for (var span = buffer.Span; span.Length > 1; frames++)
            {
                var length = span[1] & 0x7F;
                var header = length == 126 ? 4 : 2;
                length = length == 126 ? (span[2] << 8) | span[3] : length;
                span = span[(header + length)..];
            }

            if (Interlocked.Add(ref _frames, frames) >= Volatile.Read(ref _waitingFor))
            {
                Volatile.Read(ref _reached)?.TrySetResult();
            }

            return ValueTask.CompletedTask;
        }

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        // Nothing ever arrives from this client.
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => new(Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => 0, TaskScheduler.Default));

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
