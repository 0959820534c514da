using System.Diagnostics.Tracing;
using Aletheia.Wal.Diagnostics;
using Aletheia.Wal.Reading;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Recovery;

/// <summary>
/// Recovery at open: reads every segment from the head with a <see cref="LogCursor"/> (which checks every byte up to the
/// proven end of the log and classifies the first damage), applies <see cref="RecoveryPolicy"/> for the mode, durably, and
/// says where the writer continues. Like RocksDB's <c>kTolerateCorruptedTailRecords</c> and etcd's WAL repair, nothing
/// new is appended until the cut is durable. Then the end of the log is sealed (<see cref="SealTail"/>) and the directory
/// fsynced, so that the writer appends only after bytes that are on disk.
/// </summary>
internal static class LogRecovery
{
    /// <param name="storage">The file system.</param>
    /// <param name="directory">The log directory.</param>
    /// <param name="mode">The recovery mode.</param>
    /// <param name="segmentBytes">The writer's segment size: recycled and prepared files of another size are not kept.</param>
    /// <param name="maxRecycled">Recycled files kept, at most.</param>
    /// <param name="trace">Records what recovery reads, for a report (<c>WalInspection</c>); null at open.</param>
    public static RecoveredLog Recover(WalStorage storage, string directory, WalRecoveryMode mode, long segmentBytes, int maxRecycled, RecoveryTrace? trace = null)
    {
        List<ulong> numbers = SegmentNames.List(storage, directory);
        LogHead? resolved = LogHeadFile.Resolve(storage, directory, mode, numbers, out bool headCopyDamaged);
        trace?.Resolved(resolved, headCopyDamaged);
        LogHead head = resolved ?? CreateLog(storage, directory);
        if (head.RewindPending)
        {
            // A TruncateAfter recorded its cut and did not finish it (a crash): finish it, before the log is read. A kept
            // batch that damage (besides the crash) made unreadable is dropped as a damaged last write would be, and
            // reported as any cut (Strict refuses it).
            (_, ulong droppedFrom, ulong droppedTo) = TailRewind.Complete(storage, directory, head, mode);
            trace?.RewindCompleted(droppedFrom, droppedTo);
            head = TailRewind.Completed(head);
            if (droppedFrom != 0)
            {
                head = head with { CutFrom = droppedFrom, CutTo = droppedTo };
            }

            LogHeadFile.Write(storage, directory, head);
            headCopyDamaged = false; // both copies were just written
            numbers = SegmentNames.List(storage, directory);
        }

        using var cursor = new LogCursor(storage, directory, head, RecoveryPolicy.ToleratesRepairableMarkers(mode), retryBeforeRefusing: null)
        {
            SegmentEnded = trace is null ? null : trace.SegmentEnds.Add,
        };
        while (cursor.MoveNext())
        {
        }

        trace?.Read(cursor);

        LogDamage? damage = cursor.Damage;
        if (damage is not null && RecoveryPolicy.Decide(damage.Kind, mode) == RecoveryAction.Refuse)
        {
            throw damage.ToException();
        }

        // Where the kept log ends: at the damaged write when it lies after a segment's header, else at the end of the last
        // segment before it (or nowhere: the log is empty and continues at its head).
        bool cutInSegment = damage is { IsOpeningWrite: false };
        ulong writeSegment = cutInSegment ? damage!.SegmentNumber : cursor.EndSegment;
        long writeOffset = cutInSegment ? damage!.WriteStart : cursor.EndOffset;
        SegmentHeader writeHeader = cutInSegment ? cursor.CurrentHeader : cursor.EndHeader;
        ulong nextLsn = cursor.NextLsn;

        // The drop to report. A cut is recorded in wal.head before it destroys anything: were this recovery interrupted
        // after its first deletion or zeroing, the next one would find less (or nothing) of what was dropped and must
        // report it all the same. A recorded cut counts while the log still ends before its first LSN (nothing was
        // appended since); a new cut at or below it takes it in.
        (ulong DroppedFrom, ulong DroppedTo) report = (0, 0);
        ulong writtenSequence = 0; // the head this recovery wrote durably (0: none yet)
        bool recordedPending = head.CutFrom != 0 && head.CutFrom >= nextLsn;
        if (damage is not null)
        {
            report = (damage.NextLsn, recordedPending ? Math.Max(damage.HighestLsnAfter, head.CutTo) : damage.HighestLsnAfter);
            head = head with
            {
                Sequence = head.Sequence + 1,
                CutFrom = report.DroppedFrom,
                CutTo = report.DroppedTo,
                HeadOpened = head.HeadOpened && !(damage.IsOpeningWrite && damage.SegmentNumber == head.Segment),
            };
            LogHeadFile.Write(storage, directory, head);
            writtenSequence = head.Sequence;
            headCopyDamaged = false; // both copies were just written
        }
        else if (recordedPending && head.CutFrom == nextLsn)
        {
            report = (head.CutFrom, head.CutTo);
        }

        // The kept end of the log becomes an open end marker, durably, before anything after it is deleted: the cut (zeros
        // over the damaged write, then the marker), and the seal. Until then the end may be a closed marker, which says
        // the log goes on in the next segment: deleting that segment first would leave, after a crash, a log that
        // promises a segment it no longer has. Once the end is open, nothing after it is read, whatever is left there.
        if (damage is not null && cutInSegment)
        {
            Cut(storage, damage, writeHeader);
        }

        if (writeSegment != 0)
        {
            long lastBatchStart = cursor.LastBatchStart;
            SealTail(storage, SegmentNames.PathOf(directory, writeSegment), head.LogId, writeSegment, lastBatchStart > 0 ? lastBatchStart : 0, writeOffset, nextLsn, writeHeader);
        }

        // Files to delete, after the end is open, with one directory fsync: leftovers of an interrupted preparation,
        // recycled files beyond the limit or of another size, segments below the head (a truncation's leftovers, or
        // recycled now), and segments after the end that cannot be reused. After corruption that is every later segment:
        // their salted structures must not outlive the cut, or they would read as evidence of writes after the next
        // torn tail.
        var doomed = storage.ListFiles(directory, "*" + SegmentNames.PreparingExtension).Select(name => Path.Combine(directory, name)).ToList();
        List<string> recycled = KeepRecycled(storage, directory, segmentBytes, maxRecycled, doomed);
        foreach (ulong number in numbers.Where(n => n < head.Segment))
        {
            string path = SegmentNames.PathOf(directory, number);
            if (recycled.Count < maxRecycled && LengthOf(storage, path) == segmentBytes)
            {
                string target = SegmentNames.RecycledPathOf(directory, number);
                storage.Move(path, target);
                recycled.Add(target);
                if (!storage.IsDryRun && WalEventSource.Log.IsEnabled(EventLevel.Informational, WalEventSource.Keywords.Segments))
                {
                    WalEventSource.Log.SegmentRecycled(directory, number, target);
                }
            }
            else
            {
                doomed.Add(path);
            }
        }

        // After corruption every later segment goes; so it does while a recorded cut is pending (an interrupted recovery
        // may have sealed the end before it deleted what a corruption cut drops): their salted structures must not be
        // reused under the LSNs the writer hands out again.
        bool keepsLaterSegments = (damage is null || damage.IsTornTail) && !recordedPending;
        var reusable = new List<ulong>();
        ulong next = writeSegment != 0 ? writeSegment + 1 : head.Segment;
        foreach (ulong number in numbers.Where(n => n >= head.Segment && n > writeSegment))
        {
            string path = SegmentNames.PathOf(directory, number);
            bool isTornOpening = damage is { IsOpeningWrite: true, IsTornTail: true } && number == damage.SegmentNumber;
            if (keepsLaterSegments && number == next && (isTornOpening ? LengthOf(storage, path) == segmentBytes : IsPrepared(storage, path, segmentBytes)))
            {
                reusable.Add(number);
                next++;
            }
            else
            {
                doomed.Add(path);
            }
        }

        // Newest first, then one fsync: names reach the disk in any order, and whatever subset a crash leaves lies after
        // the open end marker, so the next recovery ignores it and deletes it again.
        foreach (string path in doomed.OrderDescending(StringComparer.Ordinal))
        {
            if (path.EndsWith(SegmentNames.PreparingExtension, StringComparison.Ordinal))
            {
                storage.Delete(path); // a preparation's leftover, never a segment
            }
            else
            {
                storage.DeleteSegment(directory, path);
            }
        }

        // Always, even with nothing deleted: a writer that died between a rename and its directory fsync left a name that
        // only the page cache holds, and the writer is about to write acknowledged records under it.
        storage.SyncDirectory(directory);

        Span<byte> marker = stackalloc byte[BatchHeader.Size];
        foreach (MarkerRepair repair in cursor.Repairs)
        {
            using WalFile file = storage.OpenWrite(repair.Path, writeThrough: true);
            BatchHeader.WriteEndMarker(marker, repair.NextLsn, repair.Salt, closed: true);
            file.Write(marker, repair.Offset);
        }

        if (reusable.Count > 0)
        {
            // The writer's next segment: a torn opening write into it leaves a partial header; nothing of an opening write
            // reaches past its 88 bytes.
            using WalFile file = storage.OpenWrite(SegmentNames.PathOf(directory, reusable[0]), writeThrough: true);
            SegmentWriter.WriteZeros(file, 0, SegmentHeader.OpeningWriteBytes);
        }

        // Both copies, again or anew (one was damaged): the head recovery read may be in the page cache only (not so one
        // this recovery wrote). A kept log has an opened head segment; an empty one gets its head opened by the writer,
        // which then says so.
        if (headCopyDamaged || head.HeadOpened != (writeSegment != 0))
        {
            head = head with { Sequence = head.Sequence + 1, HeadOpened = writeSegment != 0 };
        }

        if (head.Sequence != writtenSequence)
        {
            LogHeadFile.Write(storage, directory, head);
        }

        return new RecoveredLog
        {
            Head = head,
            LastLsn = nextLsn - 1,
            WriteSegment = writeSegment,
            WriteOffset = writeOffset,
            WriteSegmentMaxWriteBytes = writeSegment == 0 ? 0 : writeHeader.MaxWriteBytes,
            WriteSegmentSize = writeSegment == 0 ? 0 : (long)writeHeader.SegmentSize,
            Reusable = reusable,
            Recycled = recycled,
            DroppedFrom = report.DroppedFrom,
            DroppedTo = report.DroppedTo,
            Verdict = damage is null
                ? report.DroppedFrom != 0 ? RecoveryVerdict.RecordedCut : RecoveryVerdict.Clean
                : damage.IsTornTail ? RecoveryVerdict.TornTail : RecoveryVerdict.Corruption,
        };
    }

