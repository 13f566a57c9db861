using System.Buffers;

namespace Uploadista.Events;

/// <summary>Upload and job ids, and the channel names built from them.</summary>
internal static class Channels
{
    /// <summary>The longest id accepted.</summary>
    public const int MaxIdLength = 128;

    public const string UploadPrefix = "upload:";
    public const string FlowPrefix = "flow:";

    private static readonly SearchValues<char> IdCharacters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-");

    /// <summary>Whether <paramref name="id"/> is 1 to 128 characters of <c>A-Z a-z 0-9 . _ ~ -</c>.</summary>
    public static bool IsValidId(string? id)
        => id is { Length: > 0 and <= MaxIdLength } && !id.AsSpan().ContainsAnyExcept(IdCharacters);

    public static string ForUpload(string uploadId) => UploadPrefix + uploadId;

    public static string ForFlow(string jobId) => FlowPrefix + jobId;
}
