using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>
/// Large batches are written by the log's writer thread while the flush thread collects the next one; small ones by the
/// flush thread itself. One write in flight at a time, in order: the log reads back exactly, and a failed write on the
/// writer thread faults the log with nothing after the last returned write reported durable.
/// </summary>
public sealed class PipelinedWriteTests : IDisposable
{
    private const int WriteBuffer = 128 << 10; // hand-over at 64 KiB (a quarter, but at least 64 KiB)
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private WalOptions Options() => new()
    {
        Directory = _temp.Log(), WriteBufferBytes = WriteBuffer, MaxEntryBytes = 4096, SegmentSizeBytes = 4 << 20,
        StripeCount = 2, StripeCapacityBytes = 1 << 20,
    };

    [Fact]
    public void Large_batches_go_to_the_writer_thread_small_ones_stay_on_the_flush_thread_and_every_record_reads_back_in_order()
    {
        var storage = new FaultyStorage();
        var writers = new System.Collections.Concurrent.ConcurrentQueue<(string? Thread, int Length)>();
        using (WriteAheadLog log = WriteAheadLog.Open(Options(), storage))
        {
            storage.BeforeWrite = () => Thread.Sleep(1); // the producers get ahead: batches fill the write buffer
            Bounded.Run(() =>
            {
                Thread[] producers = Enumerable.Range(0, 2).Select(p => new Thread(() =>
                {
                    for (int i = 0; i < 10_000; i++)
                    {
                        log.Append(Payloads.Make(p, i, 1000));
                    }
                })).ToArray();
                foreach (Thread t in producers)
                {
                    t.Start();
                }

                foreach (Thread t in producers)
                {
                    t.Join();
                }

                log.Flush();
            });

            storage.BeforeWrite = null;

            // Flush returns once the last batch is reported durable, which the writer thread does before it counts the
            // batch done: until then a small batch would still queue behind it (found by a full run: the lone append
            // below was written by the writer thread).
            Assert.True(SpinWait.SpinUntil(() => log.TestHookWriterIdle, TimeSpan.FromSeconds(30)), "The writer thread counts its last batch done.");
            int before = storage.Writes.Count;
            log.AppendDurable(Payloads.Make(2, 0, 10)); // alone: a small batch
            Assert.Equal(before + 1, storage.Writes.Count);
        }

        // Which thread made each batch write (offset > 0, not a lone 24-byte end marker). A batch goes to the writer thread
        // when it is large, or when the writer still has a write: then it queues behind that one. So the flush thread
        // writes only batches under the hand-over size, and a smaller write of the writer thread directly follows another.
        var byThread = storage.WriterThreads.Where(w => w.Offset != 0 && w.Length != 24).ToList();
        Assert.Contains(byThread, w => w.Thread == "wal-write" && w.Length >= 64 << 10);
        for (int i = 0; i < byThread.Count; i++)
        {
            (string? thread, _, int length) = byThread[i];
            Assert.True(thread is "wal-write" or "wal-flush", $"Batch write {i} was made by '{thread}'.");
            if (thread == "wal-flush")
            {
                Assert.True(length < (64 << 10) + 24 + 4096, $"The flush thread wrote a {length}-byte batch write (batch, end marker, padding) itself.");
            }
            else if (length < 64 << 10)
            {
                Assert.True(i > 0 && byThread[i - 1].Thread == "wal-write", $"The {length}-byte batch write {i} went to an idle writer thread.");
            }
        }

        Assert.Equal("wal-flush", byThread[^1].Thread); // the lone durable append, with the writer idle

        // In order, on the previous end marker: each batch write starts where the previous batch's frames ended.
        var records = LogContents.ReadAll(_temp.Log(), WalRecoveryMode.Strict);
        Assert.Equal(20_001, records.Count);
        LogContents.AssertContiguousFrom(records, 1);
        var next = new long[2];
        foreach ((ulong _, byte[] payload) in records.Take(20_000))
        {
            int producer = payload.Length == 1000 ? (Payloads.Matches(payload, 0, next[0]) ? 0 : 1) : -1;
            Assert.True(producer >= 0 && Payloads.Matches(payload, producer, next[producer]), "Each producer's records are there once, in its order, byte-exact.");
            next[producer]++;
        }

        Assert.Equal(new long[] { 10_000, 10_000 }, next);
    }

