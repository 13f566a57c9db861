using System.Net.WebSockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Uploadista.Events;

/// <summary>
/// The subscriptions of one multiplexed socket: each authorized like a socket of its own (the same
/// authorizers, with the subscription's token; the same per-channel limit), then joined to its channel
/// with a <see cref="ConnectionSubscription"/> that feeds the socket's one <see cref="SendQueue"/>.
/// The reader calls <see cref="Handle"/>; authorization and joins run beside it, so a slow authorizer
/// or broker never stops the socket's reading.
/// </summary>
internal sealed class SocketSubscriptions(
    HttpContext context,
    SendQueue queue,
    ConnectionAdmission admission,
    ConnectionTracker tracker,
    SubscriptionRegistry registry,
    UploadistaEventsOptions options,
    TimeProvider time,
    ILogger logger,
    UploadistaMetrics? metrics,
    CancellationToken aborted)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    // A channel being left; a new subscription to it waits, so that its "unsubscribed" precedes the
    // new "subscribed".
    private readonly Dictionary<string, Task> _leaving = new(StringComparer.Ordinal);
    private readonly SecondWindow _messages = new(time);
    private bool _closed;

    /// <summary>Acts on a subscribe or unsubscribe message (a <see cref="ClientMessageHandler"/>); the reader's only caller.</summary>
    public bool Handle(ReadOnlySpan<byte> message, out (WebSocketCloseStatus Status, string Reason)? violation)
    {
        violation = null;
        if (!SubscribeMessage.TryRead(message, out var request))
        {
            return false;
        }

        // Their own allowance, twice the limit a second (subscribe to all, and unsubscribe from all): a
        // page subscribing to all its uploads at once is not a flood.
        var allowance = 2 * options.MaxSubscriptionsPerConnection;
        if (_messages.Add(1) > allowance)
        {
            violation = (CloseStatuses.TooManyMessages, $"More than {allowance} subscribe and unsubscribe messages a second");
        }
        else if (request.Problem is { } problem)
        {
            Refuse(request, WebSocketCloseStatus.PolicyViolation, $"Invalid {(request.Subscribe ? "subscribe" : "unsubscribe")}: {problem}", Tags.Refusal.InvalidRequest);
        }
        else if (request.Subscribe)
        {
            Subscribe(request);
        }
        else
        {
            Unsubscribe(request);
        }

        return true;
    }

    /// <summary>Leaves every channel; the socket has ended.</summary>
    public Task CloseAsync()
    {
        Entry[] entries;
        lock (_gate)
        {
            _closed = true;
            entries = [.. _entries.Values];
            _entries.Clear();
        }

        return Task.WhenAll(entries.Select(entry => LeaveAsync(entry, answer: false)));
    }

    private void Subscribe(SubscribeMessage request)
    {
        var channel = ChannelTag.ChannelOf(request.Kind, request.Id!);
        string? refusal = null;
        Entry? entry = null;
        Task? previous;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            _leaving.TryGetValue(channel, out previous);
            if (_entries.ContainsKey(channel))
            {
                refusal = "Already subscribed; unsubscribe first";
            }
            else if (_entries.Count + _leaving.Count >= options.MaxSubscriptionsPerConnection)
            {
                refusal = $"More than {options.MaxSubscriptionsPerConnection} subscriptions on one connection";
            }
            else
            {
                entry = new Entry(channel, CancellationTokenSource.CreateLinkedTokenSource(aborted));
                _entries.Add(channel, entry);
            }
        }

        if (entry is null)
        {
            // The client's own mistake (a duplicate, too many on its socket), not the instance's limits.
            Refuse(request, WebSocketCloseStatus.PolicyViolation, refusal!, Tags.Refusal.InvalidRequest);
            return;
        }

        _ = JoinThenSignalAsync(entry, request, previous);
    }

    /// <summary>Joins, and tells whoever leaves (an unsubscribe, the socket's end, a reset) what there is to leave; it never throws.</summary>
    private async Task JoinThenSignalAsync(Entry entry, SubscribeMessage request, Task? previous)
        => entry.Joined.TrySetResult(await JoinAsync(entry, request, previous));

    private async Task<IAsyncDisposable?> JoinAsync(Entry entry, SubscribeMessage request, Task? previous)
    {
        var cancel = entry.Cancel.Token;
        try
        {
            if (previous is not null)
            {
                await previous.WaitAsync(cancel);
            }

            var subscription = new SubscriptionRequest(context, request.Kind, request.Id!, request.Token);
            if (await admission.AuthorizeAsync(subscription, cancel) is { } refused)
            {
                EndRefused(entry, request, refused.Status, refused.Reason, refused.Tag);
                return null;
            }

            cancel.ThrowIfCancellationRequested();
            if (tracker.TryAdmitSubscription(entry.Channel) is not { } place)
            {
                EndRefused(entry, request, CloseStatuses.TryAgainLater, "Too many connections on this upload or job; try again later", Tags.Refusal.Limit);
                return null;
            }

            entry.Place = place;
            var tag = new ChannelTag(request.Kind, request.Id!, () => EndedByChannel(entry));
            return await registry.JoinAsync(entry.Channel, new ConnectionSubscription(queue, request.Since, request.Epoch, tag), cancel);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // Unsubscribed, or the socket ended, before the subscription was made.
            return null;
        }
        catch (Exception ex)
        {
            Log.JoinFailed(logger, entry.Channel, ex);
            EndRefused(entry, request, CloseStatuses.TryAgainLater, "Subscription failed; retry later", Tags.Refusal.Error);
            return null;
        }
    }

    private void Unsubscribe(SubscribeMessage request)
    {
        var channel = ChannelTag.ChannelOf(request.Kind, request.Id!);
        Entry? entry;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            if (_entries.Remove(channel, out entry))
            {
                _leaving[channel] = entry.Left.Task;
            }
        }

        if (entry is not null)
        {
            // Outside the socket's lock: leaving takes the channel's lock, under which a channel that
            // starts over takes the socket's (EndedByChannel).
            _ = LeaveAsync(entry, answer: true, request);
            return;
        }

        // Not subscribed (or already ended): the answer is the same, so unsubscribing is idempotent.
        Answer(ControlFrames.Unsubscribed(request.Kind, request.Id!));
    }

    /// <summary>
    /// Leaves the channel (once the join, if under way, is done), then answers: once the membership is
    /// gone the channel's sequencer calls the subscription no more, so no event of it follows the answer.
    /// </summary>
    private async Task LeaveAsync(Entry entry, bool answer, SubscribeMessage request = default)
    {
        await entry.Cancel.CancelAsync();
        try
        {
            if (await entry.Joined.Task is { } membership)
            {
                await membership.DisposeAsync();
            }
        }
        catch (Exception ex)
        {
            Log.UnsubscribeFailed(logger, entry.Channel, ex);
        }
        finally
        {
            entry.Place?.Dispose();
            entry.Cancel.Dispose();
        }

        if (answer)
        {
            Answer(ControlFrames.Unsubscribed(request.Kind, request.Id!));
        }

        lock (_gate)
        {
            if (_leaving.TryGetValue(entry.Channel, out var leaving) && leaving == entry.Left.Task)
            {
                _leaving.Remove(entry.Channel);
            }
        }

        entry.Left.TrySetResult();
    }

    /// <summary>The channel started over beneath the subscription, which has sent its own frame; called under the channel's lock, so the leave runs apart.</summary>
    private void EndedByChannel(Entry entry)
    {
        lock (_gate)
        {
            if (!_entries.Remove(entry.Channel, out var current) || current != entry)
            {
                return;
            }
        }

        _ = Task.Run(() => LeaveAsync(entry, answer: false));
    }

    private void EndRefused(Entry entry, SubscribeMessage request, WebSocketCloseStatus status, string reason, string tag)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(entry.Channel, out var current) || current != entry)
            {
                return; // unsubscribed meanwhile: the unsubscribe is the answer
            }

            _entries.Remove(entry.Channel);
        }

        entry.Place?.Dispose();
        entry.Cancel.Dispose();
        Refuse(request, status, reason, tag);
    }

    private void Refuse(SubscribeMessage request, WebSocketCloseStatus status, string reason, string tag)
    {
        Log.SubscriptionRefused(logger, request.Id ?? "(none)", status, reason);
        metrics?.Refused(tag);
        Answer(ControlFrames.Refused(request.Kind, request.Id, status, reason));
    }

    /// <summary>
    /// Queues an answer as a live frame, counted against the queue's capacity: a client that sends
    /// messages and reads no answers is a slow consumer (4008) like any other.
    /// </summary>
    private void Answer(ChannelEvent frame) => queue.Add(frame);

    private sealed class Entry(string channel, CancellationTokenSource cancel)
    {
        public string Channel => channel;

        public CancellationTokenSource Cancel => cancel;

        public TaskCompletionSource<IAsyncDisposable?> Joined { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IDisposable? Place { get; set; }

        /// <summary>Gets a task that completes once the subscription has left its channel.</summary>
        public TaskCompletionSource Left { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
