using System.Collections.Concurrent;
using Aletheia.Wal.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Tests.Reliability;

/// <summary>
/// Power loss and device faults through the storage seam (<see cref="SimulatedDisk"/>): producers append with every
/// durable form while segments rotate and (in half the cases) a truncator recycles old ones; one operation is hit by
/// the fault; then the log is recovered from exactly the bytes that would be on disk, by the real file system. Every
/// acknowledged record must be there, byte-exact, at its LSN; LSNs must run without a hole; nothing past what is
/// recovered may have been reported durable; and the recovered log must take new appends and read back whole.
/// </summary>
public sealed class PowerLossTests(ITestOutputHelper output) : IDisposable
{
    private const int Producers = 3;
    private const int RecordsPerProducer = 150;
    private const int MaxPayload = 700;

    private readonly TempDirectory _temp = new();
    private int _cases;

    public void Dispose() => _temp.Dispose();

    public static TheoryData<TornWrite> Tears => new() { TornWrite.Dropped, TornWrite.BytePrefix, TornWrite.SectorPrefix, TornWrite.SectorsOutOfOrder };

    [Theory]
    [MemberData(nameof(Tears))]
    public void Power_loss_at_any_storage_operation_keeps_every_acknowledged_record(TornWrite tear)
    {
        Bounded.Run(() =>
        {
            var random = new Random(1000 + (int)tear);
            long operations = Calibrate(DiskOperation.All);
            var outcomes = new Outcomes();
            for (int i = 0; i < 50; i++)
            {
                var disk = new SimulatedDisk(random.Next())
                {
                    FaultAt = 1 + random.NextInt64(operations),
                    Fault = DiskFault.PowerLoss,
                    Tear = tear,
                    NamesOutOfOrder = i % 4 >= 2, // half the cases: unsynced name changes survive in any subset
                };
                outcomes.Add(RunCase(disk, truncate: i % 2 == 0, maxRecycled: i % 3 == 0 ? 0 : 1));
            }

            output.WriteLine($"{tear}: {outcomes}");
            Assert.True(outcomes.FaultsHit >= 25, $"The planned power loss hit an operation in at least half the cases ({outcomes}).");
        }, TimeSpan.FromMinutes(3));
    }

    [Theory]
    [InlineData(DiskFault.IoError, TornWrite.Dropped)]
    [InlineData(DiskFault.IoError, TornWrite.SectorsOutOfOrder)]
    [InlineData(DiskFault.DiskFull, TornWrite.SectorPrefix)]
    [InlineData(DiskFault.DiskFull, TornWrite.BytePrefix)]
    public void Failed_write_faults_the_log_and_recovery_keeps_every_acknowledged_record(DiskFault fault, TornWrite tear)
    {
        Bounded.Run(() =>
        {
            var random = new Random(2000 + (10 * (int)fault) + (int)tear);
            long writes = Calibrate(DiskOperation.Write);
            var outcomes = new Outcomes();
            for (int i = 0; i < 25; i++)
            {
                var disk = new SimulatedDisk(random.Next()) { FaultAt = 1 + random.NextInt64(writes), FaultOn = DiskOperation.Write, Fault = fault, Tear = tear };
                outcomes.Add(RunCase(disk, truncate: i % 2 == 1, maxRecycled: i % 3 == 0 ? 0 : 1));
            }

            output.WriteLine($"{fault}, {tear}: {outcomes}");
            Assert.True(outcomes.Faulted >= 15, $"Most failed writes hit the hot path and faulted the log ({outcomes}).");
        }, TimeSpan.FromMinutes(3));
    }

