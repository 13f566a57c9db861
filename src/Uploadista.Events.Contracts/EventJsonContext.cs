using System.Text.Json.Serialization;

namespace Uploadista.Events;

/// <summary>Source-generated JSON for the wire format: camelCase, nulls omitted, compact.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    AllowOutOfOrderMetadataProperties = true,
    RespectRequiredConstructorParameters = true,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(UploadistaEvent))]
internal sealed partial class EventJsonContext : JsonSerializerContext;
