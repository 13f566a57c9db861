using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using System.Text.Json.Serialization;

namespace Uploadista.Events.Tests.Contract;

/// <summary>
/// The schemas of the eight events, exported by <see cref="JsonSchemaExporter"/> from the contracts of
/// the source-generated <c>EventJsonContext</c> (what the server serializes with), then completed where
/// the exporter cannot know the wire. The completion is fixed and deterministic, so the committed
/// files are this code's output, byte for byte:
/// <list type="number">
/// <item>Each property gets its C# summary as its <c>description</c>, but for the three the next
/// steps complete, which get docs/protocol.md's words: their summaries speak of C#.</item>
/// <item><c>timestamp</c> has a custom converter (<c>UtcTimestampConverter</c>), which the exporter
/// describes as anything: it becomes the converter's form, RFC 3339 UTC with milliseconds.</item>
/// <item><c>seq</c> is left out only while 0, which no published event has: it is required, from 1.</item>
/// <item>A property left out when null (<c>[JsonIgnore(WhenWritingNull)]</c>, the flow events'
/// <c>uploadId</c>) is never <c>null</c> on the wire: optional, but not nullable.</item>
/// <item>What <c>EventValidation</c> enforces on publish, which no type says: ids are 1 to 128
/// characters of <c>A-Z a-z 0-9 . _ ~ -</c>, progress is 0 to 1, byte counts are not negative.</item>
/// <item>The discriminator <c>type</c>, which the exporter names only on the polymorphic base, is a
/// <c>const</c>, first and required; <c>channel</c>, which a multiplexed socket adds after
/// <c>seq</c>, is allowed; nothing else is (<c>additionalProperties: false</c>).</item>
/// </list>
/// </summary>
internal static class EventSchemas
{
    private const string ChannelDescription = "Only on a multiplexed socket ({prefix}/ws): the channel the event came on, as the subscribed frame named it.";

    /// <summary>Gets the eight events: their <c>type</c> and their C# type, as the polymorphic contract declares them.</summary>
    public static IReadOnlyList<(string WireType, Type Type)> All { get; } =
        [.. EventJsonContext.Default.UploadistaEvent.PolymorphismOptions!.DerivedTypes.Select(d => ((string)d.TypeDiscriminator!, d.DerivedType))];

    public static JsonObject Export(string wireType, Type type)
    {
        var typeInfo = EventJsonContext.Default.GetTypeInfo(type) ?? throw new InvalidOperationException($"EventJsonContext has no contract for {type}.");
        var exported = typeInfo.GetJsonSchemaAsNode(new JsonSchemaExporterOptions
        {
            TreatNullObliviousAsNonNullable = true,
            TransformSchemaNode = CompleteProperty,
        }).AsObject();

        var exportedProperties = exported["properties"]!.AsObject().Select(p => (p.Key, p.Value!.DeepClone().AsObject()));
        var properties = new List<(string Name, JsonObject Schema)> { ("type", SchemaParts.Const(wireType)) };
        properties.AddRange(exportedProperties);
        properties.Add(("channel", SchemaParts.Channel(ChannelDescription, flow: typeof(FlowEvent).IsAssignableFrom(type))));

        var required = new HashSet<string>(StringComparer.Ordinal) { "type", "timestamp", "seq" };
        required.UnionWith(exported["required"]?.AsArray().Select(r => r!.GetValue<string>()) ?? []);
        return SchemaParts.Object(type.Name, XmlDocSummaries.Of(type), properties, properties.Select(p => p.Name).Where(required.Contains));
    }

    /// <summary>Completes the schema of one property (steps 1 to 5); other nodes are left as exported.</summary>
    private static JsonNode CompleteProperty(JsonSchemaExporterContext context, JsonNode schema)
    {
        if (context.PropertyInfo is not { AttributeProvider: PropertyInfo member } property)
        {
            return schema;
        }

        var omittedWhenNull = member.GetCustomAttribute<JsonIgnoreAttribute>()?.Condition is JsonIgnoreCondition.WhenWritingNull or JsonIgnoreCondition.WhenWritingDefault;
        var description = property.Name switch
        {
            "timestamp" => "When the event was published: RFC 3339 UTC with milliseconds, e.g. 2026-11-29T10:15:30.250Z.",
            "seq" => "The event's position in its channel: 1 for the channel's first event, exactly 1 more for each later one.",
            "uploadId" when omittedWhenNull => "The upload the job belongs to, whether this event or an earlier one of the job named it; absent when no upload of the job is known.",
            _ => XmlDocSummaries.Of(member),
        };
        if (property.CustomConverter is not null)
        {
            return property.Name == "timestamp"
                ? SchemaParts.Timestamp(description)
                : throw new InvalidOperationException($"No wire form is known for {member.DeclaringType!.Name}.{member.Name}, which has a converter of its own: describe it here.");
        }

        var completed = new JsonObject { ["description"] = description };
        foreach (var (keyword, value) in schema.AsObject())
        {
            completed[keyword] = value!.DeepClone();
        }

        if (omittedWhenNull && completed["type"] is JsonArray types)
        {
            completed["type"] = types.Select(t => t!.GetValue<string>()).Single(t => t != "null");
        }

        switch (property.Name)
        {
            case "seq":
                completed["minimum"] = 1;
                break;
            case "uploadId" or "jobId":
                completed["pattern"] = $"^{SchemaParts.IdCharacters}$";
                break;
            case "progress":
                completed["minimum"] = 0;
                completed["maximum"] = 1;
                break;
            case "size" or "bytesUploaded" or "totalBytes":
                completed["minimum"] = 0;
                break;
        }

        return completed;
    }

    /// <summary>
    /// <c>event.json</c>: any of the eight, told apart by <c>type</c> (each member's <c>const</c>), as
    /// an upload's socket receives them.
    /// </summary>
    public static JsonObject AnyEvent() => new()
    {
        ["$schema"] = SchemaParts.Draft,
        ["title"] = nameof(UploadistaEvent),
        ["description"] = "Any event: what an upload's socket receives (its own events, and those of its jobs). One of the eight, by type.",
        ["oneOf"] = new JsonArray([.. All.Select(e => new JsonObject { ["$ref"] = $"{e.WireType}.json" })]),
    };
}
