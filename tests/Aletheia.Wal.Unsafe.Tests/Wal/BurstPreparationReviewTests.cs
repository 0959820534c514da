using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>
/// Review of sparse segment preparation during bursts (853964c): when the zero-fill of a segment extended sparse starts
/// (D1: at any park, between the rounds of a burst that goes on), a fill that fails (D2: its descriptor leaked), a
/// segment extended sparse found unused at open (D3: never filled), and what held (a sparse unused segment is prepared
/// and unused at open, exactly like a zero-filled one; every record reads back).
/// </summary>
public sealed class BurstPreparationReviewTests : IDisposable
{
    private const long SegmentBytes = 1 << 20;
    private const int RoundRecords = 200; // 200 KB a round: batches past the 64 KiB hand-over, for the writer thread
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private WalOptions Options() => new()
    {
        Directory = _temp.Log(), WriteBufferBytes = 128 << 10, MaxEntryBytes = 4096, SegmentSizeBytes = SegmentBytes,
        StripeCount = 2, StripeCapacityBytes = 1 << 20, MaxRecycledSegments = 0, ReserveSegmentsDuringBursts = true,
    };

    private string SegmentPath(ulong number) => SegmentNames.PathOf(_temp.Log(), number);

    private static ulong NumberOf(string path) => ulong.Parse(Path.GetFileName(path).AsSpan(0, 20), System.Globalization.CultureInfo.InvariantCulture);

    private static bool IsFill((string Path, bool Sparse) preparation) => preparation.Path.EndsWith(SegmentNames.Extension, StringComparison.Ordinal);

    /// <summary>
    /// A burst as an engine writes one: rounds of <see cref="RoundRecords"/> appends of 1,000 B, each ended by a Flush,
    /// one right after the other, the writes slowed by 1 ms so that the writer thread gets the batches.
    /// </summary>
    private static void Burst(WriteAheadLog log, FaultyStorage storage, int rounds, int producer)
    {
        storage.BeforeWrite = () => Thread.Sleep(1);
        for (int round = 0; round < rounds; round++)
        {
            for (int i = 0; i < RoundRecords; i++)
            {
                log.Append(Payloads.Make(producer, (round * RoundRecords) + i, 1000));
            }

            log.Flush();
        }

        storage.BeforeWrite = null;
    }

    [Fact]
    public void D1_a_burst_of_append_and_flush_rounds_fills_no_segment_extended_sparse_until_the_log_idles()
    {
        var storage = new FaultyStorage();
        using WriteAheadLog log = WriteAheadLog.Open(Options(), storage);
        log.TestHookWaitForPreparedSegment();
        Burst(log, storage, rounds: 30, producer: 0); // about 6 MB: 5 rotations
        var during = storage.Preparations.ToArray();

        var prepared = during.Where(p => !IsFill(p)).ToArray();
        Assert.True(prepared.Count(p => p.Sparse) >= 4, $"The burst's rotations extended {prepared.Count(p => p.Sparse)} segments sparse.");
        Assert.True(prepared[^1].Sparse, "The last rotation of the burst extended the segment after the next sparse.");

        // The flush thread parked between the rounds (each Flush waited for its round's writes), and with a write in
        // flight: no idle, the burst went on. A fill then would write its 1 MiB of zeros beside the burst's writes.
        Assert.Equal([], during.Where(IsFill).Select(p => p.Path));

        // Once the log does idle, the next segment, extended sparse, is zero-filled: that one only, once.
        string next = Path.ChangeExtension(prepared[^1].Path, null);
        Assert.True(SpinWait.SpinUntil(() => storage.Preparations.Any(IsFill), TimeSpan.FromSeconds(10)), "The idle log filled its next segment.");
        log.TestHookWaitForPreparedSegment();
        Assert.Equal([next], storage.Preparations.Where(IsFill).Select(p => p.Path));
    }

