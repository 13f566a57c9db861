using Microsoft.Playwright;

namespace Uploadista.Events.Tests.Infrastructure;

/// <summary>
/// Headless Chromium from Debian (<c>/usr/bin/chromium</c>, or <c>UPLOADISTA_TEST_CHROMIUM</c>), driven by
/// Playwright. Without it the browser tests fail and say what to install.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var chromium = Environment.GetEnvironmentVariable("UPLOADISTA_TEST_CHROMIUM") is { Length: > 0 } configured ? configured : "/usr/bin/chromium";
        if (!File.Exists(chromium))
        {
            throw new InvalidOperationException(
                $"The browser tests need Chromium at {chromium}: apt-get install -y chromium (eng/test.sh does it), or set UPLOADISTA_TEST_CHROMIUM.");
        }

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }

    /// <summary>Where test artifacts (screenshots) go: artifacts/e2e at the repository root.</summary>
    public static string ArtifactsDirectory()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Uploadista.Events.sln")))
        {
            directory = directory.Parent;
        }

        return Directory.CreateDirectory(Path.Combine(directory?.FullName ?? AppContext.BaseDirectory, "artifacts", "e2e")).FullName;
    }
}
