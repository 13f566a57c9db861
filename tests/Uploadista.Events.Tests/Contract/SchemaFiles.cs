using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Contract;

/// <summary>
/// docs/schema: every file as the generator writes it (<see cref="EventSchemas"/> for the events,
/// <see cref="FrameSchemas"/> for the other frames). <c>UPDATE_SCHEMAS=1</c> makes
/// <c>SchemaFileTests</c> write them; without it, the test fails when they differ.
/// </summary>
internal static class SchemaFiles
{
    public const string UpdateVariable = "UPDATE_SCHEMAS";

    private static readonly JsonSerializerOptions Format = new()
    {
        WriteIndented = true,
        IndentSize = 2,
        NewLine = "\n",
        // Descriptions are prose: "client's", not "client\u0027s". Nothing here goes into HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Gets the folder, docs/schema in the repository.</summary>
    public static string Directory { get; } = Path.Combine(BrowserPackage.RepositoryRoot, "docs", "schema");

    /// <summary>Every file's name and text, as generated now.</summary>
    public static SortedDictionary<string, string> Generate()
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (wireType, type) in EventSchemas.All)
        {
            files.Add($"{wireType}.json", Text(EventSchemas.Export(wireType, type)));
        }

        files.Add("event.json", Text(EventSchemas.AnyEvent()));
        foreach (var (file, schema) in FrameSchemas.All())
        {
            files.Add(file, Text(schema));
        }

        return files;
    }

    /// <summary>Every file's name and text, as committed.</summary>
    public static SortedDictionary<string, string> Committed()
        => new(System.IO.Directory.EnumerateFiles(Directory, "*.json").ToDictionary(f => Path.GetFileName(f), File.ReadAllText), StringComparer.Ordinal);

    /// <summary>Replaces the committed files with <paramref name="files"/>.</summary>
    public static void Write(SortedDictionary<string, string> files)
    {
        System.IO.Directory.CreateDirectory(Directory);
        foreach (var stale in System.IO.Directory.EnumerateFiles(Directory, "*.json").Where(f => !files.ContainsKey(Path.GetFileName(f))))
        {
            File.Delete(stale);
        }

        foreach (var (name, text) in files)
        {
            File.WriteAllText(Path.Combine(Directory, name), text);
        }
    }

    private static string Text(JsonNode schema) => schema.ToJsonString(Format) + "\n";
}
