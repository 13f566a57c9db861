namespace Uploadista.Events.LoadTest;

/// <summary>What <c>/bench/publish</c> returns: events published per upload, and how long publishing took.</summary>
/// <param name="PerUpload">Events published to each upload, by upload number.</param>
/// <param name="Seconds">From the first publish until the last one completed; for a paced run, the achieved rate is the events over this.</param>
internal sealed record PublishResult(long[] PerUpload, double Seconds);

/// <summary>What <c>/bench/uploads</c> returns once the whole uploads workload has run.</summary>
/// <param name="Calls">Events the workload handed to the publisher, progress included, before any throttling.</param>
/// <param name="Sent">
/// Events that went out on each upload's channel (SignalR: to its group) after the progress throttle,
/// by upload number: what each socket of that upload must receive.
/// </param>
/// <param name="Finished">Uploads whose every event, flow_complete included, was published.</param>
/// <param name="Seconds">From the start of the workload until its last event was published.</param>
internal sealed record UploadsPublished(long Calls, long[] Sent, int Finished, double Seconds);
