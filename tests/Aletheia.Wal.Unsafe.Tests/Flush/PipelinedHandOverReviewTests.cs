using System.Diagnostics;
using Aletheia.Wal.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Tests.Flush;

/// <summary>
/// Review of the pipelined hand-over between the flush thread and its writer thread (9b0a20a): two batches posted at
/// once, small batches queued behind a busy writer, the flush thread parking with a write in flight. Whatever the
/// timing, the format needs one segment write at a time, in LSN order, each on the previous one's end marker; nothing
/// may be reported durable before its write returned, nor after a failed write; a fault must surface (no hang).
/// </summary>
public sealed class PipelinedHandOverReviewTests(ITestOutputHelper output) : IDisposable
{
    private const int WriteBuffer = 128 << 10; // hand-over at 64 KiB
    private const int HandOver = 64 << 10;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static WalOptions Options(string directory) => new()
    {
        Directory = directory, WriteBufferBytes = WriteBuffer, MaxEntryBytes = 8192, SegmentSizeBytes = 1 << 20,
        StripeCount = 2, StripeCapacityBytes = 1 << 20,
    };

    /// <summary>Random delays inside every segment write, on either thread: a spin, a yield, a 1 ms sleep, or none.</summary>
    private static void RandomWriteDelay()
    {
        int roll = Random.Shared.Next(10);
        if (roll < 3)
        {
            Thread.Sleep(1);
        }
        else if (roll < 6)
        {
            Thread.SpinWait(Random.Shared.Next(1, 20_000));
        }
        else if (roll < 8)
        {
            Thread.Yield();
        }
    }

    [Fact]
    public void Bursts_of_mixed_sizes_with_random_write_delays_read_back_byte_exact_one_write_at_a_time_never_durable_early()
    {
        const int Producers = 3;
        const int PerProducer = 2000;
        var storage = new FaultyStorage { BeforeWrite = RandomWriteDelay };
        string directory = _temp.Log();
        int[][] lengths = Enumerable.Range(0, Producers).Select(p =>
        {
            var random = new Random(p + 11);
            return Enumerable.Range(0, PerProducer).Select(_ => random.Next(4) == 0 ? 12 + random.Next(100) : 12 + random.Next(6000)).ToArray();
        }).ToArray();
        long samples = 0;
        string? early = null;
        using var done = new ManualResetEventSlim(false);
        WriteAheadLog log = WriteAheadLog.Open(Options(directory), storage);
        var sampler = new Thread(() =>
        {
            // DurableLsn read first, then the last LSN whose write returned: the tracker sets it before the write returns,
            // so a DurableLsn published after a write returned is never above it.
            while (!done.IsSet)
            {
                ulong durable = log.DurableLsn.Value;
                ulong returned = storage.Tracker.LastReturnedLsn;
                if (durable > returned && early is null)
                {
                    early = $"DurableLsn {durable} was read while the last batch write that returned ended at LSN {returned}.";
                }

                samples++;
            }
        }) { IsBackground = true };
        sampler.Start();
        Bounded.Parallel(Producers, p =>
        {
            for (int i = 0; i < PerProducer; i++)
            {
                byte[] payload = Payloads.MakeTagged(p, i, lengths[p][i]);
                if (i % 97 == 96)
                {
                    log.AppendDurable(payload); // a lone small batch, often while the writer thread has a write
                }
                else
                {
                    log.Append(payload);
                }

                if (i % 500 == 499)
                {
                    log.Flush();
                }
            }
        }, TimeSpan.FromSeconds(60));

        log.Dispose(); // with writes posted: everything appended is written first
        done.Set();
        Assert.True(sampler.Join(TimeSpan.FromSeconds(10)));

        var byThread = storage.WriterThreads.Where(w => w.Offset != 0 && w.Length != 24).ToList();
        int large = byThread.Count(w => w.Thread == "wal-write" && w.Length >= HandOver);
        int queuedSmall = byThread.Count(w => w.Thread == "wal-write" && w.Length < HandOver);
        output.WriteLine($"{byThread.Count} batch writes: {large} large by the writer thread, {queuedSmall} small queued behind it, {byThread.Count(w => w.Thread == "wal-flush")} by the flush thread; {samples} DurableLsn samples; {storage.Writes.Select(w => w.Path).Distinct().Count()} segments");
        Assert.Null(early);
        Assert.Equal(1, storage.Tracker.MaxInProgress); // never two segment writes at once
        Assert.Equal(0, storage.Tracker.OutOfOrder);
        Assert.True(large > 0, "Large batches went to the writer thread (the hand-over was exercised).");

        var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.Equal(Producers * PerProducer, records.Count);
        LogContents.AssertContiguousFrom(records, 1);
        var next = new int[Producers];
        foreach ((ulong lsn, byte[] payload) in records)
        {
            Assert.True(Payloads.TaggedIntact(payload), $"Record {lsn} is byte-exact.");
            (int producer, long sequence) = Payloads.ReadTag(payload);
            Assert.True(sequence == next[producer], $"Record {lsn} is producer {producer}'s record {sequence}; its next in order is {next[producer]}.");
            Assert.True(payload.Length == lengths[producer][sequence], $"Record {lsn} has its length, {lengths[producer][sequence]} bytes.");
            next[producer]++;
        }
    }

