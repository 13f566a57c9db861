using System.Text.Json;

namespace Uploadista.Events;

/// <summary>
/// A <c>subscribe</c> or <c>unsubscribe</c> message of a multiplexed socket:
/// <c>{"type":"subscribe","uploadId":"abc","token":"...","since":12,"epoch":"..."}</c> (or <c>jobId</c>).
/// A message of either type that is not well formed is still one: it is answered with a refusal
/// naming its <see cref="Problem"/>.
/// </summary>
internal readonly record struct SubscribeMessage(bool Subscribe, SubscriptionKind Kind, string? Id, string? Token, long Since, string? Epoch, string? Problem)
{
    /// <summary>Reads <paramref name="message"/> (already known to be one JSON value).</summary>
    /// <returns>Whether it is a subscribe or an unsubscribe.</returns>
    public static bool TryRead(ReadOnlySpan<byte> message, out SubscribeMessage result)
    {
        result = default;
        bool? subscribe = null;
        string? uploadId = null, jobId = null, token = null, epoch = null, problem = null;
        long since = 0;
        var reader = new Utf8JsonReader(message, new JsonReaderOptions { MaxDepth = 32 });
        while (reader.Read())
        {
            if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != 1)
            {
                continue;
            }

            var name = reader.GetString();
            reader.Read();
            switch (name)
            {
                case "type" when reader.TokenType == JsonTokenType.String:
                    subscribe = reader.ValueTextEquals("subscribe"u8) ? true : reader.ValueTextEquals("unsubscribe"u8) ? false : null;
                    break;
                case "uploadId":
                    uploadId = StringOrProblem(ref reader, "uploadId", ref problem);
                    break;
                case "jobId":
                    jobId = StringOrProblem(ref reader, "jobId", ref problem);
                    break;
                case "token":
                    token = StringOrProblem(ref reader, "token", ref problem);
                    break;
                case "epoch":
                    epoch = StringOrProblem(ref reader, "epoch", ref problem);
                    break;
                case "since" when reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value) && value >= 0:
                    since = value;
                    break;
                case "since":
                    problem ??= "since must be a non-negative integer";
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        if (subscribe is not { } isSubscribe)
        {
            return false;
        }

        var kind = jobId is not null && uploadId is null ? SubscriptionKind.Flow : SubscriptionKind.Upload;
        var id = kind == SubscriptionKind.Flow ? jobId : uploadId;
        if ((uploadId is null) == (jobId is null))
        {
            problem ??= "a subscription names either uploadId or jobId";
        }
        else if (!Channels.IsValidId(id))
        {
            problem ??= $"the {(kind == SubscriptionKind.Upload ? "upload" : "job")} id must be 1 to {Channels.MaxIdLength} characters of A-Z a-z 0-9 . _ ~ -";
        }
        else if (epoch is not null && !Channels.IsValidId(epoch))
        {
            problem ??= "epoch must be the one a subscribed frame named";
        }

        result = new SubscribeMessage(isSubscribe, kind, id, token, since, epoch, problem);
        return true;
    }

    private static string? StringOrProblem(ref Utf8JsonReader reader, string name, ref string? problem)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return reader.GetString();
        }

        reader.Skip();
        problem ??= $"{name} must be a string";
        return null;
    }
}
