using System.ComponentModel;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Uploadista.Events.Tests.Infrastructure;

/// <summary>The browser client's npm package folder, src/browser, and npm run in it.</summary>
public static class BrowserPackage
{
    /// <summary>Gets the repository root: the first folder above the test's output folder that holds Uploadista.Events.sln.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>Gets the package folder, found from the test's output folder up to the repository root.</summary>
    public static string Directory { get; } = Path.Combine(RepositoryRoot, "src", "browser");

    public static string File(string name) => Path.Combine(Directory, name);

    /// <summary>
    /// Serves the client's modules at <c>/client/{file}</c>, where a test page imports them from: every
    /// .js file of the package folder, so that a module the client is split into is served too.
    /// </summary>
    public static void MapClient(IEndpointRouteBuilder app)
    {
        var modules = System.IO.Directory.GetFiles(Directory, "*.js").Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
        app.MapGet("/client/{file}", (string file) => modules.Contains(file) ? Results.File(File(file), "text/javascript") : Results.NotFound());
    }

    /// <summary>Runs npm in the package folder and returns what it printed; fails with its output if it fails.</summary>
    public static async Task<string> NpmAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("npm") { WorkingDirectory = Directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (Win32Exception ex)
        {
            throw new InvalidOperationException("These tests need npm: apt-get install -y nodejs npm (eng/test.sh does it).", ex);
        }

        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            var errors = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"npm {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{await output}\n{await errors}");
            }

            return await output;
        }
    }

    private static string FindRepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !System.IO.File.Exists(Path.Combine(directory.FullName, "Uploadista.Events.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException($"No Uploadista.Events.sln above {AppContext.BaseDirectory}.");
    }
}
