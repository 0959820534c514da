using Xunit;

namespace Aletheia.Wal.Tests.Support;

/// <summary>What the calling thread allocates while it calls into a log, in steady state.</summary>
internal static class ThreadAllocation
{
    /// <summary>
    /// A run of one kind of call (Append, TryAppend, AppendInPlace, AppendDurable, WaitForDurable, Flush: an append and a
    /// Flush) of <paramref name="payload"/>, as many times as the run is given.
    /// </summary>
    public static Action<int> Calls(WriteAheadLog log, string kind, byte[] payload) => n =>
    {
        for (int i = 0; i < n; i++)
        {
            switch (kind)
            {
                case "Append":
                    log.Append(payload);
                    break;
                case "TryAppend":
                    while (!log.TryAppend(payload, out _))
                    {
                        Thread.Yield();
                    }

                    break;
                case "AppendInPlace":
                    log.Append(payload.Length, (byte)i, static (span, b) => span.Fill(b));
                    break;
                case "AppendDurable":
                    log.AppendDurable(payload);
                    break;
                case "WaitForDurable":
                    log.WaitForDurable(log.Append(payload));
                    break;
                default:
                    log.Append(payload);
                    log.Flush();
                    break;
            }
        }
    };

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
