using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace ConsumerCheck;

/// <summary>What a user, nuget.org and a debugger read in the packages, checked as they read it.</summary>
internal static partial class PackageChecks
{
    private const string RepositoryUrl = "https://github.com/uploadista/uploadista-events-dotnet";
    private const string Framework = "net10.0";

    // Each package's whole list of dependencies (anything else in a nuspec is one users did not ask
    // for), and whether it needs ASP.NET Core: the contracts and the client must not.
    private static readonly Dictionary<string, (string[] Dependencies, bool AspNetCore)> Packages = new()
    {
        ["Uploadista.Events.Contracts"] = ([], false),
        ["Uploadista.Events"] = (["Uploadista.Events.Contracts"], true),
        ["Uploadista.Events.Redis"] = (["Uploadista.Events", "StackExchange.Redis"], true),
        ["Uploadista.Events.Client"] = (["Uploadista.Events.Contracts"], false),
    };

    // Portable PDB custom debug information kinds (the Portable PDB specification).
    private static readonly Guid SourceLinkKind = new("CC110556-A091-4D38-9FEC-25AB9A351A6A");
    private static readonly Guid EmbeddedSourceKind = new("0E8A571B-6926-466E-B4AD-8AB04611F5FE");

    public static void Run(string folder, string version, string quickStart)
    {
        foreach (var (id, (dependencies, aspNetCore)) in Packages)
        {
            Console.WriteLine($"{id} {version}");
            var nupkg = Path.Combine(folder, $"{id}.{version}.nupkg");
            var snupkg = Path.ChangeExtension(nupkg, ".snupkg");
            Check.That(File.Exists(nupkg), $"{Path.GetFileName(nupkg)} was packed");
            Check.That(File.Exists(snupkg), $"{Path.GetFileName(snupkg)}, its symbol package, was packed beside it");

            using var package = ZipFile.OpenRead(nupkg);
            var metadata = Nuspec(package, $"{id}.nuspec");
            var commit = CheckMetadata(metadata, id, version);
            CheckReadme(package, metadata, id == "Uploadista.Events" ? quickStart : null);
            CheckDependencies(metadata, version, dependencies, aspNetCore);
            Check.That(package.GetEntry($"lib/{Framework}/{id}.xml") is not null, "the XML documentation is in lib/");
            var pdbId = CodeViewPdbId(package, $"lib/{Framework}/{id}.dll");

            using var symbols = ZipFile.OpenRead(snupkg);
            CheckSymbols(symbols, id, commit, pdbId);
        }
    }

    private static string CheckMetadata(XElement metadata, string id, string version)
    {
        Check.That(Value(metadata, "id") == id && Value(metadata, "version") == version, $"the nuspec names {id} {version}");
        var description = Value(metadata, "description");
        Check.That(description is { Length: > 20 and <= 300 }, $"a short description: \"{description}\"");
        var license = Child(metadata, "license");
        Check.That(license?.Attribute("type")?.Value == "expression" && license.Value == "MIT", "the license: MIT, as an expression");
        Check.That(Value(metadata, "projectUrl") == RepositoryUrl, $"projectUrl {RepositoryUrl}");
        var repository = Child(metadata, "repository");
        var commit = repository?.Attribute("commit")?.Value ?? string.Empty;
        Check.That(
            repository?.Attribute("type")?.Value == "git" && repository.Attribute("url")?.Value == RepositoryUrl && CommitId().IsMatch(commit),
            $"repository git {RepositoryUrl} at commit {commit}");
        return commit;
    }

    private static void CheckReadme(ZipArchive package, XElement metadata, string? quickStart)
    {
        var name = Value(metadata, "readme");
        var entry = name is null ? null : package.GetEntry(name);
        Check.That(entry is not null, $"the nuspec's readme, {name}, is in the package");
        using var reader = new StreamReader(entry!.Open());
        var readme = reader.ReadToEnd().ReplaceLineEndings("\n");
        var relative = RelativeLink().Matches(readme).Select(m => m.Value).ToList();
        Check.That(relative.Count == 0, "the readme's links are absolute, as a package page needs" + Listed(" (relative: {0})", relative));
        if (quickStart is not null)
        {
            Check.That(readme.Contains(quickStart.ReplaceLineEndings("\n"), StringComparison.Ordinal), "the readme's quick start is the repository README's, the code the app below runs");
        }
    }

    private static void CheckDependencies(XElement metadata, string version, string[] expected, bool aspNetCore)
    {
        var group = Child(metadata, "dependencies")?.Elements().SingleOrDefault(g => g.Attribute("targetFramework")?.Value == Framework);
        var dependencies = group?.Elements().ToDictionary(d => d.Attribute("id")!.Value, d => d.Attribute("version")?.Value) ?? [];
        Check.That(
            dependencies.Keys.Order().SequenceEqual(expected.Order()),
            $"only real dependencies: [{string.Join(", ", dependencies.Select(d => $"{d.Key} {d.Value}"))}]");
        foreach (var (id, dependencyVersion) in dependencies.Where(d => d.Key.StartsWith("Uploadista.", StringComparison.Ordinal)))
        {
            // The contracts' internals are used by the packages that depend on them: exactly that version.
            var expectedVersion = id == "Uploadista.Events.Contracts" ? $"[{version}]" : version;
            Check.That(dependencyVersion == expectedVersion, $"{id} at {expectedVersion}");
        }

        var frameworks = Child(metadata, "frameworkReferences")?.Descendants().Select(f => f.Attribute("name")?.Value).ToList() ?? [];
        Check.That(
            frameworks.Contains("Microsoft.AspNetCore.App") == aspNetCore,
            aspNetCore ? "the framework reference Microsoft.AspNetCore.App" : "no framework reference to ASP.NET Core");
    }

