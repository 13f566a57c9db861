namespace Uploadista.Events.LoadTest;

/// <summary>The bench endpoints both servers expose (see UploadistaServer and the SignalR program).</summary>
internal static class ServerApi
{
    // The uploads workload holds its request open for the whole run.
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromMinutes(5) };

    /// <summary>The socket scenarios' publishing: <c>/bench/publish</c>, a count flat out or a rate for some seconds.</summary>
    public static Task<PublishResult> PublishAsync(ChildProcess server, string query) => PostAsync<PublishResult>(server, $"/bench/publish?{query}");

    /// <summary>Runs the whole uploads workload on the server and returns once its last event was published.</summary>
    public static Task<UploadsPublished> UploadsAsync(ChildProcess server, string query) => PostAsync<UploadsPublished>(server, $"/bench/uploads?{query}");

    /// <summary>Resident memory after the server collected its garbage.</summary>
    public static async Task<long> CollectAsync(ChildProcess server)
    {
        using var response = await Http.PostAsync(new Uri(server.HttpUri, "/bench/gc"), null);
        response.EnsureSuccessStatusCode();
        return Tools.ResidentBytes(server.Id);
    }

    private static async Task<T> PostAsync<T>(ChildProcess server, string pathAndQuery)
    {
        using var response = await Http.PostAsync(new Uri(server.HttpUri, pathAndQuery), null);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{pathAndQuery}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        return (await response.Content.ReadFromJsonAsync<T>())!;
    }
}
