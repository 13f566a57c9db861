using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Uploadista.Events.Tests.Infrastructure;

namespace Uploadista.Events.Tests.Browser;

/// <summary>
/// The npm package in src/browser: what it ships, its version beside the NuGet package's, and its
/// hand-written types beside the events the library really sends.
/// </summary>
public sealed partial class BrowserPackageTests
{
    [Fact]
    public void The_npm_package_version_is_the_NuGet_package_version()
    {
        // The library's informational version is the package version, plus "+commit" when Source Link adds it.
        var nuget = typeof(UploadistaEvent).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];

        PackageJson().GetProperty("version").GetString().Should().Be(nuget, "src/browser/package.json and Directory.Build.props name one version");
    }

    [Fact]
    public async Task The_npm_package_ships_the_module_its_types_and_its_readme_and_points_at_them()
    {
        var packed = JsonDocument.Parse(await BrowserPackage.NpmAsync("pack", "--dry-run", "--json")).RootElement[0];
        var files = packed.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("path").GetString()).Order(StringComparer.Ordinal).ToList();

        files.Should().Equal("README.md", "event-stream.js", "multiplexed-socket.js", "package.json", "reconnect.js", "upload-tracker.js", "uploadista-events.d.ts", "uploadista-events.js");
        var package = PackageJson();
        package.GetProperty("type").GetString().Should().Be("module");
        var exported = package.GetProperty("exports").GetProperty(".");
        foreach (var target in new[] { exported.GetProperty("types"), exported.GetProperty("default"), package.GetProperty("types"), package.GetProperty("main") })
        {
            files.Should().Contain(target.GetString()!.TrimStart('.', '/'));
        }

        package.TryGetProperty("dependencies", out _).Should().BeFalse("the client has no dependencies");
    }

    /// <summary>Each event type in the .d.ts has exactly the fields the C# event serializes, optional where C# may leave them out.</summary>
    [Fact]
    public void The_types_describe_the_eight_events_with_the_fields_the_server_sends()
    {
        var declarations = ParseInterfaces(File.ReadAllText(BrowserPackage.File("uploadista-events.d.ts")));
        var events = typeof(UploadistaEvent).GetCustomAttributes<JsonDerivedTypeAttribute>().ToList();
        events.Should().HaveCount(8);
        var nullability = new NullabilityInfoContext();

        foreach (var derived in events)
        {
            var discriminator = (string)derived.TypeDiscriminator!;
            var declaration = declarations.Values.SingleOrDefault(d => d.Fields.TryGetValue("type", out var type) && type.Type == $"\"{discriminator}\"");
            declaration.Should().NotBeNull($"an interface has type: \"{discriminator}\"");

            var expected = new Dictionary<string, string> { ["type"] = $"\"{discriminator}\"" };
            foreach (var property in EventJsonContext.Default.GetTypeInfo(derived.DerivedType)!.Properties)
            {
                var member = (PropertyInfo)property.AttributeProvider!;
                var optional = nullability.Create(member).ReadState == NullabilityState.Nullable;
                expected[property.Name + (optional ? "?" : string.Empty)] = TypeScriptType(member.PropertyType);
            }

            var declared = Fields(declarations, declaration!).ToDictionary(f => f.Key + (f.Value.Optional ? "?" : string.Empty), f => f.Value.Type);
            declared.Should().BeEquivalentTo(expected, $"{discriminator} is declared as the server sends it");
        }
    }

    private static JsonElement PackageJson() => JsonDocument.Parse(File.ReadAllText(BrowserPackage.File("package.json"))).RootElement;

    private static string TypeScriptType(Type type) => type switch
    {
        _ when type == typeof(string) || type == typeof(DateTimeOffset) => "string",
        _ when type == typeof(long) || type == typeof(double) => "number",
        _ when type == typeof(IReadOnlyDictionary<string, string>) => "Record<string, string>",
        _ => throw new InvalidOperationException($"No TypeScript type known for {type}."),
    };

    private sealed record Field(string Type, bool Optional);

    private sealed record Interface(string Name, string? Base, Dictionary<string, Field> Fields);

    private static Dictionary<string, Interface> ParseInterfaces(string text)
        => InterfacePattern().Matches(text).Select(m => new Interface(
                m.Groups["name"].Value,
                m.Groups["base"].Success ? m.Groups["base"].Value : null,
                FieldPattern().Matches(m.Groups["body"].Value).ToDictionary(f => f.Groups["field"].Value, f => new Field(f.Groups["type"].Value.Trim(), f.Groups["optional"].Success))))
            .ToDictionary(i => i.Name);

    /// <summary>An interface's fields with those of the interfaces it extends.</summary>
    private static IEnumerable<KeyValuePair<string, Field>> Fields(Dictionary<string, Interface> all, Interface declaration)
        => declaration.Fields.Concat(declaration.Base is { } name ? Fields(all, all[name]) : []);

    [Theory]
    [InlineData(4401)]
    [InlineData(4403)]
    [InlineData(1013)]
    [InlineData(1011)]
    public void A_refused_stream_is_reported_with_the_close_status_its_HTTP_status_stands_for(int closeStatus)
    {
        // The server answers a refusal it cannot close a socket on with an HTTP status; the browser client
        // maps it back (event-stream.js), and the two tables must agree.
        var (httpStatus, _) = WebSocketConnectionHandler.HttpEquivalent((System.Net.WebSockets.WebSocketCloseStatus)closeStatus);
        var client = File.ReadAllText(Path.Combine(BrowserPackage.Directory, "event-stream.js"));
        var mapped = HttpToClose().Matches(client).ToDictionary(m => int.Parse(m.Groups["http"].Value, System.Globalization.CultureInfo.InvariantCulture), m => int.Parse(m.Groups["close"].Value, System.Globalization.CultureInfo.InvariantCulture));

        mapped.Should().Contain(httpStatus, closeStatus, "event-stream.js's CLOSE_STATUS_OF_HTTP reads the server's refusals back");
    }

    [GeneratedRegex(@"\[(?<http>\d{3}), (?<close>\d{4})\]")]
    private static partial Regex HttpToClose();

    [GeneratedRegex(@"export interface (?<name>\w+)(?: extends (?<base>\w+))? \{(?<body>[^}]*)\}")]
    private static partial Regex InterfacePattern();

    [GeneratedRegex(@"^\s+(?<field>\w+)(?<optional>\?)?: (?<type>[^;]+);", RegexOptions.Multiline)]
    private static partial Regex FieldPattern();
}
