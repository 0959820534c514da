using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>
/// <see cref="WriteAheadLog.TruncateAfter"/>: what it keeps, drops and hands out next, durably (reopen), in every shape of
/// cut (mid-batch, at a batch boundary, across segments, everything, records still in memory), with waiters and live
/// readers, under racing appends, and with the power lost at each of its storage operations.
/// </summary>
public sealed class TruncateAfterTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static WalOptions Options(string directory, WalRecoveryMode mode = WalRecoveryMode.TruncateTornTail) =>
        new() { Directory = directory, SegmentSizeBytes = 64 * 1024, StripeCount = 1, MaxEntryBytes = 4096, MaxRecycledSegments = 1, RecoveryMode = mode };

    private static byte[] Old(ulong lsn) => Payloads.Make(1, (long)lsn, 200 + (int)(lsn % 300));

    private static byte[] New(ulong lsn) => Payloads.Make(2, (long)lsn, 100 + (int)(lsn % 50));

    /// <summary>Appends 1..<paramref name="last"/> in batches of <paramref name="perBatch"/> records (Append, then Flush).</summary>
    private static void Fill(WriteAheadLog log, ulong last, int perBatch)
    {
        for (ulong lsn = log.LastLsn.Value + 1; lsn <= last;)
        {
            for (int i = 0; i < perBatch && lsn <= last; i++, lsn++)
            {
                Assert.Equal(new Lsn(lsn), log.Append(Old(lsn)));
            }

            log.Flush();
        }
    }

    private static void AssertLog(string directory, ulong cut, ulong newLast, string context)
    {
        List<(ulong Lsn, byte[] Payload)> records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.True(records.Count == (int)newLast, $"{context}: the log holds {records.Count} records, must hold 1..{newLast}.");
        for (int i = 0; i < records.Count; i++)
        {
            ulong lsn = (ulong)i + 1;
            byte[] expected = lsn <= cut ? Old(lsn) : New(lsn);
            Assert.True(records[i].Lsn == lsn && records[i].Payload.AsSpan().SequenceEqual(expected), $"{context}: record {lsn} is the {(lsn <= cut ? "old" : "new")} one, byte-exact.");
        }
    }

    /// <summary>Every shape of cut: the records above the LSN are gone, the next append gets LSN + 1, and a reopen agrees.</summary>
    [Theory]
    [InlineData("mid-batch, in the segment being written")]
    [InlineData("at a batch boundary")]
    [InlineData("mid-batch, in the first of several segments")]
    [InlineData("everything")]
    [InlineData("the last record only")]
    [InlineData("nothing above: a no-op")]
    public void Drops_exactly_the_records_above_the_lsn_durably(string where)
    {
        string directory = _temp.Log();
        ulong cut;
        using (WriteAheadLog log = WriteAheadLog.Open(Options(directory)))
        {
            Fill(log, 400, 8);
            var layout = LogLayout.Read(directory);
            Assert.True(layout.Used.Count() >= 3, "The log spans several segments.");
            LayoutUnit last = layout.BatchOf(301);
            LayoutUnit first = layout.BatchOf(40);
            cut = where switch
            {
                "mid-batch, in the segment being written" => last.FirstLsn + 1,
                "at a batch boundary" => last.LastLsn,
                "mid-batch, in the first of several segments" => first.FirstLsn + 1,
                "everything" => 0,
                "the last record only" => 399,
                _ => 400,
            };
            if (where.StartsWith("mid", StringComparison.Ordinal))
            {
                Assert.True(layout.BatchOf(cut).LastLsn > cut, $"LSN {cut} lies mid-batch ({layout.BatchOf(cut)}).");
                Assert.True(where != "mid-batch, in the first of several segments" || layout.BatchOf(cut).Segment == 1, $"LSN {cut} lies in segment 1.");
            }

            log.TruncateAfter(new Lsn(cut));
            Assert.Equal(new Lsn(cut), log.LastLsn);
            Assert.Equal(new Lsn(cut), log.DurableLsn);
            Assert.Equal(cut == 0 ? Lsn.None : new Lsn(1), log.OldestLsn);
            for (ulong lsn = cut + 1; lsn <= cut + 20; lsn++)
            {
                Assert.Equal(new Lsn(lsn), log.AppendDurable(New(lsn)));
            }

            using WalReader reader = log.ReadFrom(Lsn.None);
            ulong next = 1;
            while (reader.TryRead(out WalRecord record))
            {
                Assert.True(record.Lsn == new Lsn(next) && record.Payload.SequenceEqual(next <= cut ? Old(next) : New(next)), $"Live read: record {next} byte-exact.");
                next++;
            }

            Assert.Equal(cut + 21, next);
        }

        AssertLog(directory, cut, cut + 20, "reopened");
        using WriteAheadLog again = WriteAheadLog.Open(Options(directory));
        Assert.Equal(new Lsn(cut + 20), again.LastLsn);
        Assert.Equal(Lsn.None, again.GetMetrics().RecoveryDroppedFrom); // asked for, not a loss: nothing is reported
    }

    /// <summary>
    /// Records appended and not yet written are dropped from memory: those kept are written (and their waits succeed),
    /// the others never are, their waiters are told, and the log goes on and reopens clean, with no loss reported. Cut at
    /// the record in flight (51), and among the records still in memory (55: found by review, the batch of the kept
    /// 52..55 was written with an end marker saying 61, and the waits of the dropped 56..60 succeeded).
    /// </summary>
    [Theory]
    [InlineData(51)]
    [InlineData(55)]
    public async Task Records_not_yet_written_are_dropped_and_their_waiters_told(int cut)
    {
        string directory = Path.GetFullPath(_temp.Log());
        var disk = new SimulatedDisk(3);
        using var hold = new ManualResetEventSlim(true);
        using var inWrite = new ManualResetEventSlim();
        disk.BeforeOperation = (operation, path) =>
        {
            if (operation == DiskOperation.Write && path.EndsWith(".wal", StringComparison.Ordinal) && !hold.IsSet)
            {
                inWrite.Set();
                hold.Wait(TimeSpan.FromSeconds(30));
            }
        };

        WriteAheadLog log = WriteAheadLog.Open(Options(directory), disk);
        Fill(log, 50, 5);
        log.TestHookWaitForPreparedSegment();
        hold.Reset(); // the next segment write waits
        Assert.Equal(new Lsn(51), log.Append(Old(51)));
        Assert.True(inWrite.Wait(TimeSpan.FromSeconds(30)), "The write of 51 is held.");
        var waits = new List<Task>();
        for (ulong lsn = 52; lsn <= 60; lsn++)
        {
            Assert.Equal(new Lsn(lsn), log.Append(Old(lsn)));
        }

        for (ulong lsn = 52; lsn <= 60; lsn++)
        {
            waits.Add(log.WaitForDurableAsync(new Lsn(lsn)).AsTask());
        }

        Exception? cutError = null;
        var cutter = new Thread(() => cutError = Record.Exception(() => log.TruncateAfter(new Lsn((ulong)cut))));
        cutter.Start();
        Assert.True(SpinWait.SpinUntil(() => (log.CutGeneration & 1) == 1, TimeSpan.FromSeconds(30)), "The cut has begun (stripes paused).");
        Thread.Sleep(50);
        Assert.True(cutter.IsAlive, "TruncateAfter waits for the write in flight.");
        hold.Set();
        Assert.True(cutter.Join(TimeSpan.FromSeconds(30)));
        Assert.Null(cutError);
        for (int i = 0; i < waits.Count; i++)
        {
            ulong lsn = 52 + (ulong)i;
            if (lsn <= (ulong)cut)
            {
                await waits[i].WaitAsync(TimeSpan.FromSeconds(30)); // kept: durable
                continue;
            }

            Exception? error = await Record.ExceptionAsync(() => waits[i].WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.True(error is WalTruncatedException, $"The wait for dropped record {lsn} ends with {error?.GetType().Name ?? "success"}.");
            var truncated = (WalTruncatedException)error!;
            Assert.Equal(new Lsn(lsn), truncated.Lsn);
        }

        Assert.Equal(new Lsn((ulong)cut), log.LastLsn);
        Assert.Equal(new Lsn((ulong)cut), log.DurableLsn);
        Assert.Equal(new Lsn((ulong)cut + 1), log.AppendDurable(New((ulong)cut + 1)));
        using (WalReader reader = log.ReadFrom(new Lsn(50)))
        {
            for (ulong lsn = 50; lsn <= (ulong)cut + 1; lsn++)
            {
                Assert.True(reader.TryRead(out WalRecord record), $"Record {lsn} is read.");
                Assert.True(record.Lsn == new Lsn(lsn) && record.Payload.SequenceEqual(lsn <= (ulong)cut ? Old(lsn) : New(lsn)), $"Record {lsn} is the {(lsn <= (ulong)cut ? "old" : "new")} one.");
            }

            Assert.False(reader.TryRead(out _));
        }

        log.Dispose();
        string restored = _temp.Log("restored");
        disk.RestoreImageTo(restored);
        foreach (WalRecoveryMode mode in Enum.GetValues<WalRecoveryMode>())
        {
            string copy = _temp.Log($"restored-{mode}");
            SegmentFiles.CopyLog(restored, copy);
            using WriteAheadLog reopened = WriteAheadLog.Open(Options(copy, mode));
            Assert.Equal(new Lsn((ulong)cut + 1), reopened.LastLsn);
            Assert.Equal(Lsn.None, reopened.GetMetrics().RecoveryDroppedFrom);
        }
    }

    /// <summary>
    /// A durable append whose thread took its LSN, then lost the processor for a whole TruncateAfter that dropped its
    /// record, does not take the record given the same LSN after the cut for its own (found by review: the wait returned,
    /// acknowledging another record): the wait of its own record throws, whether the LSN is durable again already or not
    /// (registered after the cut), sync or async. A plain wait for the LSN is a wait for whatever record holds it.
    /// </summary>
    [Fact]
    public async Task A_durable_append_never_acknowledges_the_record_given_its_lsn_after_a_cut()
    {
        string directory = _temp.Log();
        using WriteAheadLog log = WriteAheadLog.Open(Options(directory));
        Fill(log, 10, 5);

        // What AppendDurable does, in two steps, with the cut between them: its record's LSN and epoch on this thread.
        Lsn mine = log.Append(Old(11));
        int epoch = Aletheia.Wal.Stripes.LsnSequence.ResetsAtLastTake;
        Assert.Equal((new Lsn(11), 0), (mine, epoch));
        log.Flush();
        log.TruncateAfter(new Lsn(10));

        // Not yet handed out again: the wait registers after the cut, and is refused there.
        ValueTask<Lsn> pending = log.Watermark.WaitAsync(mine, CancellationToken.None, epoch);
        var refused = await Assert.ThrowsAsync<WalTruncatedException>(() => pending.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(mine, refused.Lsn);

        Assert.Equal(new Lsn(11), log.AppendDurable(New(11))); // another record, the same LSN, durable
        var sync = Assert.Throws<WalTruncatedException>(() => log.Watermark.Wait(mine, 10_000, default, epoch));
        Assert.Equal("LSN 11 was dropped by TruncateAfter before this append saw it durable: it is not acknowledged, and the LSN is handed out again.", sync.Message);
        await Assert.ThrowsAsync<WalTruncatedException>(() => log.Watermark.WaitAsync(mine, CancellationToken.None, epoch).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(log.Watermark.Wait(mine, 10_000, default, Aletheia.Wal.Stripes.LsnSequence.ResetsAtLastTake), "The new record's own wait succeeds.");

        // A Flush's or DisposeAsync's wait for the last LSN, with the reset count read before the cut, registered after
        // it: refused at once, not parked for an LSN that may never come (found by review: DisposeAsync hung so).
        await Assert.ThrowsAsync<WalTruncatedException>(() => log.Watermark.WaitWithoutResultAsync(new Lsn(12), CancellationToken.None, epoch).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(log.WaitForDurable(mine, TimeSpan.FromSeconds(10))); // a wait for the LSN, whoever's record: durable
    }

    /// <summary>
    /// Cuts back to back, each right after the last (found by review: the flush thread, going on after one, cleared the
    /// next one's request, and its caller waited for good with the stripes paused). The log is exactly what the calls
    /// leave, in memory and on reopen.
    /// </summary>
    [Fact]
    public void Cuts_back_to_back_each_complete()
    {
        string directory = _temp.Log();
        var expected = new List<byte[]>();
        Bounded.Run(() =>
        {
            using WriteAheadLog log = WriteAheadLog.Open(Options(directory));
            for (int round = 0; round < 300; round++)
            {
                for (int i = 0; i < 2 + (round % 6); i++)
                {
                    byte[] payload = Payloads.Make(round, i, 20 + (round % 50));
                    Assert.Equal(new Lsn((ulong)expected.Count + 1), log.Append(payload));
                    expected.Add(payload);
                }

                if (round % 3 == 0)
                {
                    log.Flush(); // some cuts drop written records, the others records still in memory
                }

                log.TruncateAfter(new Lsn((ulong)expected.Count - 1));
                expected.RemoveAt(expected.Count - 1);
            }

            log.Flush();
            Assert.Equal(new Lsn((ulong)expected.Count), log.LastLsn);
        }, TimeSpan.FromSeconds(60));

        List<(ulong Lsn, byte[] Payload)> records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.Equal(expected.Count, records.Count);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.True(records[i].Lsn == (ulong)i + 1 && records[i].Payload.AsSpan().SequenceEqual(expected[i]), $"Record {i + 1} is byte-exact.");
        }
    }

    /// <summary>
    /// An in-place payload writer waits for a live reader's next read, after a cut, while Dispose runs (found by review:
    /// Dispose held the truncation lock while it waited for the flush thread, which waited for the writer, which waited
    /// for the reader, which waited for the lock to resync). The reader's resync takes no lock: it reads its next record
    /// at once, the writer returns, and Dispose completes.
    /// </summary>
    [Fact]
    public void A_live_reader_resyncs_without_a_lock_while_dispose_waits_for_an_in_place_writer()
    {
        string directory = _temp.Log();
        var log = WriteAheadLog.Open(Options(directory));
        Fill(log, 20, 5);
        using WalReader reader = log.ReadFrom(Lsn.None);
        for (ulong lsn = 1; lsn <= 5; lsn++)
        {
            Assert.True(reader.TryRead(out WalRecord record) && record.Lsn == new Lsn(lsn));
        }

        log.TruncateAfter(new Lsn(15)); // the reader resyncs at its next read
        using var writerIn = new ManualResetEventSlim();
        using var go = new ManualResetEventSlim();
        using var readerDone = new ManualResetEventSlim();
        (bool Read, ulong Lsn, bool Exact) read = default;
        var readerThread = new Thread(() =>
        {
            go.Wait(TimeSpan.FromSeconds(30));
            bool ok = reader.TryRead(out WalRecord record);
            read = (ok, record.Lsn.Value, ok && record.Payload.SequenceEqual(Old(6)));
            readerDone.Set();
        });
        bool writerSawTheRead = false;
        var writer = new Thread(() => log.Append(16, 0, (span, _) =>
        {
            writerIn.Set();
            writerSawTheRead = readerDone.Wait(TimeSpan.FromSeconds(10));
            span.Clear();
        }));
        readerThread.Start();
        writer.Start();
        Assert.True(writerIn.Wait(TimeSpan.FromSeconds(10)));
        var disposer = new Thread(log.Dispose);
        disposer.Start();
        Thread.Sleep(200); // Dispose is waiting for the flush thread, which waits for the writer
        go.Set();
        Assert.True(readerDone.Wait(TimeSpan.FromSeconds(5)), "The reader's read completed while Dispose waited.");
        Assert.Equal((true, 6ul, true), read);
        Assert.True(writer.Join(TimeSpan.FromSeconds(15)) && disposer.Join(TimeSpan.FromSeconds(15)));
        Assert.True(writerSawTheRead);
    }

    /// <summary>
    /// A snapshot reader opened before a cut reads while the cut has rewritten the batch header of the batch it shortens
    /// and not yet written the end marker after it (found by review: the reader reported that batch as damaged). It sees
    /// the cut recorded in wal.head and reads on, bounded by it: exactly the kept records from its start, and no error.
    /// </summary>
    [Theory]
    [InlineData(11ul)]
    [InlineData(18ul)]
    public void A_snapshot_reader_during_a_cut_reads_the_kept_records_without_an_error(ulong from)
    {
        string directory = Path.GetFullPath(_temp.Log());
        var disk = new SimulatedDisk(7);
        int segmentWrites = 0;
        bool armed = false;
        using var atMarker = new ManualResetEventSlim();
        using var go = new ManualResetEventSlim();
        disk.BeforeOperation = (operation, path) =>
        {
            if (Volatile.Read(ref armed) && operation == DiskOperation.Write && path.EndsWith(".wal", StringComparison.Ordinal) && Interlocked.Increment(ref segmentWrites) == 2)
            {
                atMarker.Set(); // the batch header is rewritten; the end marker after the kept records is next
                go.Wait(TimeSpan.FromSeconds(30));
            }
        };

        using WriteAheadLog log = WriteAheadLog.Open(Options(directory), disk);
        Fill(log, 30, 10);
        log.TestHookWaitForPreparedSegment();
        using WalReader reader = WalReader.Open(disk, directory, new Lsn(from), WalRecoveryMode.TruncateTornTail);
        Volatile.Write(ref armed, true);
        var cutter = new Thread(() => log.TruncateAfter(new Lsn(15)));
        cutter.Start();
        try
        {
            Assert.True(atMarker.Wait(TimeSpan.FromSeconds(30)), "The cut is between its batch header and its end marker.");
            var records = new List<(ulong Lsn, byte[] Payload)>();
            while (reader.TryRead(out WalRecord record))
            {
                records.Add((record.Lsn.Value, record.Payload.ToArray()));
            }

            Assert.Equal(Enumerable.Range((int)from, Math.Max(0, 16 - (int)from)).Select(l => (ulong)l), records.Select(r => r.Lsn));
            Assert.All(records, r => Assert.True(r.Payload.AsSpan().SequenceEqual(Old(r.Lsn)), $"Record {r.Lsn} is byte-exact."));
            Assert.False(reader.StoppedAtUnverifiedWrite, "It ended at the cut, not at a write it could not verify.");
        }
        finally
        {
            go.Set();
            Assert.True(cutter.Join(TimeSpan.FromSeconds(30)));
        }
    }

    /// <summary>
    /// A TruncateAfter that fails once wal.head records it faults the log; a live reader then reads no more (found by
    /// review: it read on into the records the next open drops, as recovery completes the recorded cut).
    /// </summary>
    [Fact]
    public void A_live_reader_of_a_log_faulted_by_a_failed_cut_reads_no_more()
    {
        string directory = Path.GetFullPath(_temp.Log());
        bool armed = false;
        var disk = new SimulatedDisk(5)
        {
            FaultOn = DiskOperation.Write,
            FaultWhen = (_, path) => Volatile.Read(ref armed) && path.EndsWith(LogHeadFile.FileName, StringComparison.Ordinal),
            Fault = DiskFault.IoError,
            Tear = TornWrite.Complete,
        };
        using WriteAheadLog log = WriteAheadLog.Open(Options(directory), disk);
        Fill(log, 100, 10);
        using WalReader reader = log.ReadFrom(new Lsn(40));
        for (ulong lsn = 40; lsn <= 44; lsn++)
        {
            Assert.True(reader.TryRead(out WalRecord record) && record.Lsn == new Lsn(lsn));
        }

        Volatile.Write(ref armed, true);
        Assert.Throws<WalException>(() => log.TruncateAfter(new Lsn(50))); // wal.head's record of the cut: EIO, though on disk
        var e = Assert.Throws<WalException>(() => reader.TryRead(out _));
        Assert.StartsWith("The log is faulted: its live readers read no more: ", e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// TruncateAfter racing Dispose never hangs (suspected by review: a flush thread stopped between the call's check and
    /// its hand-over would never drain): the cut is made, or the call throws ObjectDisposedException and the log is
    /// unchanged, and a reopen shows which.
    /// </summary>
    [Fact]
    public void Racing_dispose_either_cuts_or_throws_disposed_and_never_hangs()
    {
        int cuts = 0;
        Bounded.Run(() =>
        {
            for (int round = 0; round < 30; round++)
            {
                string directory = _temp.Log($"race-{round}");
                var log = WriteAheadLog.Open(Options(directory));
                Fill(log, 100, 10);
                using var start = new Barrier(2);
                Exception? cutError = null;
                var cutter = new Thread(() =>
                {
                    start.SignalAndWait();
                    cutError = Record.Exception(() => log.TruncateAfter(new Lsn(60)));
                });
                cutter.Start();
                start.SignalAndWait();
                if (round % 2 == 0)
                {
                    Thread.SpinWait(round * 50);
                }

                log.Dispose();
                Assert.True(cutter.Join(TimeSpan.FromSeconds(30)), $"Round {round}: TruncateAfter returned.");
                Assert.True(cutError is null or ObjectDisposedException, $"Round {round}: {cutError}");
                using WriteAheadLog reopened = WriteAheadLog.Open(Options(directory));
                Assert.Equal(new Lsn(cutError is null ? 60ul : 100ul), reopened.LastLsn);
                cuts += cutError is null ? 1 : 0;
            }
        }, TimeSpan.FromMinutes(2));
        output.WriteLine($"{cuts} of 30 rounds cut, the others found the log disposed");
    }

    /// <summary>A live reader that returned records above the cut is told; one that did not reads on, with the new records.</summary>
    [Fact]
    public void Live_readers_past_the_cut_are_told_and_the_others_read_the_new_records()
    {
        string directory = _temp.Log();
        using WriteAheadLog log = WriteAheadLog.Open(Options(directory));
        Fill(log, 100, 10);
        using WalReader ahead = log.ReadFrom(new Lsn(1));
        using WalReader behind = log.ReadFrom(new Lsn(1));
        for (ulong lsn = 1; lsn <= 90; lsn++)
        {
            Assert.True(ahead.TryRead(out WalRecord record) && record.Lsn == new Lsn(lsn));
        }

        for (ulong lsn = 1; lsn <= 75; lsn++)
        {
            Assert.True(behind.TryRead(out WalRecord record) && record.Lsn == new Lsn(lsn)); // its buffer holds 71..80, read before the cut
        }

        log.TruncateAfter(new Lsn(80));
        var e = Assert.Throws<WalTruncatedException>(() => ahead.TryRead(out _));
        Assert.Equal(new Lsn(91), e.Lsn);
        Assert.Equal("TruncateAfter(80) dropped records this reader had returned (up to LSN 90); open a new reader.", e.Message);
        for (ulong lsn = 81; lsn <= 85; lsn++)
        {
            Assert.Equal(new Lsn(lsn), log.AppendDurable(New(lsn)));
        }

        for (ulong lsn = 76; lsn <= 85; lsn++)
        {
            Assert.True(behind.TryRead(out WalRecord record), $"Record {lsn} is read.");
            Assert.True(record.Lsn == new Lsn(lsn) && record.Payload.SequenceEqual(lsn <= 80 ? Old(lsn) : New(lsn)), $"Record {lsn} is the {(lsn <= 80 ? "old" : "new")} one.");
        }

        Assert.False(behind.TryRead(out _));
    }

    /// <summary>Bad arguments are refused with what is allowed, and change nothing.</summary>
    [Fact]
    public void Refuses_an_lsn_never_handed_out_or_below_the_head()
    {
        string directory = _temp.Log();
        using WriteAheadLog log = WriteAheadLog.Open(Options(directory));
        Fill(log, 400, 8);
        var never = Assert.Throws<ArgumentOutOfRangeException>(() => log.TruncateAfter(new Lsn(401)));
        Assert.StartsWith("LSN 401 was never handed out: the highest LSN handed out is 400.", never.Message, StringComparison.Ordinal);
        WalTruncation removed = log.TruncateBefore(new Lsn(300));
        Assert.True(removed.SegmentsRemoved > 0);
        Assert.Equal(removed.OldestLsn, log.OldestLsn);
        ulong oldest = log.OldestLsn.Value;
        var below = Assert.Throws<ArgumentOutOfRangeException>(() => log.TruncateAfter(new Lsn(oldest - 2)));
        Assert.StartsWith(
            $"TruncateAfter({oldest - 2}) would keep records TruncateBefore removed: the oldest LSN kept is {oldest}, so the LSN must be at least {oldest - 1}.", below.Message, StringComparison.Ordinal);
        Assert.Equal(new Lsn(400), log.LastLsn);
        log.TruncateAfter(new Lsn(oldest - 1)); // everything still kept goes
        Assert.Equal(new Lsn(oldest - 1), log.LastLsn);
        Assert.Equal(Lsn.None, log.OldestLsn);
        Assert.Equal(new Lsn(oldest), log.AppendDurable(New(oldest)));
        Assert.Equal(new Lsn(oldest), log.OldestLsn);
    }

    /// <summary>
    /// Appenders race cuts: every acknowledged record is in the final log at its LSN, byte-exact, unless a cut below it
    /// ended after its append began (then it may be gone, and only then); the log has no hole; every append either is
    /// acknowledged or told it was truncated.
    /// </summary>
    [Fact]
    public async Task Appends_racing_cuts_are_ordered_and_none_is_lost_in_silence()
    {
        string directory = _temp.Log();
        var options = new WalOptions { Directory = directory, SegmentSizeBytes = 256 * 1024, StripeCount = 2, MaxEntryBytes = 4096, MaxRecycledSegments = 1 };
        var acks = new System.Collections.Concurrent.ConcurrentBag<(ulong Lsn, int Writer, long Sequence, long Started)>();
        var cuts = new System.Collections.Concurrent.ConcurrentBag<(ulong After, long Ended)>();
        long truncatedCount = 0;
        using (WriteAheadLog log = WriteAheadLog.Open(options))
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(4));
            var writers = Enumerable.Range(0, 4).Select(writer => Task.Run(async () =>
            {
                for (long sequence = 0; !stop.IsCancellationRequested; sequence++)
                {
                    long started = System.Diagnostics.Stopwatch.GetTimestamp();
                    try
                    {
                        Lsn lsn = await log.AppendDurableAsync(Payloads.MakeTagged(writer, sequence, 40 + (int)(sequence % 200)));
                        acks.Add((lsn.Value, writer, sequence, started));
                    }
                    catch (WalTruncatedException)
                    {
                        Interlocked.Increment(ref truncatedCount);
                    }
                }
            })).ToArray();
            var cutter = Task.Run(() =>
            {
                var random = new Random(5);
                ulong kept = 0; // where the previous cut left the log
                while (!stop.IsCancellationRequested)
                {
                    Thread.Sleep(20);
                    ulong last = log.LastLsn.Value;

                    // At most half of what was appended since the previous cut: the log grows however slow the machine,
                    // so the final log holds records acknowledged across many cuts.
                    ulong after = last - Math.Min((last - Math.Min(last, kept)) / 2, (ulong)random.Next(0, 400));
                    kept = after;
                    log.TruncateAfter(new Lsn(after));
                    cuts.Add((after, System.Diagnostics.Stopwatch.GetTimestamp()));
                }
            });
            await Task.WhenAll([.. writers, cutter]).WaitAsync(TimeSpan.FromSeconds(60));
        }

        List<(ulong Lsn, byte[] Payload)> records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        LogContents.AssertContiguousFrom(records, 1);
        var final = records.ToDictionary(r => r.Lsn, r => Payloads.ReadTag(r.Payload));
        Assert.All(records, r => Assert.True(Payloads.TaggedIntact(r.Payload), $"Record {r.Lsn} is byte-exact."));
        int survived = 0;
        foreach ((ulong lsn, int writer, long sequence, long started) in acks)
        {
            if (final.TryGetValue(lsn, out (int Producer, long Sequence) found) && found == (writer, sequence))
            {
                survived++;
                continue;
            }

            Assert.True(
                cuts.Any(c => c.After < lsn && c.Ended > started),
                $"Record {lsn} ({writer}, {sequence}) was acknowledged and is gone, but no cut below it ended after its append began.");
        }

        output.WriteLine($"{acks.Count} acknowledged ({survived} in the final log of {records.Count}), {Interlocked.Read(ref truncatedCount)} told truncated, {cuts.Count} cuts");
        Assert.True(cuts.Count >= 20 && survived > 100, $"{cuts.Count} cuts, {survived} acknowledged records kept.");
    }

    /// <summary>
    /// The power goes at each storage operation of a TruncateAfter in turn: the next open holds exactly the old log when the
    /// cut's record in wal.head had not reached the disk, and exactly the new one once it had (recovery completes it).
    /// </summary>
    [Theory]
    [InlineData(301, false)] // mid-batch, in the segment being written
    [InlineData(40, false)]  // in the first segment: later segments deleted
    [InlineData(301, true)]  // name changes persisted in any order
    [InlineData(40, true)]
    public void A_power_loss_at_any_step_leaves_the_old_log_or_the_new_one(int cut, bool namesOutOfOrder)
    {
        const ulong Last = 400;
        long operations = CutOnDisk(cut, new SimulatedDisk(0), out int commitAt, armAt: 0);
        Assert.True(operations >= 6 && commitAt > 0, $"TruncateAfter made {operations} storage operations, wal.head's record of the cut at {commitAt}.");
        Bounded.Run(() =>
        {
            for (int at = 1; at <= operations; at++)
            {
                var disk = new SimulatedDisk(at) { NamesOutOfOrder = namesOutOfOrder };
                CutOnDisk(cut, disk, out _, armAt: at);
                string restored = _temp.Log($"restored-{cut}-{namesOutOfOrder}-{at}");
                disk.RestoreImageTo(restored);
                bool committed = at > commitAt;
                string context = $"power lost at operation {at} of {operations} ({disk.FaultReport}); wal.head records the cut at {commitAt}";
                using (WriteAheadLog log = WriteAheadLog.Open(Options(restored)))
                {
                    Assert.True(log.LastLsn == new Lsn(committed ? (ulong)cut : Last), $"{context}: reopened with last LSN {log.LastLsn}.");
                }

                List<(ulong Lsn, byte[] Payload)> records = LogContents.ReadAll(restored, WalRecoveryMode.Strict);
                Assert.True(records.Count == (int)(committed ? (ulong)cut : Last), $"{context}: {records.Count} records.");
                Assert.All(records, r => Assert.True(r.Payload.AsSpan().SequenceEqual(Old(r.Lsn)), $"{context}: record {r.Lsn} is byte-exact."));
            }
        }, TimeSpan.FromMinutes(3));
        output.WriteLine($"cut after {cut}: power lost at each of {operations} operations (wal.head's record at {commitAt}); old log before it, new log after");
    }

    /// <summary>
    /// Builds the log on <paramref name="disk"/> (400 records in batches of 8 over several segments) and runs
    /// TruncateAfter(<paramref name="cut"/>) with the power lost at its <paramref name="armAt"/>-th storage operation (0:
    /// never). Returns the operations TruncateAfter made, and which of them wrote wal.head's copy A recording the cut.
    /// </summary>
    private long CutOnDisk(int cut, SimulatedDisk disk, out int commitAt, int armAt)
    {
        string directory = Path.GetFullPath(_temp.Log($"disk-{Guid.NewGuid():N}"));
        int counted = 0;
        int commit = 0;
        bool armed = false;
        disk.BeforeOperation = (operation, path) =>
        {
            if (!Volatile.Read(ref armed))
            {
                return;
            }

            int index = Interlocked.Increment(ref counted);
            if (commit == 0 && operation == DiskOperation.Write && path.EndsWith(LogHeadFile.FileName, StringComparison.Ordinal))
            {
                commit = index;
            }

            if (index == armAt)
            {
                disk.PowerLoss();
            }
        };

        WriteAheadLog log = WriteAheadLog.Open(Options(directory), disk);
        try
        {
            Fill(log, 400, 8);
            log.TestHookWaitForPreparedSegment();
            Volatile.Write(ref armed, true);
            try
            {
                log.TruncateAfter(new Lsn((ulong)cut)); // the last operations counted may be the next segment's preparation, in the background
            }
            catch (WalException) when (armAt > 0)
            {
            }

            Volatile.Write(ref armed, false);
        }
        finally
        {
            try
            {
                log.Dispose();
            }
            catch (WalException) when (armAt > 0)
            {
            }
        }

        disk.PowerLoss();
        commitAt = commit;
        return counted;
    }
}
