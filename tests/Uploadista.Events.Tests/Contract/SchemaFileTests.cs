namespace Uploadista.Events.Tests.Contract;

/// <summary>docs/schema is what the generator makes of the event types now, file for file and byte for byte.</summary>
public sealed class SchemaFileTests
{
    [Fact]
    public void The_committed_schemas_are_the_generated_ones()
    {
        var generated = SchemaFiles.Generate();
        if (Environment.GetEnvironmentVariable(SchemaFiles.UpdateVariable) == "1")
        {
            SchemaFiles.Write(generated);
        }

        var committed = SchemaFiles.Committed();
        var how = $"docs/schema is generated from the event types: run `{SchemaFiles.UpdateVariable}=1 dotnet test --solution Uploadista.Events.sln -- --filter-class '*SchemaFileTests'`, review the diff, and commit it.";
        committed.Keys.Should().Equal(generated.Keys, how);
        foreach (var (name, text) in generated)
        {
            committed[name].Should().Be(text, $"docs/schema/{name} differs from the generated one. {how}");
        }
    }

    [Fact]
    public void Every_event_type_has_a_schema_and_a_place_in_event_json()
    {
        EventSchemas.All.Should().HaveCount(8);
        var anyEvent = SchemaFiles.Generate()["event.json"];
        foreach (var (wireType, _) in EventSchemas.All)
        {
            anyEvent.Should().Contain($"\"{wireType}.json\"");
        }
    }
}
