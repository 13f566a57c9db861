using System.Security.Cryptography;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;
using Uploadista.Events.Redis;
using Uploadista.Events.Sample.Processing;
using Uploadista.Events.Sample.Uploads;

namespace Uploadista.Events.Sample;

/// <summary>
/// A small upload service: create an upload, stream its bytes, then run a processing flow, while a
/// browser watches every step over a WebSocket.
/// </summary>
public static partial class SampleApp
{
    /// <summary>Builds the application; <paramref name="args"/> are the usual command line (<c>--urls</c> and configuration).</summary>
    public static WebApplication Create(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,

            // The page and settings are copied next to the assembly, so the app finds them wherever it starts.
            ContentRootPath = AppContext.BaseDirectory,

            // Named even when another assembly starts it (a test host), so that its static web assets
            // manifest, Uploadista.Events.Sample.staticwebassets.runtime.json, is the one found.
            ApplicationName = typeof(SampleApp).Assembly.GetName().Name,
        });

        // The browser client comes from the Uploadista.Events package, as a static web asset at
        // /_content/Uploadista.Events/uploadista-events.js. A published app has it in wwwroot; run from
        // its build output, the app finds it through the manifest, which ASP.NET Core reads on its own
        // only in Development.
        if (!builder.Environment.IsDevelopment())
        {
            builder.WebHost.UseStaticWebAssets();
        }

        // The two lines a real application adds: this one, and MapUploadistaWebSockets() below.
        var events = builder.Services.AddUploadistaEvents();

        // Only the browser that created an upload may watch it: POST /api/uploads hands it a signed
        // token for the socket, and POST /api/uploads/{id}/token a fresh one when that expired. The key
        // comes from Uploadista:Events:Tokens:SigningKeys (every instance needs the same one); without
        // it this process makes up its own. --Sample:RequireTokens=false turns tokens off.
        var requireTokens = builder.Configuration.GetValue($"{SampleOptions.SectionName}:{nameof(SampleOptions.RequireTokens)}", defaultValue: true);
        var signingKeyMissing = !builder.Configuration.GetSection($"{SubscriptionTokenOptions.SectionName}:SigningKeys").GetChildren().Any();
        if (requireTokens)
        {
            events.AddSubscriptionTokens(tokens =>
            {
                if (tokens.SigningKeys.Count == 0)
                {
                    tokens.SigningKeys.Add(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
                }
            });
        }

        // Several instances share events through Redis: --redis localhost:6379, or the configuration
        // section Uploadista:Events:Redis. Without either, events stay in this process.
        if (builder.Configuration["redis"] is { Length: > 0 } redis)
        {
            events.AddRedis(redis);
        }
        else if (builder.Configuration.GetSection(RedisEventsOptions.SectionName).Exists())
        {
            events.AddRedis();
        }

        // What an operator watches: the library's meter, through OpenTelemetry, scraped by Prometheus
        // at /metrics (dotnet-counters monitor Uploadista.Events needs none of this); its health at
        // /healthz, 503 once Redis has been unreachable longer than UnhealthyAfter.
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter("Uploadista.Events").AddPrometheusExporter());
        builder.Services.AddHealthChecks().AddUploadistaEvents();

        // The page of one instance may upload to another (?upload=http://host:port), to show events
        // crossing instances; a real service would name its own origins here.
        builder.Services.AddCors(cors => cors.AddDefaultPolicy(policy => policy.AllowAnyOrigin().AllowAnyHeader().AllowAnyMethod()));

        builder.Services.AddOptions<SampleOptions>().BindConfiguration(SampleOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<UploadStore>();
        builder.Services.AddSingleton<ProcessingFlow>();
        builder.Services.AddSingleton<BackgroundFlows>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BackgroundFlows>());

        var app = builder.Build();
        if (!requireTokens)
        {
            LogTokensOff(app.Logger);
        }
        else if (signingKeyMissing)
        {
            LogEphemeralKey(app.Logger);
        }

        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.UseCors();
        app.MapUploadistaWebSockets();
        app.MapUploadEndpoints();
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapHealthChecks("/healthz", new HealthCheckOptions { ResponseWriter = HealthResponse.WriteAsync });
        return app;
    }

    [LoggerMessage(2, LogLevel.Warning, "Subscription tokens are off (Sample:RequireTokens=false): anyone who knows an upload id can watch it.")]
    private static partial void LogTokensOff(ILogger logger);

    [LoggerMessage(1, LogLevel.Warning, "No token signing key is configured (Uploadista:Events:Tokens:SigningKeys:0): using a random one. Tokens from this instance will not open sockets on other instances.")]
    private static partial void LogEphemeralKey(ILogger logger);
}