    [Theory]
    [InlineData(DiskOperation.SyncDirectory)]
    [InlineData(DiskOperation.Create)]
    [InlineData(DiskOperation.Sync)]
    [InlineData(DiskOperation.Move)]
    [InlineData(DiskOperation.Delete)]
    public void Failed_directory_fsync_or_segment_creation_loses_nothing_acknowledged(DiskOperation operation)
    {
        Bounded.Run(() =>
        {
            var outcomes = new Outcomes();
            for (int at = 1; at <= 8; at++)
            {
                foreach (DiskFault fault in new[] { DiskFault.IoError, DiskFault.PowerLoss })
                {
                    var disk = new SimulatedDisk(at) { FaultAt = at, FaultOn = operation, Fault = fault, Tear = TornWrite.Dropped };
                    outcomes.Add(RunCase(disk, truncate: true, maxRecycled: operation == DiskOperation.Delete ? 0 : at % 2));
                }
            }

            output.WriteLine($"{operation}: {outcomes}");
            Assert.True(outcomes.FaultsHit >= 2, $"Faults on {operation} were hit ({outcomes}).");
        }, TimeSpan.FromMinutes(3));
    }

    [Fact]
    public void A_recycled_segment_is_reused_only_once_its_rename_is_durable()
    {
        // Reuse zeroes a recycled file's header at once. Were it offered before the truncation's directory fsync, a power
        // loss could leave the old segment name on a zeroed header in front of the log: damage, and a log that no
        // longer opens. The truncation is held in its fsync while the log rotates; a reuse then cuts the power.
        var disk = new SimulatedDisk(1);
        string directory = _temp.Log("recycle-race");
        using var truncatorInFsync = new ManualResetEventSlim();
        using var releaseTruncator = new ManualResetEventSlim();
        int reusedEarly = 0;
        Thread? truncator = null;
        disk.BeforeOperation = (operation, path) =>
        {
            if (operation == DiskOperation.SyncDirectory && Thread.CurrentThread == truncator && !truncatorInFsync.IsSet)
            {
                truncatorInFsync.Set();
                Assert.True(releaseTruncator.Wait(TimeSpan.FromSeconds(30)));
            }
            else if (operation == DiskOperation.Move && path.EndsWith(".recycle", StringComparison.Ordinal) && truncatorInFsync.IsSet && !releaseTruncator.IsSet)
            {
                Interlocked.Increment(ref reusedEarly);
                disk.PowerLoss();
            }
        };

        var run = new Run(truncate: false);
        Bounded.Run(() =>
        {
            WriteAheadLog log = WriteAheadLog.Open(Options(directory), disk);
            AppendSegments(log, run, producer: 0, segments: 3);
            truncator = new Thread(() =>
            {
                try
                {
                    run.NoteTruncation(log.DurableLsn.Value);
                    log.TruncateBefore(log.DurableLsn);
                }
                catch (WalException)
                {
                }
            });
            truncator.Start();
            Assert.True(truncatorInFsync.Wait(TimeSpan.FromSeconds(30)), "The truncation reached its directory fsync.");
            AppendSegments(log, run, producer: 1, segments: 2); // rotates at least once while the fsync is held
            releaseTruncator.Set();
            Assert.True(truncator.Join(TimeSpan.FromSeconds(30)));
            log.Dispose();
        });

        string restored = _temp.Log("recycle-race-restored");
        disk.RestoreImageTo(restored);
        using (WriteAheadLog.Open(Options(restored)))
        {
        }

        run.Check(LogContents.ReadAll(restored), "recycled-segment race");
        Assert.Equal(0, Volatile.Read(ref reusedEarly));
    }

