using Uploadista.Events.Sample;

var app = SampleApp.Create(args);
app.Run();
