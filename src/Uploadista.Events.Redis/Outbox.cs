namespace Uploadista.Events.Redis;

/// <summary>
/// Events published while Redis was unreachable, in publish order, to be published when it returns.
/// Bounded: when full, superseded progress goes first, then the oldest event.
/// </summary>
internal sealed class Outbox(int capacity)
{
    private readonly Lock _gate = new();
    private readonly LinkedList<PendingPublication> _pending = new();

    public bool IsEmpty
    {
        get
        {
            lock (_gate)
            {
                return _pending.Count == 0;
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>Adds a publication at the end.</summary>
    /// <returns>The number of older publications dropped to make room (0 unless full).</returns>
    public int Add(PendingPublication publication)
    {
        lock (_gate)
        {
            var dropped = 0;
            if (_pending.Count >= capacity)
            {
                dropped += DropSuperseded(publication);
            }

            while (_pending.Count >= capacity && _pending.First is { } oldest)
            {
                _pending.Remove(oldest);
                dropped++;
            }

            if (capacity == 0)
            {
                return dropped + 1;
            }

            _pending.AddLast(publication);
            return dropped;
        }
    }

    public bool TryPeek(out PendingPublication publication)
    {
        lock (_gate)
        {
            publication = _pending.First?.Value ?? default;
            return _pending.Count > 0;
        }
    }

    /// <summary>Removes the first publication, once it has been published.</summary>
    public void RemoveFirst()
    {
        lock (_gate)
        {
            _pending.RemoveFirst();
        }
    }

    /// <summary>Drops every progress publication a later one (queued, or <paramref name="incoming"/>) supersedes.</summary>
    private int DropSuperseded(PendingPublication incoming)
    {
        var superseding = new HashSet<(string, string)>();
        if (incoming.Publication.ConflationKey is { } incomingKey)
        {
            superseding.Add((incoming.Channel, incomingKey));
        }

        var dropped = 0;
        for (var node = _pending.Last; node is not null;)
        {
            var previous = node.Previous;
            if (node.Value.Publication.ConflationKey is { } key && !superseding.Add((node.Value.Channel, key)))
            {
                _pending.Remove(node);
                dropped++;
            }

            node = previous;
        }

        return dropped;
    }
}

/// <summary>An event waiting in the <see cref="Outbox"/>.</summary>
internal readonly record struct PendingPublication(string Channel, EventPublication Publication);
