using System.ComponentModel.DataAnnotations;

namespace Uploadista.Events.Sample;

/// <summary>Settings of the sample, from the <c>Sample</c> configuration section.</summary>
public sealed class SampleOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Sample";

    /// <summary>Gets or sets where uploads and outputs are stored; a fresh temporary folder when empty.</summary>
    public string? StorageDirectory { get; set; }

    /// <summary>
    /// Gets or sets how fast an upload is received, in bytes per second, to show progress on a fast
    /// local network as it would look on a real one; 0 (the default) is as fast as it comes.
    /// </summary>
    [Range(0, long.MaxValue)]
    public long ReceiveBytesPerSecond { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether sockets need a subscription token (the default). With
    /// <see langword="false"/> (<c>--Sample:RequireTokens=false</c>) anyone who knows an upload id may
    /// watch it, as with a plain <c>new WebSocket(".../uploadista/ws/upload/{id}")</c>; for trying
    /// such snippets out, never for production.
    /// </summary>
    public bool RequireTokens { get; set; } = true;

    /// <summary>Gets or sets the largest upload accepted, in bytes.</summary>
    [Range(1, long.MaxValue)]
    public long MaxUploadBytes { get; set; } = 1L << 30;
}
