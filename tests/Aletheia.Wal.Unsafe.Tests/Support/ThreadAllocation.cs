using Xunit;

namespace Aletheia.Wal.Tests.Support;

/// <summary>What the calling thread allocates while it calls into a log, in steady state.</summary>
internal static class ThreadAllocation
{
    /// <summary>
    /// Warms up <paramref name="run"/> (called with a count of calls) while three other threads make durable appends of
    /// <paramref name="payload"/>, so that this thread also parks (the first park of a thread sets up the runtime's wait
    /// state once), then once more alone.
    /// </summary>
    public static void WarmUp(WriteAheadLog log, byte[] payload, Action<int> run, int count)
    {
        var contenders = Enumerable.Range(0, 3).Select(_ => new Thread(() =>
        {
            for (int i = 0; i < 300; i++)
            {
                log.AppendDurable(payload);
            }
        })).ToArray();
        foreach (Thread contender in contenders)
        {
            contender.Start();
        }

        run(Math.Min(count, 5_000));
        foreach (Thread contender in contenders)
        {
            Assert.True(contender.Join(TimeSpan.FromSeconds(60)));
        }

        run(Math.Min(count, 2_000));
    }

    /// <summary>
    /// The bytes this thread allocated in each of three runs of <paramref name="run"/>: an allocation per call shows in every
    /// one of them; the runtime's own one-off work (a thread's first park, tiering) in at most one. The steady state is the
    /// window that allocated least.
    /// </summary>
    public static long[] Windows(Action run)
    {
        long[] windows = new long[3];
        for (int w = 0; w < windows.Length; w++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            run();
            windows[w] = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        return windows;
    }
}
