using Uploadista.Events.Client;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Client;

/// <summary>Enumerates a watch in the background, so that a test can act while events arrive.</summary>
internal sealed class WatchCollector : IAsyncDisposable
{
    private readonly List<UploadistaEvent> _events = [];
    private readonly List<WatchState> _states = [];
    private readonly CancellationTokenSource _stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
    private readonly Task _run;

    public WatchCollector(EventWatch watch)
    {
        Watch = watch;
        watch.StateChanged += (_, state) =>
        {
            lock (_states)
            {
                _states.Add(state);
            }
        };
        _run = Task.Run(async () =>
        {
            await foreach (var e in watch.WithCancellation(_stop.Token))
            {
                lock (_events)
                {
                    _events.Add(e);
                }
            }
        });
    }

    public EventWatch Watch { get; }

    /// <summary>The enumeration: it completes when the watch ends, and fails as the watch does.</summary>
    public Task Completion => _run;

    public IReadOnlyList<UploadistaEvent> Events
    {
        get
        {
            lock (_events)
            {
                return [.. _events];
            }
        }
    }

    public IReadOnlyList<WatchState> States
    {
        get
        {
            lock (_states)
            {
                return [.. _states];
            }
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds of the events received; fails at once if the watch ends first.</summary>
    public async Task<IReadOnlyList<UploadistaEvent>> WaitForAsync(Func<IReadOnlyList<UploadistaEvent>, bool> condition, string because)
    {
        await Eventually.HoldsAsync(() => condition(Events) || _run.IsCompleted, $"the watch received {because}", TimeSpan.FromSeconds(30));
        if (!condition(Events))
        {
            await _run; // its failure, if it failed
            throw new InvalidOperationException($"The watch ended before it received {because}.");
        }

        return Events;
    }

    /// <summary>Waits until the watch is in <paramref name="state"/>.</summary>
    public Task WaitForStateAsync(WatchState state)
        => Eventually.HoldsAsync(() => Watch.State == state, $"the watch is {state}", TimeSpan.FromSeconds(30));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _run;
        }
        catch (Exception)
        {
            // Stopped, or failed in a way the test already saw.
        }

        _stop.Dispose();
    }
}
