namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Configures Uploadista.Events further, for example <c>.AddRedis(...)</c>.</summary>
public interface IUploadistaEventsBuilder
{
    /// <summary>Gets the service collection Uploadista.Events is registered in.</summary>
    IServiceCollection Services { get; }
}