    /// <summary>A new log: its id and head (segment 1, LSN 1), durably, before any segment exists.</summary>
    private static LogHead CreateLog(WalStorage storage, string directory)
    {
        string path = LogHeadFile.PathOf(directory);
        if (storage.ListFiles(directory, LogHeadFile.FileName).Length > 0)
        {
            storage.Delete(path); // blank: a creation that did not reach its fsync
        }

        var head = new LogHead((ulong)Random.Shared.NextInt64(1, long.MaxValue), Segment: 1, FirstLsn: 1, Sequence: 1);
        LogHeadFile.Create(storage, directory, head);
        return head;
    }

    /// <summary>
    /// Cuts the log at the damaged write, durably: zeroes from its start, as far as it could reach for a torn tail and to
    /// the end of the segment after corruption, and then writes the end marker there. Zeros first: a marker written before
    /// them would prove an end with salted structures of dropped writes still after it.
    /// </summary>
    private static void Cut(WalStorage storage, LogDamage damage, SegmentHeader header)
    {
        using WalFile file = storage.OpenWrite(damage.Path, writeThrough: true);
        long length = file.Length;
        long end = damage.IsTornTail ? Math.Min(length, damage.WriteStart + header.MaxWriteBytes) : length;
        SegmentWriter.WriteZeros(file, damage.WriteStart, end);
        Span<byte> marker = stackalloc byte[BatchHeader.Size];
        BatchHeader.WriteEndMarker(marker, damage.NextLsn, SegmentSalt.Of(header.LogId, damage.SegmentNumber));
        file.Write(marker, damage.WriteStart);
    }