    [Fact]
    public void A_segment_name_left_without_its_directory_fsync_is_made_durable_before_records_go_under_it()
    {
        // Directory fsyncs: wal.head's creation (1), recovery's (2), segment 1's preparation (3), then segment 2's,
        // prepared in the background (4). That one fails, as if the writer were killed between the rename and the fsync: the name is in the page
        // cache only, and the log faults when it needs the segment. Reopened on the same machine, the writer reuses
        // segment 2. Segment 3's preparation (whose fsync would make the name durable too) is held while records are
        // acknowledged in segment 2, then the power goes.
        var disk = new SimulatedDisk(1) { FaultOn = DiskOperation.SyncDirectory, FaultAt = 4, Fault = DiskFault.IoError };
        string directory = _temp.Log("undurable-name");
        var run = new Run(truncate: false);
        using var preparingThird = new ManualResetEventSlim();
        using var powerCut = new ManualResetEventSlim();
        Bounded.Run(() =>
        {
            using (WriteAheadLog log = WriteAheadLog.Open(Options(directory), disk))
            {
                AppendSegments(log, run, producer: 0, segments: 2);
                Assert.Throws<WalException>(() => log.Flush());
            }

            Assert.Equal(DiskOperation.SyncDirectory, disk.FaultedOperation);
            disk.BeforeOperation = (operation, path) =>
            {
                if (operation == DiskOperation.Create)
                {
                    preparingThird.Set();
                    Assert.True(powerCut.Wait(TimeSpan.FromSeconds(30)));
                }
            };

            using (WriteAheadLog reopened = WriteAheadLog.Open(Options(directory), disk))
            {
                for (int i = 0; !preparingThird.IsSet || i < 3; i++)
                {
                    run.Acknowledge(reopened.AppendDurable(Payloads.MakeTagged(1, i, MaxPayload)).Value, 1, i);
                    Assert.True(i < RecordsFilling(segments: 2), "The writer rotated into segment 2 and began preparing segment 3.");
                }

                disk.PowerLoss();
                powerCut.Set();
            }
        });

        string restored = _temp.Log("undurable-name-restored");
        disk.RestoreImageTo(restored);
        run.Check(LogContents.ReadAll(restored), "segment name without its directory fsync");
    }

    /// <summary>
    /// TruncateBefore removes several segments (renames to .recycle and deletions) with one directory fsync at the end. The
    /// power goes just before that fsync, and every subset of the removals reaches the disk, as a file system that commits
    /// directory entries in any order may leave it: segments 1 and 3 gone with 2 left, say. The new head, written to
    /// wal.head before any removal, tells recovery that what is left below it is going: the log opens at the head with
    /// every record from it, whatever the subset.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void Truncation_whose_removals_reach_the_disk_in_any_order_leaves_a_log_that_opens(int maxRecycled)
    {
        Bounded.Run(() =>
        {
            int removals = -1;
            for (int mask = 0; removals < 0 || mask < 1 << removals; mask++)
            {
                int subset = mask;
                var disk = new SimulatedDisk(1) { PersistPendingName = i => ((subset >> i) & 1) != 0 };
                string directory = _temp.Log($"removals-{maxRecycled}-{mask}");
                var run = new Run(truncate: true);
                WriteAheadLog log = WriteAheadLog.Open(Options(directory, maxRecycled), disk);
                AppendSegments(log, run, producer: 0, segments: 5);
                log.TestHookWaitForPreparedSegment();
                ulong below = log.DurableLsn.Value - 10;
                run.NoteTruncation(below);
                Assert.Equal(0, disk.PendingNameChanges);
                disk.BeforeOperation = (operation, _) =>
                {
                    if (operation == DiskOperation.SyncDirectory)
                    {
                        removals = disk.PendingNameChanges;
                        disk.PowerLoss();
                    }
                };

                Assert.Throws<WalException>(() => log.TruncateBefore(new Lsn(below)));
                log.Dispose();
                Assert.True(removals >= 4, $"The truncation removed {removals} segments.");

                string restored = _temp.Log($"removals-{maxRecycled}-{mask}-restored");
                disk.RestoreImageTo(restored);
                using (WriteAheadLog.Open(Options(restored, maxRecycled)))
                {
                }

                List<(ulong Lsn, byte[] Payload)> records = LogContents.ReadAll(restored, WalRecoveryMode.Strict);
                run.Check(records, $"removals persisted: {Convert.ToString(subset, 2)} of {removals}");
                Assert.True(records[0].Lsn <= below && records[0].Lsn > below - 200, $"The log starts at the new head ({records[0].Lsn}), the segment holding LSN {below}.");
            }
        }, TimeSpan.FromMinutes(3));
    }

