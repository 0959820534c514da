using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>
/// Segment preparation during a burst: a rotation made while the writer thread has the batches (a burst) extends the
/// segment after the next (posix_fallocate on Linux) instead of zero-filling it; once the burst is over (the flush thread idles) a segment
/// only reserved and not yet in use is zero-filled; any other rotation zero-fills. Reserved or zero-filled, a segment reads as
/// zeros, so every record reads back exactly, across reopening.
/// </summary>
public sealed class BurstPreparationTests : IDisposable
{
    private const int WriteBuffer = 128 << 10; // hand-over at 64 KiB
    private const long SegmentBytes = 1 << 20;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private WalOptions Options(bool reserve = true) => new()
    {
        Directory = _temp.Log(), WriteBufferBytes = WriteBuffer, MaxEntryBytes = 4096, SegmentSizeBytes = SegmentBytes,
        StripeCount = 2, StripeCapacityBytes = 1 << 20, MaxRecycledSegments = 0, ReserveSegmentsDuringBursts = reserve,
    };

    private static ulong NumberOf(string path) => ulong.Parse(Path.GetFileName(path).AsSpan(0, 20), System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void A_burst_only_reserves_the_segments_it_rotates_to_prepare_and_the_next_one_is_zero_filled_once_it_is_over()
    {
        var storage = new FaultyStorage();
        string Temporary(ulong number) => Path.ChangeExtension(SegmentNames.PathOf(_temp.Log(), number), SegmentNames.PreparingExtension);
        using (WriteAheadLog log = WriteAheadLog.Open(Options(), storage))
        {
            Burst(log, storage);

            Dictionary<ulong, bool> burst = ExpectedPreparations(storage);
            Assert.True(burst.Count >= 6, $"The burst of about 8 MB crossed {burst.Count} segments of 1 MiB.");
            Assert.True(burst.Values.Count(sparse => sparse) >= 4, "Most segments of the burst were written by the writer thread.");
            AssertNextIsZeroFilledWhenIdle(log, storage, burst);

            // Small durable appends, written by the flush thread itself, into the next segments: the rotation that closes
            // the burst's last segment (mostly the writer thread's) only reserves, as the rule says; the others zero-fill.
            for (int i = 0; i < 3_000; i++)
            {
                log.AppendDurable(Payloads.Make(2, i, 1000));
            }

            Dictionary<ulong, bool> all = ExpectedPreparations(storage);
            Assert.True(all.Count >= burst.Count + 2, $"The durable appends crossed {all.Count - burst.Count} segments.");
            Assert.All(all.Keys.Where(n => n > burst.Keys.Max() + 1), n => Assert.False(all[n], $"Segment {n} is to be only reserved after the burst."));
            AssertNextIsZeroFilledWhenIdle(log, storage, all);

            // Every preparation, in order: at open segments 1 and 2 zero-filled, then one per rotation, as its closed segment
            // was written. Every fill of a segment only reserved, once each (mid-burst the flush thread may idle too).
            var preparations = storage.Preparations.ToArray();
            var expected = new List<(string, bool)> { (Temporary(1), false), (Temporary(2), false) };
            expected.AddRange(all.OrderBy(e => e.Key).Select(e => (Temporary(e.Key), e.Value)));
            Assert.Equal(expected, preparations.Where(p => p.Path.EndsWith(SegmentNames.PreparingExtension, StringComparison.Ordinal)));
            var fills = preparations.Where(p => !p.Path.EndsWith(SegmentNames.PreparingExtension, StringComparison.Ordinal)).ToList();
            Assert.Equal(fills.Distinct().Count(), fills.Count);
            Assert.All(fills, f => Assert.True(!f.Sparse && all[NumberOf(f.Path)], $"{f.Path} was filled, and it was only reserved."));
        }

        // Sparse or zero-filled, every record reads back, in each producer's order, byte-exact.
        var records = LogContents.ReadAll(_temp.Log(), WalRecoveryMode.Strict);
        Assert.Equal(11_000, records.Count);
        LogContents.AssertContiguousFrom(records, 1);
        var nextOf = new long[3];
        foreach ((ulong _, byte[] payload) in records)
        {
            int producer = Payloads.Matches(payload, 0, nextOf[0]) ? 0 : Payloads.Matches(payload, 1, nextOf[1]) ? 1 : 2;
            Assert.True(Payloads.Matches(payload, producer, nextOf[producer]), "Each producer's records are there once, in its order, byte-exact.");
            nextOf[producer]++;
        }

        Assert.Equal(new long[] { 4_000, 4_000, 3_000 }, nextOf);
    }

    /// <summary>
    /// Two producers append 4,000 records of 1,000 B each, then one Flush, with every segment write slowed by 1 ms so that
    /// the producers get ahead and the batches go to the writer thread: about 8 MB, over several segments of 1 MiB.
    /// </summary>
    private static void Burst(WriteAheadLog log, FaultyStorage storage)
    {
        log.TestHookWaitForPreparedSegment();
        storage.BeforeWrite = () => Thread.Sleep(1);
        Bounded.Parallel(2, p =>
        {
            for (int i = 0; i < 4_000; i++)
            {
                log.Append(Payloads.Make(p, i, 1000));
            }
        });
        log.Flush();
        storage.BeforeWrite = null;
    }

    /// <summary>
    /// From the writes made so far: for each rotation, the segment it prepared (closing segment n prepares n + 2) and
    /// whether it is to be only reserved: when the writer thread wrote at least half of segment n's bytes. A batch's
    /// bytes run from its offset to the next write's (the next batch, or the closing marker, starts on its end marker).
    /// </summary>
    private static Dictionary<ulong, bool> ExpectedPreparations(FaultyStorage storage)
    {
        var writes = storage.Writes.ToArray();
        var threads = storage.WriterThreads.ToArray();
        var expected = new Dictionary<ulong, bool>();
        long byWriter = 0;
        for (int i = 0; i < writes.Length; i++)
        {
            if (writes[i].Offset == 0)
            {
                byWriter = 0; // an opening write
            }
            else if (writes[i].Length == 24)
            {
                expected[NumberOf(writes[i].Path) + 2] = byWriter * 2 >= SegmentBytes; // a closing marker
            }
            else if (threads[i].Thread == "wal-write" && i + 1 < writes.Length) // the last one is the current segment's
            {
                byWriter += writes[i + 1].Offset - writes[i].Offset;
            }
        }

        return expected;
    }

    /// <summary>Once the log idles, the next segment, if it was only reserved, is zero-filled (in the background) before it is used.</summary>
    private void AssertNextIsZeroFilledWhenIdle(WriteAheadLog log, FaultyStorage storage, Dictionary<ulong, bool> prepared)
    {
        ulong next = prepared.Keys.Max();
        string path = SegmentNames.PathOf(_temp.Log(), next);
        if (prepared[next])
        {
            SpinWait.SpinUntil(() => storage.Preparations.Contains((path, false)), TimeSpan.FromSeconds(30));
            Assert.Contains((path, false), storage.Preparations);
        }

        log.TestHookWaitForPreparedSegment();
    }

    [Fact]
    public void By_default_a_burst_zero_fills_every_segment_it_prepares()
    {
        var storage = new FaultyStorage();
        using (WriteAheadLog log = WriteAheadLog.Open(Options(reserve: false), storage))
        {
            Burst(log, storage);
            log.TestHookWaitForPreparedSegment();

            // The same burst as above: segments the writer thread wrote most of, whose rotations would reserve if asked.
            Dictionary<ulong, bool> burst = ExpectedPreparations(storage);
            Assert.True(burst.Values.Count(sparse => sparse) >= 4, "Most segments of the burst were written by the writer thread.");
            Assert.Equal(burst.Count + 2, storage.Preparations.Count); // segments 1 and 2 at open, one per rotation, no fill
            Assert.All(storage.Preparations, p => Assert.False(p.Sparse, $"{p.Path} was only reserved, by default."));
        }

        Assert.Equal(8_000, LogContents.ReadAll(_temp.Log(), WalRecoveryMode.Strict).Count);
    }

    [Fact]
    public void A_file_extended_on_the_real_file_system_has_the_length_asked_and_reads_as_zeros()
    {
        string path = Path.Combine(_temp.Path, "segment.wal.tmp");
        using (WalFile file = WalStorage.Files.CreateNew(path, writeThrough: false))
        {
            file.Write([1, 2, 3], 0);
            file.Extend((3 << 20) + 5);
            file.Sync();
            Assert.Equal((3 << 20) + 5, file.Length);
        }

        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal((3 << 20) + 5, bytes.Length);
        Assert.Equal(new byte[] { 1, 2, 3 }, bytes[..3]);
        Assert.Equal(-1, bytes.AsSpan(3).IndexOfAnyExcept((byte)0));
    }
}
