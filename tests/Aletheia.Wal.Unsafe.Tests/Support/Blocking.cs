namespace Aletheia.Wal.Tests.Support;

/// <summary>Waits for a value task from synchronous test code (a worker thread, or a mixed-form loop), with a deadline.</summary>
internal static class Blocking
{
    public static T Wait<T>(ValueTask<T> task, int seconds = 60)
    {
        Task<T> asTask = task.AsTask();
        if (!asTask.Wait(TimeSpan.FromSeconds(seconds)))
        {
            throw new TimeoutException($"A durable wait did not complete within {seconds} s.");
        }

        return asTask.Result;
    }
}