    /// <summary>
    /// The writer thread's k-th write fails while a batch is queued behind it (or being queued: the outcome is the same
    /// whether the flush thread posted it or saw the fault first). The log faults with that failure; nothing is written
    /// after it; DurableLsn stays where the writes that returned put it, and the log holds exactly those records.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_failed_writer_write_with_a_batch_queued_behind_it_faults_the_log_and_nothing_after_it_is_written_or_durable(int failing)
    {
        var storage = new FaultyStorage();
        string directory = _temp.Log();
        var failure = new IOException($"Injected failure of the writer thread's write {failing} (EIO).");
        using var held = new ManualResetEventSlim(false);
        using var release = new ManualResetEventSlim(false);
        int writerWrites = 0;
        storage.BeforeWrite = () =>
        {
            if (Thread.CurrentThread.Name == "wal-write" && Interlocked.Increment(ref writerWrites) == failing)
            {
                held.Set();
                Assert.True(release.Wait(TimeSpan.FromSeconds(30)), "The test released the held write.");
                throw failure; // before the bytes reach the file: nothing of this batch is written
            }

            Thread.Sleep(1); // the producer gets ahead: batches grow past the hand-over
        };
        WriteAheadLog log = WriteAheadLog.Open(Options(directory), storage);
        int appended = 0;
        ulong durableAtFailure = 0;
        int writesAtFailure = 0;
        Bounded.Run(() =>
        {
            // The producer appends until the writer holds its write, and one more record then, collected while it holds
            // (queued behind it, or waiting in the rings while the flush thread waits for a write buffer: backpressure).
            var producer = new Thread(() =>
            {
                try
                {
                    while (!held.IsSet)
                    {
                        log.Append(Payloads.MakeTagged(0, appended++, 1000));
                    }

                    log.Append(Payloads.MakeTagged(0, appended++, 20));
                }
                catch (WalException)
                {
                    // Blocked for ring space when the log faulted: expected.
                }
            });
            producer.Start();
            Assert.True(held.Wait(TimeSpan.FromSeconds(10)), "The writer thread made its writes.");
            Thread.Sleep(100); // the flush thread collects what it can, posts it, and waits for the held write
            durableAtFailure = log.DurableLsn.Value;
            writesAtFailure = storage.Writes.Count;
            Assert.Equal(storage.Tracker.LastReturnedLsn, durableAtFailure); // every write that returned was reported durable before the held one started
            release.Set();
            Assert.True(producer.Join(TimeSpan.FromSeconds(10)), "The producer returned (or was refused) once the log faulted.");

            WalException fault = Assert.Throws<WalException>(() => log.Flush());
            Assert.Same(failure, fault.InnerException);
            log.Dispose();
        }, TimeSpan.FromSeconds(30));

        Assert.Equal(durableAtFailure, storage.Tracker.LastReturnedLsn);
        Assert.Equal(writesAtFailure, storage.Writes.Count); // nothing written after the failed write, the queued batch included
        var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.Equal(durableAtFailure, (ulong)records.Count);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.True(Payloads.TaggedIntact(records[i].Payload) && Payloads.ReadTag(records[i].Payload) == (0, i), $"Record {i + 1} is byte-exact.");
        }

