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
            int before = storage.Writes.Count;
            log.AppendDurable(Payloads.Make(2, 0, 10)); // alone: a small batch
            Assert.Equal(before + 1, storage.Writes.Count);
        }

        // Which thread made each batch write (offset > 0, not a lone 24-byte end marker).
        var byThread = storage.WriterThreads.Where(w => w.Offset != 0 && w.Length != 24).ToList();
        Assert.Contains(byThread, w => w.Thread == "wal-write" && w.Length >= 64 << 10);
        Assert.All(byThread.Where(w => w.Length < 64 << 10 && w.Length > 4096 + 24 + 24 + 4096), w => Assert.Equal("wal-flush", w.Thread));
        Assert.All(byThread.Where(w => w.Thread == "wal-write"), w => Assert.True(w.Length >= 64 << 10, $"A {w.Length}-byte write went to the writer thread."));
        Assert.Equal("wal-flush", byThread[^1].Thread); // the lone durable append

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
