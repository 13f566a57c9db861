using System.Buffers;
using System.IO.Compression;
using System.Security.Cryptography;
using Uploadista.Events.Sample.Uploads;

namespace Uploadista.Events.Sample.Processing;

/// <summary>
/// A short, real processing flow over an uploaded file: a SHA-256 checksum node, then a gzip node.
/// Publishes flow_started, flow_progress per node, and flow_complete with the output URLs, or flow_error.
/// </summary>
public sealed partial class ProcessingFlow(IUploadistaEventPublisher events, ILogger<ProcessingFlow> logger)
{
    public const string Name = "Checksum and compress";

    /// <summary>The outputs, by the name used in flow_complete and in their URL.</summary>
    public static readonly IReadOnlyDictionary<string, (string FileName, string ContentType, string Extension)> Outputs =
        new Dictionary<string, (string, string, string)>(StringComparer.Ordinal)
        {
            ["checksum"] = ("checksum.sha256", "text/plain", ".sha256"),
            ["compressed"] = ("compressed.gz", "application/gzip", ".gz"),
        };

    public async Task RunAsync(Upload upload, string jobId, string baseUrl, CancellationToken stopping)
    {
        // Events are published without the stopping token: the client should hear how the job ended.
        await events.PublishAsync(new FlowStartedEvent { JobId = jobId, UploadId = upload.Id, FlowName = Name }, CancellationToken.None);
        var node = "checksum";
        try
        {
            using (var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                await RunNodeAsync(upload, jobId, node, "SHA-256 checksum", chunk => { sha256.AppendData(chunk.Span); return ValueTask.CompletedTask; }, stopping);
                var line = $"{Convert.ToHexStringLower(sha256.GetHashAndReset())}  {upload.Filename}\n";
                await File.WriteAllTextAsync(OutputPath(upload, "checksum"), line, stopping);
            }

            node = "compressed";
            await using (var output = File.Create(OutputPath(upload, node)))
            await using (var gzip = new GZipStream(output, CompressionLevel.Optimal))
            {
                await RunNodeAsync(upload, jobId, node, "Gzip compression", chunk => gzip.WriteAsync(chunk, stopping), stopping);
            }

            await events.PublishAsync(
                new FlowCompleteEvent
                {
                    JobId = jobId,
                    UploadId = upload.Id,
                    Outputs = Outputs.Keys.ToDictionary(name => name, name => $"{baseUrl}/outputs/{name}"),
                },
                CancellationToken.None);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            await events.PublishAsync(new FlowErrorEvent { JobId = jobId, UploadId = upload.Id, Error = "Processing stopped: the server is shutting down." }, CancellationToken.None);
        }
        catch (Exception ex)
        {
            // The client gets a plain message; the details stay in the server's log.
            LogNodeFailed(logger, upload.Id, node, ex);
            await events.PublishAsync(new FlowErrorEvent { JobId = jobId, UploadId = upload.Id, Error = $"Processing failed at step '{node}'." }, CancellationToken.None);
        }
    }

    private static string OutputPath(Upload upload, string output) => Path.Combine(upload.Folder, Outputs[output].FileName);

    /// <summary>
    /// Feeds the file to a node chunk by chunk, publishing the node's progress from 0 to 1 after every
    /// chunk; the library throttles it.
    /// </summary>
    private async Task RunNodeAsync(
        Upload upload,
        string jobId,
        string nodeId,
        string nodeName,
        Func<ReadOnlyMemory<byte>, ValueTask> process,
        CancellationToken stopping)
    {
        await PublishAsync(0);
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            await using var file = File.OpenRead(upload.DataPath);
            long done = 0;
            while (await file.ReadAsync(buffer, stopping) is var read and > 0)
            {
                await process(buffer.AsMemory(0, read));
                done += read;
                if (done < file.Length)
                {
                    await PublishAsync((double)done / file.Length);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        await PublishAsync(1);

        ValueTask PublishAsync(double progress) => events.PublishAsync(
            new FlowProgressEvent { JobId = jobId, UploadId = upload.Id, NodeId = nodeId, NodeName = nodeName, Progress = progress },
            CancellationToken.None);
    }

    [LoggerMessage(1, LogLevel.Error, "Processing of upload {UploadId} failed at node {Node}.")]
    private static partial void LogNodeFailed(ILogger logger, string uploadId, string node, Exception exception);
}
