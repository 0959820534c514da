using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>Bugs found in review, each pinned by the interleaving that exposed it.</summary>
public sealed class WriteAheadLogRegressionTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// A small ring wraps often: padding published after the flush thread's scan must not be released past the scan
    /// position, or that stripe is never indexed again and durability stalls for good.
    /// </summary>
    [Fact]
    public void Small_wrapping_stripe_keeps_becoming_durable()
    {
        // The whole body, Dispose included, runs under the deadline: with the bug, Dispose waits for a merge that
        // never finishes.
        Bounded.Run(() =>
        {
            var options = new WalOptions { Directory = _temp.Log(), StripeCount = 1, StripeCapacityBytes = 4096, MaxEntryBytes = 1000, SegmentSizeBytes = 1 << 20 };
            using WriteAheadLog log = WriteAheadLog.Open(options);
            DateTime until = DateTime.UtcNow.AddSeconds(3);
            Bounded.Parallel(2, t =>
            {
                var random = new Random(t);
                byte[] payload = new byte[1000];
                while (DateTime.UtcNow < until)
                {
                    int length = random.Next(1, 1000);
                    Lsn lsn = t == 0
                        ? log.Append(payload.AsSpan(0, length))
                        : log.Append(length, payload, static (d, p) => p.AsSpan(0, d.Length).CopyTo(d));
                    if (random.Next(8) == 0)
                    {
                        log.WaitForDurable(lsn);
                    }

                    if (random.Next(4) == 0)
                    {
                        Thread.SpinWait(random.Next(2000)); // pace: lets the flush thread scan mid-wrap
                    }
                }
            }, TimeSpan.FromSeconds(30));
            Bounded.Run(log.Flush, TimeSpan.FromSeconds(15));
            Assert.Equal(log.LastLsn, log.DurableLsn);
        }, TimeSpan.FromSeconds(60));
    }

    [Fact]
    public void Metrics_after_dispose_throw_object_disposed_instead_of_reading_freed_memory()
    {
        WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), SegmentSizeBytes = 1 << 20 });
        log.Append([1]);
        log.Dispose();
        Assert.Throws<ObjectDisposedException>(() => log.GetMetrics());
    }

    [Fact]
    public async Task Reading_a_pending_value_task_result_throws_without_corrupting_later_waits()
    {
        var storage = new FaultyStorage();
        await using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), SegmentSizeBytes = 1 << 20 }, storage);
        var gate = new ManualResetEventSlim();
        Lsn first = log.Append([1]);
        log.WaitForDurable(first);

        // Hold the next write back, so that the wait below is pending when it is misused.
        storage.BeforeWrite = () => gate.Wait(TimeSpan.FromSeconds(30));
        ValueTask<Lsn> pending = log.AppendDurableAsync(new byte[] { 2 });
        if (!pending.IsCompleted)
        {
            Assert.Throws<InvalidOperationException>(() => pending.Result);
        }

        gate.Set();
        storage.BeforeWrite = null;
        for (int i = 0; i < 50; i++)
        {
            Lsn lsn = await log.AppendDurableAsync(new byte[] { 3 }).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(log.DurableLsn >= lsn, "Each awaited durable append is durable when it completes.");
        }
    }
}
