using System.Diagnostics.Tracing;
using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Diagnostics;

/// <summary>
/// The event source, read with an <see cref="EventListener"/> for one log (by the directory each event carries first):
/// exact payloads against what the test did and against the log's files (<see cref="LogLayout"/>).
/// </summary>
public sealed class WalEventSourceTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static WalOptions SmallSegments(string directory, WalRecoveryMode mode = WalRecoveryMode.TruncateTornTail) =>
        new() { Directory = directory, StripeCount = 1, SegmentSizeBytes = 64 * 1024, MaxEntryBytes = 1024, MaxRecycledSegments = 4, RecoveryMode = mode };

    [Fact]
    public void Batches_rotations_preparations_and_both_truncations_are_written_with_their_figures()
    {
        string directory = _temp.Log();
        using var events = new EventCapture(directory);
        using WriteAheadLog log = WriteAheadLog.Open(SmallSegments(directory));
        AppendRecords(log, 1, 300); // about 64 records of 1,000 bytes per 64 KiB segment: four rotations or so
        log.TestHookWaitForPreparedSegment();

        // One event per batch, before its records were reported durable: the LSNs 1 to 300, contiguous, and the figures
        // GetMetrics has.
        WalMetrics metrics = log.GetMetrics();
        List<EventCapture.Captured> batches = events.Named("BatchWritten");
        Assert.Equal(metrics.Batches, batches.Count);
        ulong next = 1;
        foreach (EventCapture.Captured batch in batches)
        {
            Assert.Equal((EventLevel.Verbose, WalDiagnostics.FlushKeyword), (batch.Level, batch.Keywords));
            Assert.Equal(next, batch.Field<ulong>("firstLsn"));
            Assert.Equal((ulong)batch.Field<int>("records"), batch.Field<ulong>("lastLsn") - next + 1);
            Assert.True(batch.Field<double>("latencyMicroseconds") > 0, "A write takes some time.");
            next = batch.Field<ulong>("lastLsn") + 1;
        }

        Assert.Equal(301ul, next);
        Assert.Equal(metrics.BytesWritten, batches.Sum(b => b.Field<long>("bytes")));

        // Rotations and preparations, against the files.
        LogLayout layout = LogLayout.Read(directory);
        LayoutSegment[] used = layout.Used.ToArray();
        Assert.True(used.Length >= 4, $"The records filled {used.Length} segments.");
        Assert.Equal(
            used.Skip(1).Select(s => (s.Number, s.FirstLsn, s.Path)),
            events.Named("SegmentRotated").Select(e => (e.Field<ulong>("segment"), e.Field<ulong>("firstLsn"), e.Field<string>("path"))));
        Assert.Equal(
            Enumerable.Range(1, used.Length + 1).Select(n => ((ulong)n, SegmentNames.PathOf(directory, (ulong)n), false)),
            events.Named("SegmentPrepared").Select(e => (e.Field<ulong>("segment"), e.Field<string>("path"), e.Field<bool>("reused"))));

        // TruncateBefore the third segment: segments 1 and 2 go, both kept for reuse (4 may be).
        WalTruncation truncation = log.TruncateBefore(new Lsn(used[2].FirstLsn));
        Assert.Equal(2, truncation.SegmentsRemoved);
        Assert.Equal(
            new[] { (1ul, SegmentNames.RecycledPathOf(directory, 1)), (2ul, SegmentNames.RecycledPathOf(directory, 2)) },
            events.Named("SegmentRecycled").Select(e => (e.Field<ulong>("segment"), e.Field<string>("path"))));
        EventCapture.Captured before = Assert.Single(events.Named("TruncatedBefore"));
        Assert.Equal((EventLevel.Informational, WalDiagnostics.TruncationKeyword), (before.Level, before.Keywords));
        Assert.Equal((used[2].FirstLsn, 2, used[2].FirstLsn), (before.Field<ulong>("lsn"), before.Field<int>("segmentsRemoved"), before.Field<ulong>("oldestLsn")));
        Assert.Empty(events.Named("SegmentDeleted"));

        // The next preparations take the two recycled files, then zero-fill again.
        int preparedBefore = events.Named("SegmentPrepared").Count;
        int rotatedBefore = events.Named("SegmentRotated").Count;
        AppendRecords(log, 301, 250);
        log.TestHookWaitForPreparedSegment();
        int rotations = events.Named("SegmentRotated").Count - rotatedBefore;
        Assert.True(rotations >= 3, $"{rotations} rotations after the truncation.");
        Assert.Equal(
            Enumerable.Range(0, rotations).Select(i => i < 2),
            events.Named("SegmentPrepared").Skip(preparedBefore).Select(e => e.Field<bool>("reused")));

        // TruncateAfter five records before the last segment: it and every segment after the one cut are deleted, the
        // prepared next one included.
        layout = LogLayout.Read(directory);
        LayoutSegment last = layout.Used.Last();
        ulong cut = last.FirstLsn - 5;
        ulong kept = last.Number - 1;
        ulong[] later = Directory.GetFiles(directory, "*" + SegmentNames.Extension)
            .Select(p => ulong.Parse(Path.GetFileNameWithoutExtension(p), System.Globalization.CultureInfo.InvariantCulture))
            .Where(n => n > kept).Order().ToArray();
        Assert.Equal([last.Number, last.Number + 1], later);
        log.TruncateAfter(new Lsn(cut));

        EventCapture.Captured after = Assert.Single(events.Named("TruncatedAfter"));
        Assert.Equal((EventLevel.Informational, WalDiagnostics.TruncationKeyword), (after.Level, after.Keywords));
        Assert.Equal(
            (cut, cut + 1, 550ul, true),
            (after.Field<ulong>("lsn"), after.Field<ulong>("droppedFrom"), after.Field<ulong>("droppedTo"), after.Field<bool>("rewroteDisk")));
        Assert.Equal(
            later.OrderDescending().Select(n => (n, SegmentNames.PathOf(directory, n))),
            events.Named("SegmentDeleted").Select(e => (e.Field<ulong>("segment"), e.Field<string>("path"))));

        Assert.Empty(events.SourceErrors);
    }

    [Fact]
    public async Task A_cut_of_records_still_in_memory_says_it_rewrote_nothing()
    {
        string directory = _temp.Log();
        var storage = new FaultyStorage();
        using var events = new EventCapture(directory);
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, StripeCount = 1 }, storage);
        using var held = new HeldWrites(storage); // released before the log is disposed, also when an assertion fails
        log.AppendDurable([1]);
        held.Hold();
        Lsn kept = log.Append([2]); // in the held write
        held.WaitUntilInWrite();
        log.Append([3]);
        log.Append([4]); // in the ring: dropped by the cut before any write takes them
        Task cut = Task.Run(() => log.TruncateAfter(kept));
        Assert.True(SpinWait.SpinUntil(() => log.TestHookCutRequested, TimeSpan.FromSeconds(30)), "The cut reaches the flush thread, held in record 2's write.");
        held.Release();
        await cut.WaitAsync(TimeSpan.FromSeconds(30));

        EventCapture.Captured after = Assert.Single(events.Named("TruncatedAfter"));
        Assert.Equal(
            (2ul, 3ul, 4ul, false),
            (after.Field<ulong>("lsn"), after.Field<ulong>("droppedFrom"), after.Field<ulong>("droppedTo"), after.Field<bool>("rewroteDisk")));
        Assert.Equal(new Lsn(3), log.AppendDurable([5]));
        Assert.Equal([1ul, 2ul], events.Named("BatchWritten").Select(b => b.Field<ulong>("lastLsn")).Take(2));
        Assert.Empty(events.Named("SegmentDeleted"));
    }

    [Fact]
    public void Recovery_of_a_torn_log_is_a_warning_with_the_dropped_range_then_a_recorded_cut_then_clean()
    {
        string directory = _temp.Log();
        (ulong kept, ulong dropped) = TornLog.Write(directory);
        using var events = new EventCapture(directory);

        // Strict refuses the torn tail: recovery failed, as an error, and the log is not opened.
        Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(new WalOptions { Directory = directory, RecoveryMode = WalRecoveryMode.Strict }));
        EventCapture.Captured failed = Assert.Single(events.Named("RecoveryFailed"));
        Assert.Equal((EventLevel.Error, WalDiagnostics.RecoveryKeyword), (failed.Level, failed.Keywords));
        Assert.Equal(("Strict", typeof(WalCorruptionException).FullName), (failed.Field<string>("mode"), failed.Field<string>("exceptionType")));
        Assert.Contains("an interrupted last write", failed.Field<string>("message"), StringComparison.Ordinal);

        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory }))
        {
            Assert.Equal(new Lsn(kept), log.LastLsn);
        }

        Assert.Equal(
            ["RecoveryStarted", "RecoveryFailed", "RecoveryStarted", "RecoveryDroppedRecords"],
            events.All.Where(e => e.Keywords == WalDiagnostics.RecoveryKeyword).Select(e => e.Name));
        EventCapture.Captured started = events.Named("RecoveryStarted")[1];
        Assert.Equal((EventLevel.Informational, "TruncateTornTail"), (started.Level, started.Field<string>("mode")));
        AssertRecovery(Assert.Single(events.Named("RecoveryDroppedRecords")), EventLevel.Warning, "TornTail", kept, kept + 1, kept + dropped);

        // Reopened with nothing appended: the cut is reported again, from wal.head, as recorded.
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory }))
        {
            log.AppendDurable([1]); // the log is durable past the cut: it is forgotten
        }

        AssertRecovery(events.Named("RecoveryDroppedRecords")[1], EventLevel.Warning, "RecordedCut", kept, kept + 1, kept + dropped);
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory }))
        {
            Assert.Equal(new Lsn(kept + 1), log.LastLsn);
        }

        AssertRecovery(Assert.Single(events.Named("RecoveryFinished")), EventLevel.Informational, "Clean", kept + 1, 0, 0);
        Assert.Empty(events.SourceErrors);
    }

    [Fact]
    public void Point_in_time_recovery_of_a_damaged_middle_reports_corruption_and_the_range_the_disk_proves()
    {
        string directory = _temp.Log();
        using (WriteAheadLog log = WriteAheadLog.Open(SmallSegments(directory)))
        {
            for (ulong lsn = 1; lsn <= 30; lsn++)
            {
                log.AppendDurable(Payloads.Make(2, (long)lsn, 200)); // one batch each
            }
        }

        string segment = SegmentNames.PathOf(directory, 1);
        SegmentFiles.Flip(segment, SegmentFiles.OffsetOf(segment, Payloads.Make(2, 11, 200)) + 50);
        using var events = new EventCapture(directory);
        using WriteAheadLog reopened = WriteAheadLog.Open(SmallSegments(directory, WalRecoveryMode.PointInTime));

        Assert.Equal(new Lsn(10), reopened.LastLsn);
        AssertRecovery(Assert.Single(events.Named("RecoveryDroppedRecords")), EventLevel.Warning, "Corruption", 10, 11, 30);
        Assert.Equal("PointInTime", events.Named("RecoveryStarted").Single().Field<string>("mode"));
    }

    [Fact]
    public void A_failed_write_is_one_fault_event_with_the_cause()
    {
        string directory = _temp.Log();
        var storage = new FaultyStorage();
        using var events = new EventCapture(directory);
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, StripeCount = 2 }, storage);
        log.AppendDurable([1]);
        storage.FailSegmentWritesAfter(0);
        Assert.Throws<WalException>(() => log.AppendDurable([2]));
        Assert.Throws<WalException>(() => log.AppendDurable([3]));

        EventCapture.Captured fault = Assert.Single(events.Named("Faulted")); // written before the waiter was told
        Assert.Equal((EventLevel.Error, WalDiagnostics.FaultsKeyword), (fault.Level, fault.Keywords));
        Assert.Equal(
            (typeof(IOException).FullName, "Injected write failure (EIO)."),
            (fault.Field<string>("exceptionType"), fault.Field<string>("message")));
        Assert.Single(events.Named("BatchWritten")); // record 1's; the failed write is not one
    }

    [Fact]
    public void The_source_is_named_Aletheia_Wal_with_the_guid_derived_from_its_name_and_a_valid_manifest()
    {
        Assert.Equal(WalDiagnostics.EventSourceName, Aletheia.Wal.Diagnostics.WalEventSource.Log.Name);
        Assert.Equal(GuidFromName(WalDiagnostics.EventSourceName), Aletheia.Wal.Diagnostics.WalEventSource.Log.Guid);

        // Strict: an event whose attribute, keywords or parameters do not add up throws here (tools read this manifest).
        string? manifest = EventSource.GenerateManifest(typeof(Aletheia.Wal.Diagnostics.WalEventSource), "Aletheia.Wal.Unsafe.dll", EventManifestOptions.Strict);
        Assert.NotNull(manifest);
        foreach (string name in new[] { "BatchWritten", "SegmentRotated", "SegmentPrepared", "SegmentRecycled", "SegmentDeleted", "RecoveryStarted", "RecoveryFinished", "RecoveryDroppedRecords", "RecoveryFailed", "Faulted", "TruncatedBefore", "TruncatedAfter" })
        {
            Assert.Contains($"task=\"{name}\"", manifest, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// The GUID tools derive from a provider name (dotnet-trace for <c>--providers Aletheia-Wal</c>, ETW's convention): the
    /// SHA-1 of a fixed namespace and the upper-cased name in big-endian UTF-16, its first 16 bytes, version 5.
    /// </summary>
    private static Guid GuidFromName(string name)
    {
        byte[] space = [0x48, 0x2C, 0x2D, 0xB2, 0xC3, 0x90, 0x47, 0xC8, 0x87, 0xF8, 0x1A, 0x15, 0xBF, 0xC1, 0x30, 0xFB];
        byte[] hash = System.Security.Cryptography.SHA1.HashData([.. space, .. System.Text.Encoding.BigEndianUnicode.GetBytes(name.ToUpperInvariant())]);
        hash[7] = (byte)((hash[7] & 0x0F) | 0x50);
        return new Guid(hash.AsSpan(0, 16));
    }

    private static void AssertRecovery(EventCapture.Captured recovery, EventLevel level, string verdict, ulong kept, ulong droppedFrom, ulong droppedTo)
    {
        Assert.Equal((level, WalDiagnostics.RecoveryKeyword), (recovery.Level, recovery.Keywords));
        Assert.Equal(
            (verdict, kept, droppedFrom, droppedTo),
            (recovery.Field<string>("verdict"), recovery.Field<ulong>("recordsKept"), recovery.Field<ulong>("droppedFrom"), recovery.Field<ulong>("droppedTo")));
        Assert.True(recovery.Field<double>("elapsedMilliseconds") > 0, "Recovery takes some time.");
    }

    private static void AppendRecords(WriteAheadLog log, int first, int count)
    {
        for (int i = first; i < first + count; i++)
        {
            log.Append(Payloads.Make(3, i, 1000));
        }

        log.Flush();
    }
}