    [Fact]
    public void D2_a_fill_that_fails_is_surfaced_at_the_next_rotation_and_leaves_no_descriptor_open_after_dispose()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // /proc/self/fd and SEEK_HOLE as Linux numbers it
        }

        var fault = new IOException("Injected fill failure (EIO).");
        var storage = new FaultyStorage { FillFault = fault };
        var log = WriteAheadLog.Open(Options(), storage);
        log.TestHookWaitForPreparedSegment();
        Burst(log, storage, rounds: 6, producer: 0); // 1.2 MB: one rotation, which extends segment 3 sparse
        Assert.Equal((Path.ChangeExtension(SegmentPath(3), SegmentNames.PreparingExtension), true), storage.Preparations.Last(p => !IsFill(p)));
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref storage.FillFaults) == 1, TimeSpan.FromSeconds(10)), "The idle log tried to fill segment 3.");

        // Durable appends fill segment 2; the rotation into segment 3 throws the fill's failure, as a failed preparation's.
        WalException? faulted = null;
        for (int i = 0; i < 2_000 && faulted is null; i++)
        {
            try
            {
                log.AppendDurable(Payloads.Make(1, i, 1000));
            }
            catch (WalException e)
            {
                faulted = e;
            }
        }

        Assert.NotNull(faulted);
        Assert.Same(fault, faulted.InnerException);
        log.Dispose();

        string[] open = OpenDescriptorTargets().Where(t => t.StartsWith(_temp.Log(), StringComparison.Ordinal)).ToArray();
        Assert.Equal([], open);
    }

    [Fact]
    public void D3_a_segment_extended_sparse_and_found_unused_at_open_is_zero_filled_once_the_log_idles()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // /proc/self/fd and SEEK_HOLE as Linux numbers it
        }

        var storage = new FaultyStorage();
        using (WriteAheadLog log = WriteAheadLog.Open(Options(), storage))
        {
            log.AppendDurable(Payloads.Make(0, 0, 1000));
            log.TestHookWaitForPreparedSegment();
        }

        // What a log disposed (or killed) mid-burst leaves: its next segment, prepared and unused, extended sparse.
        SparseFiles.MakeSparse(SegmentPath(2));
        Assert.Equal(0, SparseFiles.FirstHole(SegmentPath(2)));

        storage = new FaultyStorage();
        using (WriteAheadLog log = WriteAheadLog.Open(Options(), storage))
        {
            Assert.True(
                SpinWait.SpinUntil(() => SparseFiles.FirstHole(SegmentPath(2)) == SegmentBytes, TimeSpan.FromSeconds(5)),
                $"The idle log left its next segment sparse (first hole at {SparseFiles.FirstHole(SegmentPath(2))}).");
            log.TestHookWaitForPreparedSegment();
            Assert.Equal([(SegmentPath(2), false)], storage.Preparations);
        }
    }

    [Fact]
    public void Sparse_current_and_unused_segments_at_open_inspect_as_zero_filled_ones_and_the_log_goes_on_through_them_exactly()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // /proc/self/fd and SEEK_HOLE as Linux numbers it
        }

        using (WriteAheadLog log = WriteAheadLog.Open(Options()))
        {
            for (int i = 0; i < 500; i++)
            {
                log.Append(Payloads.Make(0, i, 1000));
            }

            log.Flush();
            log.TestHookWaitForPreparedSegment();
        }

        // What a log killed mid-burst leaves: its current segment written into holes (its tail still one), and its next
        // one extended sparse, unused. Inspection sees exactly what it sees with every block written.
        var zeroFilled = Shape(WalInspection.Inspect(Options(), null, CancellationToken.None));
        SparseFiles.MakeSparse(SegmentPath(1));
        SparseFiles.MakeSparse(SegmentPath(2));
        Assert.True(SparseFiles.FirstHole(SegmentPath(1)) < SegmentBytes, "Segment 1's tail is a hole.");
        Assert.Equal(0, SparseFiles.FirstHole(SegmentPath(2)));
        Assert.Equal(zeroFilled, Shape(WalInspection.Inspect(Options(), null, CancellationToken.None)));

        var storage = new FaultyStorage();
        using (WriteAheadLog log = WriteAheadLog.Open(Options(), storage))
        {
            log.TestHookWaitForPreparedSegment();
            Assert.Equal([], storage.Preparations); // segment 2 is the next, as it is: no new preparation
            for (int i = 500; i < 1_500; i++)
            {
                log.AppendDurable(Payloads.Make(0, i, 1000));
            }

            // The log went on into segment 2; the rotation into it prepared segment 3, zero-filled (the flush thread wrote segment 1).
            Assert.Equal(2ul, NumberOf(storage.Writes.Last().Path));
            Assert.Equal([(Path.ChangeExtension(SegmentPath(3), SegmentNames.PreparingExtension), false)], storage.Preparations.Where(p => !IsFill(p)));
        }

        var records = LogContents.ReadAll(_temp.Log(), WalRecoveryMode.Strict);
        Assert.Equal(1_500, records.Count);
        LogContents.AssertContiguousFrom(records, 1);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.True(Payloads.Matches(records[i].Payload, 0, i), $"Record {i + 1} reads back byte-exact.");
        }
    }

    /// <summary>
    /// A burst of 1,200 records into a new log (one rotation: segment 3 extended sparse), then its fill held once it
    /// started (the log idled); returns the gate that releases it.
    /// </summary>
    private static ManualResetEventSlim BurstThenHoldFill(WriteAheadLog log, FaultyStorage storage)
    {
        var entered = new ManualResetEventSlim();
        var gate = new ManualResetEventSlim();
        storage.BeforeFill = () =>
        {
            entered.Set();
            Assert.True(gate.Wait(TimeSpan.FromSeconds(20)), "The test released the fill.");
        };
        log.TestHookWaitForPreparedSegment();
        Burst(log, storage, rounds: 6, producer: 0);
        Assert.True(entered.Wait(TimeSpan.FromSeconds(10)), "The idle log started the fill of segment 3.");
        return gate;
    }

    [Fact]
    public async Task TruncateAfter_while_the_next_segment_is_being_filled_waits_for_the_fill_and_cuts_exactly()
    {
        var storage = new FaultyStorage();
        using (WriteAheadLog log = WriteAheadLog.Open(Options(), storage))
        {
            ManualResetEventSlim gate = BurstThenHoldFill(log, storage);
            var cut = Task.Run(() => log.TruncateAfter(new Lsn(600)));
            await Task.Delay(300);
            Assert.False(cut.IsCompleted, "The cut waits for the fill of the segment it deletes.");
            gate.Set();
            await cut.WaitAsync(TimeSpan.FromSeconds(10)); // the cut ends once the fill returned
            Assert.Equal(new Lsn(601), log.AppendDurable(Payloads.Make(1, 0, 1000)));
            log.TestHookWaitForPreparedSegment();
        }

        Assert.Equal([], OpenDescriptorTargets().Where(t => t.StartsWith(_temp.Log(), StringComparison.Ordinal)));
        Assert.Equal(
            [Path.GetFileName(SegmentPath(1)), Path.GetFileName(SegmentPath(2))],
            Directory.GetFiles(_temp.Log(), "*" + SegmentNames.Extension).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var records = LogContents.ReadAll(_temp.Log(), WalRecoveryMode.Strict);
        Assert.Equal(601, records.Count);
        LogContents.AssertContiguousFrom(records, 1);
        Assert.True(Payloads.Matches(records[600].Payload, 1, 0), "The record appended after the cut is LSN 601.");
    }

    [Fact]
    public async Task Dispose_while_the_next_segment_is_being_filled_waits_for_it_closes_every_file_and_loses_no_record()
    {
        var storage = new FaultyStorage();
        var log = WriteAheadLog.Open(Options(), storage);
        ManualResetEventSlim gate = BurstThenHoldFill(log, storage);
        var dispose = Task.Run(log.Dispose);
        await Task.Delay(300);
        Assert.False(dispose.IsCompleted, "Dispose waits for the fill.");
        gate.Set();
        await dispose.WaitAsync(TimeSpan.FromSeconds(10)); // Dispose ends once the fill returned

        Assert.Equal([], OpenDescriptorTargets().Where(t => t.StartsWith(_temp.Log(), StringComparison.Ordinal)));
        Assert.Equal(SegmentBytes, SparseFiles.FirstHole(SegmentPath(3))); // filled through, no hole
        var records = LogContents.ReadAll(_temp.Log(), WalRecoveryMode.Strict);
        Assert.Equal(6 * RoundRecords, records.Count);
        LogContents.AssertContiguousFrom(records, 1);
    }

    /// <summary>The verdict, counts and per-segment shape of an inspection, comparable.</summary>
    private static string Shape(WalInspectionReport report) =>
        $"{report.Verdict} {report.Action} {report.Damage} {report.RecordCount} {report.OldestLsn}..{report.LastLsn} end {report.EndSegment}@{report.EndOffset} "
        + string.Join(" | ", report.Segments.Select(g => $"{g.Number} {g.State} {g.FileBytes} {g.HeaderBytes} {g.FirstLsn} {g.UsedBytes} {g.Records}"))
        + " changes " + string.Join(" | ", report.Changes.Select(c => $"{c.Path} {c.Kind} {c.Offset} {c.FileBytes} {c.NewPath}"));

    /// <summary>What this process's open descriptors point to.</summary>
    private static IEnumerable<string> OpenDescriptorTargets()
    {
        foreach (string fd in Directory.GetFiles("/proc/self/fd"))
        {
            string? target = null;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
            }

            if (target is not null)
            {
                yield return target;
            }
        }
    }
}