    /// <summary>
    /// Leaves the end of the log, at <paramref name="end"/> of the segment at <paramref name="path"/>, durable as recovery
    /// read it and clean for the writer that continues there, with write-through writes:
    /// <list type="bullet">
    /// <item>The last batch, from <paramref name="tailStart"/> (0: the opening write, when the segment holds no batch),
    /// and the end marker are written again. Recovery read them through the page cache: after a write-through write fails
    /// with EIO, Linux may keep its bytes there though the disk never got them, and the writer must not append after a
    /// batch only memory holds. Bytes already on disk are written unchanged.</item>
    /// <item>The bytes after the end marker, as far as the largest write into the segment could reach, are zeroed. A
    /// torn write that lost the sector with its batch header leaves the previous end marker in place, so the log ends
    /// cleanly before it, but its later sectors may have reached the disk: structures of the LSNs the writer is about to
    /// hand out again, which a later torn tail would read as evidence of a later write. Zeroed every time, not only when
    /// such bytes are seen: a zeroing that failed with EIO may show zeros in the page cache and not on disk.</item>
    /// <item>A file cut short after its end (damage to bytes the log never used) is given its length back.</item>
    /// </list>
    /// </summary>
    private static void SealTail(WalStorage storage, string path, ulong logId, ulong number, long tailStart, long end, ulong nextLsn, SegmentHeader header)
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

        Span<byte> marker = stackalloc byte[BatchHeader.Size];
        BatchHeader.WriteEndMarker(marker, nextLsn, SegmentSalt.Of(logId, number));
        file.Write(marker, end);
        long reach = end + header.MaxWriteBytes;
        SegmentWriter.WriteZeros(file, end + BatchHeader.Size, Math.Min(file.Length, reach));
        if (file.Length < (long)header.SegmentSize)
        {
            SegmentWriter.WriteZeros(file, file.Length, (long)header.SegmentSize);
        }
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

    /// <summary>A prepared, unused segment: the segment size, its opening write's 88 bytes all zero.</summary>
    private static bool IsPrepared(WalStorage storage, string path, long segmentBytes)
    {
        using WalFile file = storage.OpenRead(path);
        Span<byte> opening = stackalloc byte[SegmentHeader.OpeningWriteBytes];
        return file.Length == segmentBytes && file.Read(opening, 0) == opening.Length && !opening.ContainsAnyExcept((byte)0);
    }
}
