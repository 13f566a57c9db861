using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Uploadista.Events.Tests.Contract;

/// <summary>
/// The <c>&lt;summary&gt;</c> of the event types and their properties, from the XML documentation file
/// the build writes beside their assembly, as plain text for a schema's <c>description</c>: one line,
/// references reduced to their names, and "Gets the x" said as "The x".
/// </summary>
internal static partial class XmlDocSummaries
{
    private static readonly Lazy<Dictionary<string, string>> Summaries = new(Load);

    public static string Of(Type type) => Find($"T:{type.FullName}");

    public static string Of(PropertyInfo property) => Find($"P:{property.DeclaringType!.FullName}.{property.Name}");

    private static string Find(string member)
        => Summaries.Value.TryGetValue(member, out var summary) ? summary : throw new InvalidOperationException($"{member} has no <summary>.");

    private static Dictionary<string, string> Load()
    {
        var assembly = typeof(UploadistaEvent).Assembly;
        var file = Path.ChangeExtension(assembly.Location, ".xml");
        if (!File.Exists(file))
        {
            throw new InvalidOperationException($"{file} is missing: the schemas take their descriptions from it (GenerateDocumentationFile).");
        }

        return XDocument.Load(file).Descendants("member")
            .Where(m => m.Element("summary") is not null)
            .ToDictionary(m => (string)m.Attribute("name")!, m => Plain(m.Element("summary")!), StringComparer.Ordinal);
    }

    private static string Plain(XElement summary)
    {
        var text = string.Concat(summary.Nodes().Select(node => node switch
        {
            XText t => t.Value,
            XElement { Name.LocalName: "see" } see => (string?)see.Attribute("langword") ?? ShortName((string?)see.Attribute("cref")),
            XElement e => e.Value,
            _ => string.Empty,
        }));
        text = Whitespace().Replace(text, " ").Trim();
        return text.StartsWith("Gets the ", StringComparison.Ordinal) ? "The " + text["Gets the ".Length..]
            : text.StartsWith("Gets a ", StringComparison.Ordinal) ? "A " + text["Gets a ".Length..]
            : text;
    }

    /// <summary><c>P:Uploadista.Events.UploadistaEventsOptions.RetentionPeriod</c> as <c>RetentionPeriod</c>.</summary>
    private static string ShortName(string? cref) => cref is null ? string.Empty : cref[(cref.LastIndexOf('.') + 1)..];

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
