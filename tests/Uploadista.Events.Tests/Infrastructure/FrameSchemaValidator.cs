using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using Uploadista.Events.Tests.Contract;

namespace Uploadista.Events.Tests.Infrastructure;

/// <summary>
/// Validates frames against the committed schemas in docs/schema with a real JSON Schema validator
/// (JsonSchema.Net), <c>format</c> asserted as well as <c>pattern</c>. The test clients
/// (<see cref="TestSocket"/>, <see cref="RawWebSocket"/>, <see cref="EventStreamClient"/>) pass it
/// every text frame and stream event they receive, so every test that reads from the server checks
/// the contract too.
/// </summary>
public static class FrameSchemaValidator
{
    // Valid or not first (cheap: some tests read thousands of frames), then, for a frame that is not,
    // every violation.
    private static readonly EvaluationOptions Verdict = new()
    {
        OutputFormat = OutputFormat.Flag,
        RequireFormatValidation = true,
    };

    private static readonly EvaluationOptions Details = new()
    {
        OutputFormat = OutputFormat.List,
        RequireFormatValidation = true,
    };

    private static readonly Lazy<Dictionary<string, JsonSchema>> Schemas = new(Load);

    /// <summary>Throws, naming every violation, unless <paramref name="frame"/> is a frame the server may send: an event or a frame whose schema its <c>type</c> names.</summary>
    public static void ServerFrame(string frame) => Check(SchemaOfServerFrame(frame), frame);

    /// <summary>Throws unless the data of a Server-Sent Events message is what its <c>event:</c> field says: an event of that type, or the last <c>close</c>.</summary>
    public static void StreamData(string? eventName, string data)
        => Check(eventName == "close" ? "close.json" : $"{eventName}.json", data);

    /// <summary>The violations of <paramref name="json"/> against the schema in <paramref name="schemaFile"/>; none when it is valid.</summary>
    public static IReadOnlyList<string> Violations(string schemaFile, string json)
    {
        if (!Schemas.Value.TryGetValue(schemaFile, out var schema))
        {
            return [$"no schema {schemaFile} in docs/schema"];
        }

        using var document = JsonDocument.Parse(json);
        if (schema.Evaluate(document.RootElement, Verdict).IsValid)
        {
            return [];
        }

        var result = schema.Evaluate(document.RootElement, Details);

        return [.. (result.Details ?? [result])
            .Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} ({d.EvaluationPath}): {e.Key}: {e.Value}"))];
    }

    private static string SchemaOfServerFrame(string frame)
    {
        using var document = JsonDocument.Parse(frame);
        return document.RootElement.ValueKind == JsonValueKind.Object
               && document.RootElement.TryGetProperty("type", out var type)
               && type.ValueKind == JsonValueKind.String
            ? $"{type.GetString()}.json"
            : "event.json";
    }

    private static void Check(string schemaFile, string json)
    {
        var violations = Violations(schemaFile, json);
        if (violations.Count > 0)
        {
            throw new FrameSchemaException($"The server sent a frame that does not match docs/schema/{schemaFile}:\n{json}\n{string.Join('\n', violations)}");
        }
    }

    /// <summary>
    /// Builds every schema in the folder, the ones that refer to others last (references are resolved
    /// when a schema is built), each under its file's URI so that relative <c>$ref</c>s resolve.
    /// </summary>
    private static Dictionary<string, JsonSchema> Load()
    {
        var options = new BuildOptions { SchemaRegistry = new SchemaRegistry() };
        var texts = SchemaFiles.Committed();
        var schemas = new Dictionary<string, JsonSchema>(StringComparer.Ordinal);
        foreach (var (name, text) in texts.OrderBy(f => f.Value.Contains("\"$ref\"", StringComparison.Ordinal)))
        {
            schemas[name] = JsonSchema.FromText(AsEcmaScriptPatterns(text), options, new Uri(Path.Combine(SchemaFiles.Directory, name)));
        }

        return schemas;
    }

    /// <summary>
    /// JSON Schema patterns are ECMA-262 regular expressions, whose <c>$</c> is the end of the text;
    /// JsonSchema.Net runs them as .NET ones, whose <c>$</c> also matches before a final line break,
    /// so <c>^[A-Za-z0-9._~-]{1,128}$</c> would take an id with a line break after it. A final <c>$</c> becomes .NET's
    /// <c>\z</c>, so that the tests are as strict as the schemas say.
    /// </summary>
    private static string AsEcmaScriptPatterns(string text)
    {
        var schema = JsonNode.Parse(text)!;
        foreach (var node in Descendants(schema).OfType<JsonObject>().ToList())
        {
            if (node["pattern"] is JsonValue pattern && pattern.GetValue<string>() is var value
                && value.EndsWith('$') && !value.EndsWith("\\$", StringComparison.Ordinal))
            {
                node["pattern"] = value[..^1] + "\\z";
            }
        }

        return schema.ToJsonString();
    }

    private static IEnumerable<JsonNode> Descendants(JsonNode? node) => node switch
    {
        JsonObject o => [o, .. o.SelectMany(p => Descendants(p.Value))],
        JsonArray a => a.SelectMany(Descendants),
        _ => [],
    };
}

/// <summary>A frame the server sent does not match its schema.</summary>
public sealed class FrameSchemaException(string message) : Exception(message);
