using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>
/// <see cref="WriteAheadLog.DisposeAsync"/> holds no thread-pool thread while flush threads drain: more logs are disposed
/// at once, each with its flush thread held inside a write, than the pool has threads, and the pool still runs other work
/// at once. In the serial collection: it reads the pool's thread count and needs the pool to itself.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class DisposeAsyncThreadPoolTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Disposing_more_held_logs_than_the_pool_has_threads_leaves_the_pool_free()
    {
        Bounded.Run(() =>
        {
            // A disposal that blocked a pool thread until its write returns would occupy every thread the pool has, and
            // a work item queued after them would wait for the pool to add 16 more threads (about two a second).
            ThreadPool.GetMinThreads(out int minWorkers, out _);
            int count = Math.Max(minWorkers, ThreadPool.ThreadCount) + 16;
            using var gate = new ManualResetEventSlim();
            var logs = new List<WriteAheadLog>(count);
            var disposals = new List<Task>(count);
            try
            {
                for (int i = 0; i < count; i++)
                {
                    var storage = new FaultyStorage();
                    WriteAheadLog log = WriteAheadLog.Open(
                        new WalOptions { Directory = _temp.Log($"log{i}"), StripeCount = 1, StripeCapacityBytes = 4096, MaxEntryBytes = 1024, SegmentSizeBytes = 1 << 20 },
                        storage);
                    logs.Add(log);
                    log.AppendDurable([0]);
                    var inWrite = new ManualResetEventSlim(); // not disposed: later writes of this log still set it
                    storage.BeforeWrite = () =>
                    {
                        inWrite.Set();
                        gate.Wait(TimeSpan.FromSeconds(60));
                    };
                    log.Append([1]);
                    Assert.True(inWrite.Wait(TimeSpan.FromSeconds(30)), $"Log {i}: the flush thread enters its write, where the test holds it.");
                }

                foreach (WriteAheadLog log in logs)
                {
                    disposals.Add(log.DisposeAsync().AsTask());
                }

                Assert.True(disposals.All(d => !d.IsCompleted), "Every disposal is pending: every write is held.");
                Task probe = Task.Run(() => { });
                Assert.True(
                    probe.Wait(TimeSpan.FromSeconds(3)),
                    $"A work item queued while {count} disposals wait for their held writes runs within 3 s: the disposals hold no pool thread.");
                Assert.True(disposals.All(d => !d.IsCompleted), "The disposals are still pending.");
            }
            finally
            {
                gate.Set();
            }

            Assert.True(Task.WaitAll(disposals.ToArray(), TimeSpan.FromSeconds(60)), "Every disposal completes once the writes return.");
            for (int i = 0; i < count; i++)
            {
                Assert.True(logs[i].DurableLsn == new Lsn(2), $"Log {i}: the held record became durable before the disposal completed.");
                using WriteAheadLog reopened = WriteAheadLog.Open(new WalOptions { Directory = _temp.Log($"log{i}"), SegmentSizeBytes = 1 << 20 });
                Assert.True(reopened.LastLsn == new Lsn(2), $"Log {i}: reopened (its lock was released), it ends at LSN 2.");
            }
        }, TimeSpan.FromSeconds(120));
    }
}
