using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>
/// The timed waits allocate nothing per call in steady state, on the waiting thread
/// (<see cref="GC.GetAllocatedBytesForCurrentThread"/>, in the serial collection, measured as
/// <see cref="WriteAheadLogAllocationTests"/> does): when the record is durable already, when the wait parks and is
/// released, and when it times out (the pooled waiter goes back to the pool, or the pool would have to make new ones).
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class WaitLimitAllocationTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    public static TheoryData<string, int> Kinds => new()
    {
        { "WaitForDurableTimeoutDurableAlready", 100_000 },
        { "FlushTimeoutDurableAlready", 100_000 },
        { "WaitForDurableTimeout", 2_000 },
        { "FlushTimeout", 2_000 },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Timed_waits_allocate_nothing_in_steady_state(string kind, int count)
    {
        using WriteAheadLog log = OpenLog(WalStorage.Files);
        byte[] payload = new byte[64];
        Lsn durable = log.AppendDurable(payload);
        int notDurable = 0;
        void Run(int n)
        {
            for (int i = 0; i < n; i++)
            {
                bool done = kind switch
                {
                    "WaitForDurableTimeoutDurableAlready" => log.WaitForDurable(durable, Long),
                    "FlushTimeoutDurableAlready" => log.Flush(Long),
                    "WaitForDurableTimeout" => log.WaitForDurable(log.Append(payload), Long),
                    _ => FlushAfterAppend(log, payload),
                };
                if (!done)
                {
                    notDurable++;
                }
            }
        }

        ThreadAllocation.WarmUp(log, payload, Run, count); // with three other threads appending durably, so that this thread also parks
        long[] windows = ThreadAllocation.Windows(() => Run(count));
        Assert.True(notDurable == 0, $"{kind}: every wait returned true within 30 s; {notDurable} timed out.");
        Assert.True(windows.Min() == 0, $"{kind}: the waiting thread allocated {string.Join(", ", windows)} bytes in three windows of {count} calls.");
    }

    [Fact]
    public void Timed_waits_that_time_out_allocate_nothing_in_steady_state()
    {
        var storage = new FaultyStorage();
        using WriteAheadLog log = OpenLog(storage);
        log.AppendDurable(new byte[64]);
        using var inWrite = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        storage.BeforeWrite = () =>
        {
            inWrite.Set();
            gate.Wait(TimeSpan.FromSeconds(60));
        };
        try
        {
            Lsn pending = log.Append(new byte[64]);
            Assert.True(inWrite.Wait(Long), "The flush thread enters its write, where the test holds it.");
            TimeSpan oneMillisecond = TimeSpan.FromMilliseconds(1);
            int durable = 0;
            void Run(int n)
            {
                for (int i = 0; i < n; i++)
                {
                    if (log.WaitForDurable(pending, oneMillisecond))
                    {
                        durable++;
                    }

                    if (log.Flush(oneMillisecond))
                    {
                        durable++;
                    }
                }
            }

            // More timed-out waits per window than the pool holds waiters at first (at most 256): were a timed-out wait
            // to keep its waiter, the pool would have to make new ones, which allocates.
            const int Calls = 150;
            Run(Calls);
            long[] windows = ThreadAllocation.Windows(() => Run(Calls));
            Assert.True(durable == 0, $"The write is held: every wait timed out; {durable} returned true.");
            Assert.True(log.TestHookRegisteredWaiters == 0, "The timed-out waits left no waiter registered.");
            Assert.True(windows.Min() == 0, $"Timed-out waits: the waiting thread allocated {string.Join(", ", windows)} bytes in three windows of {2 * Calls} calls.");
        }
        finally
        {
            storage.BeforeWrite = null;
            gate.Set();
        }

        Assert.True(log.Flush(Long), "Released: the held record becomes durable.");
    }

    private static bool FlushAfterAppend(WriteAheadLog log, byte[] payload)
    {
        log.Append(payload);
        return log.Flush(Long);
    }

    /// <summary>
    /// Three windows: an allocation per call shows in every one of them; the runtime's own one-off work (a thread's first
    /// park, tiering) shows in at most one. The steady state is the window that allocated least.
    /// </summary>
    private WriteAheadLog OpenLog(WalStorage storage)
    {
        // Segments large enough that the measured window never rotates (rotation opens a file, which allocates).
        var log = WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), StripeCount = 2, SegmentSizeBytes = 256L << 20 }, storage);
        log.TestHookWaitForPreparedSegment();
        return log;
    }
}