    /// <summary>Appends about <paramref name="segments"/> segments' worth of durable records, stopping if the log faults.</summary>
    private static void AppendSegments(WriteAheadLog log, Run run, int producer, int segments)
    {
        for (int i = 0; i < RecordsFilling(segments); i++)
        {
            try
            {
                run.Acknowledge(log.AppendDurable(Payloads.MakeTagged(producer, i, MaxPayload)).Value, producer, i);
            }
            catch (WalException)
            {
                return;
            }
        }
    }

    /// <summary>Records of the largest payload that fill a little more than <paramref name="segments"/> segments.</summary>
    private static int RecordsFilling(int segments) => segments * (int)(Options("x").SegmentSizeBytes / MaxPayload) * 11 / 10;

    /// <summary>
    /// Runs three unfaulted cases and returns the fewest operations of <paramref name="kinds"/> one made: how many
    /// operations a workload makes depends on how its records were grouped, and a fault planned past a run's end hits
    /// nothing.
    /// </summary>
    private long Calibrate(DiskOperation kinds)
    {
        long fewest = long.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            var disk = new SimulatedDisk(i) { FaultOn = kinds, FaultAt = long.MaxValue };
            Outcome outcome = RunCase(disk, truncate: true);
            Assert.Equal(Producers * RecordsPerProducer, outcome.Acknowledged);
            fewest = Math.Min(fewest, outcome.Operations);
        }

