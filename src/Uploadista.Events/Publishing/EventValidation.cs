namespace Uploadista.Events;

/// <summary>Rejects events that no client could use, with a message naming the bad field.</summary>
internal static class EventValidation
{
    private const string IdRule = "must be 1 to 128 characters of A-Z a-z 0-9 . _ ~ -";

    public static void Validate(UploadistaEvent uploadistaEvent)
    {
        ArgumentNullException.ThrowIfNull(uploadistaEvent);
        switch (uploadistaEvent)
        {
            case UploadEvent upload:
                Id(upload.UploadId, nameof(UploadEvent.UploadId), nameof(uploadistaEvent));
                break;
            case FlowEvent flow:
                Id(flow.JobId, nameof(FlowEvent.JobId), nameof(uploadistaEvent));
                if (flow.UploadId is not null)
                {
                    Id(flow.UploadId, nameof(FlowEvent.UploadId), nameof(uploadistaEvent));
                }

                break;
        }

        switch (uploadistaEvent)
        {
            case UploadStartedEvent started:
                Required(started.Filename, nameof(started.Filename), nameof(uploadistaEvent));
                NotNegative(started.Size, nameof(started.Size), nameof(uploadistaEvent));
                break;
            case UploadProgressEvent progress:
                Fraction(progress.Progress, nameof(progress.Progress), nameof(uploadistaEvent));
                NotNegative(progress.BytesUploaded, nameof(progress.BytesUploaded), nameof(uploadistaEvent));
                NotNegative(progress.TotalBytes, nameof(progress.TotalBytes), nameof(uploadistaEvent));
                break;
            case UploadCompleteEvent complete:
                Required(complete.Url, nameof(complete.Url), nameof(uploadistaEvent));
                break;
            case UploadErrorEvent error:
                Required(error.Error, nameof(error.Error), nameof(uploadistaEvent));
                break;
            case FlowStartedEvent started:
                Required(started.FlowName, nameof(started.FlowName), nameof(uploadistaEvent));
                break;
            case FlowProgressEvent progress:
                Required(progress.NodeId, nameof(progress.NodeId), nameof(uploadistaEvent));
                Required(progress.NodeName, nameof(progress.NodeName), nameof(uploadistaEvent));
                Fraction(progress.Progress, nameof(progress.Progress), nameof(uploadistaEvent));
                break;
            case FlowCompleteEvent complete:
                Required(complete.Outputs, nameof(complete.Outputs), nameof(uploadistaEvent));
                break;
            case FlowErrorEvent error:
                Required(error.Error, nameof(error.Error), nameof(uploadistaEvent));
                break;
        }
    }

    private static void Id(string? id, string field, string paramName)
    {
        Required(id, field, paramName);
        if (!Channels.IsValidId(id))
        {
            throw new ArgumentException($"{field} {IdRule} (got '{id}').", paramName);
        }
    }

    private static void Required(object? value, string field, string paramName)
    {
        if (value is null)
        {
            throw new ArgumentNullException(paramName, $"{field} is required.");
        }
    }

    private static void Fraction(double value, string field, string paramName)
    {
        if (!double.IsFinite(value) || value < 0 || value > 1)
        {
            throw new ArgumentOutOfRangeException(paramName, value, $"{field} must be between 0 and 1.");
        }
    }

    private static void NotNegative(long value, string field, string paramName)
    {
        if (value < 0)
        {
            throw new ArgumentOutOfRangeException(paramName, value, $"{field} must not be negative.");
        }
    }
}
