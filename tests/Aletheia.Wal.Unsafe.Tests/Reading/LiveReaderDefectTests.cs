using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Reading;

/// <summary>
/// The reader defects found on a live log, each as a deterministic test (issue: "A tailing reader, and an API that
/// engines can build on"), and the waits, copies and truncation rules of the readers.
/// </summary>
public sealed class LiveReaderDefectTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static byte[] PayloadOf(ulong lsn, int length = 500) => Payloads.Make(3, (long)lsn, length);

    private static List<(ulong Lsn, byte[] Payload)> Drain(WalReader reader)
    {
        var records = new List<(ulong, byte[])>();
        while (reader.TryRead(out WalRecord record))
        {
            records.Add((record.Lsn.Value, record.Payload.ToArray()));
        }

        return records;
    }

    private static void AssertRecords(List<(ulong Lsn, byte[] Payload)> records, ulong first, ulong last, Func<ulong, byte[]> payloadOf, string context)
    {
        Assert.True(records.Count == (int)(last + 1 - first), $"{context}: read {records.Count} records, must read {first}..{last}.");
        for (int i = 0; i < records.Count; i++)
        {
            ulong lsn = first + (ulong)i;
            Assert.True(records[i].Lsn == lsn && records[i].Payload.AsSpan().SequenceEqual(payloadOf(lsn)), $"{context}: record {lsn} is byte-exact.");
        }
    }

    /// <summary>
    /// Was: a reader of the live log read past its durable bound into the batch being written, saw it half copied, and
    /// called the healthy log damaged. Now the live reader stops at DurableLsn without reading the write in flight; a
    /// snapshot reader reads the half write, cannot verify it, and stops there, saying so.
    /// </summary>
    [Fact]
    public void A_half_written_batch_is_never_read_by_the_live_reader_and_stops_a_snapshot_reader()
    {
        string directory = Path.GetFullPath(_temp.Log());
        var storage = new SlowStorage { HalfWriteDelay = TimeSpan.FromSeconds(2) };
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, SegmentSizeBytes = 1 << 20, StripeCount = 1, MaxEntryBytes = 8192 }, storage);
        for (ulong lsn = 1; lsn <= 5; lsn++)
        {
            log.AppendDurable(PayloadOf(lsn));
        }

        using WalReader live = log.ReadFrom(new Lsn(1));
        storage.Slow = true;
        var writer = new Thread(() => log.AppendDurable(PayloadOf(6, 6000))); // one write of 6 KiB: its second half comes 2 s later
        writer.Start();
        Assert.True(storage.InFlight.Wait(TimeSpan.FromSeconds(10)), "The write of record 6 is half done.");
        AssertRecords(Drain(live), 1, 5, lsn => PayloadOf(lsn), "live reader, write half done");
        Assert.Equal(new Lsn(5), log.DurableLsn);
        using (WalReader snapshot = WalReader.Open(directory))
        {
            AssertRecords(Drain(snapshot), 1, 5, lsn => PayloadOf(lsn), "snapshot reader, write half done");
            Assert.True(snapshot.StoppedAtUnverifiedWrite, "The snapshot reader says it stopped at a write it cannot verify.");
        }

        Assert.True(writer.Join(TimeSpan.FromSeconds(30)));
        Assert.True(live.WaitToRead(TimeSpan.FromSeconds(10)));
        AssertRecords(Drain(live), 6, 6, _ => PayloadOf(6, 6000), "live reader, write done");
    }

    /// <summary>
    /// Records whose write reached the file but has not returned (not durable: a power loss may still take them) are not
    /// returned by the live reader; a snapshot reader reads what the files hold, and returns them (documented).
    /// </summary>
    [Fact]
    public void The_live_reader_returns_durable_records_only_and_a_snapshot_reader_what_the_files_hold()
    {
        string directory = Path.GetFullPath(_temp.Log());
        var storage = new FaultyStorage();
        using var hold = new ManualResetEventSlim(true);
        using var written = new ManualResetEventSlim();
        storage.AfterWrite = () =>
        {
            if (!hold.IsSet)
            {
                written.Set();
                hold.Wait(TimeSpan.FromSeconds(30));
            }
        };

        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, SegmentSizeBytes = 1 << 20, StripeCount = 1 }, storage);
        for (ulong lsn = 1; lsn <= 5; lsn++)
        {
            log.AppendDurable(PayloadOf(lsn));
        }

        log.TestHookWaitForPreparedSegment();
        hold.Reset();
        log.Append(PayloadOf(6));
        Assert.True(written.Wait(TimeSpan.FromSeconds(10)), "Record 6's write is in the file, not yet returned.");
        try
        {
            using WalReader live = log.ReadFrom(Lsn.None);
            AssertRecords(Drain(live), 1, 5, lsn => PayloadOf(lsn), "live reader");
            Assert.False(live.WaitToRead(TimeSpan.FromMilliseconds(200)), "Nothing more is durable.");
            using WalReader snapshot = WalReader.Open(directory);
            AssertRecords(Drain(snapshot), 1, 6, lsn => PayloadOf(lsn), "snapshot reader");
            Assert.False(snapshot.StoppedAtUnverifiedWrite, "The snapshot reader ended at the log's end marker.");
        }
        finally
        {
            hold.Set();
        }
    }

    /// <summary>
    /// Was: a reader listed the segments once and peeked at every one of them, so ReadFrom(recent) racing TruncateBefore
    /// threw FileNotFoundException for old segments it never needed. Now it opens none below the one holding its start.
    /// </summary>
    [Fact]
    public void A_reader_of_recent_records_never_opens_the_old_segments()
    {
        string directory = Path.GetFullPath(_temp.Log());
        var storage = new FaultyStorage();
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, SegmentSizeBytes = 64 * 1024, StripeCount = 1, MaxEntryBytes = 4096 }, storage);
        for (ulong lsn = 1; lsn <= 1000; lsn++)
        {
            log.Append(PayloadOf(lsn));
        }

        log.Flush();
        var layout = LogLayout.Read(directory);
        ulong from = 950;
        ulong segment = layout.BatchOf(from).Segment;
        Assert.True(segment >= 5, $"LSN {from} lies in segment {segment}.");
        storage.Vanished = path => SegmentNames.TryParse(Path.GetFileName(path), out ulong number) && number < segment; // removed after the listing
        using (WalReader live = log.ReadFrom(new Lsn(from)))
        {
            AssertRecords(Drain(live), from, 1000, lsn => PayloadOf(lsn), "live reader");
        }

        using (WalReader snapshot = WalReader.Open(storage, directory, new Lsn(from), WalRecoveryMode.TruncateTornTail))
        {
            AssertRecords(Drain(snapshot), from, 1000, lsn => PayloadOf(lsn), "snapshot reader");
        }

        Assert.DoesNotContain(storage.Reads, path => SegmentNames.TryParse(Path.GetFileName(path), out ulong number) && number < segment);
    }

    /// <summary>Was: a reader did not follow segments created after it opened. Now it reads on through every new one.</summary>
    [Fact]
    public void A_live_reader_follows_segments_created_after_it_opened()
    {
        string directory = _temp.Log();
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, SegmentSizeBytes = 64 * 1024, StripeCount = 1, MaxEntryBytes = 4096 });
        log.AppendDurable(PayloadOf(1));
        using WalReader reader = log.ReadFrom(Lsn.None);
        AssertRecords(Drain(reader), 1, 1, lsn => PayloadOf(lsn), "before");
        for (ulong lsn = 2; lsn <= 1000; lsn++)
        {
            log.Append(PayloadOf(lsn));
        }

        log.Flush();
        Assert.True(Directory.GetFiles(directory, "*.wal").Length >= 8, "The appends made new segments.");
        AssertRecords(Drain(reader), 2, 1000, lsn => PayloadOf(lsn), "after");
    }

    /// <summary>
    /// A live reader that needs records TruncateBefore removed is told so, with the LSN it needed and the oldest kept; one
    /// whose start was truncated away is refused at once; Lsn.None starts at the oldest.
    /// </summary>
    [Fact]
    public void A_reader_behind_a_truncation_is_told_and_one_from_none_starts_at_the_oldest()
    {
        string directory = _temp.Log();
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, SegmentSizeBytes = 64 * 1024, StripeCount = 1, MaxEntryBytes = 4096, MaxRecycledSegments = 0 });
        for (ulong lsn = 1; lsn <= 1000; lsn++)
        {
            log.Append(PayloadOf(lsn));
        }

        log.Flush();
        var layout = LogLayout.Read(directory);
        ulong secondSegmentFirst = layout.Segments[1].FirstLsn;
        LayoutSegment kept = layout.Used.Last(segment => segment.FirstLsn <= 600); // TruncateBefore(600) keeps the segment holding 600 on
        ulong oldest = kept.FirstLsn;
        using WalReader behind = log.ReadFrom(Lsn.None);
        Assert.True(behind.TryRead(out WalRecord first) && first.Lsn == new Lsn(1));
        Assert.Equal(new WalTruncation((int)kept.Number - 1, new Lsn(oldest)), log.TruncateBefore(new Lsn(600)));
        Assert.Equal(new Lsn(oldest), log.OldestLsn);

        // Its open segment stays readable; the next one is gone.
        var records = new List<(ulong Lsn, byte[] Payload)>();
        var truncated = Assert.Throws<WalTruncatedException>(() =>
        {
            while (behind.TryRead(out WalRecord record))
            {
                records.Add((record.Lsn.Value, record.Payload.ToArray()));
            }
        });
        AssertRecords(records, 2, secondSegmentFirst - 1, lsn => PayloadOf(lsn), "the reader behind");
        Assert.Equal(new Lsn(secondSegmentFirst), truncated.Lsn);
        Assert.Equal($"The reader needs LSN {secondSegmentFirst}, but TruncateBefore removed it: the oldest LSN kept is {oldest}; open a new reader.", truncated.Message);

        var refused = Assert.Throws<ArgumentOutOfRangeException>(() => log.ReadFrom(new Lsn(oldest - 1)));
        Assert.StartsWith($"LSN {oldest - 1} was truncated away: the oldest LSN kept is {oldest}.", refused.Message, StringComparison.Ordinal);
        using WalReader fromNone = log.ReadFrom(Lsn.None);
        AssertRecords(Drain(fromNone), oldest, 1000, lsn => PayloadOf(lsn), "a reader from Lsn.None");
    }

    /// <summary>Waits: a timed wait returns false when nothing comes and true when a record does; an async wait completes when one becomes durable, and with false once the log is disposed.</summary>
    [Fact]
    public async Task Waits_complete_when_a_record_becomes_durable_and_end_when_the_log_is_disposed()
    {
        string directory = _temp.Log();
        WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, StripeCount = 1 });
        await using WalReader reader = log.ReadFrom(Lsn.None);
        Assert.False(reader.TryRead(out _));
        Assert.False(reader.WaitToRead(TimeSpan.FromMilliseconds(100)));
        ValueTask<bool> pending = reader.WaitToReadAsync();
        Assert.False(pending.IsCompleted);
        log.AppendDurable(PayloadOf(1));
        Assert.True(await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(reader.TryRead(out WalRecord record) && record.Lsn == new Lsn(1) && record.Payload.SequenceEqual(PayloadOf(1)));

        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await reader.WaitToReadAsync(cancel.Token));

        ValueTask<bool> ending = reader.WaitToReadAsync();
        log.AppendDurable(PayloadOf(2));
        log.Dispose();
        Assert.True(await ending.AsTask().WaitAsync(TimeSpan.FromSeconds(10)), "Record 2 became durable before the log was disposed.");
        Assert.True(reader.TryRead(out WalRecord second) && second.Lsn == new Lsn(2));
        Assert.False(await reader.WaitToReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)), "The log is disposed and every durable record was read.");
        Assert.False(reader.WaitToRead(TimeSpan.FromSeconds(1)));
    }

    /// <summary>
    /// Dispose makes what was appended durable before it returns; a live reader waiting meanwhile is given those records,
    /// and its wait ends with false only once they are read (found by review: the wait returned false as soon as Dispose
    /// began, and a ReadAllAsync loop lost the tail).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_live_reader_gets_the_records_dispose_makes_durable(bool async)
    {
        string directory = _temp.Log();
        var storage = new FaultyStorage();
        WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, StripeCount = 1 }, storage);
        for (ulong lsn = 1; lsn <= 10; lsn++)
        {
            log.Append(PayloadOf(lsn));
        }

        log.Flush();
        await using WalReader reader = log.ReadFrom(Lsn.None);
        AssertRecords(Drain(reader), 1, 10, lsn => PayloadOf(lsn), "before");
        storage.BeforeWrite = () => Thread.Sleep(20); // Dispose's last writes take a while
        for (ulong lsn = 11; lsn <= 60; lsn++)
        {
            log.Append(PayloadOf(lsn));
        }

        var disposer = new Thread(log.Dispose);
        disposer.Start();
        Assert.True(SpinWait.SpinUntil(() => log.IsDisposed, TimeSpan.FromSeconds(10)));
        var records = new List<(ulong Lsn, byte[] Payload)>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (async ? await reader.WaitToReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)) : reader.WaitToRead(TimeSpan.FromSeconds(30)))
        {
            Assert.True(DateTime.UtcNow < deadline);
            records.AddRange(Drain(reader));
        }

        AssertRecords(records, 11, 60, lsn => PayloadOf(lsn), "while and after Dispose");
        Assert.True(disposer.Join(TimeSpan.FromSeconds(30)));
    }

    /// <summary>ReadAllAsync yields owned copies (kept across awaits and after the reader moved on) and ends when the log is disposed.</summary>
    [Fact]
    public async Task ReadAllAsync_yields_owned_copies_until_the_log_is_disposed()
    {
        string directory = _temp.Log();
        WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, StripeCount = 2 });
        WalReader reader = log.ReadFrom(Lsn.None);
        var entries = new List<WalEntry>();
        Task consumer = Task.Run(async () =>
        {
            await foreach (WalEntry entry in reader.ReadAllAsync())
            {
                entries.Add(entry);
                await Task.Yield();
            }
        });
        for (ulong lsn = 1; lsn <= 300; lsn++)
        {
            log.Append(PayloadOf(lsn, 10 + (int)lsn));
        }

        log.Flush();
        await log.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        await consumer.WaitAsync(TimeSpan.FromSeconds(30));
        await reader.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(() => reader.TryRead(out _));
        Assert.Equal(300, entries.Count);
        for (int i = 0; i < entries.Count; i++)
        {
            ulong lsn = (ulong)i + 1;
            Assert.True(entries[i].Lsn == new Lsn(lsn) && entries[i].Payload.Span.SequenceEqual(PayloadOf(lsn, 10 + (int)lsn)), $"Entry {lsn} is an exact copy.");
        }
    }

    /// <summary>
    /// A follow reader across TruncateAfter calls made in this process: it never returns records of the log before a cut
    /// and after it as one history (found by review: it read on into the new records laid at the same offsets, and two
    /// cuts between its looks at wal.head hid the lower one). One cut above what it returned: it reads on with the new
    /// records. One cut below: it throws. Two cuts since it last looked, the last above what it returned: it cannot tell
    /// whether the first dropped records it returned, and throws.
    /// </summary>
    [Theory]
    [InlineData("one cut above", 250, null, null)]
    [InlineData("one cut below, new records at the same offsets", 50, null, "TruncateAfter(50) dropped records this reader had returned (up to LSN 200); open a new reader.")]
    [InlineData("two cuts", 50, 250ul, "2 TruncateAfter calls were made since this reader last looked at wal.head; the last kept the log up to LSN 250, and the reader cannot tell whether an earlier one dropped records it returned (up to LSN 200); open a new reader.")]
    public void A_follow_reader_never_mixes_the_log_before_a_cut_with_the_log_after_it(string what, int firstCut, ulong? secondCut, string? error)
    {
        string directory = _temp.Log();
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, SegmentSizeBytes = 1 << 20, StripeCount = 1 });
        byte[] OldOf(ulong lsn) => Payloads.Make(1, (long)lsn, 100);
        byte[] NewOf(ulong lsn) => Payloads.Make(2, (long)lsn, 100);
        for (ulong lsn = 1; lsn <= 200; lsn++)
        {
            log.Append(OldOf(lsn));
        }

        log.Flush();
        using WalReader reader = WalReader.Follow(directory);
        AssertRecords(Drain(reader), 1, 200, OldOf, what + ", before");
        for (ulong lsn = 201; lsn <= (ulong)firstCut + 10; lsn++)
        {
            log.Append(OldOf(lsn)); // written after the reader's last read, and partly dropped by the cut
        }

        log.Flush();
        log.TruncateAfter(new Lsn((ulong)firstCut));
        for (ulong lsn = (ulong)firstCut + 1; lsn <= 300; lsn++)
        {
            log.Append(NewOf(lsn));
        }

        log.Flush();
        if (secondCut is { } second)
        {
            log.TruncateAfter(new Lsn(second));
        }

        var records = new List<(ulong Lsn, byte[] Payload)>();
        Exception? thrown = Record.Exception(() =>
        {
            while (reader.TryRead(out WalRecord record))
            {
                records.Add((record.Lsn.Value, record.Payload.ToArray()));
            }
        });
        if (error is null)
        {
            Assert.Null(thrown);
            AssertRecords(records, 201, 300, lsn => lsn <= (ulong)firstCut ? OldOf(lsn) : NewOf(lsn), what + ", after");
            return;
        }

        Assert.Empty(records);
        var truncated = Assert.IsType<WalTruncatedException>(thrown);
        Assert.Equal(error, truncated.Message);
        Assert.Equal(new Lsn(201), truncated.Lsn);
    }

    /// <summary>
    /// A follow reader at a torn tail (a crash's, no writer) keeps waiting for it to be completed; at damage the files
    /// prove (a later write after it) it waits a second, as a write in flight would be done by then, and then throws.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_follow_reader_waits_at_a_torn_tail_and_throws_at_proven_damage(bool corruption)
    {
        string directory = _temp.Log();
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, SegmentSizeBytes = 1 << 20, StripeCount = 1 }))
        {
            for (ulong lsn = 1; lsn <= 20; lsn++)
            {
                log.AppendDurable(PayloadOf(lsn));
            }
        }

        var layout = LogLayout.Read(directory);
        ulong damaged = corruption ? 10ul : 20ul;
        SegmentFiles.Flip(SegmentNames.PathOf(Path.GetFullPath(directory), layout.BatchOf(damaged).Segment), layout.FrameOffset(damaged) + 40);
        using WalReader reader = WalReader.Follow(directory, pollInterval: TimeSpan.FromMilliseconds(10));
        AssertRecords(Drain(reader), 1, damaged - 1, lsn => PayloadOf(lsn), "before the damage");
        Assert.True(reader.StoppedAtUnverifiedWrite);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        if (!corruption)
        {
            Assert.False(reader.WaitToRead(TimeSpan.FromSeconds(2.5)), "A torn tail is waited at.");
            Assert.True(reader.StoppedAtUnverifiedWrite);
            return;
        }

        var e = Assert.Throws<WalCorruptionException>(() => reader.WaitToRead(TimeSpan.FromSeconds(10)));
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(5));
        Assert.EndsWith(Path.GetFileName(SegmentNames.PathOf(directory, 1)), e.SegmentPath, StringComparison.Ordinal);
        Assert.InRange(e.Offset, layout.BatchOf(10).Start, layout.BatchOf(10).End - 1);
    }
}
