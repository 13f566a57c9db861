using System.Text.Json.Nodes;

namespace Uploadista.Events.Tests.Contract;

/// <summary>
/// The pieces every schema in docs/schema is built from: draft-07 (the JSON Schema AsyncAPI 3.0 and
/// most tools read), closed objects, and the wire's own rules for ids, timestamps and channels.
/// </summary>
internal static class SchemaParts
{
    public const string Draft = "http://json-schema.org/draft-07/schema#";

    /// <summary>What <c>Channels.IsValidId</c> accepts: 1 to 128 characters of <c>A-Z a-z 0-9 . _ ~ -</c>.</summary>
    public const string IdCharacters = "[A-Za-z0-9._~-]{1,128}";

    /// <summary>
    /// <c>UtcTimestampConverter</c>'s form: RFC 3339 UTC with exactly three fraction digits. <c>[0-9]</c>
    /// rather than <c>\d</c>, which is any Unicode digit in .NET's regular expressions.
    /// </summary>
    public const string TimestampPattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$";

    public static JsonObject Id(string description) => new()
    {
        ["description"] = description,
        ["type"] = "string",
        ["pattern"] = $"^{IdCharacters}$",
    };

    public static JsonObject Timestamp(string description) => new()
    {
        ["description"] = description,
        ["type"] = "string",
        ["format"] = "date-time",
        ["pattern"] = TimestampPattern,
    };

    public static JsonObject Epoch(string description) => Id(description);

    /// <summary>The <c>channel</c> a multiplexed socket names: <c>upload:{uploadId}</c>, or <c>flow:{jobId}</c> where <paramref name="flow"/>.</summary>
    public static JsonObject Channel(string description, bool flow) => new()
    {
        ["description"] = description,
        ["type"] = "string",
        ["pattern"] = $"^{(flow ? "(upload|flow)" : "upload")}:{IdCharacters}$",
    };

    public static JsonObject Const(string value) => new() { ["const"] = value };

    public static JsonObject Text(string description) => new() { ["description"] = description, ["type"] = "string" };

    public static JsonObject Integer(string description, long minimum) => new()
    {
        ["description"] = description,
        ["type"] = "integer",
        ["minimum"] = minimum,
    };

    /// <summary>A close status, one of <paramref name="codes"/>.</summary>
    public static JsonObject Code(string description, params int[] codes) => new()
    {
        ["description"] = description,
        ["type"] = "integer",
        ["enum"] = new JsonArray([.. codes.Select(c => JsonValue.Create(c))]),
    };

    /// <summary>A closed object schema: the properties in the order given, <paramref name="required"/> of them required, no others.</summary>
    public static JsonObject Object(string title, string description, IEnumerable<(string Name, JsonObject Schema)> properties, IEnumerable<string> required)
    {
        var schema = new JsonObject
        {
            ["$schema"] = Draft,
            ["title"] = title,
            ["description"] = description,
            ["type"] = "object",
            ["properties"] = new JsonObject([.. properties.Select(p => KeyValuePair.Create<string, JsonNode?>(p.Name, p.Schema))]),
            ["required"] = new JsonArray([.. required.Select(r => JsonValue.Create(r))]),
            ["additionalProperties"] = false,
        };
        return schema;
    }
}
