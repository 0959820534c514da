using Aletheia.Wal.Reading;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Recovery;

/// <summary>
/// Recovery at open: reads every segment in order with a <see cref="LogCursor"/> (which checks every byte up to the end
/// of the log), then applies the recovery mode to the damage it reports, durably, and says where the writer continues.
/// Like RocksDB's <c>kTolerateCorruptedTailRecords</c> and etcd's WAL repair, a torn last write is cut off and the cut
/// bytes are re-zeroed with write-through writes before anything new is appended. Then the end of the log is sealed
/// (<see cref="SealTail"/>) and the directory fsynced, so that the writer appends only after bytes that are on disk.
/// </summary>
internal static class LogRecovery
{
    public static RecoveredLog Recover(WalStorage storage, string directory, WalRecoveryMode mode, long segmentBytes, int maxRecycled)
    {
        // Files to delete, all at once at the end with one directory fsync: leftovers of an interrupted preparation,
        // recycled files beyond the limit, and segments that cannot be kept or reused (those after a point-in-time cut).
        var doomed = storage.ListFiles(directory, "*" + SegmentNames.PreparingExtension).Select(name => Path.Combine(directory, name)).ToList();
        List<string> recycled = KeepRecycled(storage, directory, segmentBytes, maxRecycled, doomed);

        using var cursor = new LogCursor(storage, directory);
        var segments = new List<(ulong Number, ulong FirstLsn)>();
        while (cursor.MoveNext())
        {
        }

        LogDamage? damage = cursor.Damage;
        ulong lastLsn = cursor.NextLsn == 0 ? 0 : cursor.NextLsn - 1;
        int lastUsed = cursor.LastUsedIndex;
        long writeOffset = cursor.EndOffset;
        long lastBatchStart = cursor.LastBatchStart;
        ulong droppedFrom = 0;
        ulong droppedTo = 0;

        if (damage is not null)
        {
            bool tolerated = mode == WalRecoveryMode.PointInTime || (mode == WalRecoveryMode.TruncateTornTail && damage.IsTornTail);
            if (!tolerated)
            {
                throw damage.ToException();
            }

            droppedFrom = damage.NextLsn;
            droppedTo = damage.HighestLsnAfter >= damage.NextLsn ? damage.HighestLsnAfter : 0;
            Cut(storage, damage, damage.IsTornTail ? cursor.DamagedWriteEnd : -1);
            if (damage.CutOffset > 0)
            {
                lastUsed = damage.SegmentIndex;
                writeOffset = damage.CutOffset;
                lastBatchStart = damage.KeptInBatch.Frames > 0 ? damage.KeptInBatch.BatchStart : cursor.LastBatchStart;
            }

            // Everything after the damage goes: later used segments are deleted below, as segments that cannot be
            // reused (for a torn tail there is nothing after it but prepared, empty segments, which are reused).
        }

        List<ulong> numbers = SegmentNames.List(storage, directory);
        for (int i = 0; i <= lastUsed && i < numbers.Count; i++)
        {
            if (SegmentScanner.ReadValidHeader(storage, SegmentNames.PathOf(directory, numbers[i])) is { } header)
            {
                segments.Add((numbers[i], header.FirstLsn));
            }
        }

        ulong writeSegment = lastUsed >= 0 ? cursor.Segments[lastUsed] : 0;
        var reusable = new List<ulong>();
        foreach (ulong number in numbers)
        {
            if (number <= writeSegment)
            {
                continue;
            }

            string path = SegmentNames.PathOf(directory, number);
            bool contiguous = number == (reusable.Count > 0 ? reusable[^1] : writeSegment) + 1 || (writeSegment == 0 && reusable.Count == 0);
            if (contiguous && IsPrepared(storage, path, segmentBytes))
            {
                reusable.Add(number);
            }
            else
            {
                doomed.Add(path);
            }
        }

        // Newest first: names become durable in any order, so a crash midway may leave some of these behind, and what
        // is left must still be a log whose segments run on from its first without a gap.
        foreach (string path in doomed.OrderDescending(StringComparer.Ordinal))
        {
            storage.Delete(path);
        }

        // Always, even with nothing deleted: a writer that died between a rename and its directory fsync left a name
        // that only the page cache holds, and the writer is about to write acknowledged records under it.
        storage.SyncDirectory(directory);

        if (writeSegment != 0)
        {
            // Every write into this segment is at most what its header says (a writer continuing it keeps to that).
            SealTail(storage, SegmentNames.PathOf(directory, writeSegment), lastBatchStart > SegmentHeader.Size ? lastBatchStart : 0, writeOffset, cursor.LastHeader.MaxWriteBytes);
        }

        if (reusable.Count > 0)
        {
            // The writer's next segment: a torn first write into it that lost the sector with its header reads as a
            // prepared, unused segment, with frames after.
            SealTail(storage, SegmentNames.PathOf(directory, reusable[0]), 0, 0, SegmentHeader.FirstWriteMaxBytes + BatchHeader.Size);
        }

        return new RecoveredLog
        {
            LogId = cursor.LogId,
            FirstLsn = segments.Count > 0 ? segments[0].FirstLsn : 0,
            LastLsn = segments.Count > 0 ? lastLsn : 0,
            WriteSegment = writeSegment,
            WriteOffset = writeSegment == 0 ? 0 : writeOffset,
            WriteSegmentMaxWriteBytes = writeSegment == 0 ? 0 : cursor.LastHeader.MaxWriteBytes,
            Reusable = reusable,
            Recycled = recycled,
            Segments = segments,
            DroppedFrom = droppedFrom,
            DroppedTo = droppedTo,
        };
    }

