using Microsoft.Extensions.Logging;

namespace Uploadista.Events;

/// <summary>Reads a channel's retained events for its <see cref="ChannelSequencer"/>, each read counted.</summary>
internal sealed class RetainedReader(string name, IEventBroadcaster broadcaster, ILogger logger, UploadistaMetrics? metrics)
{
    // About a minute of retries (the last ones two seconds apart) before a restore is given up.
    private const int MaxRestoreAttempts = 35;

    /// <summary>Reads the retained events after <paramref name="afterSeq"/> for a joining connection.</summary>
    public async ValueTask<RetainedEvents> ForJoinAsync(long afterSeq, CancellationToken cancellationToken)
    {
        try
        {
            var retained = await broadcaster.GetRetainedAsync(name, afterSeq, cancellationToken);
            metrics?.CatchUpRead(restore: false, succeeded: true);
            return retained;
        }
        catch
        {
            metrics?.CatchUpRead(restore: false, succeeded: false);
            throw;
        }
    }

    /// <summary>
    /// Reads every retained event to restore the channel. The broker may still be coming back (its
    /// subscribing connection can return before the other), so reading is retried for about a minute,
    /// the channel holding live events meanwhile.
    /// </summary>
    /// <returns>The retained state, or null if it could not be read.</returns>
    public async Task<RetainedEvents?> ForRestoreAsync()
    {
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var retained = await broadcaster.GetRetainedAsync(name, 0);
                metrics?.CatchUpRead(restore: true, succeeded: true);
                return retained;
            }
            catch (Exception ex) when (attempt < MaxRestoreAttempts)
            {
                metrics?.CatchUpRead(restore: true, succeeded: false);
                Log.CatchUpRetrying(logger, name, attempt, ex.Message);
            }
            catch (Exception ex)
            {
                metrics?.CatchUpRead(restore: true, succeeded: false);
                Log.CatchUpFailed(logger, name, ex);
                return null;
            }

            await Task.Delay(delay);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
        }
    }
}
