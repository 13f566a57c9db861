using StackExchange.Redis;

namespace Uploadista.Events.Redis;

/// <summary>
/// Reads what <see cref="ReadScript"/> returns (the meta hash and the retained list) into the
/// channel's epoch, last seq and retained events. Parts that cannot be read (left by another format,
/// or damaged) are skipped and counted.
/// </summary>
internal static class RetainedState
{
    private const string ProgressField = "2p:";
    private const string ProgressFirstField = "2f:";

    /// <param name="reply">The script's reply.</param>
    /// <param name="afterSeq">Only events above it are returned.</param>
    /// <param name="maxRetained">At most this many events that are never superseded are kept, the newest.</param>
    /// <param name="unreadable">The number of entries skipped.</param>
    public static RetainedEvents Read(RedisResult reply, long afterSeq, int maxRetained, out int unreadable)
    {
        unreadable = 0;
        var parts = (RedisResult[])reply!;
        var hash = (RedisResult[])parts[0]!;
        var list = (RedisResult[])parts[1]!;
        string? epoch = null;
        long lastSeq = 0;
        var progress = new Dictionary<string, (ReadOnlyMemory<byte> Entry, long First)>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < hash.Length; i += 2)
        {
            var field = (string)hash[i]!;
            if (field == "e")
            {
                epoch = (string)hash[i + 1]!;
            }
            else if (field == "s")
            {
                lastSeq = (long)hash[i + 1];
            }
            else if (field.StartsWith(ProgressField, StringComparison.Ordinal))
            {
                var key = field[ProgressField.Length..];
                progress[key] = ((byte[])hash[i + 1]!, progress.GetValueOrDefault(key).First);
            }
            else if (field.StartsWith(ProgressFirstField, StringComparison.Ordinal))
            {
                var key = field[ProgressFirstField.Length..];
                progress[key] = (progress.GetValueOrDefault(key).Entry, (long)hash[i + 1]);
            }
        }

        if (epoch is null)
        {
            return RetainedEvents.None;
        }

        // A marker "#<first seq>" starts each batch's entries; entries left before the first marker
        // lost theirs to trimming and are dropped with it.
        var regular = new List<ChannelEvent>();
        long first = 0;
        foreach (var item in list)
        {
            var bytes = (byte[])item!;
            if (bytes.Length > 1 && bytes[0] == (byte)'#')
            {
                unreadable += long.TryParse(bytes.AsSpan(1), out first) && first > 0 ? 0 : 1;
            }
            else if (first > 0)
            {
                unreadable += BatchFormat.TryParseEntry(bytes, epoch, first, regular) ? 0 : 1;
            }
        }

        var events = new List<ChannelEvent>(Math.Min(regular.Count, maxRetained) + progress.Count);
        events.AddRange(regular.Skip(Math.Max(0, regular.Count - maxRetained)));
        foreach (var (entry, entryFirst) in progress.Values)
        {
            unreadable += entryFirst > 0 && BatchFormat.TryParseEntry(entry, epoch, entryFirst, events) ? 0 : 1;
        }

        events.RemoveAll(e => e.Seq <= afterSeq);
        events.Sort((x, y) => x.Seq.CompareTo(y.Seq));
        return new RetainedEvents(epoch, lastSeq, events);
    }
}
