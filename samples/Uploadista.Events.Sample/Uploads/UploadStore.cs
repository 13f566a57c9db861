using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace Uploadista.Events.Sample.Uploads;

/// <summary>The uploads this instance knows, and where their bytes and outputs live on disk.</summary>
public sealed class UploadStore
{
    private readonly ConcurrentDictionary<string, Upload> _uploads = new(StringComparer.Ordinal);

    public UploadStore(IOptions<SampleOptions> options)
    {
        Root = string.IsNullOrWhiteSpace(options.Value.StorageDirectory)
            ? Path.Combine(Path.GetTempPath(), "uploadista-sample", Guid.NewGuid().ToString("N"))
            : Path.GetFullPath(options.Value.StorageDirectory);
        Directory.CreateDirectory(Root);
    }

    /// <summary>Gets the folder that holds one sub-folder per upload.</summary>
    public string Root { get; }

    public Upload Create(string filename, long size)
    {
        // 128 random bits, URL-safe: unguessable, and valid as an Uploadista id.
        var id = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var upload = new Upload(id, filename, size, Path.Combine(Root, id));
        Directory.CreateDirectory(upload.Folder);
        _uploads[id] = upload;
        return upload;
    }

    public Upload? Find(string uploadId) => _uploads.GetValueOrDefault(uploadId);
}

/// <summary>One upload: what the client declared, and how far it got.</summary>
public sealed class Upload(string id, string filename, long size, string folder)
{
    private int _state = (int)UploadState.Created;
    private readonly byte[] _ownerKey = RandomNumberGenerator.GetBytes(32);

    public string Id { get; } = id;

    public string Filename { get; } = filename;

    public long Size { get; } = size;

    public string Folder { get; } = folder;

    public string DataPath => Path.Combine(Folder, "data");

    public UploadState State => (UploadState)Volatile.Read(ref _state);

    /// <summary>Gets the secret handed to the creator only, which proves it is the creator when it asks for fresh tokens.</summary>
    public string OwnerKey => Convert.ToBase64String(_ownerKey).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Whether <paramref name="key"/> is this upload's owner key (compared in constant time).</summary>
    public bool IsOwnerKey(string? key)
        => key is not null && CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(key), System.Text.Encoding.ASCII.GetBytes(OwnerKey));

    /// <summary>Only one request may send the bytes.</summary>
    public bool TryBeginReceiving()
        => Interlocked.CompareExchange(ref _state, (int)UploadState.Receiving, (int)UploadState.Created) == (int)UploadState.Created;

    public void Finish(UploadState state) => Volatile.Write(ref _state, (int)state);
}

public enum UploadState
{
    Created,
    Receiving,
    Complete,
    Failed,
}
