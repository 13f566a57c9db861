using System.Buffers;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Uploadista.Events.Sample.Processing;

namespace Uploadista.Events.Sample.Uploads;

/// <summary>The upload API: create, send bytes, download the file and the processing outputs.</summary>
public static class UploadEndpoints
{
    public static void MapUploadEndpoints(this IEndpointRouteBuilder app)
    {
        var uploads = app.MapGroup("/api/uploads");
        uploads.MapPost("/", Create);
        uploads.MapPut("/{uploadId}", ReceiveAsync);
        uploads.MapPost("/{uploadId}/token", RenewToken);
        uploads.MapGet("/{uploadId}/file", Download);
        uploads.MapGet("/{uploadId}/outputs/{name}", Output);
    }

    /// <summary>The body of <c>POST /api/uploads</c>.</summary>
    public sealed record CreateUploadRequest(string? Filename, long? Size);

    /// <summary>The body of <c>POST /api/uploads/{uploadId}/token</c>.</summary>
    public sealed record RenewTokenRequest(string? OwnerKey);

    /// <summary>
    /// POST /api/uploads: registers an upload, so the client can open its socket before sending bytes,
    /// and returns the token that lets it watch this upload and no other (null with tokens off), and
    /// the owner key that gets it fresh tokens later.
    /// </summary>
    private static IResult Create(CreateUploadRequest? request, UploadStore store, [FromServices] ISubscriptionTokenIssuer? tokens, Microsoft.Extensions.Options.IOptions<SampleOptions> options)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(request?.Filename) || request.Filename.Length > 255)
        {
            errors["filename"] = ["A file name of 1 to 255 characters is required."];
        }

        if (request?.Size is not { } size || size < 0 || size > options.Value.MaxUploadBytes)
        {
            errors["size"] = [$"A size from 0 to {options.Value.MaxUploadBytes} bytes is required."];
        }

        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors);
        }

        var upload = store.Create(Path.GetFileName(request!.Filename!), request.Size!.Value);
        var token = tokens?.CreateToken(SubscriptionKind.Upload, upload.Id);
        return Results.Created($"/api/uploads/{upload.Id}", new
        {
            uploadId = upload.Id,
            token,
            uploadUrl = $"/api/uploads/{upload.Id}",
            eventsUrl = token is null ? $"/uploadista/ws/upload/{upload.Id}" : $"/uploadista/ws/upload/{upload.Id}?token={token}",
            ownerKey = upload.OwnerKey,
            tokenUrl = $"/api/uploads/{upload.Id}/token",
        });
    }

    /// <summary>
    /// POST /api/uploads/{uploadId}/token: a fresh token for the upload's socket, for its creator only.
    /// Tokens expire (Uploadista:Events:Tokens:Lifetime), so a client that reconnects later asks for a
    /// new one each time. The sample has no user accounts: the creator proves who it is with the owner
    /// key it was given; a real service would check its signed-in user instead.
    /// </summary>
    private static IResult RenewToken(string uploadId, RenewTokenRequest? request, UploadStore store, [FromServices] ISubscriptionTokenIssuer? tokens)
    {
        var upload = store.Find(uploadId);
        if (upload is null)
        {
            return Results.Problem($"No upload has the id '{uploadId}'.", statusCode: StatusCodes.Status404NotFound);
        }

        if (!upload.IsOwnerKey(request?.OwnerKey))
        {
            return Results.Problem("Only the creator of an upload may get its tokens: send the ownerKey it was given.", statusCode: StatusCodes.Status403Forbidden);
        }

        return Results.Ok(new { token = tokens?.CreateToken(SubscriptionKind.Upload, upload.Id) });
    }

    /// <summary>
    /// PUT /api/uploads/{uploadId}: streams the body to disk, publishing upload_started, upload_progress
    /// after every chunk (the library throttles it to 10 a second, the 100% one always), then
    /// upload_complete or upload_error; then starts the processing flow.
    /// </summary>
    private static async Task<IResult> ReceiveAsync(
        string uploadId,
        HttpContext context,
        UploadStore store,
        BackgroundFlows flows,
        [FromServices] ISubscriptionTokenIssuer? tokens,
        IUploadistaEventPublisher events,
        Microsoft.Extensions.Options.IOptions<SampleOptions> options)
    {
        var upload = store.Find(uploadId);
        if (upload is null)
        {
            return Results.Problem($"No upload has the id '{uploadId}'.", statusCode: StatusCodes.Status404NotFound);
        }

        if (!upload.TryBeginReceiving())
        {
            return Results.Problem("This upload has already been sent.", statusCode: StatusCodes.Status409Conflict);
        }

        // The declared size is the limit, enforced below, whatever Kestrel's default (a server without
        // the feature, such as TestServer, has no limit of its own).
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
        {
            bodyLimit.MaxRequestBodySize = null;
        }
        var aborted = context.RequestAborted;

        // Events are published with no cancellation: a client that went away still gets its upload_error
        // on a socket it reopens.
        await events.PublishAsync(new UploadStartedEvent { UploadId = upload.Id, Filename = upload.Filename, Size = upload.Size });

        if (context.Request.ContentLength is { } declared && declared != upload.Size)
        {
            return await FailAsync(upload, events, declared > upload.Size ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest,
                $"The request body is {declared} bytes but the upload was declared as {upload.Size} bytes.");
        }

        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        var rate = options.Value.ReceiveBytesPerSecond;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        long received = 0;
        try
        {
            await using (var file = File.Create(upload.DataPath))
            {
                while (await context.Request.Body.ReadAsync(buffer, aborted) is var read and > 0)
                {
                    if (received + read > upload.Size)
                    {
                        return await FailAsync(upload, events, StatusCodes.Status413PayloadTooLarge,
                            $"The upload is larger than its declared size of {upload.Size} bytes.");
                    }

                    await file.WriteAsync(buffer.AsMemory(0, read), aborted);
                    received += read;
                    if (rate > 0 && TimeSpan.FromSeconds((double)received / rate) - System.Diagnostics.Stopwatch.GetElapsedTime(started) is { TotalMilliseconds: > 1 } ahead)
                    {
                        await Task.Delay(ahead, aborted); // simulated bandwidth (Sample:ReceiveBytesPerSecond)
                    }

                    if (received < upload.Size)
                    {
                        await PublishProgressAsync(events, upload, received);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or BadHttpRequestException)
        {
            return await FailAsync(upload, events, StatusCodes.Status400BadRequest, "Network connection lost");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (received < upload.Size)
        {
            return await FailAsync(upload, events, StatusCodes.Status400BadRequest,
                $"Upload incomplete: received {received} of {upload.Size} bytes.");
        }

        await PublishProgressAsync(events, upload, received);
        var baseUrl = $"{context.Request.Scheme}://{context.Request.Host}{context.Request.PathBase}/api/uploads/{upload.Id}";
        var url = $"{baseUrl}/file";
        upload.Finish(UploadState.Complete);
        await events.PublishAsync(new UploadCompleteEvent { UploadId = upload.Id, Url = url });

        var jobId = flows.Start(upload, baseUrl);
        return Results.Ok(new { uploadId = upload.Id, url, jobId, jobToken = tokens?.CreateToken(SubscriptionKind.Flow, jobId) });
    }

    private static IResult Download(string uploadId, UploadStore store)
        => store.Find(uploadId) is { State: UploadState.Complete } upload
            ? Results.File(upload.DataPath, "application/octet-stream", upload.Filename)
            : Results.NotFound();

    private static IResult Output(string uploadId, string name, UploadStore store)
        => store.Find(uploadId) is { } upload && ProcessingFlow.Outputs.TryGetValue(name, out var output) && File.Exists(Path.Combine(upload.Folder, output.FileName))
            ? Results.File(Path.Combine(upload.Folder, output.FileName), output.ContentType, upload.Filename + output.Extension)
            : Results.NotFound();

    private static ValueTask PublishProgressAsync(IUploadistaEventPublisher events, Upload upload, long received)
        => events.PublishAsync(new UploadProgressEvent
        {
            UploadId = upload.Id,
            Progress = upload.Size == 0 ? 1 : (double)received / upload.Size,
            BytesUploaded = received,
            TotalBytes = upload.Size,
        });

    private static async Task<IResult> FailAsync(Upload upload, IUploadistaEventPublisher events, int status, string error)
    {
        upload.Finish(UploadState.Failed);
        await events.PublishAsync(new UploadErrorEvent { UploadId = upload.Id, Error = error });
        return Results.Problem(error, statusCode: status);
    }
}