        return Math.Max(1, fewest);
    }

    private Outcome RunCase(SimulatedDisk disk, bool truncate, int maxRecycled = 1)
    {
        int id = Interlocked.Increment(ref _cases);
        string directory = _temp.Log($"case-{id}");
        var run = new Run(truncate);
        WriteAheadLog? log = null;
        try
        {
            log = WriteAheadLog.Open(Options(directory, maxRecycled), disk);
        }
        catch (WalException e) when (disk.FaultReport is not null)
        {
            Assert.IsType<IOException>(e.InnerException); // the fault hit the first segment's preparation
        }

        bool faulted = false;
        if (log is not null)
        {
            run.Drive(log);
            run.Report(log.DurableLsn);
            faulted = CheckFaulted(log, disk);
            log.Dispose();
        }

        disk.Disarm();
        long operations = disk.Counted;
        int acknowledged = run.AcknowledgedCount;
        string context = $"case {id}, {disk.FaultReport ?? "no fault hit"}";
        if (disk.DurableImage is null)
        {
            // The disk still works and the machine did not restart: the same files, reopened, hold every acknowledged
            // record; what is appended after the reopen (a segment's worth, so the log rotates) must survive the power
            // loss that follows, even where the failed write left the page cache ahead of the disk.
            using WriteAheadLog reopened = WriteAheadLog.Open(Options(directory), disk);
            run.Check(ReadAll(disk, directory), context + ", reopened before power loss");
            for (int i = 0; i < RecordsFilling(segments: 1); i++)
            {
                run.Acknowledge(reopened.AppendDurable(Payloads.MakeTagged(Producers + 1, i, MaxPayload)).Value, Producers + 1, i);
            }
        }

        // What a machine would boot with, recovered by the real file system.
        string restored = _temp.Log($"case-{id}-restored");
        disk.RestoreImageTo(restored);
        int recovered;
        using (WriteAheadLog after = WriteAheadLog.Open(Options(restored)))
        {
            Assert.True(after.LastLsn.Value >= run.ReportedDurable, $"{context}: recovery kept LSN {run.ReportedDurable}, reported durable (last {after.LastLsn}).");
            recovered = (int)Math.Min(after.LastLsn.Value, int.MaxValue);
            for (int i = 0; i < 5; i++)
            {
                Lsn lsn = after.AppendDurable(Payloads.MakeTagged(Producers, i, 40 + (i * 100)));
                Assert.Equal(after.LastLsn, lsn);
                run.Acknowledge(lsn.Value, Producers, i);
            }
        }

        run.Check(LogContents.ReadAll(restored, WalRecoveryMode.Strict), context + ", recovered after power loss and appended to");
        return new Outcome(disk.FaultReport is not null, faulted, acknowledged, run.AcknowledgedCount - 5 - acknowledged, recovered, operations);
    }

    /// <summary>A log whose hot-path write failed is faulted: every later call throws WalException with the cause inside.</summary>
    private static bool CheckFaulted(WriteAheadLog log, SimulatedDisk disk)
    {
        if (disk.FaultedOperation != DiskOperation.Write || !disk.FaultedPath!.EndsWith(".wal", StringComparison.Ordinal))
        {
            return false;
        }

        var e = Assert.Throws<WalException>(() => log.AppendDurable([1, 2, 3]));
        Assert.IsType<IOException>(e.InnerException);
        if (disk.Fault == DiskFault.DiskFull)
        {
            Assert.Contains("No space left on device", e.Message, StringComparison.Ordinal);
        }

        Assert.Throws<WalException>(() => log.Flush());
        return true;
    }

    private static List<(ulong Lsn, byte[] Payload)> ReadAll(SimulatedDisk disk, string directory)
    {
        var records = new List<(ulong, byte[])>();
        using WalReader reader = WalReader.Open(disk, directory, Lsn.None, WalRecoveryMode.Strict);
        while (reader.TryRead(out WalRecord record))
        {
            records.Add((record.Lsn.Value, record.Payload.ToArray()));
        }

        return records;
    }

    private static WalOptions Options(string directory, int maxRecycled = 1) => new()
    {
        Directory = directory,
        StripeCount = 2,
        StripeCapacityBytes = 16 * 1024,
        SegmentSizeBytes = 64 * 1024,
        MaxEntryBytes = MaxPayload,
        MaxRecycledSegments = maxRecycled,
    };

    /// <summary>
    /// What one case did: records acknowledged by the workload and after the reopen on the running disk, the last LSN
    /// recovered after the power loss, and the workload's operations of the fault's kinds.
    /// </summary>
    private readonly record struct Outcome(bool FaultHit, bool Faulted, int Acknowledged, int AcknowledgedAfterReopen, int Recovered, long Operations);

    private sealed class Outcomes
    {
        public int Cases;
        public int FaultsHit;
        public int Faulted;
        public long Acknowledged;
        public long AcknowledgedAfterReopen;
        public long Recovered;

        public void Add(Outcome outcome)
        {
            Cases++;
            FaultsHit += outcome.FaultHit ? 1 : 0;
            Faulted += outcome.Faulted ? 1 : 0;
            Acknowledged += outcome.Acknowledged;
            AcknowledgedAfterReopen += outcome.AcknowledgedAfterReopen;
            Recovered += outcome.Recovered;
        }

        public override string ToString() =>
            $"{Cases} cases, {FaultsHit} faults hit, {Faulted} faulted the log, {Acknowledged} records acknowledged (and {AcknowledgedAfterReopen} after a reopen on the running disk), {Recovered} recovered, none lost";
    }

    /// <summary>One workload: what was acknowledged, what was reported durable, how far truncation may have cut.</summary>
    private sealed class Run(bool truncate)
    {
        private readonly ConcurrentDictionary<ulong, (int Producer, long Sequence)> _acknowledged = new();
        private long _reported;
        private long _truncatedBelow = 1; // the highest LSN passed to TruncateBefore: records below it may be gone

        public ulong ReportedDurable => (ulong)Volatile.Read(ref _reported);

        public int AcknowledgedCount => _acknowledged.Count;

        public void Drive(WriteAheadLog log)
        {
            int producing = Producers;
            Bounded.Parallel(Producers + 1, index =>
            {
                if (index == Producers)
                {
                    while (Volatile.Read(ref producing) > 0)
                    {
                        Thread.Sleep(1);
                        ulong below = log.DurableLsn.Value > 40 ? log.DurableLsn.Value - 40 : 0;
                        if (truncate && below > 0)
                        {
                            NoteTruncation(below);
                            try
                            {
                                log.TruncateBefore(new Lsn(below));
                            }
                            catch (WalException)
                            {
                                // A failed truncation is reported and loses nothing.
                            }
                        }
                    }

                    return;
                }

                try
                {
                    Produce(log, index);
                }
                finally
                {
                    Interlocked.Decrement(ref producing);
                }
            });
        }

        public void Acknowledge(ulong lsn, int producer, long sequence)
        {
            Assert.True(_acknowledged.TryAdd(lsn, (producer, sequence)), $"LSN {lsn} was handed out once.");
            Report(new Lsn(lsn));
        }

        public void NoteTruncation(ulong below) => InterlockedMax(ref _truncatedBelow, (long)below);

        public void Report(Lsn durable) => InterlockedMax(ref _reported, (long)durable.Value);

        public void Check(List<(ulong Lsn, byte[] Payload)> records, string context)
        {
            ulong first = records.Count > 0 ? records[0].Lsn : 0;
            LogContents.AssertContiguousFrom(records, first);
            Assert.True(records.Count == 0 || first <= (ulong)_truncatedBelow, $"{context}: the log starts at {first}, at or before the truncation point {_truncatedBelow}.");
            ulong last = records.Count > 0 ? records[^1].Lsn : 0;
            Assert.True(last >= ReportedDurable, $"{context}: LSN {ReportedDurable} was reported durable but the log ends at {last}.");
            var seen = new HashSet<(int, long)>();
            foreach ((ulong lsn, byte[] payload) in records)
            {
                Assert.True(payload.Length >= 12 && Payloads.TaggedIntact(payload), $"{context}: record {lsn} is intact.");
                Assert.True(seen.Add(Payloads.ReadTag(payload)), $"{context}: record {lsn} is not a second copy of another.");
            }

            foreach ((ulong lsn, (int producer, long sequence)) in _acknowledged)
            {
                if (lsn < first && lsn < (ulong)_truncatedBelow)
                {
                    continue; // truncated away, as asked
                }

                Assert.True(lsn >= first && lsn <= last, $"{context}: acknowledged LSN {lsn} is in the recovered log [{first}, {last}].");
                Assert.Equal((producer, sequence), Payloads.ReadTag(records[(int)(lsn - first)].Payload));
            }
        }

        /// <summary>Producer 0: AppendDurable; 1: AppendDurableAsync; 2: Append, then WaitForDurable for every fourth.</summary>
        private void Produce(WriteAheadLog log, int producer)
        {
            var random = new Random(producer);
            var pending = new List<(ulong Lsn, long Sequence)>();
            try
            {
                for (long sequence = 0; sequence < RecordsPerProducer; sequence++)
                {
                    byte[] payload = Payloads.MakeTagged(producer, sequence, 12 + random.Next(MaxPayload - 12));
                    switch (producer)
                    {
                        case 0:
                            Acknowledge(log.AppendDurable(payload).Value, producer, sequence);
                            break;
                        case 1:
                            Acknowledge(log.AppendDurableAsync(payload).AsTask().GetAwaiter().GetResult().Value, producer, sequence);
                            break;
                        default:
                            pending.Add((log.Append(payload).Value, sequence));
                            if (pending.Count == 4 || sequence == RecordsPerProducer - 1)
                            {
                                log.WaitForDurable(new Lsn(pending[^1].Lsn));
                                foreach ((ulong lsn, long acknowledged) in pending)
                                {
                                    Acknowledge(lsn, producer, acknowledged);
                                }

                                pending.Clear();
                            }

                            break;
                    }
                }
            }
            catch (WalException e)
            {
                Assert.IsType<IOException>(e.InnerException); // the injected fault, carried to the appender
            }
        }

        private static void InterlockedMax(ref long target, long value)
        {
            long current = Volatile.Read(ref target);
            while (value > current)
            {
                long seen = Interlocked.CompareExchange(ref target, value, current);
                if (seen == current)
                {
                    return;
                }

                current = seen;
            }
        }
    }
}
