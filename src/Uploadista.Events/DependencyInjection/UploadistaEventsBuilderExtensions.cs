using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Uploadista.Events;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Turns on authorization of subscriptions.</summary>
public static class UploadistaEventsBuilderExtensions
{
    /// <summary>
    /// Adds <typeparamref name="TAuthorizer"/> (a singleton) to the checks every socket passes before it
    /// is subscribed; with several, every one must allow.
    /// </summary>
    /// <typeparam name="TAuthorizer">The authorizer.</typeparam>
    /// <param name="builder">The builder from <c>AddUploadistaEvents()</c>.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static IUploadistaEventsBuilder AddSubscriptionAuthorizer<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TAuthorizer>(this IUploadistaEventsBuilder builder)
        where TAuthorizer : class, ISubscriptionAuthorizer
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<ISubscriptionAuthorizer, TAuthorizer>());
        return builder;
    }

    /// <summary>Adds a delegate to the checks every socket passes before it is subscribed.</summary>
    /// <param name="builder">The builder from <c>AddUploadistaEvents()</c>.</param>
    /// <param name="authorize">Decides on one request; see <see cref="ISubscriptionAuthorizer"/>.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static IUploadistaEventsBuilder AddSubscriptionAuthorizer(
        this IUploadistaEventsBuilder builder,
        Func<SubscriptionRequest, CancellationToken, ValueTask<SubscriptionDecision>> authorize)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(authorize);
        builder.Services.AddSingleton<ISubscriptionAuthorizer>(new DelegateAuthorizer(authorize));
        return builder;
    }

    /// <summary>
    /// Requires every socket to carry a signed subscription token (<c>?token=</c>) for its upload or job,
    /// and registers <see cref="ISubscriptionTokenIssuer"/> to create them. Keys bind from
    /// <c>Uploadista:Events:Tokens</c>, then <paramref name="configure"/> runs; a missing or short key stops
    /// the host from starting.
    /// </summary>
    /// <param name="builder">The builder from <c>AddUploadistaEvents()</c>.</param>
    /// <param name="configure">Sets the options in code, after configuration binding.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static IUploadistaEventsBuilder AddSubscriptionTokens(this IUploadistaEventsBuilder builder, Action<SubscriptionTokenOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (!services.Any(d => d.ServiceType == typeof(SubscriptionTokens)))
        {
            var options = services.AddOptionsWithValidateOnStart<SubscriptionTokenOptions, SubscriptionTokenOptionsValidator>();
            if (UploadistaEventsServiceCollectionExtensions.HasConfiguration(services))
            {
                options.BindConfiguration(SubscriptionTokenOptions.SectionName);
            }

            services.AddSingleton<SubscriptionTokens>();
            services.AddSingleton<ISubscriptionTokenIssuer>(provider => provider.GetRequiredService<SubscriptionTokens>());
            services.AddSingleton<ISubscriptionAuthorizer>(provider => provider.GetRequiredService<SubscriptionTokens>());
        }

        if (configure is not null)
        {
            services.Configure(configure);
        }

        return builder;
    }

    private sealed class DelegateAuthorizer(Func<SubscriptionRequest, CancellationToken, ValueTask<SubscriptionDecision>> authorize) : ISubscriptionAuthorizer
    {
        public ValueTask<SubscriptionDecision> AuthorizeAsync(SubscriptionRequest request, CancellationToken cancellationToken)
            => authorize(request, cancellationToken);
    }
}
