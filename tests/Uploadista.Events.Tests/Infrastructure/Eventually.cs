namespace Uploadista.Events.Tests.Infrastructure;

/// <summary>Waits for a condition with a deadline, instead of sleeping a fixed time.</summary>
public static class Eventually
{
    public static Task HoldsAsync(Func<bool> condition, string because, TimeSpan? timeout = null)
        => HoldsAsync(() => Task.FromResult(condition()), because, timeout);

    public static async Task HoldsAsync(Func<Task<bool>> condition, string because, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {because}.");
            }

            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }
}
