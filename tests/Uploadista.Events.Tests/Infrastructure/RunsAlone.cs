namespace Uploadista.Events.Tests.Infrastructure;

/// <summary>Tests that measure time run in this collection, which runs while no other test does.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAlone
{
    public const string Name = "Alone";
}