    /// <summary>
    /// Cuts the log at the damage, durably: keeps the valid frames before it (rewriting their batch header to end there),
    /// and zeroes what follows: to the end of the damaged write for a torn tail, to the end of the segment otherwise.
    /// </summary>
    private static void Cut(WalStorage storage, LogDamage damage, long damagedWriteEnd)
    {
        using WalFile file = storage.OpenWrite(damage.Path, writeThrough: true);
        long length = file.Length;
        if (damage.KeptInBatch.Frames > 0)
        {
            Span<byte> header = stackalloc byte[BatchHeader.Size];
            unsafe
            {
                fixed (byte* p = header)
                {
                    BatchHeader.Write(p, damage.KeptInBatch.Bytes, damage.NextLsn - (ulong)damage.KeptInBatch.Frames, damage.KeptInBatch.Frames);
                }
            }

            file.Write(header, damage.KeptInBatch.BatchStart);
        }

        SegmentWriter.WriteZeros(file, damage.CutOffset, damagedWriteEnd > 0 ? Math.Min(length, damagedWriteEnd) : length);
        file.Sync();
    }

    /// <summary>
    /// Leaves the end of the log, at <paramref name="end"/> of the segment at <paramref name="path"/>, durable as recovery
    /// read it and clean for the writer that continues there, with write-through writes:
    /// <list type="bullet">
    /// <item>The last batch, from <paramref name="tailStart"/> (0: with the segment header), is written again. Recovery
    /// read it through the page cache: after a write-through write fails with EIO, Linux may keep its bytes there though
    /// the disk never got them, and the writer must not append after a batch only memory holds. Bytes already on disk
    /// are written unchanged.</item>
    /// <item>The <paramref name="maxWrite"/> bytes after the end, as far as the largest write made there could reach,
    /// are zeroed. A torn write that lost the sector with its batch header ends the log cleanly (a zero batch header)
    /// but may leave its later sectors, frames of the LSNs the writer is about to hand out again; a later torn tail
    /// would find them after it and be refused as damage. Zeroed every time, not only when such frames are seen: a
    /// zeroing that failed with EIO may show zeros in the page cache and not on disk.</item>
    /// </list>
    /// </summary>
    private static void SealTail(WalStorage storage, string path, long tailStart, long end, long maxWrite)
    {
        using WalFile file = storage.OpenWrite(path, writeThrough: true);
        if (tailStart < end)
        {
            using var scanner = new SegmentScanner();
            scanner.Attach(file);
            for (long offset = tailStart; offset < end;)
            {
                int count = (int)Math.Min(1 << 20, end - offset);
                unsafe
                {
                    file.Write(new ReadOnlySpan<byte>(scanner.Fetch(offset, count), count), offset);
                }

                offset += count;
            }
        }

        SegmentWriter.WriteZeros(file, end, Math.Min(file.Length, end + maxWrite));
    }

    /// <summary>Recycled files of the segment size, up to <paramref name="max"/>; the others go to <paramref name="doomed"/>.</summary>
    private static List<string> KeepRecycled(WalStorage storage, string directory, long segmentBytes, int max, List<string> doomed)
    {
        var kept = new List<string>();
        foreach (string name in storage.ListFiles(directory, "*" + SegmentNames.RecycledExtension).Order(StringComparer.Ordinal))
        {
            string path = Path.Combine(directory, name);
            if (kept.Count < max && LengthOf(storage, path) == segmentBytes)
            {
                kept.Add(path);
            }
            else
            {
                doomed.Add(path);
            }
        }

        return kept;
    }

    private static long LengthOf(WalStorage storage, string path)
    {
        using WalFile file = storage.OpenRead(path);
        return file.Length;
    }

    /// <summary>A prepared, unused segment: the segment size, its header and first batch slot all zero.</summary>
    private static bool IsPrepared(WalStorage storage, string path, long segmentBytes)
    {
        using WalFile file = storage.OpenRead(path);
        Span<byte> header = stackalloc byte[SegmentHeader.Size + BatchHeader.Size];
        return file.Length == segmentBytes && file.Read(header, 0) == header.Length && !header.ContainsAnyExcept((byte)0);
    }
}
