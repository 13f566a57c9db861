namespace Uploadista.Events;

/// <summary>
/// What supersedes what, decided here only: progress of the same upload, or of the same node of the
/// same job, supersedes earlier progress with the same key; started, complete and error events are
/// never superseded. The key travels with the event (<see cref="EventPublication.ConflationKey"/>), so
/// a broker's script can apply the same rule without knowing the event types.
/// </summary>
internal static class Conflation
{
    /// <summary>The key of what <paramref name="uploadistaEvent"/> supersedes, or <see langword="null"/> if it supersedes nothing.</summary>
    /// <remarks>Job ids cannot contain ':', so the key is unambiguous.</remarks>
    public static string? KeyOf(UploadistaEvent uploadistaEvent) => uploadistaEvent switch
    {
        UploadProgressEvent => "upload_progress",
        FlowProgressEvent progress => string.Concat("flow_progress:", progress.JobId, ":", progress.NodeId),
        _ => null,
    };

    /// <summary>Whether an event with <paramref name="newerKey"/> supersedes an earlier one with <paramref name="olderKey"/>.</summary>
    public static bool Supersedes(string? newerKey, string? olderKey) => newerKey is not null && string.Equals(newerKey, olderKey, StringComparison.Ordinal);

    /// <summary>
    /// Removes from <paramref name="items"/>, in place and keeping their order, every item that a later
    /// one (or <paramref name="incomingKey"/>, the key of an item about to follow) supersedes.
    /// </summary>
    /// <returns>The number of items removed.</returns>
    public static int RemoveSuperseded<T>(List<T> items, Func<T, string?> keyOf, string? incomingKey = null)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        if (incomingKey is not null)
        {
            seen.Add(incomingKey);
        }

        // Walk from the newest: the first of each key is kept, older ones go.
        var keep = new bool[items.Count];
        for (var i = items.Count - 1; i >= 0; i--)
        {
            keep[i] = keyOf(items[i]) is not { } key || seen.Add(key);
        }

        var kept = 0;
        for (var i = 0; i < items.Count; i++)
        {
            if (keep[i])
            {
                items[kept++] = items[i];
            }
        }

        var removed = items.Count - kept;
        items.RemoveRange(kept, removed);
        return removed;
    }
}
