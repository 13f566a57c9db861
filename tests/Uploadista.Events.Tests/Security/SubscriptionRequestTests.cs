using Microsoft.AspNetCore.Http;

namespace Uploadista.Events.Tests.Security;

/// <summary>An application unit-tests its own authorizer by building the request it will be handed.</summary>
public sealed class SubscriptionRequestTests
{
    [Fact]
    public async Task An_authorizer_can_be_unit_tested_with_a_request_built_by_hand()
    {
        var context = new DefaultHttpContext();
        context.Request.QueryString = new QueryString("?token=secret");
        var request = new SubscriptionRequest(context, SubscriptionKind.Upload, "u1");

        var decision = await new TokenEqualsId().AuthorizeAsync(request, CancellationToken.None);

        (request.Kind, request.Id, request.Token).Should().Be((SubscriptionKind.Upload, "u1", "secret"));
        decision.Should().Be(SubscriptionDecision.Forbidden);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    public void A_malformed_id_is_refused_as_the_endpoint_would(string id)
    {
        var build = () => new SubscriptionRequest(new DefaultHttpContext(), SubscriptionKind.Flow, id);

        build.Should().Throw<ArgumentException>().WithParameterName(nameof(id));
    }

    private sealed class TokenEqualsId : ISubscriptionAuthorizer
    {
        public ValueTask<SubscriptionDecision> AuthorizeAsync(SubscriptionRequest request, CancellationToken cancellationToken)
            => ValueTask.FromResult(request.Token == request.Id ? SubscriptionDecision.Allow : SubscriptionDecision.Forbidden);
    }
}
