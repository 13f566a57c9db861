using StackExchange.Redis;

namespace Uploadista.Events.Redis;

/// <summary>
/// Reads the meta hash <see cref="ReadScript"/> returns into the channel's epoch, last seq and retained
/// events (see <see cref="RedisKeys"/> for its fields). Entries that cannot be read (damaged, or
/// forged) are skipped and counted; fields of another format are ignored.
/// </summary>
internal static class RetainedState
{
    private const string RegularField = "2r:";
    private const string ProgressField = "2p:";
    private const string ProgressFirstField = "2f:";

    /// <param name="reply">The script's reply.</param>
    /// <param name="afterSeq">Only events above it are returned.</param>
    /// <param name="maxRetained">At most this many events that are never superseded are kept, the newest.</param>
    /// <param name="unreadable">The number of entries skipped.</param>
    public static RetainedEvents Read(RedisResult reply, long afterSeq, int maxRetained, out int unreadable)
    {
        unreadable = 0;
        var hash = (RedisResult[])reply!;
        string? epoch = null;
        long lastSeq = 0;
        var regular = new List<(long First, ReadOnlyMemory<byte> Entries)>();
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
            else if (field.StartsWith(RegularField, StringComparison.Ordinal))
            {
                var first = field.AsSpan(RegularField.Length);
                first = first[..Math.Max(0, first.IndexOf(':'))];
                regular.Add((long.TryParse(first, out var from) ? from : 0, (byte[])hash[i + 1]!));
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

        var events = new List<ChannelEvent>();
        foreach (var (first, entries) in regular)
        {
            unreadable += first > 0 && BatchFormat.TryParseEntries(entries, epoch, first, events) ? 0 : 1;
        }

        events.Sort(SeqOrder);
        events.RemoveRange(0, Math.Max(0, events.Count - maxRetained));
        foreach (var (entry, first) in progress.Values)
        {
            unreadable += first > 0 && BatchFormat.TryParseEntries(entry, epoch, first, events) ? 0 : 1;
        }

        events.RemoveAll(e => e.Seq <= afterSeq);
        events.Sort(SeqOrder);
        return new RetainedEvents(epoch, lastSeq, events);
    }

    private static int SeqOrder(ChannelEvent x, ChannelEvent y) => x.Seq.CompareTo(y.Seq);
}
