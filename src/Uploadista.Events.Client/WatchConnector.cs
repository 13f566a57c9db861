namespace Uploadista.Events.Client;

/// <summary>Opens one connection of a watch: a fresh token, the URI with where to resume, the socket.</summary>
internal sealed class WatchConnector(UploadistaEventsClient client, WatchTarget target, WatchOptions options)
{
    public async Task<WatchSocket> ConnectAsync(long since, string? epoch, CancellationToken cancellationToken)
    {
        var token = options.TokenFactory is { } factory ? await factory(cancellationToken).ConfigureAwait(false) : options.Token;
        var socket = await client.Connect(client.UriFor(target, since, epoch, token), cancellationToken).ConfigureAwait(false);
        return new WatchSocket(socket);
    }
}
