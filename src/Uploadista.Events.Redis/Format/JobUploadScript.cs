using System.Globalization;

namespace Uploadista.Events.Redis;

/// <summary>
/// Writes or reads which upload a job belongs to: a string key of its own in the job's hash slot
/// (<see cref="RedisKeys.JobUpload"/>), whose expiry every write and read sets to the retention period
/// and a hundredth, as a channel's state gets when it is published on.
/// </summary>
/// <remarks>
/// KEYS[1] the job's key. ARGV[1] an upload id, or ''; ARGV[2] '1' to write ARGV[1] whatever the key
/// holds (an event named the upload), '0' to read: the key's upload if it has one (its expiry is
/// refreshed), else ARGV[1] when given (written: this instance knows it and Redis lost it), else nil.
/// Returns the job's upload, or nil. A read never replaces an upload another instance wrote.
/// </remarks>
internal static class JobUploadScript
{
    private const string Template = """
        if ARGV[2] == '1' then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', {EXPIRY_MS})
          return ARGV[1]
        end
        local upload = redis.call('GET', KEYS[1])
        if upload then
          redis.call('PEXPIRE', KEYS[1], {EXPIRY_MS})
          return upload
        end
        if ARGV[1] ~= '' then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', {EXPIRY_MS})
          return ARGV[1]
        end
        return false
        """;

    /// <summary>Writes the settings into the script.</summary>
    /// <param name="retention">How long a channel's state lives after its last event.</param>
    public static LuaScript Create(TimeSpan retention)
        => new(Template.Replace("{EXPIRY_MS}", ((long)(retention.TotalMilliseconds * 1.01)).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
}
