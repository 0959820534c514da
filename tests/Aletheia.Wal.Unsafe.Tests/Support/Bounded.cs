using System.Diagnostics;
using Xunit;

namespace Aletheia.Wal.Tests.Support;

/// <summary>Runs test bodies under a deadline, so that a hang fails the test instead of hanging the suite.</summary>
internal static class Bounded
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(60);

    /// <summary>Runs <paramref name="body"/> on its own thread and fails if it does not finish within <paramref name="limit"/>.</summary>
    public static void Run(Action body, TimeSpan? limit = null)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                body();
            }
            catch (Exception e)
            {
                failure = e;
            }
        })
        { IsBackground = true, Name = "bounded-test-body" };
        thread.Start();
        TimeSpan deadline = limit ?? Default;
        Assert.True(thread.Join(deadline), $"The test body did not finish within {deadline}: a wait hung (deadlock or lost wake-up).");
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        }
    }

    /// <summary>Starts <paramref name="count"/> threads running <paramref name="body"/>(index) and joins them all under one deadline.</summary>
    public static void Parallel(int count, Action<int> body, TimeSpan? limit = null)
    {
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var threads = new Thread[count];
        for (int i = 0; i < count; i++)
        {
            int index = i;
            threads[i] = new Thread(() =>
            {
                try
                {
                    body(index);
                }
                catch (Exception e)
                {
                    failures.Enqueue(e);
                }
            })
            { IsBackground = true, Name = $"bounded-worker-{i}" };
        }

        foreach (Thread t in threads)
        {
            t.Start();
        }

        var clock = Stopwatch.StartNew();
        TimeSpan deadline = limit ?? Default;
        foreach (Thread t in threads)
        {
            TimeSpan left = deadline - clock.Elapsed;
            Assert.True(t.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero), $"Worker {t.Name} did not finish within {deadline}: a wait hung.");
        }

        if (!failures.IsEmpty)
        {
            throw new AggregateException(failures);
        }
    }
}