    [Fact]
    public void A_small_batch_collected_while_the_writer_thread_has_a_write_queues_behind_it_and_the_writer_writes_both_in_order()
    {
        var storage = new FaultyStorage();
        using var held = new HeldWriterWrite(storage);
        using (WriteAheadLog log = WriteAheadLog.Open(Options(), storage))
        {
            Bounded.Run(() =>
            {
                // 1. A lone record: a small batch, which the flush thread writes itself; it holds there. 2. 100 records of
                // 1,000 B accumulate meanwhile: one batch of over 64 KiB, for the writer thread, which holds.
                held.AppendAndHold(log);

                // 3. One more record while the writer holds: the flush thread collects it (its ring space is given back)
                // into the other buffer, a small batch, and queues it behind the writer's write instead of writing it.
                Lsn last = log.Append(Payloads.MakeTagged(0, 101, 20));
                SpinWait.SpinUntil(() => log.GetMetrics().Stripes.Sum(s => s.PendingCount) == 0, TimeSpan.FromSeconds(30));
                Assert.Equal(0, log.GetMetrics().Stripes.Sum(s => s.PendingCount));
                Assert.Equal(new Lsn(1), log.DurableLsn); // the first write returned; the writer's holds, and the small batch waits behind it

                held.ReleaseWriter();
                log.Flush();
                Assert.Equal(last, log.DurableLsn);
            });
        }

        var batchWrites = storage.WriterThreads.Where(w => w.Offset != 0 && w.Length != 24).ToList();
        Assert.Equal(3, batchWrites.Count);
        Assert.Equal("wal-flush", batchWrites[0].Thread);
        Assert.Equal("wal-write", batchWrites[1].Thread);
        Assert.True(batchWrites[1].Length >= 100 * 1000, $"The second write holds the 100 records ({batchWrites[1].Length} bytes).");
        Assert.Equal("wal-write", batchWrites[2].Thread); // queued behind it, not written by the flush thread
        Assert.True(batchWrites[2].Length < 64 << 10, $"The third write is the lone record's small batch ({batchWrites[2].Length} bytes).");

        var records = LogContents.ReadAll(_temp.Log(), WalRecoveryMode.Strict);
        Assert.Equal(102, records.Count);
        LogContents.AssertContiguousFrom(records, 1);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.True(Payloads.TaggedIntact(records[i].Payload) && Payloads.ReadTag(records[i].Payload) == (0, i), $"Record {i + 1} is byte-exact.");
        }
    }

    [Fact]
    public void A_write_that_fails_on_the_writer_thread_faults_the_log_and_only_returned_writes_are_durable()
    {
        var storage = new FaultyStorage();
        WriteAheadLog log = WriteAheadLog.Open(Options(), storage);
        var failure = new IOException("Injected failure of the writer thread's third write (EIO).");
        int writerWrites = 0;
        storage.BeforeWrite = () =>
        {
            Thread.Sleep(1); // the producer gets ahead: batches large enough for the writer thread
            if (Thread.CurrentThread.Name == "wal-write" && Interlocked.Increment(ref writerWrites) == 3)
            {
                throw failure; // before the bytes reach the file: nothing of this batch is written
            }
        };
        Bounded.Run(() =>
        {
            try
            {
                for (int i = 0; i < 50_000; i++)
                {
                    log.Append(Payloads.Make(0, i, 1000));
                }
            }
            catch (WalException)
            {
                // The log faulted while the producer was still appending: expected.
            }
        });

        WalException fault = Assert.Throws<WalException>(() => log.Flush());
        Assert.Same(failure, fault.InnerException);
        Lsn durable = log.DurableLsn;
        log.Dispose();

        // Exactly the records of the writes that returned are durable (two of them the writer thread's), and they are
        // what the log holds: the failed write and everything after it were never reported durable.
        var batchWrites = storage.WriterThreads.Where(w => w.Offset != 0 && w.Length != 24).ToList();
        Assert.Equal(2, batchWrites.Count(w => w.Thread == "wal-write"));
        Assert.Equal("wal-write", batchWrites[^1].Thread); // nothing was written after the failure
        var records = LogContents.ReadAll(_temp.Log(), WalRecoveryMode.Strict);
        Assert.Equal(durable.Value, (ulong)records.Count);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.True(Payloads.Matches(records[i].Payload, 0, i), $"Record {i + 1} is byte-exact.");
        }
    }
}
