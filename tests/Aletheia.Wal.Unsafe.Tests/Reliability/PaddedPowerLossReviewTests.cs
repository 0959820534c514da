using Aletheia.Wal.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Tests.Reliability;

/// <summary>
/// Review of the padded writes and O_DIRECT preparation under power loss, at every crash point of one sequential
/// workload (not a random sample): durable appends of varied sizes across rotations, a TruncateBefore that keeps
/// recycled files, rotations that reuse them, a TruncateAfter, more appends. The power goes at storage operation k, for
/// every k, with the interrupted write torn as a sector prefix or with sectors out of order, and unsynced name changes
/// surviving at random in half the cases. Then the dry run (WalInspection) and the real recovery must agree, every
/// acknowledged record must be there byte-exact (a cut TruncateAfter never returned: the records above it are all there
/// or all gone), no record twice, and the log must take an append.
/// </summary>
public sealed class PaddedPowerLossReviewTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();
    private int _cases;

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(TornWrite.SectorPrefix)]
    [InlineData(TornWrite.SectorsOutOfOrder)]
    public void Power_loss_at_every_operation_of_a_padded_workload_keeps_every_acknowledged_record(TornWrite tear)
    {
        Bounded.Run(() =>
        {
            long operations = RunCase(new SimulatedDisk(0) { FaultAt = long.MaxValue }, tear).Operations;
            int hits = 0;
            long kept = 0;
            for (long k = 1; k <= operations; k++)
            {
                var disk = new SimulatedDisk((int)k) { FaultAt = k, Fault = DiskFault.PowerLoss, Tear = tear, NamesOutOfOrder = k % 2 == 0 };
                (bool hit, long recovered, _) = RunCase(disk, tear);
                hits += hit ? 1 : 0;
                kept += recovered;
            }

            output.WriteLine($"{tear}: {operations} crash points, {hits} hit, {kept} records recovered in all, every acknowledged one among them");
            Assert.Equal(operations, hits);
        }, TimeSpan.FromMinutes(5));
    }

    /// <summary>
    /// The same with large batches (the async branch's pipelined writer, 6e30d6e): records appended without waiting, a
    /// millisecond per write so that batches grow past the 64 KiB hand-over to the writer thread, a Flush every 100
    /// records (which acknowledges them), through 1 MiB segments. The batch sizes depend on timing, so the crash points
    /// are those of the shortest of three calibration runs, and a case whose run made fewer operations than its k hits
    /// nothing (counted, not asserted away: at least half must hit).
    /// </summary>
    [Fact]
    public void Power_loss_at_every_operation_of_a_pipelined_workload_keeps_every_flushed_record()
    {
        Bounded.Run(() =>
        {
            long operations = long.MaxValue;
            int byWriter = 0;
            for (int i = 0; i < 3; i++)
            {
                var calibration = new SimulatedDisk(i) { FaultAt = long.MaxValue };
                (_, _, long ops, int writer) = RunPipelinedCase(calibration);
                operations = Math.Min(operations, ops);
                byWriter += writer;
            }

            Assert.True(byWriter > 0, "Large batches were written by the writer thread.");
            int hits = 0;
            long kept = 0;
            for (long k = 1; k <= operations; k++)
            {
                var disk = new SimulatedDisk((int)k) { FaultAt = k, Fault = DiskFault.PowerLoss, Tear = k % 2 == 0 ? TornWrite.SectorsOutOfOrder : TornWrite.SectorPrefix };
                (bool hit, long recovered, _, _) = RunPipelinedCase(disk);
                hits += hit ? 1 : 0;
                kept += recovered;
            }

            output.WriteLine($"pipelined: {operations} crash points, {hits} hit, {kept} records recovered in all, every flushed one among them; {byWriter} writes by the writer thread in the calibration runs");
            Assert.True(hits >= operations / 2, $"{hits} of {operations} planned power losses hit an operation.");
        }, TimeSpan.FromMinutes(5));
    }

    private (bool Hit, long Recovered, long Operations, int ByWriter) RunPipelinedCase(SimulatedDisk disk)
    {
        int id = Interlocked.Increment(ref _cases);
        string directory = _temp.Log($"case-{id}");
        static WalOptions Pipelined(string directory) =>
            new() { Directory = directory, SegmentSizeBytes = 1 << 20, WriteBufferBytes = 256 << 10, MaxEntryBytes = 4096, StripeCount = 1, StripeCapacityBytes = 1 << 20 };
        int byWriter = 0;
        disk.BeforeOperation = (operation, _) =>
        {
            if (operation == DiskOperation.Write && Thread.CurrentThread.Name is { } name && name.EndsWith("-flush", StringComparison.Ordinal) | name.EndsWith("-write", StringComparison.Ordinal))
            {
                if (name.EndsWith("-write", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref byWriter);
                }

                Thread.Sleep(1);
            }
        };
        ulong flushed = 0;
        try
        {
            using WriteAheadLog log = WriteAheadLog.Open(Pipelined(directory), disk);
            for (int round = 0; round < 4; round++)
            {
                for (int i = 0; i < 100; i++)
                {
                    log.Append(Payloads.MakeTagged(1, (round * 100) + i, 2900 + (i % 7 * 13)));
                }

                log.Flush();
                flushed = log.LastLsn.Value;
            }
        }
        catch (Exception e) when ((e is WalException or IOException) && disk.FaultReport is not null)
        {
            // the power went
        }

        (bool hit, long operations, string restored, string context, ulong last) = Recover(disk, id, "pipelined", Pipelined, appendAfter: false);

        Assert.True(last >= flushed, $"{context}: LSN {flushed} was flushed (durable), the recovered log ends at {last}.");
        var records = LogContents.ReadAll(restored, WalRecoveryMode.Strict);
        Assert.Equal((int)last, records.Count);
        LogContents.AssertContiguousFrom(records, 1);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.True(Payloads.TaggedIntact(records[i].Payload) && Payloads.ReadTag(records[i].Payload) == (1, i), $"{context}: record {i + 1} is the one appended at that LSN, byte-exact.");
        }

        return (hit, records.Count, operations, Volatile.Read(ref byWriter));
    }

    private (bool Hit, long Recovered, long Operations) RunCase(SimulatedDisk disk, TornWrite tear)
    {
        int id = Interlocked.Increment(ref _cases);
        string directory = _temp.Log($"case-{id}");
        var acked = new Dictionary<ulong, (int Producer, long Sequence)>();
        ulong truncatedBelow = 0;
        (ulong After, ulong LastBefore)? cut = null; // a TruncateAfter that did not return: its records may be there or not
        int sequence = 0;
        var random = new Random(7);
        try
        {
            using WriteAheadLog log = WriteAheadLog.Open(Options(directory), disk);
            void Append(int count)
            {
                for (int i = 0; i < count; i++)
                {
                    int s = sequence++;
                    Lsn lsn = log.AppendDurable(Payloads.MakeTagged(1, s, 12 + random.Next(0, 3000)));
                    acked[lsn.Value] = (1, s);
                }
            }

            Append(40); // about two segments
            truncatedBelow = log.DurableLsn.Value - 5;
            log.TruncateBefore(new Lsn(truncatedBelow));
            Append(40); // rotations reuse the recycled file
            ulong after = log.DurableLsn.Value - 3;
            cut = (after, log.DurableLsn.Value);
            log.TruncateAfter(new Lsn(after));
            foreach (ulong gone in acked.Keys.Where(l => l > after).ToList())
            {
                acked.Remove(gone);
            }

            cut = null;
            Append(10);
        }
        catch (Exception e) when ((e is WalException or IOException) && disk.FaultReport is not null)
        {
            // the power went
        }

        (bool hit, long operations, string restored, string context, ulong last) = Recover(disk, id, tear.ToString(), Options, appendAfter: true);

        var records = LogContents.ReadAll(restored, WalRecoveryMode.Strict);
        ulong first = records[0].Lsn;
        LogContents.AssertContiguousFrom(records, first);
        Assert.Equal(last + 1, records[^1].Lsn);
        var seen = new HashSet<(int, long)>();
        foreach ((ulong lsn, byte[] payload) in records)
        {
            Assert.True(Payloads.TaggedIntact(payload), $"{context}: record {lsn} is intact.");
            Assert.True(seen.Add(Payloads.ReadTag(payload)), $"{context}: record {lsn} is not a second copy of another.");
        }

        foreach ((ulong lsn, (int producer, long s)) in acked)
        {
            if (lsn < truncatedBelow && lsn < first)
            {
                continue; // truncated away, as asked
            }

            if (cut is { } c && lsn > c.After)
            {
                continue; // checked below, all together
            }

            Assert.True(lsn >= first && lsn <= last, $"{context}: acknowledged LSN {lsn} is in the recovered log [{first}, {last}].");
            Assert.Equal((producer, s), Payloads.ReadTag(records[(int)(lsn - first)].Payload));
        }

        if (cut is { } pending)
        {
            // The cut was made or not: the log ends at its LSN, or every record above it acknowledged before it is there.
            bool made = last == pending.After;
            foreach ((ulong lsn, (int producer, long s)) in acked.Where(a => a.Key > pending.After))
            {
                Assert.True(!made || lsn > last, $"{context}: the cut after {pending.After} was made, yet acknowledged LSN {lsn} is in the log.");
                if (!made)
                {
                    Assert.True(lsn <= last, $"{context}: the cut after {pending.After} was not made, yet acknowledged LSN {lsn} is missing (log ends at {last}).");
                    Assert.Equal((producer, s), Payloads.ReadTag(records[(int)(lsn - first)].Payload));
                }
            }
        }

        return (hit, records.Count - 1, operations);
    }

    /// <summary>
    /// After the power loss: the durable image restored into a directory of its own, the dry run and the real recovery
    /// run on it and must agree on where the log ends; with <paramref name="appendAfter"/>, the log takes an append.
    /// </summary>
    private (bool Hit, long Operations, string Restored, string Context, ulong Last) Recover(
        SimulatedDisk disk, int id, string kind, Func<string, WalOptions> options, bool appendAfter)
    {
        disk.Disarm();
        string restored = _temp.Log($"case-{id}-restored");
        disk.RestoreImageTo(restored);
        string context = $"{kind}, case {id}: {disk.FaultReport ?? "no fault"}";
        WalInspectionReport report = WalInspection.Inspect(restored);
        using WriteAheadLog log = WriteAheadLog.Open(options(restored));
        ulong last = log.LastLsn.Value;
        Assert.True(report.LastLsn.Value == last, $"{context}: the dry run ends at {report.LastLsn} ({report.Verdict}), recovery at {last}.");
        if (appendAfter)
        {
            Assert.Equal(new Lsn(last + 1), log.AppendDurable(Payloads.MakeTagged(2, 0, 100)));
        }

        return (disk.FaultReport is not null, disk.Counted, restored, context, last);
    }

    private static WalOptions Options(string directory) => new()
    {
        Directory = directory,
        SegmentSizeBytes = 64 * 1024,
        MaxEntryBytes = 4096,
        WriteBufferBytes = 16 * 1024,
        StripeCount = 1,
        MaxRecycledSegments = 1,
    };
}