    private static Guid CodeViewPdbId(ZipArchive package, string path)
    {
        using var pe = new PEReader(Copy(package, path));
        var codeView = pe.ReadDebugDirectory().Where(d => d.Type == DebugDirectoryEntryType.CodeView).ToList();
        Check.That(codeView.Count == 1, $"{path} names its PDB");
        return pe.ReadCodeViewDebugDirectoryData(codeView[0]).Guid;
    }

    private static void CheckSymbols(ZipArchive symbols, string id, string commit, Guid pdbId)
    {
        var path = $"lib/{Framework}/{id}.pdb";
        Check.That(symbols.GetEntry(path) is not null, $"the snupkg holds {path}");
        using var provider = MetadataReaderProvider.FromPortablePdbStream(Copy(symbols, path));
        var pdb = provider.GetMetadataReader();
        Check.That(new BlobContentId(pdb.DebugMetadataHeader!.Id).Guid == pdbId, "it is the PDB the DLL names (same id), so debuggers and symbol servers match them");

        var sourceLink = pdb.GetCustomDebugInformation(EntityHandle.ModuleDefinition)
            .Select(pdb.GetCustomDebugInformation)
            .Where(information => pdb.GetGuid(information.Kind) == SourceLinkKind)
            .Select(information => JsonDocument.Parse(pdb.GetBlobBytes(information.Value)))
            .SingleOrDefault();
        Check.That(sourceLink is not null, "it carries Source Link");
        var map = sourceLink!.RootElement.GetProperty("documents").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        var raw = $"https://raw.githubusercontent.com/uploadista/uploadista-events-dotnet/{commit}/";
        Check.That(map.Values.All(url => url.StartsWith(raw, StringComparison.Ordinal)), $"Source Link maps to {raw}* ({string.Join(", ", map)})");

        // Step-into works for a source file when Source Link maps it or the PDB embeds it (generated code).
        var mapped = new List<(string Document, string Url)>();
        var unreachable = new List<string>();
        var embedded = 0;
        foreach (var handle in pdb.Documents)
        {
            var document = pdb.GetString(pdb.GetDocument(handle).Name);
            if (pdb.GetCustomDebugInformation(handle).Any(h => pdb.GetGuid(pdb.GetCustomDebugInformation(h).Kind) == EmbeddedSourceKind))
            {
                embedded++;
            }
            else if (Map(map, document) is { } url)
            {
                mapped.Add((document, url));
            }
            else
            {
                unreachable.Add(document);
            }
        }

        Check.That(unreachable.Count == 0, "every source file is mapped or embedded" + Listed(" (neither: {0})", unreachable));
        var sample = mapped.FirstOrDefault(m => m.Url.Contains($"/src/{id}/", StringComparison.Ordinal));
        Check.That(sample.Url is not null, $"{mapped.Count} files of src/{id} are mapped, {embedded} generated ones embedded; e.g. {sample.Document} -> {sample.Url}");
        if (Environment.GetEnvironmentVariable("CI") == "true")
        {
            Check.That(mapped.All(m => m.Document.StartsWith("/_/", StringComparison.Ordinal)), "a CI build: deterministic source paths (/_/...)");
        }
    }

    private static string? Map(Dictionary<string, string> map, string document)
    {
        foreach (var (path, url) in map)
        {
            if (path.EndsWith('*') && document.StartsWith(path[..^1], StringComparison.Ordinal))
            {
                return url.Replace("*", document[(path.Length - 1)..].Replace('\\', '/'), StringComparison.Ordinal);
            }

            if (path == document)
            {
                return url;
            }
        }

        return null;
    }

    private static XElement Nuspec(ZipArchive package, string path)
    {
        Check.That(package.GetEntry(path) is not null, $"the package holds {path}");
        using var stream = package.GetEntry(path)!.Open();
        return Child(XDocument.Load(stream).Root!, "metadata")!;
    }

    private static string Listed(string format, List<string> items)
        => items.Count == 0 ? string.Empty : string.Format(System.Globalization.CultureInfo.InvariantCulture, format, string.Join(", ", items));

    private static XElement? Child(XElement parent, string name) => parent.Elements().FirstOrDefault(e => e.Name.LocalName == name);

    private static string? Value(XElement parent, string name) => Child(parent, name)?.Value;

    private static MemoryStream Copy(ZipArchive archive, string path)
    {
        var copy = new MemoryStream();
        using (var stream = archive.GetEntry(path)!.Open())
        {
            stream.CopyTo(copy);
        }

        copy.Position = 0;
        return copy;
    }

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitId();

    // A Markdown link or image whose target is not an absolute https URL; or an HTML one.
    [GeneratedRegex(@"\]\((?!https://)[^)]*\)|(?:href|src)\s*=")]
    private static partial Regex RelativeLink();
}