        output.WriteLine($"failing writer write {failing}: {appended} appended, {durableAtFailure} durable and on disk");
    }

    /// <summary>
    /// The flush thread parks with the writer's write in flight (nothing else to do), and that write fails: the writer
    /// rings the flush thread, which faults the log at once. A Flush waiting meanwhile throws the failure; Dispose returns.
    /// </summary>
    [Fact]
    public void A_write_that_fails_while_the_flush_thread_is_parked_faults_the_log_promptly_and_Flush_and_Dispose_return()
    {
        var storage = new FaultyStorage();
        string directory = _temp.Log();
        using var held = new HeldWriterWrite(storage) { WriterOutcome = new IOException("Injected failure of the writer thread's write while the flush thread is parked (EIO).") };
        WriteAheadLog log = WriteAheadLog.Open(Options(directory), storage);
        Bounded.Run(() =>
        {
            held.AppendAndHold(log);
            // Nothing more to collect: the flush thread parks with the write in flight, waking every 100 ms on its own. The
            // write fails about 320 ms after it parked, 80 ms before its fourth timed wake: rung, it sees the fault at once.
            Thread.Sleep(270);
            Assert.Equal(new Lsn(1), log.DurableLsn);

            WalException? seen = null;
            long thrownAt = 0;
            var flusher = new Thread(() =>
            {
                try
                {
                    log.Flush();
                }
                catch (WalException e)
                {
                    thrownAt = Stopwatch.GetTimestamp();
                    seen = e;
                }
            });
            flusher.Start();
            Thread.Sleep(50); // the Flush waits
            long releasedAt = Stopwatch.GetTimestamp();
            held.ReleaseWriter();
            Assert.True(flusher.Join(TimeSpan.FromSeconds(10)), "Flush returned once the write failed.");
            Assert.NotNull(seen);
            Assert.Same(held.WriterOutcome, seen.InnerException);
            Assert.Equal(new Lsn(1), log.DurableLsn);
            double milliseconds = Stopwatch.GetElapsedTime(releasedAt, thrownAt).TotalMilliseconds;
            output.WriteLine($"fault seen by Flush {milliseconds:F2} ms after the held write was released to fail");
            Assert.True(milliseconds < 40, $"The failed write rang the parked flush thread: Flush saw the fault {milliseconds:F2} ms after it (measured: 0.2 ms; without the ring, at the park's timed wake, about 80).");
            log.Dispose();
        }, TimeSpan.FromSeconds(30));

        var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.Single(records);
        Assert.True(Payloads.TaggedIntact(records[0].Payload));
    }

    /// <summary>
    /// Power goes at the k-th segment write of a pipelined burst, for every k; the interrupted write persists nothing. The
    /// recovered log ends exactly at the last LSN of the last batch write that returned (every one of them durable, none
    /// of the queued ones after it), every record byte-exact, and never below what the log reported durable.
    /// </summary>
    [Fact]
    public void Power_loss_at_every_segment_write_of_a_pipelined_burst_recovers_exactly_the_writes_that_returned()
    {
        Bounded.Run(() =>
        {
            // The batch sizes depend on timing: the crash points are those of the shortest of three calibration runs, and a
            // case whose run made fewer writes than its k hits nothing (its log must then hold everything; counted).
            int writes = Enumerable.Range(0, 3).Min(_ => RunPowerLossCase(0).Writes);
            int hits = 0;
            int byWriter = 0;
            for (int k = 1; k <= writes; k++)
            {
                (_, int writer, bool hit) = RunPowerLossCase(k);
                byWriter += writer;
                hits += hit ? 1 : 0;
            }

            output.WriteLine($"{writes} segment writes in the shortest calibration run, power lost at each: {hits} hit; {byWriter} writes by the writer thread in all");
            Assert.True(byWriter > 0, "Large batches went to the writer thread.");
            Assert.True(hits >= writes - 4, $"{hits} of {writes} planned power losses hit a write.");
        }, TimeSpan.FromSeconds(60));
    }

    private (int Writes, int ByWriter, bool Hit) RunPowerLossCase(int k)
    {
        string directory = _temp.Log($"power-{k}");
        int segmentWrites = 0;
        int byWriter = 0;
        var disk = new SimulatedDisk(k)
        {
            FaultOn = DiskOperation.Write,
            Fault = DiskFault.PowerLoss,
            Tear = TornWrite.Dropped,
            FaultWhen = (_, path) => path.EndsWith(".wal", StringComparison.Ordinal) && Interlocked.Increment(ref segmentWrites) == k,
        };
        disk.BeforeOperation = (operation, path) =>
        {
            if (operation == DiskOperation.Write && path.EndsWith(".wal", StringComparison.Ordinal) && Thread.CurrentThread.Name is "wal-write" or "wal-flush")
            {
                if (Thread.CurrentThread.Name == "wal-write")
                {
                    Interlocked.Increment(ref byWriter);
                }

                Thread.Sleep(1); // the producer gets ahead: batches grow past the hand-over, and queue
            }
        };
        ulong flushed = 0;
        ulong durableSeen = 0;
        int calibrationWrites = 0;
        try
        {
            using WriteAheadLog log = WriteAheadLog.Open(Options(directory), disk);
            try
            {
                for (int round = 0; round < 4; round++)
                {
                    for (int i = 0; i < 150; i++)
                    {
                        int sequence = (round * 150) + i;
                        log.Append(Payloads.MakeTagged(1, sequence, i % 10 == 9 ? 20 : 2900 + (i % 7 * 13)));
                    }

                    log.Flush();
                    flushed = log.LastLsn.Value;
                }
            }
            finally
            {
                durableSeen = log.DurableLsn.Value;
                calibrationWrites = Volatile.Read(ref segmentWrites); // every segment write so far (the fault, if any, is among them)
            }
        }
        catch (Exception e) when ((e is WalException or IOException) && disk.FaultReport is not null)
        {
            // the power went
        }

        ulong returned = disk.Tracker.LastReturnedLsn;
        disk.Disarm();
        string restored = _temp.Log($"power-{k}-restored");
        disk.RestoreImageTo(restored);
        string context = $"case {k}: {disk.FaultReport ?? "no fault"}";
        using (WriteAheadLog recovered = WriteAheadLog.Open(Options(restored)))
        {
            Assert.True(recovered.LastLsn.Value == returned, $"{context}: the last batch write that returned ended at LSN {returned}; the recovered log ends at {recovered.LastLsn}.");
        }

        Assert.True(returned >= durableSeen, $"{context}: DurableLsn {durableSeen} was reported, above the last write that returned ({returned}).");
        Assert.True(returned >= flushed, $"{context}: LSN {flushed} was flushed, the recovered log ends at {returned}.");
        Assert.Equal(1, disk.Tracker.MaxInProgress);
        var records = LogContents.ReadAll(restored, WalRecoveryMode.Strict);
        Assert.Equal((int)returned, records.Count);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.True(Payloads.TaggedIntact(records[i].Payload) && Payloads.ReadTag(records[i].Payload) == (1, i), $"{context}: record {i + 1} is byte-exact.");
        }

        return (calibrationWrites, byWriter, disk.FaultReport is not null);
    }

    /// <summary>
    /// TruncateAfter while batches are posted to the writer thread (writes slowed, records appended without waiting): the
    /// log holds exactly the records up to each cut and those appended after it, byte-exact, in order.
    /// </summary>
    [Fact]
    public void TruncateAfter_with_batches_posted_keeps_exactly_the_records_up_to_the_cut_and_those_after_it()
    {
        var storage = new FaultyStorage { BeforeWrite = () => Thread.Sleep(1) };
        string directory = _temp.Log();
        var model = new List<(int Round, int Index, int Length)>(); // by LSN - 1
        Bounded.Run(() =>
        {
            using WriteAheadLog log = WriteAheadLog.Open(Options(directory), storage);
            int[] keeps = [100, 250, 10, 299, 1];
            for (int round = 0; round < keeps.Length; round++)
            {
                int before = model.Count;
                for (int i = 0; i < 300; i++)
                {
                    int length = i % 3 == 0 ? 15 : 1500 + (i % 11);
                    Lsn lsn = log.Append(Payloads.MakeTagged(round, i, length));
                    Assert.Equal((ulong)(model.Count + 1), lsn.Value);
                    model.Add((round, i, length));
                }

                // Cut within this round's records at once: some are durable, some posted or queued, some in the rings.
                ulong after = (ulong)(before + keeps[round]);
                log.TruncateAfter(new Lsn(after));
                Assert.Equal(new Lsn(after), log.LastLsn);
                model.RemoveRange((int)after, model.Count - (int)after);
            }

            log.Flush();
            Assert.Equal(new Lsn((ulong)model.Count), log.DurableLsn);
        }, TimeSpan.FromSeconds(30));

        Assert.Equal(1, storage.Tracker.MaxInProgress);
        var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.Equal(model.Count, records.Count);
        LogContents.AssertContiguousFrom(records, 1);
        for (int i = 0; i < records.Count; i++)
        {
            (int round, int index, int length) = model[i];
            Assert.True(records[i].Payload.Length == length && Payloads.TaggedIntact(records[i].Payload) && Payloads.ReadTag(records[i].Payload) == (round, index), $"Record {i + 1} is round {round}'s record {index}, byte-exact.");
        }
    }

    [Fact]
    public void Dispose_while_the_writer_holds_a_write_that_then_fails_returns_and_the_log_holds_exactly_the_returned_writes()
    {
        var storage = new FaultyStorage();
        string directory = _temp.Log();
        using var held = new HeldWriterWrite(storage) { WriterOutcome = new IOException("Injected failure of the writer's write during Dispose (EIO).") };
        WriteAheadLog log = WriteAheadLog.Open(Options(directory), storage);
        Bounded.Run(() =>
        {
            held.AppendAndHold(log);
            Exception? waiterSaw = null;
            var waiter = new Thread(() => waiterSaw = Record.Exception(() => log.WaitForDurable(new Lsn(101))));
            waiter.Start();
            // Registered before Dispose starts: a wait begun after it is refused with ObjectDisposedException.
            Assert.True(SpinWait.SpinUntil(() => log.Watermark.TestHookRegisteredWaiters == 1, TimeSpan.FromSeconds(10)), "The waiter registered.");
            Assert.Null(held.CallThenRelease("Dispose", log.Dispose));
            Assert.True(waiter.Join(TimeSpan.FromSeconds(10)), "The waiter for the failed write's records returned.");
            WalException fault = Assert.IsType<WalException>(waiterSaw);
            Assert.Same(held.WriterOutcome, fault.InnerException);
        }, TimeSpan.FromSeconds(30));

        var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.Single(records);
        Assert.Equal(1UL, storage.Tracker.LastReturnedLsn);
    }

    [Fact]
    public void TruncateAfter_while_the_writer_holds_a_write_that_then_fails_throws_the_fault_and_the_log_holds_exactly_the_returned_writes()
    {
        var storage = new FaultyStorage();
        string directory = _temp.Log();
        using var held = new HeldWriterWrite(storage) { WriterOutcome = new IOException("Injected failure of the writer's write during TruncateAfter (EIO).") };
        WriteAheadLog log = WriteAheadLog.Open(Options(directory), storage);
        Bounded.Run(() =>
        {
            held.AppendAndHold(log);
            WalException fault = Assert.IsType<WalException>(held.CallThenRelease("TruncateAfter", () => log.TruncateAfter(new Lsn(50))));
            Assert.Same(held.WriterOutcome, fault.InnerException);
            Assert.Equal(new Lsn(1), log.DurableLsn);
            log.Dispose();
        }, TimeSpan.FromSeconds(30));

        var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.Single(records);
    }

    [Fact]
    public void TruncateAfter_while_the_writer_holds_a_write_that_then_returns_cuts_its_records_off_the_disk()
    {
        var storage = new FaultyStorage();
        string directory = _temp.Log();
        using var held = new HeldWriterWrite(storage);
        Bounded.Run(() =>
        {
            using WriteAheadLog log = WriteAheadLog.Open(Options(directory), storage);
            held.AppendAndHold(log);
            Assert.Null(held.CallThenRelease("TruncateAfter", () => log.TruncateAfter(new Lsn(50))));
            Assert.Equal(new Lsn(50), log.LastLsn);
            Assert.Equal(new Lsn(50), log.DurableLsn);
            Assert.Equal(new Lsn(51), log.AppendDurable(Payloads.MakeTagged(1, 0, 20)));
        }, TimeSpan.FromSeconds(30));

        var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.Equal(51, records.Count);
        LogContents.AssertContiguousFrom(records, 1);
        for (int i = 0; i < 50; i++)
        {
            Assert.True(Payloads.TaggedIntact(records[i].Payload) && Payloads.ReadTag(records[i].Payload) == (0, i), $"Record {i + 1} is kept, byte-exact.");
        }

        Assert.Equal((1, 0L), Payloads.ReadTag(records[50].Payload));
    }
}
