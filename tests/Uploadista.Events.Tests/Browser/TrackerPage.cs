using System.Text.Json;
using Microsoft.Playwright;

namespace Uploadista.Events.Tests.Browser;

/// <summary>
/// A page in real Chromium whose <c>UploadTracker</c> (the client's modules served by
/// <see cref="Infrastructure.BrowserPackage.MapClient"/>) watches uploads on a server. It keeps, per
/// upload, the seq of every event and every connection state the tracker reported, and records the
/// WebSockets the page opened and the subscribe frames they sent.
/// </summary>
internal sealed class TrackerPage
{
    private readonly List<string> _pageErrors = [];
    private readonly List<IWebSocket> _sockets = [];
    private readonly List<JsonElement> _subscribes = [];

    private TrackerPage(IPage page) => Page = page;

    public IPage Page { get; }

    public string[] PageErrors
    {
        get
        {
            lock (_pageErrors)
            {
                return [.. _pageErrors];
            }
        }
    }

    /// <summary>
    /// Opens the page at <paramref name="server"/> and tracks the uploads, each with a token function:
    /// the token <paramref name="tokens"/> names for it, else one that counts its calls
    /// (<c>{uploadId}-{n}</c>, for a server with tokens off, which ignores them). <paramref name="options"/>
    /// is a JavaScript object of UploadistaEvents options, over the page's defaults.
    /// </summary>
    public static async Task<TrackerPage> OpenAsync(IBrowserContext context, Uri server, string[] uploads, string options = "{}", IReadOnlyDictionary<string, string>? tokens = null)
    {
        var tracker = new TrackerPage(await context.NewPageAsync());
        tracker.Page.PageError += (_, error) => { lock (tracker._pageErrors) { tracker._pageErrors.Add(error); } };
        tracker.Page.WebSocket += (_, socket) =>
        {
            lock (tracker._sockets)
            {
                tracker._sockets.Add(socket);
            }

            socket.FrameSent += (_, frame) =>
            {
                using var json = JsonDocument.Parse(frame.Text!);
                if (json.RootElement.GetProperty("type").GetString() == "subscribe")
                {
                    lock (tracker._subscribes)
                    {
                        tracker._subscribes.Add(json.RootElement.Clone());
                    }
                }
            };
        };
        await tracker.Page.GotoAsync(server.ToString());
        await tracker.Page.EvaluateAsync($$"""
            async ({ uploads, tokens }) => {
              const { UploadistaEvents, UploadTracker } = await import("/client/uploadista-events.js");
              window.received = {};
              window.connections = {};
              const client = new UploadistaEvents(Object.assign({ url: `ws://${location.host}/uploadista`, minDelay: 50, maxDelay: 200 }, {{options}}));
              window.tracker = new UploadTracker(client, (upload, message) => {
                if (message) window.received[upload.uploadId].push(message.seq);
                else window.connections[upload.uploadId].push(upload.connection);
              });
              for (const uploadId of uploads) {
                window.received[uploadId] = [];
                window.connections[uploadId] = [];
                let calls = 0;
                window.tracker.track(uploadId, { token: () => tokens[uploadId] ?? `${uploadId}-${++calls}` });
              }
            }
            """, new { uploads, tokens = tokens ?? new Dictionary<string, string>() });
        return tracker;
    }

    /// <summary>The seq of every event the tracker applied to the upload, in order.</summary>
    public Task<int[]> ReceivedAsync(string uploadId) => Page.EvaluateAsync<int[]>("(id) => window.received[id]", uploadId);

    /// <summary>Every connection state the tracker reported for the upload, in order.</summary>
    public Task<string[]> ConnectionsAsync(string uploadId) => Page.EvaluateAsync<string[]>("(id) => window.connections[id]", uploadId);

    public Task<string> StatusAsync(string uploadId) => Page.EvaluateAsync<string>("(id) => window.tracker.uploads.get(id).status", uploadId);

    public Task<string> ConnectionAsync(string uploadId) => Page.EvaluateAsync<string>("(id) => window.tracker.uploads.get(id).connection", uploadId);

    /// <summary>Why the upload's subscription stopped (its <c>refusal</c>), or null.</summary>
    public Task<JsonElement?> RefusalAsync(string uploadId) => Page.EvaluateAsync<JsonElement?>("(id) => window.tracker.uploads.get(id).refusal", uploadId);

    public IWebSocket[] Sockets()
    {
        lock (_sockets)
        {
            return [.. _sockets];
        }
    }

    public JsonElement[] Subscribes()
    {
        lock (_subscribes)
        {
            return [.. _subscribes];
        }
    }

    /// <summary>The subscribe frames the page sent for one upload, in order.</summary>
    public JsonElement[] SubscribesOf(string uploadId) => [.. Subscribes().Where(s => s.GetProperty("uploadId").GetString() == uploadId)];
}
